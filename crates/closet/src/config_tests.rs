//! Layering: flag > environment > config file (+ drop-ins) > default.

use std::collections::HashMap;
use std::path::Path;

use clap::{CommandFactory, FromArgMatches};
use closet_cli::Cli;

use super::*;

/// Parses `closet server <flags>` with clap's own environment lookups switched off, so the
/// test sees only `env` (the map), whatever the test process's environment holds.
fn resolve_with(flags: &[&str], env: &[(&str, &str)]) -> Result<ServerArgs, ConfigError> {
    let command = Cli::command().mut_subcommand("server", |server| {
        server.mut_args(|arg| arg.env(clap::builder::Resettable::Reset))
    });
    let argv = ["closet", "server"].iter().chain(flags);
    let matches = command.try_get_matches_from(argv).expect("flags parse");
    let server = matches
        .subcommand_matches("server")
        .expect("server subcommand");
    let args = ServerArgs::from_arg_matches(server).expect("server args");
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    resolve(args, server, &env)
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create dir");
    }
    std::fs::write(path, text).expect("write config");
}

fn config_flag(path: &Path) -> String {
    format!("--config={}", path.display())
}

#[test]
fn defaults_apply_when_nothing_else_is_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    // An empty file named through the environment keeps the real /etc/closet out of this.
    let empty = dir.path().join("config.yaml");
    write(&empty, "");
    let args =
        resolve_with(&[], &[("CLOSET_CONFIG", &empty.display().to_string())]).expect("resolve");
    assert_eq!(args.data_dir, Path::new("/var/lib/closet"));
    assert_eq!(args.https_listen_port, 6443);
    assert_eq!(
        args.write_kubeconfig,
        Path::new("/etc/closet/kubeconfig.yaml")
    );
    assert!(args.tls_san.is_empty());
    assert_eq!(args.config, empty);
}

#[test]
fn flag_beats_env_beats_file_beats_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.yaml");
    write(
        &config,
        "data-dir: /from/file\nhttps-listen-port: 7000\ntls-san: [file.lan, 10.0.0.9]\n\
         disable-agent: true\nwrite-kubeconfig: /from/file/kubeconfig.yaml\n",
    );
    let env = [
        ("CLOSET_DATA_DIR", "/from/env"),
        ("CLOSET_HTTPS_LISTEN_PORT", "7001"),
    ];
    let args =
        resolve_with(&[&config_flag(&config), "--data-dir", "/from/flag"], &env).expect("resolve");
    assert_eq!(
        args.data_dir,
        Path::new("/from/flag"),
        "flag wins over env and file"
    );
    assert_eq!(args.https_listen_port, 7001, "env wins over file");
    assert_eq!(
        args.tls_san,
        ["file.lan", "10.0.0.9"],
        "file wins over default"
    );
    assert!(args.disable_agent, "file sets a boolean");
    assert_eq!(
        args.write_kubeconfig,
        Path::new("/from/file/kubeconfig.yaml")
    );
    assert_eq!(
        args.bind_address.to_string(),
        "0.0.0.0",
        "default when nobody sets it"
    );
}

#[test]
fn drop_ins_apply_in_name_order_over_the_main_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.yaml");
    write(&config, "https-listen-port: 7000\ndata-dir: /main\n");
    let dropins = dir.path().join("config.yaml.d");
    write(&dropins.join("20-last.yaml"), "https-listen-port: 7020\n");
    write(
        &dropins.join("10-first.yaml"),
        "https-listen-port: 7010\ntls-san: one.lan\n",
    );
    write(
        &dropins.join("99-ignored.yml.bak"),
        "https-listen-port: 9999\n",
    );
    let args = resolve_with(&[&config_flag(&config)], &[]).expect("resolve");
    assert_eq!(args.https_listen_port, 7020);
    assert_eq!(args.tls_san, ["one.lan"]);
    assert_eq!(args.data_dir, Path::new("/main"));
}

#[test]
fn drop_ins_are_read_even_without_the_main_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.yaml");
    write(
        &dir.path().join("config.yaml.d/10.yaml"),
        "bind-address: 127.0.0.1\n",
    );
    // Through `file_layer` directly: `resolve` would read the real default /etc/closet path.
    let layer = file_layer(&config, false).expect("missing default file is fine");
    assert_eq!(
        layer.bind_address.map(|ip| ip.to_string()),
        Some("127.0.0.1".to_owned())
    );
}

#[test]
fn unknown_key_is_an_error_naming_key_and_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.yaml");
    write(&config, "data-dir: /x\nhttps-port: 1\n");
    let err = resolve_with(&[&config_flag(&config)], &[]).expect_err("unknown key");
    let text = err.to_string();
    assert!(text.contains("`https-port`"), "{text}");
    assert!(text.contains(&config.display().to_string()), "{text}");
}

#[test]
fn a_file_cannot_name_another_config_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.yaml");
    write(&config, "config: /elsewhere.yaml\n");
    let err = resolve_with(&[&config_flag(&config)], &[]).expect_err("unknown key");
    assert!(
        matches!(err, ConfigError::UnknownKey { ref key, .. } if key == "config"),
        "{err}"
    );
}

#[test]
fn missing_explicit_config_file_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("nope.yaml");
    let err = resolve_with(&[&config_flag(&config)], &[]).expect_err("missing");
    assert!(matches!(err, ConfigError::Missing { .. }), "{err}");
    let from_env = dir.path().join("also-nope.yaml").display().to_string();
    let err = resolve_with(&[], &[("CLOSET_CONFIG", &from_env)]).expect_err("missing");
    assert!(err.to_string().contains("also-nope.yaml"), "{err}");
}

