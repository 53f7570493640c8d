//! `nodes/{name}/proxy/{path...}`: read-only paths of a node agent's API through the
//! apiserver, as upstream's apiserver reaches the kubelet's. `kubectl get --raw
//! /api/v1/nodes/<node>/proxy/stats/summary` is what `kubectl df-pv` and k9s read for volume
//! usage.
//!
//! Only GET, and only the paths in [`PROXIED_PATHS`]: the node API's other paths stream logs
//! or open exec and port-forward sessions, which the pod subresources serve with their own
//! checks (`super::node_proxy`), and nothing on a node changes state through here.

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use closet_types::Status;
use http::Method;

use super::node_proxy::{get_object, node_endpoint, node_error};
use crate::Shared;
use crate::error::{ApiError, ApiResult};
use crate::request::Target;

/// The node API paths a node's proxy forwards.
pub(crate) const PROXIED_PATHS: &[&str] = &["stats/summary", "healthz"];

/// Whether `target` is a node's proxy subresource.
pub(crate) fn handles(target: &Target) -> bool {
    target.group.is_empty()
        && target.version == "v1"
        && target.resource == "nodes"
        && target.namespace.is_none()
        && target.name.is_some()
        && target.subresource.as_deref() == Some("proxy")
}

/// Forwards one GET to the node's API.
pub(crate) async fn serve(
    shared: &Shared,
    target: Target,
    request: Request,
) -> ApiResult<Response> {
    if request.method() != Method::GET {
        let info = shared.registry.get("", "v1", "nodes");
        return Err(ApiError::method_not_allowed(
            info.as_deref(),
            &request.method().as_str().to_lowercase(),
        ));
    }
    let node_path =
        proxied_path(&target).ok_or_else(|| ApiError::path_not_found(request.uri().path()))?;
    let client = shared.node_client.get().ok_or_else(|| {
        ApiError::from(Status::service_unavailable(
            "no node agent connection is configured: the node proxy needs the apiserver's \
             client certificate for node APIs",
        ))
    })?;
    let name = target.name.as_deref().unwrap_or_default();
    let node = get_object(shared, "nodes", None, name).await?;
    let endpoint = node_endpoint(&node, name)?;

    let (mut parts, body) = request.into_parts();
    let path_and_query = match parts.uri.query() {
        Some(query) if !query.is_empty() => format!("{node_path}?{query}"),
        _ => node_path,
    };
    parts.uri = path_and_query
        .parse()
        .map_err(|_| ApiError::bad_request("the request's query cannot be passed to the node"))?;
    let response = client
        .forward(&endpoint, Request::from_parts(parts, body))
        .await
        .map_err(|err| node_error(&err, name))?;
    Ok(response.map(Body::new))
}

/// The node API path a proxy request names, if it is one the proxy forwards. The segments
/// were decoded one by one; one holding an escaped slash names no path the node serves.
fn proxied_path(target: &Target) -> Option<String> {
    if target.subpath.iter().any(|s| s.contains('/')) {
        return None;
    }
    let path = target.subpath.join("/");
    PROXIED_PATHS
        .contains(&path.as_str())
        .then(|| format!("/{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(resource: &str, sub: Option<&str>, subpath: &[&str]) -> Target {
        Target {
            group: String::new(),
            version: "v1".into(),
            namespace: None,
            resource: resource.into(),
            name: Some("pi".into()),
            subresource: sub.map(str::to_owned),
            subpath: subpath.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn only_a_node_proxy_is_handled() {
        assert!(handles(&target(
            "nodes",
            Some("proxy"),
            &["stats", "summary"]
        )));
        assert!(handles(&target("nodes", Some("proxy"), &[])));
        assert!(!handles(&target("nodes", Some("status"), &[])));
        assert!(!handles(&target("nodes", None, &[])));
        assert!(!handles(&target("pods", Some("proxy"), &[])));
    }

    #[test]
    fn only_listed_paths_are_forwarded() {
        let path = |segments: &[&str]| proxied_path(&target("nodes", Some("proxy"), segments));
        assert_eq!(
            path(&["stats", "summary"]).as_deref(),
            Some("/stats/summary")
        );
        assert_eq!(path(&["healthz"]).as_deref(), Some("/healthz"));
        assert_eq!(path(&[]), None);
        assert_eq!(path(&["stats"]), None);
        assert_eq!(path(&["containerLogs", "default", "web", "app"]), None);
        assert_eq!(path(&["exec", "default", "web", "app"]), None);
        assert_eq!(path(&["stats", "summary", ".."]), None);
        assert_eq!(path(&["stats/summary"]), None);
    }
}
