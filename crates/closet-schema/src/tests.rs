use serde_json::Value;

use super::*;

fn pod() -> PatchMeta {
    patch_meta("", "v1", "Pod").expect("pod metadata")
}

fn deployment() -> PatchMeta {
    patch_meta("apps", "v1", "Deployment").expect("deployment metadata")
}

fn by_key(key: &str) -> ListStrategy {
    ListStrategy::MergeByKey(key.to_string())
}

#[test]
fn containers_merge_by_name() {
    assert_eq!(pod().list_strategy(&["spec", "containers"]), by_key("name"));
    assert_eq!(
        pod().list_strategy(&["spec", "initContainers"]),
        by_key("name")
    );
    let path = ["spec", "template", "spec", "containers"];
    assert_eq!(deployment().list_strategy(&path), by_key("name"));
}

#[test]
fn container_env_ports_and_mounts() {
    let meta = deployment();
    let containers = ["spec", "template", "spec", "containers"];
    let at = |field: &'static str| [&containers[..], &[field]].concat();
    assert_eq!(meta.list_strategy(&at("env")), by_key("name"));
    assert_eq!(meta.list_strategy(&at("ports")), by_key("containerPort"));
    assert_eq!(meta.list_strategy(&at("volumeMounts")), by_key("mountPath"));
    // Index segments step into a list the same way.
    let indexed = ["spec", "template", "spec", "containers", "0", "env"];
    assert_eq!(meta.list_strategy(&indexed), by_key("name"));
    assert_eq!(
        meta.list_type(&at("ports")),
        Some(ListType::Map(vec![
            "containerPort".into(),
            "protocol".into()
        ]))
    );
    // args and command have no strategy: a patch replaces them.
    assert_eq!(meta.list_strategy(&at("args")), ListStrategy::Replace);
    assert_eq!(meta.list_type(&at("args")), Some(ListType::Atomic));
}

#[test]
fn service_ports_merge_by_port() {
    let meta = patch_meta("", "v1", "Service").expect("service metadata");
    assert_eq!(meta.list_strategy(&["spec", "ports"]), by_key("port"));
    assert_eq!(
        meta.list_type(&["spec", "ports"]),
        Some(ListType::Map(vec!["port".into(), "protocol".into()]))
    );
}

#[test]
fn volumes_merge_by_name_and_retain_keys() {
    let meta = pod();
    assert_eq!(meta.list_strategy(&["spec", "volumes"]), by_key("name"));
    assert!(meta.retain_keys(&["spec", "volumes"]));
    let element = meta.at(&["spec", "volumes"]).items();
    assert_eq!(element.kind(), NodeKind::Object);
    assert!(element.retain_keys());
    // An element is a map, not a list: it has no list strategy of its own.
    assert_eq!(element.list_strategy(), ListStrategy::Replace);
    assert!(!meta.retain_keys(&["spec", "volumes", "configMap"]));
    assert!(!meta.retain_keys(&["spec", "containers"]));
}

#[test]
fn deployment_strategy_retains_keys() {
    let meta = deployment();
    assert!(meta.retain_keys(&["spec", "strategy"]));
    assert_eq!(meta.at(&["spec", "strategy"]).kind(), NodeKind::Object);
    assert!(!meta.retain_keys(&["spec", "strategy", "rollingUpdate"]));
    assert!(!meta.retain_keys(&["spec", "template"]));
}

#[test]
fn metadata_lists() {
    let meta = deployment();
    assert_eq!(
        meta.list_strategy(&["metadata", "finalizers"]),
        ListStrategy::MergePrimitives
    );
    assert_eq!(
        meta.list_type(&["metadata", "finalizers"]),
        Some(ListType::Set)
    );
    assert_eq!(
        meta.list_strategy(&["metadata", "ownerReferences"]),
        by_key("uid")
    );
    assert!(
        meta.at(&["metadata", "ownerReferences"])
            .items()
            .atomic_map()
    );
}

#[test]
fn tolerations_are_replaced() {
    let path = ["spec", "tolerations"];
    assert_eq!(pod().list_strategy(&path), ListStrategy::Replace);
    assert_eq!(pod().list_type(&path), Some(ListType::Atomic));
}

#[test]
fn status_conditions_merge_by_type() {
    assert_eq!(
        pod().list_strategy(&["status", "conditions"]),
        by_key("type")
    );
    assert_eq!(
        deployment().list_strategy(&["status", "conditions"]),
        by_key("type")
    );
    let node = patch_meta("", "v1", "Node").expect("node metadata");
    assert_eq!(node.list_strategy(&["status", "addresses"]), by_key("type"));
    // Upstream merges Job conditions by type in SMP but keeps them atomic for apply.
    let job = patch_meta("batch", "v1", "Job").expect("job metadata");
    assert_eq!(job.list_strategy(&["status", "conditions"]), by_key("type"));
    assert_eq!(
        job.list_type(&["status", "conditions"]),
        Some(ListType::Atomic)
    );
}

