//! Layering of `closet server` settings: flag > environment > config file > default.
//!
//! clap handles flags and defaults (and reads `CLOSET_*` itself, for `--help` and for
//! production), but it knows nothing of the config file that sits between the environment
//! and the defaults. So a value clap did not take from the command line is looked up again,
//! here, in the environment (through [`Source`], so tests pass a map), then in
//! `<config>` and `<config>.d/*.yaml` (drop-ins in name order, each overriding the ones
//! before), and only then is clap's default kept.

use std::collections::HashMap;
use std::ffi::OsString;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::ArgMatches;
use clap::parser::ValueSource;
use closet_cli::ServerArgs;
use closet_cli::server::ENV_PREFIX;

/// Every key the config file accepts: the `closet server` flag names without `--`.
/// (`config` is not among them: a file cannot name itself.)
pub(crate) const FILE_KEYS: &[&str] = &[
    "data-dir",
    "bind-address",
    "https-listen-port",
    "write-kubeconfig",
    "tls-san",
    "disable-agent",
    "disable-dns",
    "dns-upstream",
    "force-unsafe-filesystem",
    "node-name",
    "node-ip",
    "container-runtime-endpoint",
    "node-api-port",
    "default-not-ready-toleration-seconds",
    "default-unreachable-toleration-seconds",
    "node-monitor-grace-period",
    "service-cidr",
    "service-node-port-range",
    "cluster-cidr",
];

/// Where values that are not flags come from: the process environment, or a map in tests.
pub(crate) trait Source {
    /// The value of variable `name`, if it is set.
    fn get(&self, name: &str) -> Option<String>;
}

/// The real process environment.
pub(crate) struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Source for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }
}

/// Why the settings could not be assembled.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    /// An environment variable holds a value of the wrong kind.
    #[error("environment variable {name}={value:?} is invalid: {reason}")]
    Env {
        name: String,
        value: String,
        reason: String,
    },
    /// The config file was asked for explicitly and does not exist.
    #[error("config file {} does not exist; create it or drop --config / CLOSET_CONFIG", path.display())]
    Missing { path: PathBuf },
    /// A config file or drop-in directory could not be read.
    #[error("cannot read config {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A config file is not YAML.
    #[error("config file {} is not valid YAML", path.display())]
    Yaml {
        path: PathBuf,
        // Boxed: the parser's error is large and every config result would carry its size.
        #[source]
        source: Box<serde_saphyr::Error>,
    },
    /// A config file is YAML but not a mapping of flag names to values.
    #[error("config file {} must be a mapping of flag names to values, like `data-dir: /srv/closet`", path.display())]
    NotAMapping { path: PathBuf },
    /// A config file has a key that is not a flag.
    #[error("unknown key `{key}` in config file {}; known keys: {}", path.display(), FILE_KEYS.join(", "))]
    UnknownKey { key: String, path: PathBuf },
    /// A config file key holds a value of the wrong kind.
    #[error("key `{key}` in config file {} is invalid: {reason}", path.display())]
    Value {
        key: String,
        path: PathBuf,
        reason: String,
    },
}

/// Values one layer sets; `None` leaves the decision to the layers below.
#[derive(Clone, Debug, Default, PartialEq)]
struct Layer {
    data_dir: Option<PathBuf>,
    bind_address: Option<IpAddr>,
    https_listen_port: Option<u16>,
    write_kubeconfig: Option<PathBuf>,
    tls_san: Option<Vec<String>>,
    disable_agent: Option<bool>,
    disable_dns: Option<bool>,
    dns_upstream: Option<Vec<String>>,
    registry_lookups_local_only: Option<bool>,
    force_unsafe_filesystem: Option<bool>,
    node_name: Option<Option<String>>,
    node_ip: Option<Option<IpAddr>>,
    container_runtime_endpoint: Option<Option<PathBuf>>,
    node_api_port: Option<u16>,
    default_not_ready_toleration_seconds: Option<i64>,
    default_unreachable_toleration_seconds: Option<i64>,
    node_monitor_grace_period: Option<std::time::Duration>,
    service_cidr: Option<String>,
    service_node_port_range: Option<String>,
    cluster_cidr: Option<String>,
    config: Option<PathBuf>,
}

