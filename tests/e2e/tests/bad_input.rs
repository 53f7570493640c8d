//! Bad input over raw HTTPS: a table of requests no well-behaved client sends, each with the
//! 4xx it must get as a `Status`; afterwards the server still serves and never answered 5xx.

use std::time::Instant;

use closet_e2e::Cluster;
use closet_e2e::raw::{Request, Response};
use serde_json::{Value, json};

const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";

fn configmap(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}})
}

fn post(body: impl Into<Vec<u8>>, content_type: &str) -> Request {
    Request::new("POST", CONFIGMAPS)
        .header("Content-Type", content_type)
        .body(body)
}

fn post_json(body: &Value) -> Request {
    Request::new("POST", CONFIGMAPS).json(body)
}

/// A ConfigMap whose data is `size` bytes.
fn big_configmap(size: usize) -> Vec<u8> {
    let mut cm = configmap("big");
    cm["data"]["k"] = Value::String("x".repeat(size));
    cm.to_string().into_bytes()
}

/// `depth` nested arrays inside an otherwise valid ConfigMap.
fn deep_json(depth: usize) -> Vec<u8> {
    let body = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"deep"}},"x":{}{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    body.into_bytes()
}

/// The "billion laughs": nine levels of nine aliases, 9^9 strings if expanded.
fn yaml_bomb() -> String {
    let mut y = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\nx:\n");
    y.push_str(
        "  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let levels = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for pair in levels.windows(2) {
        let (prev, this) = (pair[0], pair[1]);
        let refs = vec![format!("*{prev}"); 9].join(",");
        y.push_str(&format!("  {this}: &{this} [{refs}]\n"));
    }
    y
}

/// A body sent with chunked encoding and no length, so only a streaming limit can stop it.
fn chunked_post(total: usize) -> Vec<u8> {
    let mut bytes = format!(
        "POST {CONFIGMAPS} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Accept: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    let chunk = vec![b' '; 64 * 1024];
    for _ in 0..total / chunk.len() {
        bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        bytes.extend_from_slice(&chunk);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"0\r\n\r\n");
    bytes
}

enum Send {
    Request(Request),
    Bytes(Vec<u8>),
}

struct Case {
    name: &'static str,
    send: Send,
    want: u16,
}

fn case(name: &'static str, request: Request, want: u16) -> Case {
    Case {
        name,
        send: Send::Request(request),
        want,
    }
}

fn corpus() -> Vec<Case> {
    let mut secret = configmap("s");
    secret["kind"] = json!("Secret");
    let mut wrong_group = configmap("g");
    wrong_group["apiVersion"] = json!("apps/v1");
    let mut other_ns = configmap("elsewhere");
    other_ns["metadata"]["namespace"] = json!("kube-system");
    let mut bad_label = configmap("bad-label");
    bad_label["metadata"]["labels"] = json!({"app": "has spaces"});
    let mut nameless = configmap("");
    nameless["metadata"] = json!({});
    let long_name = "a".repeat(254);
    vec![
        case(
            "oversized body (4 MiB)",
            post(big_configmap(4 << 20), "application/json"),
            413,
        ),
        Case {
            name: "oversized chunked body (4 MiB)",
            send: Send::Bytes(chunked_post(4 << 20)),
            want: 413,
        },
        case(
            "deep JSON nesting",
            post(deep_json(100_000), "application/json"),
            400,
        ),
        case(
            "malformed JSON",
            post(r#"{"apiVersion":"v1","kind":"#, "application/json"),
            400,
        ),
        case(
            "JSON that is not an object",
            post("[1,2,3]", "application/json"),
            400,
        ),
        case(
            "not UTF-8",
            post(vec![0xff, 0xfe, 0x00, 0x7b], "application/json"),
            400,
        ),
        case("empty body", post("", "application/json"), 400),
        case(
            "malformed YAML",
            post(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [\n",
                "application/yaml",
            ),
            400,
        ),
        case(
            "YAML anchor bomb",
            post(yaml_bomb(), "application/yaml"),
            400,
        ),
        case("uppercase name", post_json(&configmap("Bad")), 422),
        case("name with ..", post_json(&configmap("a..b")), 422),
        case("name that is ..", post_json(&configmap("..")), 422),
        case(
            "name longer than 253",
            post_json(&configmap(&long_name)),
            422,
        ),
        case("no name", post_json(&nameless), 422),
        case("invalid label value", post_json(&bad_label), 422),
        case(
            "namespace name that is not a DNS label",
            Request::new("POST", "/api/v1/namespaces").json(
                &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}}),
            ),
            422,
        ),
        case(
            "wrong content type",
            post(configmap("t").to_string(), "text/plain"),
            415,
        ),
        case(
            "unacceptable Accept",
            Request::new("GET", CONFIGMAPS).header("Accept", "application/xml"),
            406,
        ),
        case("path/body namespace mismatch", post_json(&other_ns), 400),
        case(
            "path/body name mismatch on PUT",
            Request::new("PUT", &format!("{CONFIGMAPS}/one")).json(&configmap("two")),
            400,
        ),
        case("kind mismatch", post_json(&secret), 400),
        case("group mismatch", post_json(&wrong_group), 400),
        case(
            "unknown resource",
            Request::get("/api/v1/namespaces/default/foos"),
            404,
        ),
        case(
            "unknown group",
            Request::get("/apis/nope.example.com/v1/things"),
            404,
        ),
        case(
            "unknown object",
            Request::get(&format!("{CONFIGMAPS}/absent")),
            404,
        ),
        case(
            "POST to an object path",
            Request::new("POST", &format!("{CONFIGMAPS}/x")).json(&configmap("x")),
            405,
        ),
        case(
            "invalid label selector",
            Request::get(&format!("{CONFIGMAPS}?labelSelector=a%20in%20(b")),
            400,
        ),
        case(
            "unsupported field selector",
            Request::get(&format!("{CONFIGMAPS}?fieldSelector=spec.foo%3Dbar")),
            400,
        ),
        case(
            "bad resourceVersion",
            Request::get(&format!("{CONFIGMAPS}?resourceVersion=abc")),
            400,
        ),
        case(
            "bad resourceVersion on watch",
            Request::get(&format!("{CONFIGMAPS}?watch=true&resourceVersion=abc")),
            400,
        ),
        case(
            "bad limit",
            Request::get(&format!("{CONFIGMAPS}?limit=abc")),
            400,
        ),
        case(
            "bad continue token",
            Request::get(&format!("{CONFIGMAPS}?limit=1&continue=garbage")),
            400,
        ),
        case(
            "bad timeoutSeconds",
            Request::get(&format!("{CONFIGMAPS}?watch=true&timeoutSeconds=soon")),
            400,
        ),
    ]
}