#[test]
fn missing_default_config_file_is_fine() {
    let dir = tempfile::tempdir().expect("tempdir");
    let layer = file_layer(&dir.path().join("config.yaml"), false).expect("fine");
    assert_eq!(layer, Layer::default());
}

#[test]
fn wrong_types_name_the_key_or_variable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.yaml");
    write(&config, "https-listen-port: lots\n");
    let err = resolve_with(&[&config_flag(&config)], &[]).expect_err("bad port");
    assert!(err.to_string().contains("`https-listen-port`"), "{err}");

    write(&config, "");
    let env = [("CLOSET_BIND_ADDRESS", "not-an-ip")];
    let err = resolve_with(&[&config_flag(&config)], &env).expect_err("bad address");
    assert!(err.to_string().contains("CLOSET_BIND_ADDRESS"), "{err}");

    write(&config, "- just\n- a list\n");
    let err = resolve_with(&[&config_flag(&config)], &[]).expect_err("not a mapping");
    assert!(matches!(err, ConfigError::NotAMapping { .. }), "{err}");
}

#[test]
fn env_lists_split_on_commas_and_booleans_parse() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.yaml");
    write(&config, "# only a comment\n");
    let env = [
        ("CLOSET_TLS_SAN", "a.lan, 192.168.1.2"),
        ("CLOSET_FORCE_UNSAFE_FILESYSTEM", "yes"),
        ("CLOSET_DISABLE_AGENT", ""),
    ];
    let args = resolve_with(&[&config_flag(&config)], &env).expect("resolve");
    assert_eq!(args.tls_san, ["a.lan", "192.168.1.2"]);
    assert!(args.force_unsafe_filesystem);
    assert!(!args.disable_agent, "an empty variable counts as unset");
}

#[test]
fn node_lifecycle_settings_layer_like_the_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config.yaml");
    write(
        &file,
        "node-monitor-grace-period: 1m30s\ndefault-unreachable-toleration-seconds: 60\n",
    );
    let args = resolve_with(
        &[&config_flag(&file)],
        &[("CLOSET_DEFAULT_NOT_READY_TOLERATION_SECONDS", "30")],
    )
    .expect("resolve");
    assert_eq!(
        args.node_monitor_grace_period,
        std::time::Duration::from_secs(90)
    );
    assert_eq!(args.default_unreachable_toleration_seconds, 60);
    assert_eq!(args.default_not_ready_toleration_seconds, 30);
    write(&file, "node-monitor-grace-period: 8\n");
    let args = resolve_with(
        &[&config_flag(&file), "--node-monitor-grace-period=5s"],
        &[],
    )
    .expect("resolve");
    assert_eq!(
        args.node_monitor_grace_period,
        std::time::Duration::from_secs(5)
    );
    write(&file, "node-monitor-grace-period: soon\n");
    let err = resolve_with(&[&config_flag(&file)], &[]).expect_err("bad duration");
    assert!(
        err.to_string().contains("node-monitor-grace-period"),
        "{err}"
    );
}

#[test]
fn service_and_cluster_ranges_layer_like_the_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config.yaml");
    write(
        &file,
        "service-cidr: 10.96.0.0/16\nservice-node-port-range: 31000-31999\n",
    );
    let args = resolve_with(
        &[&config_flag(&file)],
        &[("CLOSET_CLUSTER_CIDR", "10.200.0.0/16")],
    )
    .expect("resolve");
    assert_eq!(args.service_cidr, "10.96.0.0/16");
    assert_eq!(args.service_node_port_range, "31000-31999");
    assert_eq!(args.cluster_cidr, "10.200.0.0/16");
    let args = resolve_with(
        &[&config_flag(&file), "--service-cidr=10.50.0.0/24"],
        &[("CLOSET_SERVICE_CIDR", "10.60.0.0/16")],
    )
    .expect("resolve");
    assert_eq!(args.service_cidr, "10.50.0.0/24");
    let empty = dir.path().join("empty.yaml");
    write(&empty, "");
    let args = resolve_with(&[&config_flag(&empty)], &[]).expect("resolve");
    assert_eq!(
        (
            args.service_cidr.as_str(),
            args.service_node_port_range.as_str(),
            args.cluster_cidr.as_str()
        ),
        ("10.43.0.0/16", "30000-32767", "10.42.0.0/16")
    );
}

#[test]
fn dns_settings_come_from_the_file_or_the_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.yaml");
    write(
        &config,
        "dns-upstream: 127.0.0.1:5353\ndisable-dns: false\n",
    );
    let args = resolve_with(&[&config_flag(&config)], &[]).expect("resolve");
    assert_eq!(args.dns_upstream, ["127.0.0.1:5353"]);
    assert!(!args.disable_dns);

    write(&config, "dns-upstream: [10.0.0.1, \"10.0.0.2:53\"]\n");
    let env = [("CLOSET_DISABLE_DNS", "true")];
    let args = resolve_with(&[&config_flag(&config)], &env).expect("resolve");
    assert_eq!(args.dns_upstream, ["10.0.0.1", "10.0.0.2:53"]);
    assert!(args.disable_dns);

    let env = [("CLOSET_DNS_UPSTREAM", "192.168.1.1, 192.168.1.2")];
    let args = resolve_with(&[&config_flag(&config)], &env).expect("resolve");
    assert_eq!(args.dns_upstream, ["192.168.1.1", "192.168.1.2"]);
}