impl Layer {
    /// `self` where it sets a value, `lower` elsewhere.
    fn over(self, lower: Layer) -> Layer {
        Layer {
            data_dir: self.data_dir.or(lower.data_dir),
            bind_address: self.bind_address.or(lower.bind_address),
            https_listen_port: self.https_listen_port.or(lower.https_listen_port),
            write_kubeconfig: self.write_kubeconfig.or(lower.write_kubeconfig),
            tls_san: self.tls_san.or(lower.tls_san),
            disable_agent: self.disable_agent.or(lower.disable_agent),
            disable_dns: self.disable_dns.or(lower.disable_dns),
            dns_upstream: self.dns_upstream.or(lower.dns_upstream),
            registry_lookups_local_only: self
                .registry_lookups_local_only
                .or(lower.registry_lookups_local_only),
            force_unsafe_filesystem: self
                .force_unsafe_filesystem
                .or(lower.force_unsafe_filesystem),
            node_name: self.node_name.or(lower.node_name),
            node_ip: self.node_ip.or(lower.node_ip),
            container_runtime_endpoint: self
                .container_runtime_endpoint
                .or(lower.container_runtime_endpoint),
            node_api_port: self.node_api_port.or(lower.node_api_port),
            default_not_ready_toleration_seconds: self
                .default_not_ready_toleration_seconds
                .or(lower.default_not_ready_toleration_seconds),
            default_unreachable_toleration_seconds: self
                .default_unreachable_toleration_seconds
                .or(lower.default_unreachable_toleration_seconds),
            node_monitor_grace_period: self
                .node_monitor_grace_period
                .or(lower.node_monitor_grace_period),
            service_cidr: self.service_cidr.or(lower.service_cidr),
            service_node_port_range: self
                .service_node_port_range
                .or(lower.service_node_port_range),
            cluster_cidr: self.cluster_cidr.or(lower.cluster_cidr),
            config: self.config.or(lower.config),
        }
    }
}

/// The final `closet server` settings. `args` and `matches` come from clap; `env` is the
/// environment.
pub(crate) fn resolve(
    args: ServerArgs,
    matches: &ArgMatches,
    env: &dyn Source,
) -> Result<ServerArgs, ConfigError> {
    let on_command_line = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    let env = env_layer(env)?;

    let (config, explicit) = if on_command_line("config") {
        (args.config.clone(), true)
    } else if let Some(path) = env.config.clone() {
        (path, true)
    } else {
        (args.config.clone(), false)
    };
    let below_flags = env.over(file_layer(&config, explicit)?);

    let mut out = args;
    out.config = config;
    macro_rules! layer_in {
        ($($field:ident),*) => {$(
            if !on_command_line(stringify!($field)) {
                if let Some(value) = below_flags.$field.clone() {
                    out.$field = value;
                }
            }
        )*};
    }
    layer_in!(
        data_dir,
        bind_address,
        https_listen_port,
        write_kubeconfig,
        tls_san,
        disable_agent,
        disable_dns,
        dns_upstream,
        registry_lookups_local_only,
        force_unsafe_filesystem,
        node_name,
        node_ip,
        container_runtime_endpoint,
        node_api_port,
        default_not_ready_toleration_seconds,
        default_unreachable_toleration_seconds,
        node_monitor_grace_period,
        service_cidr,
        service_node_port_range,
        cluster_cidr
    );
    Ok(out)
}

