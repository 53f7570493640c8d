//! Starts closet's own containerd in a temp dir and talks CRI to it (issue 4).
//!
//! Needs `containerd` and `runc` (`apt-get install containerd runc`) and root; without them it
//! prints why and passes, so CI — which installs both and runs as root — exercises it.

use std::time::Instant;

use closet_cri::{Containerd, ContainerdConfig, RuntimeExt, find_binaries};

fn skip_reason() -> Option<String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    if let Err(e) = find_binaries(&path) {
        return Some(e.to_string());
    }
    if !rustix::process::geteuid().is_root() {
        return Some("containerd needs root".to_owned());
    }
    None
}

#[tokio::test]
async fn supervised_containerd_answers_cri_and_stops() {
    if let Some(reason) = skip_reason() {
        eprintln!("skipping supervised_containerd_answers_cri_and_stops: {reason}");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ContainerdConfig::new(dir.path().join("agent"));

    let started = Instant::now();
    let containerd = Containerd::start(config.clone())
        .await
        .expect("start containerd");
    eprintln!("containerd ready in {:?}", started.elapsed());
    let pid = containerd.pid().expect("running");
    assert!(config.socket_path().exists());
    assert!(config.log_path().exists());

    let cri = containerd.client();
    let version = cri.runtime_version().await.expect("version");
    assert_eq!(version.runtime_name, "containerd");
    assert_eq!(version.runtime_api_version, "v1");
    assert!(cri.all_sandboxes().await.expect("sandboxes").is_empty());
    assert!(cri.all_containers().await.expect("containers").is_empty());
    assert!(cri.all_images().await.expect("images").is_empty());

    // A second client in "existing socket" mode sees the same runtime.
    let external =
        closet_cri::CriClient::connect(format!("unix://{}", config.socket_path().display()))
            .await
            .expect("connect to the existing socket");
    assert_eq!(
        external
            .runtime_version()
            .await
            .expect("version")
            .runtime_name,
        "containerd"
    );

    let stopping = Instant::now();
    let status = containerd.stop().await.expect("stop");
    eprintln!(
        "containerd stopped in {:?} with {status}",
        stopping.elapsed()
    );
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "containerd (pid {pid}) still exists after stop"
    );
    eprintln!("whole test took {:?}", started.elapsed());
}

#[tokio::test]
async fn dropping_the_supervisor_stops_containerd() {
    if let Some(reason) = skip_reason() {
        eprintln!("skipping dropping_the_supervisor_stops_containerd: {reason}");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let containerd = Containerd::start(ContainerdConfig::new(dir.path().join("agent")))
        .await
        .expect("start containerd");
    let pid = containerd.pid().expect("running");
    drop(containerd);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} survived drop"
    );
}
