//! Turning a request path into what it addresses.
//!
//! Resource paths have the shapes
//! `/api/v1[/namespaces/{ns}]/{resource}[/{name}[/{subresource}]]` and the same under
//! `/apis/{group}/{version}`. A namespace's own subresources (`/api/v1/namespaces/{ns}/status`)
//! look like a namespaced path, so those names are checked first, as upstream does.
//! Only one subresource takes a path of its own: a node's proxy,
//! `/api/v1/nodes/{name}/proxy/{path...}`.

/// What a resource request addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// API group; empty for core.
    pub group: String,
    /// API version.
    pub version: String,
    /// Namespace from the path, if any.
    pub namespace: Option<String>,
    /// Plural resource name.
    pub resource: String,
    /// Object name, if the path names one.
    pub name: Option<String>,
    /// Subresource, if any.
    pub subresource: Option<String>,
    /// The segments after the subresource: only `nodes/{name}/proxy/{path...}` has any.
    pub subpath: Vec<String>,
}

/// What a path is, before the registry is consulted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathKind {
    /// `/api`: core discovery.
    CoreRoot,
    /// `/apis`: group discovery.
    GroupsRoot,
    /// `/apis/{group}`: one group.
    Group(String),
    /// `/api/v1` or `/apis/{group}/{version}`: a resource list.
    GroupVersion {
        /// Group, empty for core.
        group: String,
        /// Version.
        version: String,
    },
    /// A resource, collection or object.
    Resource(Target),
    /// Not an API path.
    Other,
}

/// Subresources of a namespace itself, which must not be read as a resource in the namespace.
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

/// Splits a request path (without query) into what it addresses. Segments are
/// percent-decoded; empty segments (`//`) make the path [`PathKind::Other`].
pub fn parse_path(path: &str) -> PathKind {
    let trimmed = path.trim_end_matches('/');
    let mut segments = Vec::new();
    for raw in trimmed.split('/').skip(1) {
        let Ok(seg) = percent_decode(raw) else {
            return PathKind::Other;
        };
        if seg.is_empty() {
            return PathKind::Other;
        }
        segments.push(seg);
    }
    let (group, version, rest) = match segments.as_slice() {
        [api] if api == "api" => return PathKind::CoreRoot,
        [apis] if apis == "apis" => return PathKind::GroupsRoot,
        [apis, group] if apis == "apis" => return PathKind::Group(group.clone()),
        [api, version, rest @ ..] if api == "api" => (String::new(), version.clone(), rest),
        [apis, group, version, rest @ ..] if apis == "apis" => {
            (group.clone(), version.clone(), rest)
        }
        _ => return PathKind::Other,
    };
    if rest.is_empty() {
        return PathKind::GroupVersion { group, version };
    }
    let mut namespace = None;
    let mut parts: &[String] = rest;
    if parts[0] == "namespaces"
        && parts.len() > 2
        && !NAMESPACE_SUBRESOURCES.contains(&parts[2].as_str())
    {
        namespace = Some(parts[1].clone());
        parts = &parts[2..];
    }
    let mut subpath = Vec::new();
    if parts.len() > 3 {
        let node_proxy =
            group.is_empty() && namespace.is_none() && parts[0] == "nodes" && parts[2] == "proxy";
        if !node_proxy {
            return PathKind::Other;
        }
        subpath = parts[3..].to_vec();
        parts = &parts[..3];
    }
    PathKind::Resource(Target {
        group,
        version,
        namespace,
        resource: parts[0].clone(),
        name: parts.get(1).cloned(),
        subresource: parts.get(2).cloned(),
        subpath,
    })
}

