//! The everyday kubectl commands with every kubectl the machine carries (1.27 to 1.33, the
//! versioned binaries beside the dispatcher), against one server. Prints a table of which
//! command passed on which version, then fails if any did not.

use std::path::{Path, PathBuf};
use std::process::Command;

use closet_e2e::{Cluster, require_kubectl};

/// The versioned kubectl binaries beside the dispatcher on the PATH.
fn versioned_kubectls() -> Vec<(String, PathBuf)> {
    let Ok(out) = Command::new("sh")
        .args(["-c", "readlink -f \"$(command -v kubectl)\""])
        .output()
    else {
        return Vec::new();
    };
    let dispatcher = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let Some(dir) = dispatcher.parent() else {
        return Vec::new();
    };
    let mut found: Vec<(String, PathBuf)> = (20..=40)
        .map(|minor| (format!("1.{minor}"), dir.join(format!("kubectl.1.{minor}"))))
        .filter(|(_, path)| path.exists())
        .collect();
    found.sort_by_key(|(v, _)| v.split('.').nth(1).and_then(|m| m.parse::<u32>().ok()));
    // `CLOSET_KUBECTL_VERSIONS=1.29,1.33` narrows the matrix while investigating one version.
    if let Ok(only) = std::env::var("CLOSET_KUBECTL_VERSIONS") {
        found.retain(|(v, _)| only.split(',').any(|o| o.trim() == v));
    }
    found
}

/// One everyday command: arguments (with `{ns}` and `{dir}` replaced) and text its output
/// must contain.
struct Case {
    name: &'static str,
    args: &'static [&'static str],
    expect: &'static str,
    /// The exit code that means success (`diff` exits 1 when there are differences).
    exit: i32,
}

const CASES: &[Case] = &[
    Case {
        name: "version",
        args: &["version"],
        expect: "v1.35.0-closet",
        exit: 0,
    },
    Case {
        name: "api-resources",
        args: &["api-resources"],
        expect: "deployments",
        exit: 0,
    },
    Case {
        name: "get ns",
        args: &["get", "namespaces"],
        expect: "kube-system",
        exit: 0,
    },
    Case {
        name: "create -f",
        args: &["-n", "{ns}", "create", "-f", "{dir}/cm.yaml"],
        expect: "created",
        exit: 0,
    },
    Case {
        name: "get table",
        args: &["-n", "{ns}", "get", "configmaps"],
        expect: "DATA",
        exit: 0,
    },
    Case {
        name: "get -o yaml",
        args: &["-n", "{ns}", "get", "configmap", "cm", "-o", "yaml"],
        expect: "name: cm",
        exit: 0,
    },
    Case {
        name: "get -o jsonpath",
        args: &["-n", "{ns}", "get", "cm", "cm", "-o", "jsonpath={.data.a}"],
        expect: "1",
        exit: 0,
    },
    Case {
        name: "get -l",
        args: &["-n", "{ns}", "get", "cm", "-l", "app=demo", "-o", "name"],
        expect: "configmap/cm",
        exit: 0,
    },
    Case {
        name: "label",
        args: &["-n", "{ns}", "label", "cm", "cm", "tier=web"],
        expect: "labeled",
        exit: 0,
    },
    Case {
        name: "annotate",
        args: &["-n", "{ns}", "annotate", "cm", "cm", "note=hi"],
        // 1.27 prints "annotate", later versions "annotated".
        expect: "configmap/cm annotate",
        exit: 0,
    },
    Case {
        name: "replace -f",
        args: &["-n", "{ns}", "replace", "-f", "{dir}/cm2.yaml"],
        expect: "replaced",
        exit: 0,
    },
    Case {
        name: "describe",
        args: &["-n", "{ns}", "describe", "cm", "cm"],
        expect: "Data",
        exit: 0,
    },
    Case {
        name: "create deploy -f",
        args: &["-n", "{ns}", "create", "-f", "{dir}/deploy.yaml"],
        expect: "created",
        exit: 0,
    },
    Case {
        name: "scale",
        args: &["-n", "{ns}", "scale", "deployment", "web", "--replicas=3"],
        expect: "scaled",
        exit: 0,
    },
    Case {
        name: "get deploy -o wide",
        args: &["-n", "{ns}", "get", "deploy", "-o", "wide"],
        expect: "UP-TO-DATE",
        exit: 0,
    },
    Case {
        name: "delete",
        args: &["-n", "{ns}", "delete", "-f", "{dir}/cm.yaml"],
        expect: "deleted",
        exit: 0,
    },
    Case {
        name: "delete deploy",
        args: &["-n", "{ns}", "delete", "deployment", "web"],
        expect: "deleted",
        exit: 0,
    },
    Case {
        name: "create configmap",
        args: &[
            "-n",
            "{ns}",
            "create",
            "configmap",
            "gen",
            "--from-literal=a=b",
        ],
        expect: "created",
        exit: 0,
    },
    Case {
        name: "create deployment",
        args: &["-n", "{ns}", "create", "deployment", "gen", "--image=nginx"],
        expect: "created",
        exit: 0,
    },
    Case {
        name: "apply (create)",
        args: &["-n", "{ns}", "apply", "-f", "{dir}/app1.yaml"],
        expect: "created",
        exit: 0,
    },
    Case {
        name: "apply (update)",
        args: &["-n", "{ns}", "apply", "-f", "{dir}/app2.yaml"],
        expect: "configured",
        exit: 0,
    },
    Case {
        name: "apply (unchanged)",
        args: &["-n", "{ns}", "apply", "-f", "{dir}/app2.yaml"],
        expect: "unchanged",
        exit: 0,
    },
    Case {
        name: "apply --server-side",
        args: &[
            "-n",
            "{ns}",
            "apply",
            "--server-side",
            "-f",
            "{dir}/ssa.yaml",
        ],
        expect: "serverside-applied",
        exit: 0,
    },
    Case {
        name: "diff",
        args: &["-n", "{ns}", "diff", "-f", "{dir}/app1.yaml"],
        expect: "nginx:1.27",
        exit: 1,
    },
    Case {
        name: "set image",
        args: &[
            "-n",
            "{ns}",
            "set",
            "image",
            "deployment/app",
            "nginx=nginx:1.29",
        ],
        expect: "image updated",
        exit: 0,
    },
    Case {
        name: "rollout restart",
        args: &["-n", "{ns}", "rollout", "restart", "deployment/app"],
        expect: "restarted",
        exit: 0,
    },
    Case {
        name: "auth whoami",
        args: &["auth", "whoami"],
        expect: "closet-admin",
        exit: 0,
    },
    Case {
        name: "auth can-i",
        args: &["-n", "{ns}", "auth", "can-i", "create", "pods"],
        expect: "yes",
        exit: 0,
    },
];

