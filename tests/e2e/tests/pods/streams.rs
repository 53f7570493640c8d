//! Logs, exec, attach-style terminals, port-forward, cp and top: the streams kubectl opens
//! through the apiserver to the node API.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use closet_e2e::{eventually, test_ns};

use crate::{node_cluster, pod_yaml};

#[test]
fn logs_follow_exec_exit_codes_and_cp() {
    let Some(cluster) = node_cluster() else {
        return;
    };
    let ns = test_ns!(&cluster);
    let manifest = pod_yaml(
        "talk",
        "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.2; done",
        "",
        "",
    );
    ns.kubectl_ok(&["apply", "-f", &ns.write("talk.yaml", &manifest)]);
    ns.wait_ready("talk");

    let logs = eventually(Duration::from_secs(20), || {
        let out = ns.kubectl_ok(&["logs", "talk", "--tail=2"]);
        if out.lines().count() == 2 {
            Ok(out)
        } else {
            Err(out)
        }
    });
    assert!(logs.lines().all(|l| l.starts_with("line ")), "{logs}");
    let stamped = ns.kubectl_ok(&["logs", "talk", "--tail=1", "--timestamps"]);
    assert!(
        stamped.split(' ').next().unwrap().contains('T'),
        "{stamped}"
    );

    // `logs -f` streams new lines as they come.
    let mut follow = ns.kubectl_command(&["logs", "-f", "talk"]);
    let mut child = follow.stdout(Stdio::piped()).spawn().unwrap();
    let mut buf = [0u8; 4096];
    let mut seen = String::new();
    let mut stdout = child.stdout.take().unwrap();
    while seen.lines().count() < 20 {
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "logs -f ended early: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let _ = child.kill();
    let _ = child.wait();

    assert_eq!(
        ns.kubectl_ok(&["exec", "talk", "--", "echo", "hi there"])
            .trim(),
        "hi there"
    );
    let failed = ns.kubectl(&[
        "exec",
        "talk",
        "--",
        "sh",
        "-c",
        "echo to-stderr >&2; exit 7",
    ]);
    assert_eq!(failed.status.code(), Some(7), "{}", failed.describe());
    assert!(failed.stderr.contains("to-stderr"), "{}", failed.describe());
    // stdin reaches the process and its end closes the process's stdin.
    let piped = ns.kubectl_stdin(&["exec", "-i", "talk", "--", "wc", "-c"], "12345");
    assert_eq!(piped.stdout.trim(), "5", "{}", piped.describe());

    // kubectl cp needs tar in the container and stdin that ends.
    let local = ns.dir().join("upload.txt");
    std::fs::write(&local, "copied in\n").unwrap();
    ns.kubectl_ok(&["cp", local.to_str().unwrap(), "talk:/tmp/upload.txt"]);
    assert_eq!(
        ns.kubectl_ok(&["exec", "talk", "--", "cat", "/tmp/upload.txt"])
            .trim(),
        "copied in"
    );
    let back = ns.dir().join("download.txt");
    ns.kubectl_ok(&["cp", "talk:/tmp/upload.txt", back.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(back).unwrap(), "copied in\n");
}

#[test]
fn exec_it_runs_an_interactive_shell_through_a_pty() {
    let Some(cluster) = node_cluster() else {
        return;
    };
    let ns = test_ns!(&cluster);
    ns.kubectl_ok(&[
        "apply",
        "-f",
        &ns.write("sh.yaml", &pod_yaml("sh", "sleep 3600", "", "")),
    ]);
    ns.wait_ready("sh");
    // `script` gives kubectl a real terminal, as a person at a keyboard has.
    let kubectl = ns.kubectl_command_line(&["exec", "-it", "sh", "--", "sh"]);
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &kubectl, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    stdin
        .write_all(b"echo $((6*7)) from-tty; tty; exit 5\n")
        .unwrap();
    stdin.flush().unwrap();
    let output = closet_e2e::run_with_timeout_child(child, Duration::from_secs(30));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("42 from-tty"), "{text}");
    assert!(
        text.contains("/dev/pts/"),
        "the shell has a terminal: {text}"
    );
    assert_eq!(output.status.code(), Some(5), "{text}");
}

#[test]
fn port_forward_reaches_the_pod() {
    let Some(cluster) = node_cluster() else {
        return;
    };
    let ns = test_ns!(&cluster);
    let manifest = pod_yaml(
        "pf",
        "mkdir -p /www && echo forwarded > /www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www",
        "",
        "",
    );
    ns.kubectl_ok(&["apply", "-f", &ns.write("pf.yaml", &manifest)]);
    ns.wait_ready("pf");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut forward = ns
        .kubectl_command(&["port-forward", "pod/pf", &format!("{port}:8080")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The server binds loopback inside the pod: only a forward into its network namespace
    // reaches it.
    let body = eventually(Duration::from_secs(20), || {
        let out = Command::new("busybox")
            .args([
                "wget",
                "-q",
                "-O",
                "-",
                &format!("http://127.0.0.1:{port}/index.html"),
            ])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    });
    assert_eq!(body.trim(), "forwarded");
    // A second connection over the same forward.
    let again = Command::new("busybox")
        .args([
            "wget",
            "-q",
            "-O",
            "-",
            &format!("http://127.0.0.1:{port}/index.html"),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&again.stdout).trim(), "forwarded");
    let _ = forward.kill();
    let _ = forward.wait();
}

#[test]
fn top_reports_pod_and_node_usage() {
    let Some(cluster) = node_cluster() else {
        return;
    };
    let ns = test_ns!(&cluster);
    ns.kubectl_ok(&[
        "apply",
        "-f",
        &ns.write("busy.yaml", &pod_yaml("busy", "sleep 3600", "", "")),
    ]);
    ns.wait_ready("busy");
    let pods = eventually(Duration::from_secs(60), || {
        let out = ns.kubectl(&["top", "pods"]);
        if out.success() && out.stdout.contains("busy") {
            Ok(out.stdout)
        } else {
            Err(out.describe())
        }
    });
    assert!(pods.contains("CPU"), "{pods}");
    let nodes = eventually(Duration::from_secs(60), || {
        let out = cluster.kubectl(&["top", "nodes"]);
        if out.success() && out.stdout.contains(closet_e2e::Cluster::NODE) {
            Ok(out.stdout)
        } else {
            Err(out.describe())
        }
    });
    assert!(nodes.contains("MEMORY"), "{nodes}");
}
