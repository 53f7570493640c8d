//! The hostile-request corpus (`tests/e2e/corpus/*.jsonl`, described in the README there)
//! replayed over raw HTTPS, with the admin certificate, against one fresh server.
//!
//! `setup.jsonl` creates the objects the other files aim at. Every other request must be
//! answered within [`ANSWER_WITHIN`] with the 4xx its case expects, as a `Status` whose
//! `code` is the HTTP status; none may get a 5xx, and afterwards the server still reads and
//! writes. A request that kills the server is reported and the server restarted, so one
//! crash does not hide the rest. `CLOSET_HOSTILE_ONLY=<text>` replays only the cases whose
//! name contains the text; `CLOSET_TEST_SHOW=1` prints every answer.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use closet_e2e::Cluster;
use closet_e2e::raw::{Request, Response, Tls};
use serde_json::{Value, json};

/// How long one hostile request may take, connection and TLS included.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);
/// How long a request that missed [`ANSWER_WITHIN`] gets to finish before the next one.
const LINGER: Duration = Duration::from_secs(40);
/// Server log lines quoted when a request kills the server.
const CRASH_LOG_LINES: usize = 6;
/// How long a setup request marked `retry` keeps being retried.
const SETUP_PATIENCE: Duration = Duration::from_secs(20);
/// The largest request a case may expand to.
const MAX_REQUEST_BYTES: usize = 16 << 20;
/// The largest answer allowed: an error may echo the request (3 MiB at most), not amplify it.
const MAX_ANSWER_BYTES: usize = 2 * (3 << 20) + (64 << 10);

const SETUP_FILE: &str = "setup.jsonl";
const CONFIGMAPS: &str = "/api/v1/namespaces/hostile/configmaps";

/// What a case accepts.
#[derive(Debug)]
enum Expect {
    /// Exactly these codes (usually one).
    Codes(Vec<u16>),
    /// Any 4xx.
    ClientError,
}

impl Expect {
    fn parse(v: &Value) -> Result<Self, String> {
        match v {
            Value::Number(n) => Ok(Self::Codes(vec![code(n)?])),
            Value::String(s) if s == "4xx" => Ok(Self::ClientError),
            Value::Array(codes) => codes
                .iter()
                .map(|c| {
                    c.as_number()
                        .ok_or_else(|| format!("{c} is not a code"))
                        .and_then(code)
                })
                .collect::<Result<_, _>>()
                .map(Self::Codes),
            other => Err(format!(
                "expect must be a code, a list of codes or \"4xx\": {other}"
            )),
        }
    }

    fn accepts(&self, status: u16) -> bool {
        match self {
            Self::Codes(codes) => codes.contains(&status),
            Self::ClientError => (400..500).contains(&status),
        }
    }
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Codes(codes) => {
                let codes: Vec<String> = codes.iter().map(u16::to_string).collect();
                f.write_str(&codes.join(" or "))
            }
            Self::ClientError => f.write_str("4xx"),
        }
    }
}

fn code(n: &serde_json::Number) -> Result<u16, String> {
    n.as_u64()
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (100..600).contains(c))
        .ok_or_else(|| format!("{n} is not an HTTP status code"))
}

/// One request of the corpus, ready to send.
struct Case {
    /// The file's stem: the theme.
    theme: String,
    name: String,
    /// `METHOD path` (shortened) for messages.
    summary: String,
    bytes: Vec<u8>,
    expect: Expect,
    /// Answered by the HTTP layer before the API (framing, header limits): no `Status` body.
    http_layer: bool,
    /// Setup only: retry until the expected answer comes (a CRD becoming served).
    retry: bool,
    /// Not hostile: a request that must still succeed after the hostile ones before it
    /// (reading an object they tried to damage). Only its code is checked.
    probe: bool,
}