#[test]
fn maps_scalars_and_unknown_paths_have_no_strategy() {
    let meta = deployment();
    let labels = meta.at(&["metadata", "labels"]);
    assert_eq!(labels.kind(), NodeKind::Map);
    assert_eq!(labels.list_strategy(), ListStrategy::Replace);
    assert_eq!(labels.field("app").kind(), NodeKind::Scalar);
    assert_eq!(meta.at(&["spec", "replicas"]).kind(), NodeKind::Scalar);
    let unknown = meta.at(&["spec", "noSuchField", "containers"]);
    assert_eq!(unknown.kind(), NodeKind::Unknown);
    assert_eq!(unknown.list_strategy(), ListStrategy::Replace);
    assert!(!unknown.retain_keys());
    assert_eq!(unknown.list_type(), None);
    // Resource limits are a map of quantities; maxSurge is IntOrString.
    let limits = [
        "spec",
        "template",
        "spec",
        "containers",
        "resources",
        "limits",
        "cpu",
    ];
    assert_eq!(meta.at(&limits).kind(), NodeKind::Scalar);
    let surge = ["spec", "strategy", "rollingUpdate", "maxSurge"];
    assert_eq!(meta.at(&surge).kind(), NodeKind::Scalar);
    assert!(meta.at(&["spec", "selector"]).atomic_map());
    assert!(!meta.at(&["spec", "selector"]).replace());
    let pdb = patch_meta("policy", "v1", "PodDisruptionBudget").expect("pdb metadata");
    assert!(pdb.at(&["spec", "selector"]).replace());
}

#[test]
fn custom_kinds_have_no_metadata() {
    assert!(patch_meta("example.com", "v1", "Widget").is_none());
    assert!(patch_meta("apps", "v1", "Widget").is_none());
    assert!(schemas_for("example.com", "v1").is_empty());
    assert_eq!(definition_name("example.com", "v1", "Widget"), None);
}

#[test]
fn definition_names() {
    let name = |g, v, k| definition_name(g, v, k);
    assert_eq!(
        name("", "v1", "Pod").as_deref(),
        Some("io.k8s.api.core.v1.Pod")
    );
    assert_eq!(
        name("apps", "v1", "DeploymentList").as_deref(),
        Some("io.k8s.api.apps.v1.DeploymentList")
    );
    assert_eq!(
        name("autoscaling", "v1", "Scale").as_deref(),
        Some("io.k8s.api.autoscaling.v1.Scale")
    );
    assert_eq!(
        name("events.k8s.io", "v1", "Event").as_deref(),
        Some("io.k8s.api.events.v1.Event")
    );
    assert!(patch_meta("autoscaling", "v1", "Scale").is_some());
}

#[test]
fn apps_v1_has_deployment_with_its_kind() {
    let schemas = schemas_for("apps", "v1");
    let deployment = &schemas["io.k8s.api.apps.v1.Deployment"];
    assert_eq!(
        deployment["x-kubernetes-group-version-kind"],
        serde_json::json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
    );
    let list = &schemas["io.k8s.api.apps.v1.DeploymentList"];
    assert_eq!(
        list["x-kubernetes-group-version-kind"][0]["kind"],
        "DeploymentList"
    );
    assert_eq!(
        schemas["io.k8s.api.autoscaling.v1.Scale"]["x-kubernetes-group-version-kind"][0]["group"],
        "autoscaling"
    );
    let strategy = &schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"];
    assert_eq!(strategy["x-kubernetes-patch-strategy"], "retainKeys");
    assert_eq!(
        strategy["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy"
    );
}

#[test]
fn pod_schema_reads_like_upstream() {
    let schemas = schemas_for("", "v1");
    let containers = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert!(
        containers["description"]
            .as_str()
            .is_some_and(|d| d.contains("containers"))
    );
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(containers["x-kubernetes-list-type"], "map");
    assert_eq!(
        containers["x-kubernetes-list-map-keys"],
        serde_json::json!(["name"])
    );
    assert_eq!(
        containers["items"]["$ref"],
        "#/components/schemas/io.k8s.api.core.v1.Container"
    );
    let time = &schemas["io.k8s.apimachinery.pkg.apis.meta.v1.Time"];
    assert_eq!(time["format"], "date-time");
    let int_or_string = &schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"];
    assert_eq!(int_or_string["format"], "int-or-string");
    assert_eq!(int_or_string["x-kubernetes-int-or-string"], true);
    let quantity = &schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"];
    assert_eq!(quantity["oneOf"][1]["type"], "number");
    let pod = &schemas["io.k8s.api.core.v1.Pod"];
    assert!(
        pod.get("required").is_none(),
        "metadata is optional, as upstream"
    );
    let binding = &schemas["io.k8s.api.core.v1.EndpointAddress"];
    assert_eq!(binding["required"], serde_json::json!(["ip"]));
    let finalizers =
        &schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]["finalizers"];
    assert_eq!(finalizers["x-kubernetes-list-type"], "set");
    assert_eq!(finalizers["x-kubernetes-patch-strategy"], "merge");
}