/// The answer must be a `Status` whose `code` matches the HTTP status.
fn check_status(resp: &Response) -> Result<(), String> {
    let Some(body) = resp.json() else {
        return Err(format!("body is not JSON: {:?}", resp.text()));
    };
    if body["kind"] != "Status" || body["status"] != "Failure" || body["code"] != resp.status {
        return Err(format!("not a matching failure Status: {body}"));
    }
    let reason = match resp.status {
        400 => "BadRequest",
        401 => "Unauthorized",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        406 => "NotAcceptable",
        413 => "RequestEntityTooLarge",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        _ => return Ok(()),
    };
    if body["reason"] != reason {
        return Err(format!("reason should be {reason}: {body}"));
    }
    if std::env::var_os("CLOSET_TEST_SHOW").is_some() {
        eprintln!("{} {}", resp.status, body["message"]);
    }
    Ok(())
}

#[test]
fn bad_requests_get_the_right_4xx_and_the_server_keeps_serving() {
    let cluster = Cluster::shared();
    let tls = cluster.raw(true);
    let mut failures = Vec::new();
    let mut server_errors = Vec::new();
    for case in corpus() {
        let started = Instant::now();
        let result = match &case.send {
            Send::Request(r) => tls.send(r),
            Send::Bytes(b) => tls.send_bytes(b),
        };
        let took = started.elapsed();
        match result {
            Err(e) => failures.push(format!("{}: no answer after {took:?}: {e}", case.name)),
            Ok(resp) => {
                if resp.status >= 500 {
                    server_errors.push(format!("{}: {} {}", case.name, resp.status, resp.text()));
                }
                if resp.status != case.want {
                    let body: String = resp.text().chars().take(300).collect();
                    failures.push(format!(
                        "{}: want {}, got {} {body}",
                        case.name, case.want, resp.status
                    ));
                } else if let Err(e) = check_status(&resp) {
                    failures.push(format!("{}: {e}", case.name));
                }
            }
        }
    }

    // Still serving: reads and writes work.
    let list = tls.send(&Request::get(CONFIGMAPS));
    assert!(
        matches!(&list, Ok(r) if r.status == 200),
        "GET after the corpus: {list:?}"
    );
    let create = tls.send(&post_json(&configmap("after-the-corpus")));
    assert!(
        matches!(&create, Ok(r) if r.status == 201),
        "POST after the corpus: {create:?}"
    );

    assert!(
        server_errors.is_empty(),
        "5xx answers:\n{}",
        server_errors.join("\n")
    );
    if !failures.is_empty() {
        cluster.fail(format!(
            "{} of {} cases failed:\n{}",
            failures.len(),
            corpus().len(),
            failures.join("\n")
        ));
    }
}

#[test]
fn unauthenticated_requests_get_401_except_health_and_version() {
    let cluster = Cluster::shared();
    let anonymous = cluster.raw(false);
    for path in ["/api", "/apis", "/api/v1/namespaces", CONFIGMAPS] {
        let resp = anonymous
            .send(&Request::get(path))
            .unwrap_or_else(|e| cluster.fail(e));
        assert_eq!(resp.status, 401, "{path}: {}", resp.text());
        check_status(&resp).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    for path in ["/healthz", "/livez", "/readyz", "/version"] {
        let resp = anonymous
            .send(&Request::get(path))
            .unwrap_or_else(|e| cluster.fail(e));
        assert_eq!(resp.status, 200, "{path}: {}", resp.text());
    }
    let version = anonymous
        .send(&Request::get("/version"))
        .expect("version")
        .json()
        .expect("JSON");
    assert_eq!(
        (version["major"].as_str(), version["minor"].as_str()),
        (Some("1"), Some("35"))
    );
}