/// The environment's layer: `CLOSET_<FLAG>` for every flag. Empty values count as unset, as
/// clap treats them.
fn env_layer(source: &dyn Source) -> Result<Layer, ConfigError> {
    let var = |key: &str| {
        let name = format!("{ENV_PREFIX}{}", key.to_ascii_uppercase().replace('-', "_"));
        source
            .get(&name)
            .filter(|v| !v.is_empty())
            .map(|value| (name, value))
    };
    Ok(Layer {
        data_dir: var("data-dir").map(|(_, v)| PathBuf::from(v)),
        bind_address: typed(var("bind-address"), |v| {
            v.parse().map_err(|e| format!("{e}"))
        })?,
        https_listen_port: typed(var("https-listen-port"), |v| {
            v.parse().map_err(|e| format!("{e}"))
        })?,
        write_kubeconfig: var("write-kubeconfig").map(|(_, v)| PathBuf::from(v)),
        tls_san: var("tls-san").map(|(_, v)| split_list(&v)),
        disable_agent: typed(var("disable-agent"), parse_bool)?,
        disable_dns: typed(var("disable-dns"), parse_bool)?,
        dns_upstream: var("dns-upstream").map(|(_, v)| split_list(&v)),
        registry_lookups_local_only: typed(var("registry-lookups-local-only"), parse_bool)?,
        force_unsafe_filesystem: typed(var("force-unsafe-filesystem"), parse_bool)?,
        node_name: var("node-name").map(|(_, v)| Some(v)),
        node_ip: typed(var("node-ip"), |v| {
            v.parse().map(Some).map_err(|e| format!("{e}"))
        })?,
        container_runtime_endpoint: var("container-runtime-endpoint")
            .map(|(_, v)| Some(PathBuf::from(v))),
        node_api_port: typed(var("node-api-port"), |v| {
            v.parse().map_err(|e| format!("{e}"))
        })?,
        default_not_ready_toleration_seconds: typed(
            var("default-not-ready-toleration-seconds"),
            |v| v.parse().map_err(|e| format!("{e}")),
        )?,
        default_unreachable_toleration_seconds: typed(
            var("default-unreachable-toleration-seconds"),
            |v| v.parse().map_err(|e| format!("{e}")),
        )?,
        node_monitor_grace_period: typed(
            var("node-monitor-grace-period"),
            closet_cli::server::parse_duration,
        )?,
        service_cidr: var("service-cidr").map(|(_, v)| v),
        service_node_port_range: var("service-node-port-range").map(|(_, v)| v),
        cluster_cidr: var("cluster-cidr").map(|(_, v)| v),
        config: var("config").map(|(_, v)| PathBuf::from(v)),
    })
}

/// Parses an optional `(name, value)` variable, naming it in the error.
fn typed<T>(
    var: Option<(String, String)>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, ConfigError> {
    var.map(|(name, value)| {
        parse(&value).map_err(|reason| ConfigError::Env {
            name,
            value,
            reason,
        })
    })
    .transpose()
}

fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" | "y" | "t" => Ok(true),
        "0" | "false" | "no" | "off" | "n" | "f" => Ok(false),
        _ => Err("expected true or false".to_owned()),
    }
}

/// The config file's layer, with its drop-ins applied over it. A missing file is fine unless
/// it was named explicitly; the drop-in directory is read either way, as k3s does.
fn file_layer(path: &Path, explicit: bool) -> Result<Layer, ConfigError> {
    let mut layer = match std::fs::read_to_string(path) {
        Ok(text) => parse_file(path, &text)?,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            if explicit {
                return Err(ConfigError::Missing {
                    path: path.to_path_buf(),
                });
            }
            Layer::default()
        }
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    for dropin in dropins(path)? {
        let text = std::fs::read_to_string(&dropin).map_err(|source| ConfigError::Read {
            path: dropin.clone(),
            source,
        })?;
        layer = parse_file(&dropin, &text)?.over(layer);
    }
    Ok(layer)
}

