//! `metrics.k8s.io/v1beta1`: NodeMetrics and PodMetrics, as metrics-server serves them, so
//! that `kubectl top nodes` and `kubectl top pods` work.
//!
//! There is no metrics pipeline to keep: each request asks every Node's agent for its
//! `/stats/summary` (through the same client as pod logs and exec) and turns the answers
//! into metrics objects. Nodes that do not answer are left out, as metrics-server leaves out
//! nodes it cannot scrape.

pub(crate) mod discovery;

use std::time::Duration;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use closet_nodeapi::client::NodeClient;
use closet_nodeapi::summary::{self, CpuStats, MemoryStats, Summary};
use closet_store::ListRequest;
use closet_types::{LabelSelector, Status};
use http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::Shared;
use crate::error::{ApiError, ApiResult};
use crate::handlers::node_proxy::node_endpoint;
use crate::object;
use crate::request::Target;

/// The API group.
pub(crate) const GROUP: &str = "metrics.k8s.io";
/// Its only version.
pub(crate) const VERSION: &str = "v1beta1";
/// How long one node may take to answer (its first summary waits a second for a CPU rate).
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether the group is served: only with a connection to node agents.
pub(crate) fn served(shared: &Shared) -> bool {
    shared.node_client.get().is_some()
}

/// Serves a resource request under `/apis/metrics.k8s.io/`.
pub(crate) async fn serve(
    shared: &Shared,
    target: Target,
    request: Request,
) -> ApiResult<Response> {
    let path = request.uri().path().to_owned();
    let client = match shared.node_client.get() {
        Some(client) if target.version == VERSION => client,
        _ => return Err(ApiError::path_not_found(&path)),
    };
    let kind = match (
        target.resource.as_str(),
        &target.namespace,
        &target.subresource,
    ) {
        ("nodes", None, None) => "NodeMetrics",
        ("pods", _, None) => "PodMetrics",
        _ => return Err(ApiError::path_not_found(&path)),
    };
    if request.method() != Method::GET {
        return Err(Status::method_not_allowed(
            GROUP,
            &target.resource,
            &request.method().as_str().to_lowercase(),
        )
        .into());
    }
    let query = request.uri().query().unwrap_or("");
    let selector = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "labelSelector")
        .map(|(_, v)| LabelSelector::parse(&v))
        .transpose()
        .map_err(|err| ApiError::bad_request(format!("invalid labelSelector: {err}")))?
        .unwrap_or_else(LabelSelector::everything);

    let scraped = scrape(shared, client).await?;
    let mut items = Vec::new();
    for (node, summary) in &scraped {
        if kind == "NodeMetrics" {
            if selector.matches_labels_of(node)
                && let Some(item) = node_metrics(node, summary)
            {
                items.push(item);
            }
            continue;
        }
        for pod in &summary.pods {
            let reference = &pod.pod_ref;
            if target
                .namespace
                .as_deref()
                .is_some_and(|ns| ns != reference.namespace)
                || target.name.as_deref().is_some_and(|n| n != reference.name)
            {
                continue;
            }
            let Some(stored) =
                get(shared, "pods", Some(&reference.namespace), &reference.name).await?
            else {
                continue;
            };
            if selector.matches_labels_of(&stored) {
                items.push(pod_metrics(&stored, pod));
            }
        }
    }
    let body = match &target.name {
        Some(name) => {
            let wanted = |item: &&Value| item.pointer("/metadata/name") == Some(&json!(name));
            items.iter().find(wanted).cloned().ok_or_else(|| {
                let plural = if kind == "NodeMetrics" {
                    "nodemetrics"
                } else {
                    "podmetrics"
                };
                ApiError::from(Status::not_found(GROUP, plural, name))
            })?
        }
        None => json!({
            "kind": format!("{kind}List"),
            "apiVersion": format!("{GROUP}/{VERSION}"),
            "metadata": {},
            "items": items,
        }),
    };
    // Always JSON, whatever the Accept header prefers: kubectl top asks for protobuf first
    // and takes JSON.
    Ok((
        StatusCode::OK,
        [(http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response())
}

/// Every Node with the summary its agent returned; nodes that fail are logged and skipped.
async fn scrape(shared: &Shared, client: &NodeClient) -> ApiResult<Vec<(Value, Summary)>> {
    let nodes = list(shared, "nodes").await?;
    let scrapes = nodes.into_iter().map(|node| async move {
        let name = object::name(&node).to_owned();
        let endpoint = node_endpoint(&node, &name).ok()?;
        let answer = tokio::time::timeout(
            SCRAPE_TIMEOUT,
            client.get_json::<Summary>(&endpoint, "/stats/summary"),
        )
        .await;
        match answer {
            Ok(Ok(summary)) => Some((node, summary)),
            Ok(Err(err)) => {
                tracing::debug!(node = %name, error = %crate::error::error_chain(&err), "no stats from node");
                None
            }
            Err(_) => {
                tracing::debug!(node = %name, "node stats timed out");
                None
            }
        }
    });
    Ok(futures::future::join_all(scrapes)
        .await
        .into_iter()
        .flatten()
        .collect())
}

fn node_metrics(node: &Value, summary: &Summary) -> Option<Value> {
    let (cpu, memory) = (summary.node.cpu.as_ref()?, summary.node.memory.as_ref()?);
    Some(json!({
        "kind": "NodeMetrics",
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "metadata": metadata(node, false),
        "timestamp": sample_time(&cpu.time),
        "window": window(cpu),
        "usage": usage(Some(cpu), Some(memory)),
    }))
}

fn pod_metrics(pod: &Value, stats: &summary::PodStats) -> Value {
    let containers: Vec<Value> = stats
        .containers
        .iter()
        .map(|c| json!({"name": c.name, "usage": usage(c.cpu.as_ref(), c.memory.as_ref())}))
        .collect();
    let cpu = stats.cpu.as_ref();
    json!({
        "kind": "PodMetrics",
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "metadata": metadata(pod, true),
        "timestamp": cpu.map(|c| sample_time(&c.time)).unwrap_or_default(),
        "window": cpu.map(window).unwrap_or_else(|| "0s".to_owned()),
        "containers": containers,
    })
}

/// Name, namespace and labels of the measured object, with a fresh creation time, as
/// metrics-server reports them.
fn metadata(obj: &Value, namespaced: bool) -> Value {
    let mut meta = Map::new();
    meta.insert("name".into(), json!(object::name(obj)));
    if namespaced {
        meta.insert(
            "namespace".into(),
            json!(object::meta_str(obj, "namespace").unwrap_or_default()),
        );
    }
    meta.insert(
        "creationTimestamp".into(),
        json!(object::timestamp(jiff::Timestamp::now())),
    );
    let labels = object::labels(obj);
    if !labels.is_empty() {
        meta.insert("labels".into(), Value::Object(labels));
    }
    Value::Object(meta)
}

fn usage(cpu: Option<&CpuStats>, memory: Option<&MemoryStats>) -> Value {
    let nano_cores = cpu.and_then(|c| c.usage_nano_cores).unwrap_or(0);
    let bytes = memory.and_then(|m| m.working_set_bytes).unwrap_or(0);
    json!({"cpu": summary::cpu_quantity(nano_cores), "memory": summary::memory_quantity(bytes)})
}

/// The sample time in the seconds-precision RFC 3339 form of `metav1.Time`.
fn sample_time(time: &str) -> String {
    time.parse::<jiff::Timestamp>()
        .map(object::timestamp)
        .unwrap_or_else(|_| object::timestamp(jiff::Timestamp::now()))
}

/// The window as Go prints a `time.Duration` (`1.004s`, `1m5s`).
fn window(cpu: &CpuStats) -> String {
    let millis = (cpu.window_seconds.unwrap_or(0.0).max(0.0) * 1000.0).round() as u64;
    let (minutes, millis) = (millis / 60_000, millis % 60_000);
    let seconds = format!("{}.{:03}", millis / 1000, millis % 1000);
    let seconds = seconds.trim_end_matches('0').trim_end_matches('.');
    if minutes > 0 {
        format!("{minutes}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

async fn list(shared: &Shared, plural: &str) -> ApiResult<Vec<Value>> {
    let info = shared
        .registry
        .get("", "v1", plural)
        .ok_or_else(|| ApiError::internal(&format!("{plural} are not registered")))?;
    let listed = shared
        .store
        .list(ListRequest {
            prefix: info.prefix_for(None),
            ..ListRequest::default()
        })
        .await
        .map_err(ApiError::from_store_general)?;
    listed.items.iter().map(object::from_kv).collect()
}

async fn get(
    shared: &Shared,
    plural: &str,
    namespace: Option<&str>,
    name: &str,
) -> ApiResult<Option<Value>> {
    let Some(info) = shared.registry.get("", "v1", plural) else {
        return Ok(None);
    };
    let kv = shared
        .store
        .get(&info.key_for(namespace, name))
        .await
        .map_err(ApiError::from_store_general)?;
    kv.as_ref().map(object::from_kv).transpose()
}

#[cfg(test)]
mod tests {
    use closet_nodeapi::summary::{ContainerStats, PodReference, PodStats};

    use super::*;

    fn cpu(nano_cores: u64, window: f64) -> CpuStats {
        CpuStats {
            time: "2024-05-01T10:00:00.5Z".into(),
            usage_nano_cores: Some(nano_cores),
            usage_core_nano_seconds: Some(1),
            window_seconds: Some(window),
        }
    }

    #[test]
    fn windows_print_like_go_durations() {
        assert_eq!(window(&cpu(0, 1.0)), "1s");
        assert_eq!(window(&cpu(0, 1.0042)), "1.004s");
        assert_eq!(window(&cpu(0, 65.5)), "1m5.5s");
        assert_eq!(window(&cpu(0, 0.0)), "0s");
    }

    #[test]
    fn pod_metrics_have_metrics_server_shape() {
        let pod =
            json!({"metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}}});
        let stats = PodStats {
            pod_ref: PodReference {
                name: "web".into(),
                namespace: "default".into(),
                uid: "u".into(),
            },
            cpu: Some(cpu(12_000_000, 10.0)),
            memory: None,
            containers: vec![ContainerStats {
                name: "app".into(),
                cpu: Some(cpu(12_000_000, 10.0)),
                memory: Some(MemoryStats {
                    time: "t".into(),
                    usage_bytes: None,
                    working_set_bytes: Some(34 * 1024),
                    available_bytes: None,
                }),
            }],
            volumes: Vec::new(),
        };
        let metrics = pod_metrics(&pod, &stats);
        assert_eq!(metrics["kind"], "PodMetrics");
        assert_eq!(metrics["apiVersion"], "metrics.k8s.io/v1beta1");
        assert_eq!(metrics["metadata"]["namespace"], "default");
        assert_eq!(metrics["metadata"]["labels"]["app"], "web");
        assert_eq!(metrics["timestamp"], "2024-05-01T10:00:01Z");
        assert_eq!(metrics["window"], "10s");
        assert_eq!(
            metrics["containers"][0],
            json!({"name": "app", "usage": {"cpu": "12m", "memory": "34Ki"}})
        );
    }

    #[test]
    fn node_metrics_need_cpu_and_memory() {
        let node = json!({"metadata": {"name": "pi"}});
        let mut summary = Summary::default();
        assert!(node_metrics(&node, &summary).is_none());
        summary.node.cpu = Some(cpu(2_000_000_000, 1.0));
        summary.node.memory = Some(MemoryStats {
            time: "t".into(),
            usage_bytes: None,
            working_set_bytes: Some(3 << 30),
            available_bytes: None,
        });
        let metrics = node_metrics(&node, &summary).unwrap();
        assert_eq!(metrics["usage"], json!({"cpu": "2", "memory": "3Gi"}));
        assert_eq!(metrics["metadata"]["name"], "pi");
    }
}
