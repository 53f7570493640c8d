//! A tiny plain-HTTP API server stub: enough discovery for kubectl to build its requests, and a
//! record of every POST body. kubectl over `http://` sends no credentials, which suits a stub.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// One recorded POST.
#[derive(Clone, Debug)]
pub(crate) struct Post {
    pub(crate) path: String,
    pub(crate) content_type: String,
    pub(crate) body: Vec<u8>,
}

pub(crate) struct Stub {
    pub(crate) url: String,
    posts: Arc<Mutex<Vec<Post>>>,
}

impl Stub {
    /// Listens on a free loopback port and serves each connection on its own thread.
    pub(crate) fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let posts = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&posts);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let recorded = Arc::clone(&recorded);
                std::thread::spawn(move || {
                    // A broken connection only loses that request; kubectl reports it.
                    let _ = serve(stream, &recorded);
                });
            }
        });
        Self { url, posts }
    }

    /// Takes the POSTs recorded so far.
    pub(crate) fn take_posts(&self) -> Vec<Post> {
        std::mem::take(&mut *self.posts.lock().unwrap())
    }
}

fn serve(stream: TcpStream, posts: &Mutex<Vec<Post>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default().to_string();
        let mut content_length = 0;
        let mut content_type = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => content_length = value.trim().parse().unwrap_or(0),
                    "content-type" => content_type = value.trim().to_string(),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; content_length];
        reader.read_exact(&mut body)?;
        let path = target.split('?').next().unwrap_or_default().to_string();
        let (status, reply) = if method == "POST" {
            posts.lock().unwrap().push(Post {
                path,
                content_type,
                body,
            });
            (201, json!({}))
        } else {
            answer(&path)
        };
        let reply = reply.to_string();
        write!(
            stream,
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{reply}",
            reply.len()
        )?;
        stream.flush()?;
    }
}

/// Legacy discovery for the resources the tests create (kubectl falls back to it when the
/// aggregated form is not offered).
/// `(plural, kind, namespaced)`.
type Resource = (&'static str, &'static str, bool);

const RESOURCES: &[(&str, &[Resource])] = &[
    (
        "v1",
        &[
            ("namespaces", "Namespace", false),
            ("configmaps", "ConfigMap", true),
            ("secrets", "Secret", true),
            ("services", "Service", true),
            ("serviceaccounts", "ServiceAccount", true),
            ("resourcequotas", "ResourceQuota", true),
            ("pods", "Pod", true),
        ],
    ),
    ("apps/v1", &[("deployments", "Deployment", true)]),
    (
        "batch/v1",
        &[("jobs", "Job", true), ("cronjobs", "CronJob", true)],
    ),
    (
        "rbac.authorization.k8s.io/v1",
        &[
            ("roles", "Role", true),
            ("rolebindings", "RoleBinding", true),
            ("clusterroles", "ClusterRole", false),
            ("clusterrolebindings", "ClusterRoleBinding", false),
        ],
    ),
    (
        "policy/v1",
        &[("poddisruptionbudgets", "PodDisruptionBudget", true)],
    ),
    ("networking.k8s.io/v1", &[("ingresses", "Ingress", true)]),
    (
        "scheduling.k8s.io/v1",
        &[("priorityclasses", "PriorityClass", false)],
    ),
    (
        "authorization.k8s.io/v1",
        &[("selfsubjectaccessreviews", "SelfSubjectAccessReview", false)],
    ),
    (
        "authentication.k8s.io/v1",
        &[("selfsubjectreviews", "SelfSubjectReview", false)],
    ),
];

fn answer(path: &str) -> (u16, Value) {
    if path == "/version" {
        // The kubectl dispatcher picks its built-in kubectl for a minor it has no binary for.
        return (
            200,
            json!({"major": "1", "minor": "35", "gitVersion": "v1.35.0"}),
        );
    }
    if path == "/api" {
        return (200, json!({"kind": "APIVersions", "versions": ["v1"]}));
    }
    if path == "/apis" {
        let groups: Vec<Value> = RESOURCES
            .iter()
            .filter_map(|(gv, _)| gv.split_once('/'))
            .map(|(group, version)| {
                let gv = json!({"groupVersion": format!("{group}/{version}"), "version": version});
                json!({"name": group, "versions": [gv.clone()], "preferredVersion": gv})
            })
            .collect();
        return (
            200,
            json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
        );
    }
    let group_version = path
        .strip_prefix("/api/")
        .or_else(|| path.strip_prefix("/apis/"))
        .unwrap_or_default();
    let Some((_, resources)) = RESOURCES.iter().find(|(gv, _)| *gv == group_version) else {
        return (
            404,
            json!({"kind": "Status", "apiVersion": "v1", "code": 404}),
        );
    };
    let mut list: Vec<Value> = resources
        .iter()
        .map(|(name, kind, namespaced)| {
            json!({
                "name": name, "singularName": kind.to_lowercase(), "namespaced": namespaced,
                "kind": kind, "verbs": ["create", "get", "list"],
            })
        })
        .collect();
    if group_version == "v1" {
        list.push(json!({
            "name": "serviceaccounts/token", "singularName": "", "namespaced": true,
            "group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest",
            "verbs": ["create"],
        }));
    }
    (
        200,
        json!({"kind": "APIResourceList", "groupVersion": group_version, "resources": list}),
    )
}