/// `<path>.d/*.yaml`, sorted by file name.
fn dropins(path: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let mut dir = OsString::from(path.as_os_str());
    dir.push(".d");
    let dir = PathBuf::from(dir);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(ConfigError::Read { path: dir, source }),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| ConfigError::Read {
            path: dir.clone(),
            source,
        })?;
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext == "yaml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

/// One config file. Parsed to a JSON value first so that each error can name its key.
fn parse_file(path: &Path, text: &str) -> Result<Layer, ConfigError> {
    let doc: serde_json::Value =
        serde_saphyr::from_str(text).map_err(|source| ConfigError::Yaml {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
    let map = match doc {
        serde_json::Value::Null => return Ok(Layer::default()),
        serde_json::Value::Object(map) => map,
        _ => {
            return Err(ConfigError::NotAMapping {
                path: path.to_path_buf(),
            });
        }
    };
    let mut layer = Layer::default();
    for (key, value) in map {
        if value.is_null() {
            continue;
        }
        let bad = |reason: String| ConfigError::Value {
            key: key.clone(),
            path: path.to_path_buf(),
            reason,
        };
        match key.as_str() {
            "data-dir" => layer.data_dir = Some(from_value(value).map_err(bad)?),
            "bind-address" => layer.bind_address = Some(from_value(value).map_err(bad)?),
            "https-listen-port" => layer.https_listen_port = Some(from_value(value).map_err(bad)?),
            "write-kubeconfig" => layer.write_kubeconfig = Some(from_value(value).map_err(bad)?),
            // A single name is accepted as well as a list, as k3s does.
            "tls-san" => {
                layer.tls_san = Some(match value {
                    serde_json::Value::String(one) => split_list(&one),
                    list => from_value(list).map_err(bad)?,
                })
            }
            "disable-agent" => layer.disable_agent = Some(from_value(value).map_err(bad)?),
            "disable-dns" => layer.disable_dns = Some(from_value(value).map_err(bad)?),
            // One upstream as a string, or a list of them.
            "dns-upstream" => {
                layer.dns_upstream = Some(match value {
                    serde_json::Value::String(one) => split_list(&one),
                    list => from_value(list).map_err(bad)?,
                })
            }
            "registry-lookups-local-only" => {
                layer.registry_lookups_local_only = Some(from_value(value).map_err(bad)?)
            }
            "force-unsafe-filesystem" => {
                layer.force_unsafe_filesystem = Some(from_value(value).map_err(bad)?)
            }
            "node-name" => layer.node_name = Some(Some(from_value(value).map_err(bad)?)),
            "node-ip" => layer.node_ip = Some(Some(from_value(value).map_err(bad)?)),
            "container-runtime-endpoint" => {
                layer.container_runtime_endpoint = Some(Some(from_value(value).map_err(bad)?))
            }
            "node-api-port" => layer.node_api_port = Some(from_value(value).map_err(bad)?),
            "default-not-ready-toleration-seconds" => {
                layer.default_not_ready_toleration_seconds = Some(from_value(value).map_err(bad)?)
            }
            "default-unreachable-toleration-seconds" => {
                layer.default_unreachable_toleration_seconds = Some(from_value(value).map_err(bad)?)
            }
            // A number of seconds, or a string such as `40s` or `1m30s`.
            "node-monitor-grace-period" => {
                let text = match value {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                layer.node_monitor_grace_period =
                    Some(closet_cli::server::parse_duration(&text).map_err(bad)?)
            }
            "service-cidr" => layer.service_cidr = Some(from_value(value).map_err(bad)?),
            // `30000-32767`; a bare number is read as a one-port range.
            "service-node-port-range" => {
                let text = match value {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                layer.service_node_port_range = Some(text)
            }
            "cluster-cidr" => layer.cluster_cidr = Some(from_value(value).map_err(bad)?),
            _ => {
                return Err(ConfigError::UnknownKey {
                    key,
                    path: path.to_path_buf(),
                });
            }
        }
    }
    Ok(layer)
}

fn from_value<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|e| e.to_string())
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