/// Every `$ref` of every document resolves within that document.
#[test]
fn every_ref_resolves() {
    fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r);
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    for (group, version) in group_versions() {
        let schemas = schemas_for(group, version);
        assert!(!schemas.is_empty(), "{group}/{version}");
        let mut found = Vec::new();
        for schema in schemas.values() {
            refs(schema, &mut found);
        }
        for r in found {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("{group}/{version}: foreign ref {r}"));
            assert!(
                schemas.contains_key(name),
                "{group}/{version}: dangling {r}"
            );
        }
    }
}

/// Each marker row names a property that exists, so a k8s-openapi upgrade that renames or
/// drops a field shows up here instead of silently losing its merge key.
#[test]
fn every_marker_names_a_property() {
    let mut all = serde_json::Map::new();
    for (group, version) in group_versions() {
        all.extend(schemas_for(group, version));
    }
    for (definition, fields) in markers::FIELDS {
        let properties = all
            .get(*definition)
            .and_then(|d| d.get("properties"))
            .unwrap_or_else(|| panic!("{definition} is in no document"));
        for (field, _) in *fields {
            assert!(properties.get(*field).is_some(), "{definition}.{field}");
        }
    }
    for definition in markers::ATOMIC_STRUCTS {
        assert!(all.contains_key(*definition), "{definition}");
    }
}

#[test]
fn every_kind_is_tagged_once() {
    for (group, version) in group_versions() {
        let schemas = schemas_for(group, version);
        let index = kinds::index_of(group, version).expect("index");
        for kind in kinds::document_kinds(&kinds::GROUP_VERSIONS[index]).filter(|k| k.tagged) {
            let name = (kind.name)();
            let tags = &schemas[name.as_ref()]["x-kubernetes-group-version-kind"];
            assert_eq!(tags.as_array().map(Vec::len), Some(1), "{name}");
        }
    }
}

#[test]
fn meta_schemas_are_self_contained() {
    let schemas = meta_schemas();
    for name in [
        "ObjectMeta",
        "ListMeta",
        "Status",
        "DeleteOptions",
        "Time",
        "OwnerReference",
    ] {
        let name = format!("io.k8s.apimachinery.pkg.apis.meta.v1.{name}");
        assert!(schemas.contains_key(&name), "{name}");
    }
    let meta = &schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"];
    assert_eq!(
        meta["properties"]["ownerReferences"]["x-kubernetes-patch-merge-key"],
        "uid"
    );
}

#[test]
fn generation_is_cached() {
    let first = schemas_json("batch", "v1").expect("batch/v1");
    let second = schemas_json("batch", "v1").expect("batch/v1");
    assert!(Arc::ptr_eq(&first, &second));
}

#[test]
#[ignore = "dumps every document for inspection"]
fn dump_all() {
    let mut all = serde_json::Map::new();
    for (group, version) in group_versions() {
        all.extend(schemas_for(group, version));
    }
    let path = std::env::temp_dir().join("closet-schema-all.json");
    std::fs::write(&path, Value::Object(all).to_string()).expect("write");
    println!("wrote {}", path.display());
}

#[test]
#[ignore = "measures memory; run alone with --release --nocapture"]
fn measure_generation_cost() {
    fn rss_kb() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
    let before = rss_kb();
    let index = kinds::index_of("apps", "v1").expect("apps/v1");
    let map = generate::generate(&kinds::GROUP_VERSIONS[index]);
    let with_map = rss_kb();
    drop(map);
    println!(
        "apps/v1 map alone: RSS {before} -> {with_map} kB, {} kB after drop",
        rss_kb()
    );
    let before = rss_kb();
    let start = std::time::Instant::now();
    let json = schemas_json("", "v1").expect("core/v1");
    let first = start.elapsed();
    let after = rss_kb();
    let start = std::time::Instant::now();
    let again = schemas_json("", "v1").expect("core/v1");
    let cached = start.elapsed();
    let start = std::time::Instant::now();
    let meta = patch_meta("", "v1", "Pod").expect("pod");
    let compile = start.elapsed();
    let after_meta = rss_kb();
    let start = std::time::Instant::now();
    let parsed = schemas_for("", "v1");
    let parse = start.elapsed();
    println!(
        "core/v1: generate {first:?} ({} B, RSS {before} -> {after} kB), cached {cached:?}, \
         patch_meta compile {compile:?} (RSS {after_meta} kB), schemas_for parse {parse:?} ({} defs)",
        json.len(),
        parsed.len()
    );
    assert!(Arc::ptr_eq(&json, &again));
    assert_eq!(meta.list_strategy(&["spec", "containers"]), by_key("name"));
}
