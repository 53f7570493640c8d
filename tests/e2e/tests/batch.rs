//! Jobs and CronJobs whose pods run in real containers: the embedded agent, containerd and
//! runc, driven by real kubectl. Run under the machine-wide node lock (README).

#![allow(clippy::unwrap_used, reason = "tests")]

use std::time::Duration;

use closet_e2e::{Cluster, TestNs, node, test_ns};

fn with_cluster(test: impl FnOnce(&Cluster)) {
    if let Some(cluster) = node::node_cluster() {
        test(&cluster);
    }
}

/// A Job manifest running `command` in busybox.
fn job_yaml(name: &str, spec_extra: &str, command: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\nspec:\n{spec_extra}  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: main\n        image: {image}\n        imagePullPolicy: Never\n        command: [\"sh\", \"-c\", {command:?}]\n",
        image = node::BUSYBOX,
    )
}

fn wait_condition(ns: &TestNs<'_>, job: &str, condition: &str) {
    let out = ns.kubectl(&[
        "wait",
        &format!("--for=condition={condition}"),
        &format!("job/{job}"),
        "--timeout=180s",
    ]);
    if !out.success() {
        let yaml = ns.kubectl(&["get", "job", job, "-o", "yaml"]).stdout;
        let pods = ns.kubectl(&["get", "pods", "-o", "wide"]).stdout;
        ns.cluster().fail(format!(
            "job {job} never {condition}: {}\n{yaml}\n{pods}",
            out.describe()
        ));
    }
}

#[test]
fn jobs_run_to_completion_fail_at_their_backoff_limit_and_run_indexed() {
    with_cluster(|cluster| {
        let ns = test_ns!(cluster);
        // Completion, watched the way kubectl users wait for it.
        let ok = job_yaml("ok", "  completions: 2\n  parallelism: 2\n", "echo done");
        ns.kubectl_ok(&["apply", "-f", &ns.write("ok.yaml", &ok)]);
        wait_condition(&ns, "ok", "complete");
        let succeeded = ns.kubectl_ok(&["get", "job", "ok", "-o", "jsonpath={.status.succeeded}"]);
        assert_eq!(succeeded, "2");
        let table = ns.kubectl_ok(&["get", "jobs", "ok"]);
        assert!(
            table.contains("Complete") && table.contains("2/2"),
            "{table}"
        );
        let logs = ns.kubectl_ok(&["logs", "job/ok"]);
        assert!(logs.contains("done"), "{logs}");

        // A failing Job: one retry, then BackoffLimitExceeded.
        let bad = job_yaml("bad", "  backoffLimit: 1\n", "exit 3");
        ns.kubectl_ok(&["apply", "-f", &ns.write("bad.yaml", &bad)]);
        wait_condition(&ns, "bad", "failed");
        let reason = ns.kubectl_ok(&[
            "get",
            "job",
            "bad",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Failed\")].reason}",
        ]);
        assert_eq!(reason, "BackoffLimitExceeded");
        let failed = ns.kubectl_ok(&["get", "job", "bad", "-o", "jsonpath={.status.failed}"]);
        assert_eq!(failed, "2");
        let events = ns.kubectl_ok(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=bad",
        ]);
        assert!(events.contains("BackoffLimitExceeded"), "{events}");

        // Indexed: each pod sees its index and hostname.
        let indexed = job_yaml(
            "idx",
            "  completions: 3\n  parallelism: 3\n  completionMode: Indexed\n",
            "echo index=$JOB_COMPLETION_INDEX host=$(hostname)",
        );
        ns.kubectl_ok(&["apply", "-f", &ns.write("idx.yaml", &indexed)]);
        wait_condition(&ns, "idx", "complete");
        let done = ns.kubectl_ok(&[
            "get",
            "job",
            "idx",
            "-o",
            "jsonpath={.status.completedIndexes}",
        ]);
        assert_eq!(done, "0-2");
        for i in 0..3 {
            let pod = ns.kubectl_ok(&[
                "get",
                "pods",
                "-l",
                &format!("batch.kubernetes.io/job-completion-index={i},job-name=idx"),
                "-o",
                "jsonpath={.items[0].metadata.name}",
            ]);
            let logs = ns.kubectl_ok(&["logs", &pod]);
            assert!(
                logs.contains(&format!("index={i} host=idx-{i}")),
                "{pod}: {logs}"
            );
        }
    });
}

#[test]
fn a_cronjob_fires_every_minute_and_its_job_completes() {
    with_cluster(|cluster| {
        let ns = test_ns!(cluster);
        let manifest = format!(
            "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: tick\nspec:\n  schedule: \"* * * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers:\n          - name: main\n            image: {image}\n            imagePullPolicy: Never\n            command: [\"sh\", \"-c\", \"echo tick\"]\n",
            image = node::BUSYBOX,
        );
        ns.kubectl_ok(&["apply", "-f", &ns.write("tick.yaml", &manifest)]);
        let job = ns.eventually(Duration::from_secs(150), || {
            let names = ns.kubectl_ok(&["get", "jobs", "-o", "jsonpath={.items[*].metadata.name}"]);
            let name = names.split_whitespace().next().unwrap_or("").to_string();
            if name.starts_with("tick-") {
                Ok(name)
            } else {
                Err("no job from the cronjob yet".to_string())
            }
        });
        let minutes: i64 = job.trim_start_matches("tick-").parse().unwrap();
        assert!(
            minutes > 28_000_000,
            "named after minutes since the epoch: {job}"
        );
        wait_condition(&ns, &job, "complete");
        ns.eventually(Duration::from_secs(60), || {
            let last = ns.kubectl_ok(&[
                "get",
                "cronjob",
                "tick",
                "-o",
                "jsonpath={.status.lastSuccessfulTime}",
            ]);
            if last.is_empty() {
                Err("no lastSuccessfulTime yet".to_string())
            } else {
                Ok(())
            }
        });
        let scheduled = ns.kubectl_ok(&[
            "get",
            "cronjob",
            "tick",
            "-o",
            "jsonpath={.status.lastScheduleTime}",
        ]);
        assert!(!scheduled.is_empty());
    });
}
