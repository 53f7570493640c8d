//! Protobuf bodies exactly as kubectl sends them.
//!
//! `tests/fixtures/<case>.pb` are POST bodies captured from the real kubectl (1.32, through
//! the dispatcher) by [`bodies_from_the_installed_kubectl_decode_like_its_own_json`], and
//! `<case>.json` the JSON the decoder must produce. For generator commands that JSON is
//! kubectl's own rendering of the same object (`--dry-run=client -o json`, nulls dropped), so
//! the expectation comes from Go, not from this crate. For the review kinds and TokenRequest,
//! which have no dry run, it was written by hand from the captured bytes.
//!
//! `CLOSET_PROTOBUF_REGENERATE=1` rewrites the captured fixtures.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod stub;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

struct Case {
    name: &'static str,
    /// kubectl arguments; `{dir}` is the test's scratch directory.
    args: &'static [&'static str],
    /// Whether `--dry-run=client -o json` prints the same object.
    dry_run: bool,
}

const fn case(name: &'static str, args: &'static [&'static str], dry_run: bool) -> Case {
    Case {
        name,
        args,
        dry_run,
    }
}

const CASES: &[Case] = &[
    case("namespace", &["create", "namespace", "x"], true),
    case(
        "configmap",
        &["create", "configmap", "x", "--from-literal=a=b"],
        true,
    ),
    case(
        "configmap-binary",
        &[
            "create",
            "configmap",
            "x",
            "--from-literal=a=b",
            "--from-file=bin={dir}/binary",
        ],
        true,
    ),
    case(
        "secret-generic",
        &["create", "secret", "generic", "x", "--from-literal=p=q"],
        true,
    ),
    case(
        "secret-docker-registry",
        &[
            "create",
            "secret",
            "docker-registry",
            "x",
            "--docker-server=r.example",
            "--docker-username=u",
            "--docker-password=p",
        ],
        true,
    ),
    case(
        "deployment",
        &["create", "deployment", "x", "--image=nginx", "--replicas=2"],
        true,
    ),
    case(
        "deployment-port",
        &[
            "create",
            "deployment",
            "x",
            "--image=nginx",
            "--port=80",
            "--replicas=0",
        ],
        true,
    ),
    case(
        "service-clusterip",
        &["create", "service", "clusterip", "x", "--tcp=80:8080"],
        true,
    ),
    case(
        "service-nodeport",
        &[
            "create",
            "service",
            "nodeport",
            "x",
            "--tcp=80:http",
            "--node-port=30080",
        ],
        true,
    ),
    case(
        "service-externalname",
        &[
            "create",
            "service",
            "externalname",
            "x",
            "--external-name=example.com",
        ],
        true,
    ),
    case(
        "job",
        &["create", "job", "x", "--image=busybox", "--", "echo", "hi"],
        true,
    ),
    case(
        "cronjob",
        &[
            "create",
            "cronjob",
            "x",
            "--image=busybox",
            "--schedule=*/5 * * * *",
        ],
        true,
    ),
    case(
        "role",
        &["create", "role", "x", "--verb=get", "--resource=pods"],
        true,
    ),
    case(
        "rolebinding",
        &["create", "rolebinding", "x", "--role=x", "--user=u"],
        true,
    ),
    case(
        "clusterrole",
        &[
            "create",
            "clusterrole",
            "x",
            "--verb=get,list",
            "--resource=pods,deployments.apps",
        ],
        true,
    ),
    case(
        "clusterrolebinding",
        &[
            "create",
            "clusterrolebinding",
            "x",
            "--clusterrole=x",
            "--group=g",
            "--serviceaccount=default:sa",
        ],
        true,
    ),
    case("serviceaccount", &["create", "serviceaccount", "x"], true),
    case(
        "pdb-min-available",
        &[
            "create",
            "pdb",
            "x",
            "--selector=app=x",
            "--min-available=1",
        ],
        true,
    ),
    case(
        "pdb-max-unavailable",
        &[
            "create",
            "pdb",
            "x",
            "--selector=app=x",
            "--max-unavailable=50%",
        ],
        true,
    ),
    case(
        "ingress",
        &[
            "create",
            "ingress",
            "x",
            "--class=nginx",
            "--rule=foo.com/bar*=svc:80,tls=cert",
            "--default-backend=def:http",
        ],
        true,
    ),
    case(
        "priorityclass",
        &[
            "create",
            "priorityclass",
            "x",
            "--value=1000",
            "--description=d",
            "--preemption-policy=Never",
        ],
        true,
    ),
    case(
        "quota",
        &["create", "quota", "x", "--hard=cpu=1,memory=1G,pods=2"],
        true,
    ),
    case("auth-can-i", &["auth", "can-i", "get", "pods"], false),
    case("auth-whoami", &["auth", "whoami"], false),
    case(
        "create-token",
        &[
            "create",
            "token",
            "default",
            "--duration=10m",
            "--audience=a",
        ],
        false,
    ),
];

fn fixture(name: &str, extension: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.{extension}"))
}

#[test]
fn committed_fixtures_decode_to_their_json() {
    for case in CASES {
        let body = std::fs::read(fixture(case.name, "pb")).unwrap();
        let expected: Value =
            serde_json::from_slice(&std::fs::read(fixture(case.name, "json")).unwrap()).unwrap();
        let decoded = closet_protobuf::decode(&body)
            .unwrap_or_else(|e| panic!("{}: {e}: {:?}", case.name, std::error::Error::source(&e)));
        assert_same(case.name, &decoded, &expected);
    }
}

#[test]
fn bodies_from_the_installed_kubectl_decode_like_its_own_json() {
    let Some(kubectl) = which("kubectl") else {
        eprintln!("kubectl is not installed: only the committed fixtures are checked");
        return;
    };
    let regenerate = std::env::var_os("CLOSET_PROTOBUF_REGENERATE").is_some();
    let stub = stub::Stub::start();
    let scratch = Scratch::new();
    let dir = scratch.0.clone();
    // Not UTF-8, so kubectl puts it in binaryData.
    std::fs::write(dir.join("binary"), [0xff, 0x00, 0xfe, b'k']).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: s, cluster: {{server: \"{}\"}}}}]\n\
             contexts: [{{name: s, context: {{cluster: s, user: u, namespace: default}}}}]\n\
             current-context: s\nusers: [{{name: u, user: {{}}}}]\n",
            stub.url
        ),
    )
    .unwrap();
    let common = [
        format!("--kubeconfig={}", kubeconfig.display()),
        format!("--cache-dir={}", dir.join("cache").display()),
        "--request-timeout=20s".to_string(),
    ];
    for case in CASES {
        let args: Vec<String> = case
            .args
            .iter()
            .map(|a| a.replace("{dir}", &dir.display().to_string()))
            .collect();
        // Flags go before `--` so the job's command stays last.
        let split = args.iter().position(|a| a == "--").unwrap_or(args.len());
        let with = |extra: &[String]| {
            let mut all = args[..split].to_vec();
            all.extend_from_slice(&common);
            all.extend_from_slice(extra);
            all.extend_from_slice(&args[split..]);
            all
        };
        stub.take_posts();
        run(&kubectl, &with(&[]));
        let posts = stub.take_posts();
        let post = posts
            .last()
            .unwrap_or_else(|| panic!("{}: kubectl sent no POST", case.name));
        assert_eq!(
            post.content_type, "application/vnd.kubernetes.protobuf",
            "{}: {}",
            case.name, post.path
        );
        let decoded = closet_protobuf::decode(&post.body)
            .unwrap_or_else(|e| panic!("{}: {e}: {:?}", case.name, std::error::Error::source(&e)));
        let expected = if case.dry_run {
            let extra = ["--dry-run=client".to_string(), "-o".into(), "json".into()];
            let out = run(&kubectl, &with(&extra));
            without_nulls(serde_json::from_slice(&out).unwrap())
        } else {
            serde_json::from_slice(&std::fs::read(fixture(case.name, "json")).unwrap_or_default())
                .unwrap_or(Value::Null)
        };
        if regenerate {
            std::fs::write(fixture(case.name, "pb"), &post.body).unwrap();
            let json = if case.dry_run { &expected } else { &decoded };
            if case.dry_run || !fixture(case.name, "json").exists() {
                let text = serde_json::to_string_pretty(json).unwrap() + "\n";
                std::fs::write(fixture(case.name, "json"), text).unwrap();
            }
            continue;
        }
        assert_same(case.name, &decoded, &expected);
    }
}

/// A scratch directory removed when the test ends, failed or not.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("closet-protobuf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Go writes a zero `metav1.Time` as `null`; the decoder leaves it out, which reads the same.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

fn assert_same(name: &str, decoded: &Value, expected: &Value) {
    assert!(
        decoded == expected,
        "{name}: decoded\n{}\nexpected\n{}",
        serde_json::to_string_pretty(decoded).unwrap(),
        serde_json::to_string_pretty(expected).unwrap()
    );
}

/// Runs kubectl, at most a minute, and returns its standard output.
fn run(kubectl: &Path, args: &[String]) -> Vec<u8> {
    let mut child = Command::new(kubectl)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("kubectl {args:?} did not finish in a minute");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // `auth can-i` exits 1 for "no", `create token` fails on the stub's empty reply: only the
    // request matters here.
    child.wait_with_output().unwrap().stdout
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
}
