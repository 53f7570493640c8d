//! Node-side helpers for tests that run pods: cleaning up what a test's agent left in the
//! runtime, and reading the runtime's view.

use std::path::Path;
use std::time::Duration;

use closet_cri::{CriClient, Runtime, RuntimeExt, cri};

/// Stops and removes every pod sandbox (and so every container, network namespace and pod
/// address) of the containerd at `socket`, then stops that containerd. Used when a test's
/// cluster goes away, after its server was killed, so nothing outlives the test.
pub fn remove_pods(socket: &Path) {
    // A clean stop removes the socket; the config stays as long as the runtime's state does.
    if !socket.exists() && !socket.with_file_name("config.toml").is_file() {
        return;
    }
    // A server stopped cleanly took its containerd with it, but not the pods: bring that
    // containerd back for the cleanup (the pid file then names it, so it is stopped below).
    let revived = revive_containerd(socket);
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    runtime.block_on(async {
        let Ok(Ok(client)) =
            tokio::time::timeout(Duration::from_secs(5), CriClient::connect(socket)).await
        else {
            return;
        };
        // A containerd that has just started answers "not initialized" until its CRI has
        // loaded its state: ask again (bounded) rather than leaving every pod behind. A
        // sandbox the killed agent was still creating can appear after the first listing,
        // and a removal can fail while its stop settles: a few passes until none is left.
        for _ in 0..3 {
            let mut sandboxes = None;
            for _ in 0..100 {
                if let Ok(all) = client.all_sandboxes().await {
                    sandboxes = Some(all);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let sandboxes = sandboxes.unwrap_or_default();
            if sandboxes.is_empty() {
                break;
            }
            for sandbox in sandboxes {
                let id = sandbox.id;
                let _ = client
                    .stop_pod_sandbox(cri::StopPodSandboxRequest {
                        pod_sandbox_id: id.clone(),
                    })
                    .await;
                let _ = client
                    .remove_pod_sandbox(cri::RemovePodSandboxRequest { pod_sandbox_id: id })
                    .await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    // The agent's own mounts (tmpfs for secret volumes, subPath binds) stay behind when the
    // agent was killed rather than stopped: unmount them, deepest first, so the data dir can go.
    if let Some(data_dir) = socket.ancestors().nth(3) {
        let prefix = format!("{}/", data_dir.display());
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        let mut ours: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| m.starts_with(&prefix))
            .collect();
        ours.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for mount in ours {
            let _ = std::process::Command::new("umount").arg(mount).status();
        }
    }
    if let Some(mut child) = revived {
        let _ = child.kill();
        let _ = child.wait();
        return;
    }
    let pid_file = socket.with_file_name("containerd.pid");
    if let Some(pid) = std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
    {
        crate::process::sigterm(pid);
        // Its data dir goes away next; wait (bounded) until it has let go of it.
        for _ in 0..100 {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Starts the containerd of `socket` again from its config when nothing answers there, and
/// waits (bounded) until the socket accepts connections.
fn revive_containerd(socket: &Path) -> Option<std::process::Child> {
    if std::os::unix::net::UnixStream::connect(socket).is_ok() {
        return None;
    }
    let config = socket.with_file_name("config.toml");
    if !config.is_file() {
        return None;
    }
    let _ = std::fs::remove_file(socket);
    let child = std::process::Command::new("containerd")
        .arg("--config")
        .arg(&config)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    for _ in 0..100 {
        if std::os::unix::net::UnixStream::connect(socket).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(child)
}

/// Removes the service proxy's nftables table, which a killed server leaves behind.
pub fn remove_proxy_table() {
    let _ = std::process::Command::new("nft")
        .args(["delete", "table", "ip", "closet"])
        .output();
}

/// The number of containers the runtime at `socket` holds in `state` (e.g. running).
pub async fn count_containers(socket: &Path, state: cri::ContainerState) -> usize {
    let client = CriClient::connect(socket)
        .await
        .expect("connect to the agent's containerd");
    client
        .all_containers()
        .await
        .expect("list containers")
        .iter()
        .filter(|c| c.state == state as i32)
        .count()
}

/// The busybox test image's reference, imported from an archive (never pulled).
pub const BUSYBOX: &str = "e2e.closet.local/busybox:1";

/// Drops the busybox test image into the agent's images directory and waits until the
/// runtime lists it: the offline-import path a user without internet takes.
pub fn import_busybox(cluster: &crate::Cluster) {
    let archive = crate::images::busybox_archive(BUSYBOX);
    drop_image(&cluster.data_dir(), "busybox.tar", &archive);
    wait_for_image(cluster, BUSYBOX);
}

/// Waits until the agent's runtime lists `reference`.
pub fn wait_for_image(cluster: &crate::Cluster, reference: &str) {
    if let Err(e) = wait_for_image_at(&cluster.containerd_socket(), reference) {
        cluster.fail(e);
    }
}

/// Waits (up to a minute, scaled) until the runtime at `socket` lists `reference`.
pub fn wait_for_image_at(socket: &Path, reference: &str) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    crate::try_eventually(Duration::from_secs(60), || {
        runtime.block_on(async {
            let client = CriClient::connect(socket)
                .await
                .map_err(|e| e.to_string())?;
            let images = client.all_images().await.map_err(|e| e.to_string())?;
            if images
                .iter()
                .any(|i| i.repo_tags.iter().any(|t| t == reference))
            {
                Ok(())
            } else {
                Err(format!("{reference} not among {} images yet", images.len()))
            }
        })
    })
    .map(drop)
}

/// Writes `archive` into an agent's image drop directory (`<data-dir>/agent/images`) under
/// `file`. It is written under a temporary name and renamed, as a user copying a file in
/// would not be guaranteed to do, and dated a minute back so the next scan takes it.
pub fn drop_image(data_dir: &Path, file: &str, archive: &[u8]) {
    let dir = data_dir.join("agent").join("images");
    std::fs::create_dir_all(&dir).expect("create the images directory");
    let partial = dir.join(format!("{file}.partial"));
    std::fs::write(&partial, archive).expect("write the image archive");
    // Dated a minute back, the archive counts as finished at the agent's next scan instead of
    // after two scans that see it unchanged (which costs every pod test several seconds).
    let written = std::fs::File::options()
        .write(true)
        .open(&partial)
        .expect("open the image archive");
    let a_minute_ago = std::time::SystemTime::now() - Duration::from_secs(60);
    written
        .set_modified(a_minute_ago)
        .expect("date the image archive");
    drop(written);
    std::fs::rename(&partial, dir.join(file)).expect("rename the image archive");
}

/// The process ids of the containerd at `socket`, its shims (which name the socket in their
/// `-address`), and every process below the shims: the containers.
pub fn runtime_processes(socket: &Path) -> Vec<u32> {
    let mut pids = Vec::new();
    if let Some(pid) = std::fs::read_to_string(socket.with_file_name("containerd.pid"))
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
    {
        pids.push(pid);
    }
    let address = socket.to_string_lossy().into_owned();
    let mut parents: Vec<(u32, u32)> = Vec::new();
    let mut shims = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.first().is_some_and(|a| a.contains("containerd-shim"))
            && args
                .windows(2)
                .any(|w| w[0] == "-address" && w[1] == address)
        {
            shims.push(pid);
        }
        // `pid (comm) state ppid ...`; comm may hold spaces, so split after the last ')'.
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        if let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok())
        {
            parents.push((pid, ppid));
        }
    }
    let mut below = shims.clone();
    let mut i = 0;
    while i < below.len() && below.len() < 10_000 {
        let parent = below[i];
        below.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    pids.extend(below);
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// Why this machine cannot run pods for a test, if it cannot: no kubectl, no containerd or
/// runc, or not root. Tests print the reason and skip.
pub fn cannot_run_pods() -> Option<String> {
    if !crate::kubectl_available() {
        return Some("no kubectl on the PATH".into());
    }
    if let Err(e) = closet_cri::find_binaries(&std::env::var_os("PATH").unwrap_or_default()) {
        return Some(e.to_string());
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1).map(str::to_owned));
    (euid.as_deref() != Some("0")).then(|| "the node agent needs root".to_owned())
}

/// One node agent at a time in a test process (`cargo test` runs tests on threads; across
/// processes the nextest group and the machine-wide lock do the same).
pub fn agent_turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// A cluster with its node agent, held by one test at a time in this process.
pub struct NodeCluster {
    cluster: crate::Cluster,
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl std::ops::Deref for NodeCluster {
    type Target = crate::Cluster;
    fn deref(&self) -> &crate::Cluster {
        &self.cluster
    }
}

/// A cluster with its agent and the busybox image imported, or `None` (the reason printed,
/// the test skips) when this machine cannot run pods.
pub fn node_cluster() -> Option<NodeCluster> {
    if let Some(reason) = cannot_run_pods() {
        eprintln!("skipping: {reason}");
        return None;
    }
    let turn = agent_turn();
    let cluster = crate::Cluster::with_agent();
    import_busybox(&cluster);
    Some(NodeCluster {
        cluster,
        _turn: turn,
    })
}
