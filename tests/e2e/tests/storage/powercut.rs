//! The power-cut drill (issue 5): a StatefulSet serving a file from its claim answers with
//! the same file after the server, containerd and every container are killed at once and
//! the server is started again on the same data dir.

use std::time::{Duration, Instant};

use closet_e2e::{eventually, scaled, test_ns};

use crate::{get_through_forward, node_cluster};

fn web_manifest() -> String {
    format!(
        r#"apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  clusterIP: None
  selector: {{app: web}}
  ports: [{{port: 80, name: web}}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 1
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: nginx
        image: {image}
        imagePullPolicy: Never
        command: ["httpd", "-f", "-p", "80", "-h", "/usr/share/nginx/html"]
        ports: [{{containerPort: 80, name: web}}]
        readinessProbe:
          tcpSocket: {{port: 80}}
          periodSeconds: 1
        volumeMounts:
        - {{name: www, mountPath: /usr/share/nginx/html}}
  volumeClaimTemplates:
  - metadata:
      name: www
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests:
          storage: 1Gi
"#,
        image = closet_e2e::node::BUSYBOX
    )
}

#[test]
fn powercut_statefulset_serves_the_same_file_after_restart() {
    let Some(cluster) = node_cluster() else {
        return;
    };
    let ns = test_ns!(&cluster);
    ns.kubectl_ok(&["apply", "-f", &ns.write("web.yaml", &web_manifest())]);
    let rollout = ns.kubectl(&["rollout", "status", "statefulset/web", "--timeout=180s"]);
    assert!(rollout.success(), "rollout: {}", rollout.describe());
    ns.wait_ready("web-0");
    assert_eq!(
        ns.kubectl_ok(&["get", "pvc", "www-web-0", "-o", "jsonpath={.status.phase}"]),
        "Bound"
    );
    let page = format!("survives power cuts {}\n", ns.name());
    ns.kubectl_ok(&[
        "exec",
        "web-0",
        "--",
        "sh",
        "-c",
        &format!(
            "printf '{}' > /usr/share/nginx/html/index.html",
            page.trim_end()
        ),
    ]);
    let before = eventually(Duration::from_secs(30), || {
        get_through_forward(&ns, "web-0", 80, "/index.html")
    });
    assert_eq!(before.trim_end(), page.trim_end());

    // `CLOSET_POWERCUT_ROUNDS=N` repeats the cut to measure recovery (see the README).
    let rounds: u32 = std::env::var("CLOSET_POWERCUT_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1)
        .clamp(1, 20);
    let mut times = Vec::new();
    for round in 1..=rounds {
        let recovered = cut_and_recover(&cluster, &ns, &page);
        eprintln!(
            "power-cut recovery, round {round}: {:.2}s (restart to first good answer)",
            recovered.as_secs_f64()
        );
        times.push(recovered.as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!("power-cut recovery: median {median:.2}s over {rounds} round(s): {times:.2?}");
    eprintln!("power-cut recovery: median {median:.2}s over {rounds} round(s): {times:.2?}");
}

/// Cuts the power, starts the server again, and returns how long after the start the
/// page was served again.
fn cut_and_recover(
    cluster: &closet_e2e::Cluster,
    ns: &closet_e2e::TestNs<'_>,
    page: &str,
) -> Duration {
    // A marker outside the volume: gone once the container is really a new one.
    ns.kubectl_ok(&["exec", "web-0", "--", "touch", "/tmp/before-the-cut"]);
    let killed = cluster.power_cut();
    // containerd, at least one shim, and the pause and httpd processes below it.
    assert!(
        killed >= 3,
        "the power cut found only {killed} runtime processes"
    );
    let restarted = Instant::now();
    cluster.restart();
    let attempts_until = Instant::now() + scaled(Duration::from_secs(300));
    loop {
        let last = match get_through_forward(ns, "web-0", 80, "/index.html") {
            Ok(body) if body.trim_end() == page.trim_end() => {
                let took = restarted.elapsed();
                let fresh =
                    ns.kubectl(&["exec", "web-0", "--", "test", "-e", "/tmp/before-the-cut"]);
                assert!(
                    !fresh.success(),
                    "web-0 still runs the container from before the cut"
                );
                return took;
            }
            Ok(body) => format!("answered {body:?}"),
            Err(e) => e,
        };
        if Instant::now() > attempts_until {
            let yaml = ns.kubectl(&["get", "pod", "web-0", "-o", "yaml"]).stdout;
            cluster.fail(format!("web-0 never served the page again: {last}\n{yaml}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
