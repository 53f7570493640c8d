use super::*;
use serde_json::json;

fn claim(class: &str, size: &str, modes: serde_json::Value) -> PersistentVolumeClaim {
    serde_json::from_value(json!({
        "metadata": {"name": "data", "namespace": "web", "uid": "u1"},
        "spec": {"storageClassName": class, "accessModes": modes,
                 "resources": {"requests": {"storage": size}}},
    }))
    .unwrap()
}

fn pv(
    name: &str,
    class: &str,
    size: &str,
    modes: serde_json::Value,
    claim_ref: serde_json::Value,
) -> PersistentVolume {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"storageClassName": class, "accessModes": modes,
                 "capacity": {"storage": size}, "claimRef": claim_ref},
        "status": {"phase": "Available"},
    }))
    .unwrap()
}

#[test]
fn the_smallest_fitting_free_volume_of_the_class_is_chosen() {
    let rwo = json!(["ReadWriteOnce"]);
    let c = claim("manual", "1Gi", rwo.clone());
    let pvs = [
        pv("small", "manual", "500Mi", rwo.clone(), json!(null)),
        pv("big", "manual", "10Gi", rwo.clone(), json!(null)),
        pv("fits", "manual", "2Gi", rwo.clone(), json!(null)),
        pv("other-class", "fast", "1Gi", rwo.clone(), json!(null)),
        pv("rox", "manual", "1Gi", json!(["ReadOnlyMany"]), json!(null)),
        pv(
            "taken",
            "manual",
            "1Gi",
            rwo.clone(),
            json!({"name": "x", "namespace": "web", "uid": "u9"}),
        ),
    ];
    assert_eq!(best_match(&c, &pvs).unwrap().metadata.name.unwrap(), "fits");
    assert!(best_match(&claim("manual", "20Gi", rwo.clone()), &pvs).is_none());
    // A volume reserved for this claim wins over any free one.
    let mut reserved = pvs.to_vec();
    reserved.push(pv(
        "mine",
        "other",
        "1Mi",
        rwo,
        json!({"name": "data", "namespace": "web"}),
    ));
    assert_eq!(
        best_match(&c, &reserved).unwrap().metadata.name.unwrap(),
        "mine"
    );
}

#[test]
fn a_provisioned_volume_lives_on_its_node_under_the_node_root() {
    let c = claim("local-path", "1Gi", json!(["ReadWriteOnce"]));
    let class = crate::classes::builtin("local-path", true, "Retain");
    let pv = new_volume(&c, &class, "node-a", "/var/lib/closet/storage/");
    assert_eq!(pv.metadata.name.as_deref(), Some("pvc-u1"));
    let spec = pv.spec.unwrap();
    assert_eq!(
        spec.local.unwrap().path,
        "/var/lib/closet/storage/pvc-u1_web_data"
    );
    assert_eq!(
        spec.persistent_volume_reclaim_policy.as_deref(),
        Some("Retain")
    );
    assert_eq!(spec.capacity.unwrap()["storage"].0, "1Gi");
    assert_eq!(spec.claim_ref.unwrap().uid.as_deref(), Some("u1"));
    let term = &spec
        .node_affinity
        .unwrap()
        .required
        .unwrap()
        .node_selector_terms[0];
    let expr = &term.match_expressions.as_ref().unwrap()[0];
    assert_eq!(
        (expr.key.as_str(), expr.operator.as_str()),
        ("kubernetes.io/hostname", "In")
    );
    assert_eq!(expr.values.as_deref(), Some(&["node-a".to_owned()][..]));
}
