//! `pods/log`, `pods/exec`, `pods/attach` and `pods/portforward`: proxied to the node agent
//! that runs the pod, as upstream's apiserver proxies them to the kubelet.
//!
//! The pod names its node (`spec.nodeName`); the Node names its address (`status.addresses`,
//! InternalIP first) and its agent's port (`status.daemonEndpoints.kubeletEndpoint.Port`).
//! The request goes there over HTTPS with the apiserver's client certificate, query string
//! unchanged, and the answer comes back as it is: a log stream, a refusal, or a 101 after
//! which the two connections are joined (`closet_nodeapi::client::NodeClient::forward`).

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use closet_nodeapi::client::{NodeClientError, NodeEndpoint};
use closet_types::Status;
use http::Method;
use serde_json::Value;

use crate::Shared;
use crate::error::{ApiError, ApiResult};
use crate::object;
use crate::request::Target;

/// The pod subresources served by a node.
const NODE_SUBRESOURCES: &[&str] = &["log", "exec", "attach", "portforward"];

/// Whether `target` is one of the node-served pod subresources.
pub(crate) fn handles(target: &Target) -> bool {
    target.group.is_empty()
        && target.version == "v1"
        && target.resource == "pods"
        && target.name.is_some()
        && target
            .subresource
            .as_deref()
            .is_some_and(|s| NODE_SUBRESOURCES.contains(&s))
}

/// Proxies one request to the pod's node.
pub(crate) async fn serve(
    shared: &Shared,
    target: Target,
    request: Request,
) -> ApiResult<Response> {
    let subresource = target.subresource.as_deref().unwrap_or_default();
    let namespace = target
        .namespace
        .as_deref()
        .ok_or_else(|| ApiError::path_not_found(request.uri().path()))?;
    let name = target.name.as_deref().unwrap_or_default();
    let allowed = match subresource {
        "log" => request.method() == Method::GET,
        _ => request.method() == Method::GET || request.method() == Method::POST,
    };
    if !allowed {
        let info = shared.registry.get("", "v1", "pods");
        return Err(ApiError::method_not_allowed(
            info.as_deref(),
            &request.method().as_str().to_lowercase(),
        ));
    }
    let client = shared.node_client.get().ok_or_else(|| {
        ApiError::from(Status::service_unavailable(
            "no node agent connection is configured: logs, exec, attach and port-forward \
             need the apiserver's client certificate for node APIs",
        ))
    })?;

    let pod = get_object(shared, "pods", Some(namespace), name).await?;
    let query = request.uri().query().unwrap_or("").to_owned();
    let node_path = match subresource {
        "portforward" => format!("/portForward/{namespace}/{name}"),
        verb => {
            let container = choose_container(&pod, name, &query)?;
            if verb != "log" {
                refuse_completed(&pod, verb)?;
            }
            let prefix = match verb {
                "log" => "containerLogs",
                "exec" => "exec",
                _ => "attach",
            };
            format!("/{prefix}/{namespace}/{name}/{container}")
        }
    };
    let node_name = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(format!("pod {name} does not have a host assigned"))
        })?;
    let node = get_object(shared, "nodes", None, node_name).await?;
    let endpoint = node_endpoint(&node, node_name)?;

    let (mut parts, body) = request.into_parts();
    let path_and_query = if query.is_empty() {
        node_path
    } else {
        format!("{node_path}?{query}")
    };
    parts.uri = path_and_query
        .parse()
        .map_err(|_| ApiError::bad_request("the request's query cannot be passed to the node"))?;
    let response = client
        .forward(&endpoint, Request::from_parts(parts, body))
        .await
        .map_err(|err| node_error(&err, node_name))?;
    Ok(response.map(Body::new))
}

/// Reads one object of a built-in core kind.
pub(super) async fn get_object(
    shared: &Shared,
    plural: &str,
    namespace: Option<&str>,
    name: &str,
) -> ApiResult<Value> {
    let info = shared
        .registry
        .get("", "v1", plural)
        .ok_or_else(|| ApiError::internal(&format!("{plural} are not registered")))?;
    let kv = shared
        .store
        .get(&info.key_for(namespace, name))
        .await
        .map_err(|e| ApiError::from_store(e, &info, name))?
        .ok_or_else(|| ApiError::not_found(&info, name))?;
    object::from_kv(&kv)
}

/// The container a request addresses: `container=` if given (it must exist), else the only
/// one the pod has, as upstream decides.
fn choose_container(pod: &Value, pod_name: &str, query: &str) -> ApiResult<String> {
    let names = |field: &str| -> Vec<String> {
        pod.pointer(&format!("/spec/{field}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.get("name").and_then(Value::as_str))
            .map(str::to_owned)
            .collect()
    };
    let containers = names("containers");
    let requested = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "container")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty());
    match requested {
        Some(container) => {
            let known = containers.contains(&container)
                || names("initContainers").contains(&container)
                || names("ephemeralContainers").contains(&container);
            if known {
                Ok(container)
            } else {
                Err(ApiError::bad_request(format!(
                    "container {container} is not valid for pod {pod_name}"
                )))
            }
        }
        None if containers.len() == 1 => Ok(containers[0].clone()),
        None => Err(ApiError::bad_request(format!(
            "a container name must be specified for pod {pod_name}, choose one of: [{}]",
            containers.join(" ")
        ))),
    }
}

