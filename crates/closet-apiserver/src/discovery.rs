//! Discovery in both forms: aggregated v2 (`/api`, `/apis` with the APIGroupDiscoveryList
//! Accept) and legacy (APIVersions, APIGroupList, APIResourceList). Both derive from the
//! registry, so they always agree.

use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::Shared;
use crate::error::{ApiError, ApiResult};
use crate::registry::ResourceInfo;

/// Which aggregated-discovery version a client asked for, if any.
fn aggregated_version(accept: Option<&str>) -> Option<&'static str> {
    for entry in accept?.split(',') {
        let params: Vec<&str> = entry.split(';').map(str::trim).collect();
        let has = |p: &str| params.iter().any(|x| x.eq_ignore_ascii_case(p));
        if has("g=apidiscovery.k8s.io") && has("as=APIGroupDiscoveryList") {
            if has("v=v2") {
                return Some("v2");
            }
            if has("v=v2beta1") {
                return Some("v2beta1");
            }
        }
    }
    None
}

fn aggregated_response(version: &str, items: Vec<Value>) -> Response {
    let body = json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {},
        "items": items,
    });
    // kubectl decides the format from this exact Content-Type (kubectl-wire.md §1.2).
    let content_type =
        format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList");
    (
        [(http::header::CONTENT_TYPE, content_type)],
        body.to_string(),
    )
        .into_response()
}

fn json_response(value: Value) -> Response {
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// `GET /api`.
pub(crate) fn core_root(shared: &Shared, accept: Option<&str>) -> Response {
    if let Some(version) = aggregated_version(accept) {
        return aggregated_response(version, vec![group_discovery(shared, "")]);
    }
    let address = shared.config.advertise_address.clone().unwrap_or_default();
    json_response(json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    }))
}

/// `GET /apis`: never 404, even with no groups (kubectl retries and fails otherwise).
pub(crate) fn groups_root(shared: &Shared, accept: Option<&str>) -> Response {
    let groups: Vec<String> = shared
        .registry
        .groups()
        .into_iter()
        .map(|(g, _)| g)
        .filter(|g| !g.is_empty())
        .collect();
    let metrics = crate::metrics::served(shared);
    if let Some(version) = aggregated_version(accept) {
        let mut items: Vec<Value> = groups.iter().map(|g| group_discovery(shared, g)).collect();
        items.extend(metrics.then(crate::metrics::discovery::aggregated_group));
        return aggregated_response(version, items);
    }
    let mut groups: Vec<Value> = groups
        .iter()
        .filter_map(|g| legacy_group(shared, g))
        .collect();
    groups.extend(metrics.then(crate::metrics::discovery::legacy_group));
    json_response(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
}

/// `GET /apis/{group}`.
pub(crate) fn group(shared: &Shared, group: &str) -> ApiResult<Response> {
    let metrics = group == crate::metrics::GROUP && crate::metrics::served(shared);
    let mut value = (metrics.then(crate::metrics::discovery::legacy_group))
        .or_else(|| legacy_group(shared, group))
        .ok_or_else(|| ApiError::path_not_found(&format!("/apis/{group}")))?;
    value["kind"] = json!("APIGroup");
    value["apiVersion"] = json!("v1");
    Ok(json_response(value))
}

/// `GET /api/v1` or `/apis/{group}/{version}`.
pub(crate) fn resource_list(shared: &Shared, group: &str, version: &str) -> ApiResult<Response> {
    if (group, version) == (crate::metrics::GROUP, crate::metrics::VERSION)
        && crate::metrics::served(shared)
    {
        return Ok(json_response(crate::metrics::discovery::resource_list()));
    }
    let infos: Vec<_> = shared
        .registry
        .all()
        .into_iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    if infos.is_empty() {
        let prefix = if group.is_empty() { "/api" } else { "/apis" };
        return Err(ApiError::path_not_found(&format!(
            "{prefix}/{group_version}"
        )));
    }
    let mut resources = Vec::new();
    for info in &infos {
        resources.push(json!({
            "name": info.plural,
            "singularName": info.singular,
            "namespaced": info.namespaced,
            "kind": info.kind,
            "verbs": info.verbs,
            "shortNames": info.short_names,
            "categories": info.categories,
        }));
        for sub in &info.subresources {
            let shape = subresource_shape(info, sub);
            let mut entry = json!({
                "name": format!("{}/{sub}", info.plural),
                "singularName": "",
                "namespaced": info.namespaced,
                "kind": shape.kind,
                "verbs": shape.verbs,
            });
            if let Some((g, v)) = shape.group_version {
                entry["group"] = json!(g);
                entry["version"] = json!(v);
            }
            resources.push(entry);
        }
    }
    Ok(json_response(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    })))
}