impl Case {
    fn parse(theme: &str, line: &str) -> Result<Self, String> {
        let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
        let name = v["name"].as_str().ok_or("no name")?.to_string();
        let expect = Expect::parse(&v["expect"])?;
        let (bytes, summary) = if let Some(raw) = v.get("raw") {
            let bytes = text(raw)?;
            let line_end = bytes
                .iter()
                .position(|b| *b == b'\r')
                .unwrap_or(bytes.len());
            let first = String::from_utf8_lossy(&bytes[..line_end.min(120)]).into_owned();
            (bytes, first)
        } else {
            let method = v["method"].as_str().ok_or("no method")?;
            let path = String::from_utf8(text(&v["path"])?).map_err(|_| "path is not UTF-8")?;
            let mut request = Request::new(method, &path);
            for header in v["headers"].as_array().into_iter().flatten() {
                let (Some(name), Some(value)) = (header[0].as_str(), header.get(1)) else {
                    return Err(format!("a header is [name, value]: {header}"));
                };
                let value = String::from_utf8(text(value)?)
                    .map_err(|_| format!("header {name} is not UTF-8; use a raw case"))?;
                request = request.header(name, &value);
            }
            if let Some(body) = v.get("body") {
                request = request.body(text(body)?);
            }
            let short: String = path.chars().take(100).collect();
            (request.to_bytes(), format!("{method} {short}"))
        };
        if bytes.len() > MAX_REQUEST_BYTES {
            return Err(format!("expands to {} bytes", bytes.len()));
        }
        Ok(Self {
            theme: theme.to_string(),
            name,
            summary,
            bytes,
            expect,
            http_layer: v["http_layer"].as_bool().unwrap_or(false),
            retry: v["retry"].as_bool().unwrap_or(false),
            probe: v["probe"].as_bool().unwrap_or(false),
        })
    }

    fn label(&self) -> String {
        format!("[{}] {} ({})", self.theme, self.name, self.summary)
    }
}

/// Expands a text value: a string, `{"b64": ...}`, `{"concat": [...]}` or
/// `{"repeat": <text>, "times": n}`, bounded by [`MAX_REQUEST_BYTES`].
fn text(v: &Value) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    expand(v, &mut out)?;
    Ok(out)
}

fn expand(v: &Value, out: &mut Vec<u8>) -> Result<(), String> {
    match v {
        Value::String(s) => out.extend_from_slice(s.as_bytes()),
        Value::Object(o) if o.contains_key("b64") => {
            let b64 = o["b64"].as_str().ok_or("b64 takes a string")?;
            let bytes = STANDARD
                .decode(b64)
                .map_err(|e| format!("bad base64: {e}"))?;
            out.extend_from_slice(&bytes);
        }
        Value::Object(o) if o.contains_key("concat") => {
            for part in o["concat"].as_array().ok_or("concat takes a list")? {
                expand(part, out)?;
            }
        }
        Value::Object(o) if o.contains_key("repeat") => {
            let unit = text(&o["repeat"])?;
            let times = o["times"].as_u64().ok_or("repeat needs times")?;
            let total = usize::try_from(times)
                .ok()
                .and_then(|t| t.checked_mul(unit.len()))
                .filter(|n| out.len() + n <= MAX_REQUEST_BYTES)
                .ok_or_else(|| {
                    format!("repeat of {times} expands past {MAX_REQUEST_BYTES} bytes")
                })?;
            out.reserve(total);
            for _ in 0..times {
                out.extend_from_slice(&unit);
            }
        }
        other => return Err(format!("not a text value: {other}")),
    }
    if out.len() > MAX_REQUEST_BYTES {
        return Err(format!("expands past {MAX_REQUEST_BYTES} bytes"));
    }
    Ok(())
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

/// Every `*.jsonl` file of the corpus, sorted, with its cases.
fn load_corpus() -> Vec<(String, Vec<Case>)> {
    let dir = corpus_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    let mut themes = Vec::new();
    for file in files {
        let theme = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let content = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let cases = content
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| {
                Case::parse(&theme, line)
                    .unwrap_or_else(|e| panic!("{}:{}: {e}", file.display(), i + 1))
            })
            .collect();
        themes.push((theme, cases));
    }
    themes
}

/// A request sent on its own thread.
struct InFlight(mpsc::Receiver<Result<Response, String>>);

