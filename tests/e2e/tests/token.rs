//! `closet token`: prints the join token `closet server` created at its first start, the same
//! one after a restart, and says what to do when no server ever ran in the data dir.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use closet_e2e::{Cluster, closet_binary, run_with_timeout, scaled};

fn closet_token(data_dir: &Path) -> Output {
    let mut cmd = Command::new(closet_binary());
    cmd.arg("token").arg("--data-dir").arg(data_dir);
    run_with_timeout(&mut cmd, None, scaled(Duration::from_secs(10)))
        .unwrap_or_else(|e| panic!("closet token must end by itself: {e}"))
}

fn printed_token(data_dir: &Path) -> String {
    let out = closet_token(data_dir);
    assert!(
        out.status.success(),
        "closet token failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("the token is UTF-8")
        .trim_end()
        .to_owned()
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn closet_token_prints_the_token_the_server_created() {
    let cluster = Cluster::start();
    let token = printed_token(&cluster.data_dir());
    let (hash, secret) = token
        .strip_prefix("K10")
        .and_then(|rest| rest.split_once("::server:"))
        .unwrap_or_else(|| panic!("not K10<hash>::server:<secret>: {token:?}"));
    assert!(is_hex(hash, 64), "{token:?}");
    assert!(is_hex(secret, 32), "{token:?}");

    let file = cluster.data_dir().join("server/token");
    let mode = std::fs::metadata(&file)
        .expect("token file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    cluster.restart();
    assert_eq!(
        printed_token(&cluster.data_dir()),
        token,
        "kept across restarts"
    );
}

#[test]
fn closet_token_without_a_server_says_to_start_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = closet_token(dir.path());
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no join token at"), "{stderr}");
    assert!(stderr.contains("start `closet server`"), "{stderr}");
}