fn manifests(dir: &Path, ns: &str) {
    let write =
        |file: &str, text: String| std::fs::write(dir.join(file), text).expect("write a manifest");
    write(
        "ns.yaml",
        format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n"),
    );
    write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, labels: {app: demo}}\ndata: {a: \"1\"}\n".into());
    write("cm2.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, labels: {app: demo}}\ndata: {a: \"1\", b: \"2\"}\n".into());
    let app = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: app}}\n  strategy: {type: RollingUpdate}\n  template:\n    metadata: {labels: {app: app}}\n    spec:\n      containers:\n      - name: nginx\n        image: nginx:1.27\n        env: [{name: A, value: \"1\"}, {name: B, value: \"2\"}]\n";
    write("app1.yaml", app.to_string());
    write(
        "ssa.yaml",
        app.replace("{name: app}", "{name: ssa}")
            .replace("{app: app}", "{app: ssa}"),
    );
    write(
        "app2.yaml",
        app.replace("replicas: 1", "replicas: 2")
            .replace("nginx:1.27", "nginx:1.28")
            .replace("{name: B, value: \"2\"}", "{name: C, value: \"3\"}")
            .replace("type: RollingUpdate", "type: Recreate"),
    );
    write(
        "deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: nginx}]}\n".into(),
    );
}

fn run(kubectl: &Path, cluster: &Cluster, cache: &Path, args: &[String]) -> (i32, String) {
    let out = Command::new("timeout")
        .arg("60")
        .arg(kubectl)
        .args(args)
        .arg("--cache-dir")
        .arg(cache)
        .env("KUBECONFIG", cluster.kubeconfig())
        .output();
    match out {
        Ok(out) => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            (out.status.code().unwrap_or(-1), text)
        }
        Err(err) => (-1, err.to_string()),
    }
}

#[test]
fn everyday_commands_work_on_every_kubectl_version() {
    require_kubectl!();
    let kubectls = versioned_kubectls();
    if kubectls.is_empty() {
        eprintln!("skipping: no versioned kubectl binaries beside the dispatcher");
        return;
    }
    let cluster = Cluster::start();
    let mut table = vec![(
        String::from("command"),
        kubectls.iter().map(|(v, _)| v.clone()).collect::<Vec<_>>(),
    )];
    let mut results: Vec<Vec<bool>> = vec![Vec::new(); CASES.len()];
    let mut failures = Vec::new();
    for (version, kubectl) in &kubectls {
        let ns = format!("v{}", version.replace('.', "-"));
        let dir = tempfile::tempdir().expect("a temp dir");
        manifests(dir.path(), &ns);
        let cache = dir.path().join("cache");
        let setup = vec![
            "create".into(),
            "-f".into(),
            dir.path().join("ns.yaml").to_string_lossy().into_owned(),
        ];
        let (code, text) = run(kubectl, &cluster, &cache, &setup);
        assert_eq!(
            code, 0,
            "kubectl {version} could not create its namespace: {text}"
        );
        for (i, case) in CASES.iter().enumerate() {
            let args: Vec<String> = case
                .args
                .iter()
                .map(|a| {
                    a.replace("{ns}", &ns)
                        .replace("{dir}", &dir.path().to_string_lossy())
                })
                .collect();
            let (code, text) = run(kubectl, &cluster, &cache, &args);
            let passed = code == case.exit && text.contains(case.expect);
            if !passed {
                failures.push(format!("kubectl {version} {}: {}", case.name, text.trim()));
            }
            results[i].push(passed);
        }
    }
    for (case, row) in CASES.iter().zip(&results) {
        table.push((
            case.name.to_string(),
            row.iter()
                .map(|p| if *p { "ok" } else { "FAIL" }.to_string())
                .collect(),
        ));
    }
    let width = table.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let mut printed = String::from("\nkubectl version matrix:\n");
    for (name, cells) in &table {
        printed.push_str(&format!(
            "  {name:<width$}  {}\n",
            cells
                .iter()
                .map(|c| format!("{c:<5}"))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    println!("{printed}");
    assert!(failures.is_empty(), "{printed}\n{}", failures.join("\n"));
}