/// Decodes `%XX` escapes; fails on malformed escapes or non-UTF-8 results.
fn percent_decode(s: &str) -> Result<String, ()> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(())?;
            let hex = std::str::from_utf8(hex).map_err(|_| ())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| ())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(path: &str) -> Target {
        match parse_path(path) {
            PathKind::Resource(t) => t,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn roots() {
        assert_eq!(parse_path("/api"), PathKind::CoreRoot);
        assert_eq!(parse_path("/apis/"), PathKind::GroupsRoot);
        assert_eq!(parse_path("/apis/apps"), PathKind::Group("apps".into()));
        assert_eq!(
            parse_path("/api/v1"),
            PathKind::GroupVersion {
                group: String::new(),
                version: "v1".into()
            }
        );
        assert_eq!(parse_path("/healthz"), PathKind::Other);
        assert_eq!(parse_path("/api//v1"), PathKind::Other);
    }

    #[test]
    fn namespaced_and_cluster_paths() {
        let t = target("/api/v1/namespaces/default/pods/web/status");
        assert_eq!(t.namespace.as_deref(), Some("default"));
        assert_eq!(t.resource, "pods");
        assert_eq!(t.name.as_deref(), Some("web"));
        assert_eq!(t.subresource.as_deref(), Some("status"));

        let t = target("/api/v1/pods");
        assert_eq!(
            (t.namespace, t.resource, t.name),
            (None, "pods".into(), None)
        );

        let t = target("/apis/apps/v1/namespaces/x/deployments");
        assert_eq!(t.group, "apps");
        assert_eq!(t.namespace.as_deref(), Some("x"));
    }

    #[test]
    fn namespace_itself() {
        let t = target("/api/v1/namespaces/kube-system");
        assert_eq!(t.resource, "namespaces");
        assert_eq!(t.name.as_deref(), Some("kube-system"));
        let t = target("/api/v1/namespaces/kube-system/finalize");
        assert_eq!(t.resource, "namespaces");
        assert_eq!(t.subresource.as_deref(), Some("finalize"));
        assert_eq!(t.namespace, None);
    }

    #[test]
    fn escapes_and_garbage() {
        assert_eq!(
            target("/api/v1/namespaces/a/configmaps/b%2Ec")
                .name
                .as_deref(),
            Some("b.c")
        );
        assert_eq!(
            parse_path("/api/v1/namespaces/a/configmaps/%zz"),
            PathKind::Other
        );
        assert_eq!(
            parse_path("/api/v1/namespaces/a/configmaps/%ff"),
            PathKind::Other
        );
        assert_eq!(
            parse_path("/api/v1/namespaces/a/pods/b/status/extra"),
            PathKind::Other
        );
    }

    #[test]
    fn node_proxy_paths_keep_their_tail() {
        let t = target("/api/v1/nodes/pi/proxy/stats/summary");
        assert_eq!(t.resource, "nodes");
        assert_eq!(t.name.as_deref(), Some("pi"));
        assert_eq!(t.subresource.as_deref(), Some("proxy"));
        assert_eq!(t.subpath, ["stats", "summary"]);
        assert_eq!(t.namespace, None);

        let t = target("/api/v1/nodes/pi/proxy/");
        assert_eq!(t.subresource.as_deref(), Some("proxy"));
        assert!(t.subpath.is_empty());
        assert!(target("/api/v1/nodes/pi/status").subpath.is_empty());
        // Segments are decoded one by one, so an escaped slash stays inside its segment.
        assert_eq!(
            target("/api/v1/nodes/pi/proxy/stats%2Fsummary").subpath,
            ["stats/summary"]
        );

        // Only the node proxy has a tail: not other subresources, groups or namespaces.
        for path in [
            "/api/v1/nodes/pi/status/extra",
            "/api/v1/pods/web/proxy/x",
            "/api/v1/namespaces/a/nodes/pi/proxy/stats",
            "/apis/example.com/v1/nodes/pi/proxy/stats",
            "/api/v1/nodes/pi/proxy//stats",
            "/api/v1/nodes/pi/proxy/%zz",
        ] {
            assert_eq!(parse_path(path), PathKind::Other, "{path}");
        }
    }
}