impl InFlight {
    fn send(tls: &Tls, bytes: &[u8]) -> Self {
        let (tx, rx) = mpsc::channel();
        let tls = tls.clone();
        let bytes = bytes.to_vec();
        std::thread::spawn(move || {
            let _ = tx.send(tls.send_bytes(&bytes).map(final_response));
        });
        Self(rx)
    }

    /// The answer, if it comes within `within`.
    fn wait(&self, within: Duration) -> Option<Result<Response, String>> {
        self.0.recv_timeout(within).ok()
    }
}

/// Sends `bytes` and waits at most `within` for the answer.
fn send_within(tls: &Tls, bytes: &[u8], within: Duration) -> Result<Response, String> {
    InFlight::send(tls, bytes)
        .wait(within)
        .unwrap_or_else(|| Err(format!("no answer within {within:?}")))
}

/// The final response after any interim `1xx` (`100 Continue` before a 413, say): the raw
/// client reads everything after the first head as its body.
fn final_response(mut resp: Response) -> Response {
    while (100..200).contains(&resp.status) {
        let raw = std::mem::take(&mut resp.body);
        let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            return resp;
        };
        let head = String::from_utf8_lossy(&raw[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let Some(status) = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
        else {
            return resp;
        };
        resp.status = status;
        resp.headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        resp.body = raw[end + 4..].to_vec();
    }
    resp
}

/// What is wrong with an answer, if anything.
fn check_answer(case: &Case, resp: &Response) -> Option<String> {
    let excerpt = || -> String { resp.text().chars().take(300).collect() };
    if resp.status >= 500 {
        return Some(format!("server error {}: {}", resp.status, excerpt()));
    }
    if !case.expect.accepts(resp.status) {
        return Some(format!(
            "want {}, got {}: {}",
            case.expect,
            resp.status,
            excerpt()
        ));
    }
    if resp.body.len() > MAX_ANSWER_BYTES {
        return Some(format!(
            "answer of {} bytes for a request of {} (amplification)",
            resp.body.len(),
            case.bytes.len()
        ));
    }
    if case.http_layer || case.probe {
        return None;
    }
    let Some(body) = resp.json() else {
        return Some(format!(
            "{} without a JSON body: {:?}",
            resp.status,
            excerpt()
        ));
    };
    if body["kind"] != "Status" || body["status"] != "Failure" || body["code"] != resp.status {
        let body: String = body.to_string().chars().take(300).collect();
        return Some(format!(
            "{} whose body is not a matching failure Status: {body}",
            resp.status
        ));
    }
    None
}

/// Creates the objects the corpus aims at; any failure ends the test.
fn run_setup(cluster: &Cluster, tls: &Tls, cases: &[Case]) {
    for case in cases {
        let deadline = Instant::now() + closet_e2e::scaled(SETUP_PATIENCE);
        loop {
            let result = send_within(tls, &case.bytes, closet_e2e::scaled(ANSWER_WITHIN));
            let last = match result {
                Ok(resp) if case.expect.accepts(resp.status) => break,
                Ok(resp) => format!("got {}: {}", resp.status, resp.text()),
                Err(e) => e,
            };
            if !case.retry || Instant::now() >= deadline {
                cluster.fail(format!("setup {}: {last}", case.label()));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Whether the server is still up, giving a dying process a moment to be reaped.
fn still_running(cluster: &Cluster) -> bool {
    for _ in 0..10 {
        if !cluster.is_running() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

#[test]
fn hostile_requests_get_a_4xx_status_and_the_server_keeps_serving() {
    let only = std::env::var("CLOSET_HOSTILE_ONLY").ok();
    let show = std::env::var_os("CLOSET_TEST_SHOW").is_some();
    let corpus = load_corpus();
    let (setup, themes): (Vec<_>, Vec<_>) = corpus
        .into_iter()
        .partition(|(theme, _)| format!("{theme}.jsonl") == SETUP_FILE);
    let Some((_, setup)) = setup.into_iter().next() else {
        panic!("no {SETUP_FILE} in {}", corpus_dir().display());
    };

    let cluster = Cluster::start();
    let tls = cluster.raw(true);
    run_setup(&cluster, &tls, &setup);

    let within = closet_e2e::scaled(ANSWER_WITHIN);
    let mut answers: BTreeMap<String, usize> = BTreeMap::new();
    let mut per_theme = Vec::new();
    let mut failures = Vec::new();
    let mut sent = 0;
    let mut probes = 0;
    for (theme, cases) in &themes {
        let mut count = 0;
        for case in cases {
            if only.as_deref().is_some_and(|o| !case.name.contains(o)) {
                continue;
            }
            if case.probe {
                probes += 1;
            } else {
                count += 1;
            }
            let started = Instant::now();
            let in_flight = InFlight::send(&tls, &case.bytes);
            let result = in_flight.wait(within).unwrap_or_else(|| {
                // Let a late request finish (or the server die of it) before the next one,
                // so that what it does is charged to it and not to the cases after it.
                let late = match in_flight.wait(LINGER) {
                    Some(Ok(resp)) => {
                        format!("answered {} after {:.1?}", resp.status, started.elapsed())
                    }
                    Some(Err(e)) => format!("then {e} after {:.1?}", started.elapsed()),
                    None => format!("still nothing after {:.1?}", started.elapsed()),
                };
                Err(format!("no answer within {within:?}; {late}"))
            });
            let took = started.elapsed();
            match result {
                Ok(resp) => {
                    if !case.probe {
                        *answers.entry(resp.status.to_string()).or_default() += 1;
                    }
                    if show {
                        let body: String = resp.text().chars().take(200).collect();
                        eprintln!("{} {took:.0?} {} -> {body}", resp.status, case.label());
                    }
                    if let Some(problem) = check_answer(case, &resp) {
                        failures.push(format!("{}: {problem}", case.label()));
                    }
                }
                Err(e) => {
                    if !case.probe {
                        *answers.entry("no answer".into()).or_default() += 1;
                    }
                    if show {
                        eprintln!("--- {took:.0?} {} -> {e}", case.label());
                    }
                    if still_running(&cluster) {
                        failures.push(format!("{}: {e} (after {took:.1?})", case.label()));
                    } else {
                        let log = cluster.log_tail();
                        let lines: Vec<&str> = log.lines().collect();
                        let tail =
                            lines[lines.len().saturating_sub(CRASH_LOG_LINES)..].join("\n    ");
                        failures.push(format!(
                            "{}: the server exited ({e}); restarted it. Its last words:\n    {tail}",
                            case.label(),
                        ));
                        cluster.restart();
                    }
                }
            }
        }
        sent += count;
        per_theme.push(format!("{theme} {count}"));
    }

    // Still serving: a read and a write.
    let list = send_within(&tls, &Request::get(CONFIGMAPS).to_bytes(), within);
    let list_ok = matches!(&list, Ok(r) if r.status == 200);
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "after-the-corpus"}, "data": {"k": "v"}});
    let create = send_within(
        &tls,
        &Request::new("POST", CONFIGMAPS).json(&cm).to_bytes(),
        within,
    );
    let create_ok = matches!(&create, Ok(r) if r.status == 201);

    let summary: Vec<String> = answers
        .iter()
        .map(|(code, n)| format!("{code}: {n}"))
        .collect();
    // Straight to stdout, past the test harness's capture: CI logs show the summary even
    // when the test passes.
    let _ = writeln!(
        std::io::stdout(),
        "hostile corpus: {sent} requests ({}) and {probes} probes; answers {{{}}}; {} failed",
        per_theme.join(", "),
        summary.join(", "),
        failures.len()
    );
    if !list_ok {
        failures.push(format!("GET {CONFIGMAPS} after the corpus: {list:?}"));
    }
    if !create_ok {
        failures.push(format!("POST {CONFIGMAPS} after the corpus: {create:?}"));
    }
    if !failures.is_empty() {
        cluster.fail(format!(
            "{} of {sent} hostile requests failed:\n{}",
            failures.len(),
            failures.join("\n")
        ));
    }
}