/// Exec and attach need a pod that has not finished.
fn refuse_completed(pod: &Value, verb: &str) -> ApiResult<()> {
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("");
    if phase == "Succeeded" || phase == "Failed" {
        let action = if verb == "exec" {
            "exec into"
        } else {
            "attach to"
        };
        return Err(ApiError::bad_request(format!(
            "cannot {action} a container in a completed pod; current phase is {phase}"
        )));
    }
    Ok(())
}

/// Where the node's agent listens: its InternalIP (else ExternalIP, else Hostname) and the
/// kubelet endpoint port (10250 if the node reports none).
pub(crate) fn node_endpoint(node: &Value, node_name: &str) -> ApiResult<NodeEndpoint> {
    let addresses: Vec<(&str, &str)> = node
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| {
            Some((
                a.get("type")?.as_str()?,
                a.get("address")?.as_str().filter(|s| !s.is_empty())?,
            ))
        })
        .collect();
    let host = ["InternalIP", "ExternalIP", "Hostname"]
        .iter()
        .find_map(|kind| addresses.iter().find(|(t, _)| t == kind).map(|(_, a)| *a))
        .ok_or_else(|| {
            ApiError::from(Status::service_unavailable(format!(
                "node {node_name} reports no address to reach its agent at"
            )))
        })?;
    let port = node
        .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
        .unwrap_or(closet_nodeapi::DEFAULT_PORT);
    Ok(NodeEndpoint {
        host: host.to_owned(),
        port,
    })
}

/// A failure to reach the node, as the client should see it.
pub(super) fn node_error(err: &NodeClientError, node_name: &str) -> ApiError {
    let chain = crate::error::error_chain(err);
    match err {
        NodeClientError::NotUpgradable => ApiError::bad_request(chain),
        _ => {
            tracing::debug!(node = node_name, error = %chain, "reaching a node agent failed");
            Status::new(
                closet_types::status::FAILURE,
                502,
                "",
                format!("error dialing backend: {chain}"),
            )
            .into()
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(containers: &[&str], phase: &str) -> Value {
        let list: Vec<Value> = containers.iter().map(|c| json!({"name": c})).collect();
        json!({"spec": {"containers": list, "initContainers": [{"name": "init"}], "nodeName": "n1"},
               "status": {"phase": phase}})
    }

    #[test]
    fn the_only_container_is_the_default() {
        assert_eq!(
            choose_container(&pod(&["web"], ""), "p", "").unwrap(),
            "web"
        );
        assert_eq!(
            choose_container(
                &pod(&["web", "side"], ""),
                "p",
                "follow=true&container=side"
            )
            .unwrap(),
            "side"
        );
        assert_eq!(
            choose_container(&pod(&["web"], ""), "p", "container=init").unwrap(),
            "init"
        );
        let err = choose_container(&pod(&["web", "side"], ""), "p", "").unwrap_err();
        assert_eq!(
            err.status().message,
            "a container name must be specified for pod p, choose one of: [web side]"
        );
        let err = choose_container(&pod(&["web"], ""), "p", "container=nope").unwrap_err();
        assert_eq!(err.code(), 400);
    }

    #[test]
    fn completed_pods_refuse_exec() {
        assert!(refuse_completed(&pod(&["web"], "Running"), "exec").is_ok());
        assert!(refuse_completed(&pod(&["web"], "Pending"), "exec").is_ok());
        let err = refuse_completed(&pod(&["web"], "Succeeded"), "exec").unwrap_err();
        assert_eq!(
            err.status().message,
            "cannot exec into a container in a completed pod; current phase is Succeeded"
        );
        assert!(refuse_completed(&pod(&["web"], "Failed"), "attach").is_err());
    }

    #[test]
    fn node_address_and_port() {
        let node = json!({"status": {
            "addresses": [{"type": "Hostname", "address": "pi"}, {"type": "InternalIP", "address": "10.0.0.7"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10251}}}});
        assert_eq!(
            node_endpoint(&node, "pi").unwrap(),
            NodeEndpoint {
                host: "10.0.0.7".into(),
                port: 10251
            }
        );
        let bare = json!({"status": {"addresses": [{"type": "Hostname", "address": "pi"}]}});
        assert_eq!(node_endpoint(&bare, "pi").unwrap().port, 10250);
        let err = node_endpoint(&json!({}), "pi").unwrap_err();
        assert_eq!(err.code(), 503);
    }

    #[test]
    fn only_node_subresources_are_handled() {
        let target = |sub: Option<&str>| Target {
            group: String::new(),
            version: "v1".into(),
            namespace: Some("default".into()),
            resource: "pods".into(),
            name: Some("web".into()),
            subresource: sub.map(str::to_owned),
            subpath: Vec::new(),
        };
        assert!(handles(&target(Some("exec"))));
        assert!(handles(&target(Some("portforward"))));
        assert!(!handles(&target(Some("status"))));
        assert!(!handles(&target(None)));
    }
}