/// What a subresource answers with.
struct SubresourceShape {
    kind: String,
    /// Set when the response kind lives in another group-version (Scale).
    group_version: Option<(&'static str, &'static str)>,
    verbs: &'static [&'static str],
}

fn subresource_shape(info: &ResourceInfo, sub: &str) -> SubresourceShape {
    let (kind, group_version, verbs): (&str, _, &'static [&'static str]) = match sub {
        "scale" => (
            "Scale",
            Some(("autoscaling", "v1")),
            &["get", "patch", "update"],
        ),
        "binding" => ("Binding", None, &["create"]),
        // kubectl drain looks for this group and version to know evictions are served.
        "eviction" => ("Eviction", Some(("policy", "v1")), &["create"]),
        "token" => (
            "TokenRequest",
            Some(("authentication.k8s.io", "v1")),
            &["create"],
        ),
        "finalize" => (&info.kind, None, &["update"]),
        // Upstream lists every verb here; closet's node proxy forwards reads only.
        "proxy" => ("NodeProxyOptions", None, &["get"]),
        _ => (&info.kind, None, &["get", "patch", "update"]),
    };
    SubresourceShape {
        kind: kind.to_string(),
        group_version,
        verbs,
    }
}

fn legacy_group(shared: &Shared, group: &str) -> Option<Value> {
    let (_, versions) = shared
        .registry
        .groups()
        .into_iter()
        .find(|(g, _)| g == group)?;
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    let preferred = versions.first().cloned().unwrap_or(Value::Null);
    Some(json!({"name": group, "versions": versions, "preferredVersion": preferred}))
}

/// One `APIGroupDiscovery` item of the aggregated form.
fn group_discovery(shared: &Shared, group: &str) -> Value {
    let all = shared.registry.all();
    let versions: Vec<String> = shared
        .registry
        .groups()
        .into_iter()
        .find(|(g, _)| g == group)
        .map(|(_, v)| v)
        .unwrap_or_default();
    let versions: Vec<Value> = versions
        .iter()
        .map(|version| {
            let resources: Vec<Value> = all
                .iter()
                .filter(|r| r.group == group && &r.version == version)
                .map(|r| aggregated_resource(r))
                .collect();
            json!({"version": version, "resources": resources, "freshness": "Current"})
        })
        .collect();
    json!({"metadata": {"name": group}, "versions": versions})
}

fn aggregated_resource(info: &ResourceInfo) -> Value {
    let subresources: Vec<Value> = info
        .subresources
        .iter()
        .map(|sub| {
            let shape = subresource_shape(info, sub);
            let (group, version) = shape
                .group_version
                .unwrap_or((info.group.as_str(), info.version.as_str()));
            json!({
                "subresource": sub,
                "responseKind": {"group": group, "version": version, "kind": shape.kind},
                "verbs": shape.verbs,
            })
        })
        .collect();
    let mut value = json!({
        "resource": info.plural,
        "singularResource": info.singular,
        "scope": if info.namespaced { "Namespaced" } else { "Cluster" },
        "responseKind": {"group": info.group, "version": info.version, "kind": info.kind},
        "verbs": info.verbs,
    });
    if !info.short_names.is_empty() {
        value["shortNames"] = json!(info.short_names);
    }
    if !info.categories.is_empty() {
        value["categories"] = json!(info.categories);
    }
    if !subresources.is_empty() {
        value["subresources"] = json!(subresources);
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregated_accept_is_recognised() {
        let agg = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(aggregated_version(Some(agg)), Some("v2"));
        assert_eq!(aggregated_version(Some("application/json, */*")), None);
        assert_eq!(aggregated_version(None), None);
    }
}
