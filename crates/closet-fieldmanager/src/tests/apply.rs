//! Server-side apply, scenario by scenario (kubectl-wire.md §1.7, §3.5).

use serde_json::{Value, json};

use crate::test_util::{T1, T2, T3, apps, deployment, fields_of, schema};
use crate::{
    ApplyError, BEFORE_FIRST_APPLY, LAST_APPLIED_ANNOTATION, ManagedFields, Operation, Request,
    apply, update,
};

use Operation::{Apply, Update};

fn web(image: &str) -> Value {
    json!([{"name": "web", "image": image, "ports": [{"containerPort": 80}]}])
}

/// `object` without its managed fields.
fn content(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(Value::Object(metadata)) = object.get_mut("metadata") {
        metadata.remove("managedFields");
    }
    object
}

/// Stores `object` as the apiserver would after a write: with `managed` written in.
fn stored(object: &Value, managed: &ManagedFields) -> Value {
    let mut object = object.clone();
    managed.write_to(&mut object);
    object
}

/// An object created by client-side apply (an Update by `kubectl-client-side-apply`).
fn created_by_csa(object: &Value) -> Value {
    let managed = update(
        None,
        object,
        &ManagedFields::new(),
        &apps("kubectl-client-side-apply", T1),
        &schema(),
    );
    let mut object = stored(object, &managed);
    object["metadata"]["uid"] = json!("0b9f");
    object
}

#[test]
fn apply_creates() {
    let config = deployment(1, web("nginx:1.27"));
    let applied = apply(
        None,
        &config,
        &ManagedFields::new(),
        &apps("kubectl", T1),
        false,
        &schema(),
    )
    .expect("create");
    assert_eq!(content(&applied.object), config);
    assert_eq!(
        serde_json::to_string(&applied.object["metadata"]["managedFields"]).unwrap_or_default(),
        concat!(
            r#"[{"manager":"kubectl","operation":"Apply","apiVersion":"apps/v1","#,
            r#""time":"2024-05-01T10:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"#,
            r#""f:metadata":{"f:labels":{"f:app":{}}},"#,
            r#""f:spec":{"f:replicas":{},"f:selector":{},"f:template":{"#,
            r#""f:metadata":{"f:labels":{"f:app":{}}},"#,
            r#""f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{},"f:name":{},"#,
            r#""f:ports":{"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}}}}}}}}]"#,
        )
    );
}

#[test]
fn same_manager_dropping_fields_removes_them() {
    let schema = schema();
    let mut first = deployment(
        2,
        json!([{"name": "web", "image": "nginx:1.27",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "ports": [{"containerPort": 80}]}]),
    );
    first["metadata"]["labels"]["tier"] = json!("frontend");
    let created = apply(
        None,
        &first,
        &ManagedFields::new(),
        &apps("kubectl", T1),
        false,
        &schema,
    )
    .expect("create");

    let second = deployment(
        2,
        json!([{"name": "web", "image": "nginx:1.27", "env": [{"name": "A", "value": "1"}]}]),
    );
    let applied = apply(
        Some(&created.object),
        &second,
        &created.managed,
        &apps("kubectl", T2),
        false,
        &schema,
    )
    .expect("second apply");
    assert_eq!(content(&applied.object), second);
    let entry = applied.managed.get("kubectl", Apply).expect("entry");
    assert_eq!(entry.time.as_deref(), Some(T2));
    assert!(!fields_of(&applied.managed, "kubectl", Apply).contains("tier"));
    assert!(!fields_of(&applied.managed, "kubectl", Apply).contains("ports"));
}

#[test]
fn conflict_with_client_side_apply_names_the_field() {
    let live = created_by_csa(&deployment(1, web("nginx:1.27")));
    let managed = ManagedFields::from_object(&live);
    let config = deployment(3, web("nginx:1.27"));
    let err = apply(
        Some(&live),
        &config,
        &managed,
        &apps("kubectl", T2),
        false,
        &schema(),
    )
    .expect_err("conflict");
    let ApplyError::Conflict(conflicts) = err else {
        panic!("not a conflict: {err}");
    };
    assert_eq!(
        conflicts.message(),
        r#"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas"#
    );
    let causes: Vec<(String, String)> =
        conflicts.iter().map(|c| (c.field(), c.message())).collect();
    assert_eq!(
        causes,
        [(
            ".spec.replicas".to_string(),
            r#"conflict with "kubectl-client-side-apply" using apps/v1"#.to_string()
        )]
    );
}

#[test]
fn force_takes_ownership() {
    let live = created_by_csa(&deployment(1, web("nginx:1.27")));
    let managed = ManagedFields::from_object(&live);
    let config = deployment(3, web("nginx:1.27"));
    let applied = apply(
        Some(&live),
        &config,
        &managed,
        &apps("kubectl", T2),
        true,
        &schema(),
    )
    .expect("forced");
    assert_eq!(applied.object["spec"]["replicas"], json!(3));
    assert_eq!(applied.object["metadata"]["uid"], json!("0b9f"));
    assert!(fields_of(&applied.managed, "kubectl", Apply).contains(r#""f:replicas":{}"#));
    let csa = fields_of(&applied.managed, "kubectl-client-side-apply", Update);
    assert!(!csa.contains("f:replicas"), "{csa}");
    assert!(csa.contains("f:image"), "{csa}");
    // Entries: Apply first, then Update.
    let order: Vec<Operation> = applied
        .managed
        .entries()
        .iter()
        .map(|e| e.operation)
        .collect();
    assert_eq!(order, [Apply, Update]);
}

#[test]
fn list_map_elements_merge_across_managers() {
    let schema = schema();
    let alice = deployment(1, web("nginx:1.27"));
    let created = apply(
        None,
        &alice,
        &ManagedFields::new(),
        &apps("alice", T1),
        false,
        &schema,
    )
    .expect("alice");
    let bob = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox"}]}}},
    });
    let both = apply(
        Some(&created.object),
        &bob,
        &created.managed,
        &apps("bob", T2),
        false,
        &schema,
    )
    .expect("bob");
    let names: Vec<&Value> = containers(&both.object)
        .iter()
        .map(|c| &c["name"])
        .collect();
    assert_eq!(names, [&json!("web"), &json!("sidecar")]);
    assert_eq!(
        fields_of(&both.managed, "bob", Apply),
        r#"{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"sidecar\"}":{".":{},"f:image":{},"f:name":{}}}}}}}"#
    );

    // Bob changing alice's container conflicts with her.
    let mut grab = bob.clone();
    grab["spec"]["template"]["spec"]["containers"] = json!([{"name": "web", "image": "evil"}]);
    let err = apply(
        Some(&both.object),
        &grab,
        &both.managed,
        &apps("bob", T3),
        false,
        &schema,
    )
    .expect_err("conflict");
    assert_eq!(
        err.to_string(),
        r#"Apply failed with 1 conflict: conflict with "alice": .spec.template.spec.containers[name="web"].image"#
    );

    // Alice updating her image leaves bob's container alone; dropping hers removes only hers.
    let alice2 = deployment(1, web("nginx:1.28"));
    let updated = apply(
        Some(&both.object),
        &alice2,
        &both.managed,
        &apps("alice", T3),
        false,
        &schema,
    )
    .expect("alice again");
    assert_eq!(containers(&updated.object).len(), 2);
    assert_eq!(containers(&updated.object)[0]["image"], json!("nginx:1.28"));
    let alice3 = deployment(1, json!([]));
    let dropped = apply(
        Some(&updated.object),
        &alice3,
        &updated.managed,
        &apps("alice", T3),
        false,
        &schema,
    )
    .expect("alice drops web");
    let names: Vec<&Value> = containers(&dropped.object)
        .iter()
        .map(|c| &c["name"])
        .collect();
    assert_eq!(names, [&json!("sidecar")]);
}

fn containers(object: &Value) -> &[Value] {
    object["spec"]["template"]["spec"]["containers"]
        .as_array()
        .map_or(&[], Vec::as_slice)
}

fn config_map(finalizers: Option<Value>) -> Value {
    let mut object = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}});
    if let Some(finalizers) = finalizers {
        object["metadata"]["finalizers"] = finalizers;
    }
    object
}

#[test]
fn set_type_finalizers_merge() {
    let schema = schema();
    let v1 = |manager| Request::new(manager, "v1", T1);
    let alice = config_map(Some(json!(["a.example/x"])));
    let created = apply(
        None,
        &alice,
        &ManagedFields::new(),
        &v1("alice"),
        false,
        &schema,
    )
    .expect("alice");
    assert_eq!(
        fields_of(&created.managed, "alice", Apply),
        r#"{"f:metadata":{"f:finalizers":{"v:\"a.example/x\"":{}}}}"#
    );
    let bob = config_map(Some(json!(["b.example/y"])));
    let both = apply(
        Some(&created.object),
        &bob,
        &created.managed,
        &v1("bob"),
        false,
        &schema,
    )
    .expect("bob");
    assert_eq!(
        both.object["metadata"]["finalizers"],
        json!(["a.example/x", "b.example/y"])
    );
    // Alice applying without finalizers takes hers away, not bob's.
    let gone = apply(
        Some(&both.object),
        &config_map(None),
        &both.managed,
        &v1("alice"),
        false,
        &schema,
    )
    .expect("alice again");
    assert_eq!(
        gone.object["metadata"]["finalizers"],
        json!(["b.example/y"])
    );
    assert!(gone.managed.get("alice", Apply).is_none());
}

#[test]
fn atomic_maps_and_lists_are_replaced_and_owned_whole() {
    let schema = schema();
    let mut alice = deployment(
        1,
        json!([{"name": "web", "image": "a", "args": ["x", "y"]}]),
    );
    alice["spec"]["selector"] = json!({"matchLabels": {"app": "web", "tier": "a"}});
    let created = apply(
        None,
        &alice,
        &ManagedFields::new(),
        &apps("alice", T1),
        false,
        &schema,
    )
    .expect("alice");
    let mut again = alice.clone();
    again["spec"]["selector"] = json!({"matchLabels": {"app": "web"}});
    again["spec"]["template"]["spec"]["containers"][0]["args"] = json!(["z"]);
    let applied = apply(
        Some(&created.object),
        &again,
        &created.managed,
        &apps("alice", T2),
        false,
        &schema,
    )
    .expect("alice again");
    assert_eq!(
        applied.object["spec"]["selector"],
        json!({"matchLabels": {"app": "web"}})
    );
    assert_eq!(containers(&applied.object)[0]["args"], json!(["z"]));

    let mut bob = deployment(1, json!([]));
    bob["spec"]["selector"] = json!({"matchLabels": {"app": "other"}});
    let err = apply(
        Some(&applied.object),
        &bob,
        &applied.managed,
        &apps("bob", T3),
        false,
        &schema,
    )
    .expect_err("conflict");
    assert!(
        err.to_string()
            .ends_with(r#"conflict with "alice": .spec.selector"#),
        "{err}"
    );
}

#[test]
fn several_conflicts_are_grouped_by_manager() {
    let schema = schema();
    let live = created_by_csa(&deployment(1, web("nginx:1.27")));
    let scaled = {
        let mut object = live.clone();
        object["spec"]["paused"] = json!(true);
        let managed = update(
            Some(&live),
            &object,
            &ManagedFields::from_object(&live),
            &apps("kubectl-edit", T2),
            &schema,
        );
        stored(&object, &managed)
    };
    let mut config = deployment(5, web("nginx:1.28"));
    config["spec"]["paused"] = json!(false);
    let err = apply(
        Some(&scaled),
        &config,
        &ManagedFields::from_object(&scaled),
        &apps("ssa", T3),
        false,
        &schema,
    )
    .expect_err("conflicts");
    assert_eq!(
        err.to_string(),
        "Apply failed with 3 conflicts: conflicts with \"kubectl-client-side-apply\" using apps/v1:\n\
         - .spec.replicas\n\
         - .spec.template.spec.containers[name=\"web\"].image\n\
         conflicts with \"kubectl-edit\" using apps/v1:\n\
         - .spec.paused"
    );
}

#[test]
fn applying_again_unchanged_keeps_the_time() {
    let schema = schema();
    let config = deployment(1, web("nginx:1.27"));
    let first = apply(
        None,
        &config,
        &ManagedFields::new(),
        &apps("kubectl", T1),
        false,
        &schema,
    )
    .expect("first");
    let second = apply(
        Some(&first.object),
        &config,
        &first.managed,
        &apps("kubectl", T2),
        false,
        &schema,
    )
    .expect("second");
    assert_eq!(second, first);
}

#[test]
fn first_apply_to_an_untracked_object_conflicts_with_before_first_apply() {
    let schema = schema();
    let mut live = deployment(1, web("nginx:1.27"));
    live["metadata"]["uid"] = json!("0b9f");
    let err = apply(
        Some(&live),
        &deployment(2, web("nginx:1.27")),
        &ManagedFields::new(),
        &apps("ssa", T1),
        false,
        &schema,
    )
    .expect_err("conflict");
    assert_eq!(
        err.to_string(),
        format!(
            r#"Apply failed with 1 conflict: conflict with "{BEFORE_FIRST_APPLY}" using apps/v1: .spec.replicas"#
        )
    );
    let same = apply(
        Some(&live),
        &deployment(1, web("nginx:1.27")),
        &ManagedFields::new(),
        &apps("ssa", T1),
        false,
        &schema,
    )
    .expect("same values");
    let managers: Vec<(&str, Operation)> = same
        .managed
        .entries()
        .iter()
        .map(|e| (e.manager.as_str(), e.operation))
        .collect();
    assert_eq!(managers, [("ssa", Apply), (BEFORE_FIRST_APPLY, Update)]);
}

#[test]
fn kubectl_conflicts_with_its_own_client_side_apply_are_forced() {
    let schema = schema();
    let manifest = deployment(1, web("nginx:1.27"));
    let mut object = manifest.clone();
    object["metadata"]["annotations"] = json!({
        LAST_APPLIED_ANNOTATION: format!("{}\n", serde_json::to_string(&manifest).unwrap_or_default())
    });
    let live = created_by_csa(&object);
    let config = deployment(3, web("nginx:1.27"));
    let managed = ManagedFields::from_object(&live);
    let applied = apply(
        Some(&live),
        &config,
        &managed,
        &apps("kubectl", T2),
        false,
        &schema,
    )
    .expect("forced through the annotation");
    assert_eq!(applied.object["spec"]["replicas"], json!(3));

    // Another manager's name gets the conflict.
    let err = apply(
        Some(&live),
        &config,
        &managed,
        &apps("argocd", T2),
        false,
        &schema,
    )
    .expect_err("conflict");
    assert!(matches!(err, ApplyError::Conflict(_)));

    // So does kubectl once someone else changed the value since.
    let mut scaled = live.clone();
    scaled["spec"]["replicas"] = json!(2);
    let scaled_managed = update(Some(&live), &scaled, &managed, &apps("hpa", T2), &schema);
    let scaled = stored(&scaled, &scaled_managed);
    let err = apply(
        Some(&scaled),
        &config,
        &scaled_managed,
        &apps("kubectl", T3),
        false,
        &schema,
    )
    .expect_err("conflict");
    assert_eq!(
        err.to_string(),
        r#"Apply failed with 1 conflict: conflict with "hpa" using apps/v1: .spec.replicas"#
    );
}

/// kubectl 1.32's move from client-side to server-side apply (kubectl-wire.md §1.7): the SSA
/// patch, the `kubectl-last-applied` apply, the json-patch of `managedFields`, and what
/// `kubectl` owns afterwards.
#[test]
fn client_side_to_server_side_migration() {
    let schema = schema();
    let manifest = deployment(1, web("nginx:1.27"));
    let mut object = manifest.clone();
    let mut last = manifest.clone();
    last["metadata"]["annotations"] = json!({});
    object["metadata"]["annotations"] = json!({
        LAST_APPLIED_ANNOTATION: format!("{}\n", serde_json::to_string(&last).unwrap_or_default())
    });
    // What defaulting added at create time is owned by the client-side applier.
    object["spec"]["progressDeadlineSeconds"] = json!(600);
    let live = created_by_csa(&object);
    assert!(
        fields_of(
            &ManagedFields::from_object(&live),
            "kubectl-client-side-apply",
            Update
        )
        .contains(
            r#""f:annotations":{".":{},"f:kubectl.kubernetes.io/last-applied-configuration":{}}"#
        )
    );

    // 1. The SSA patch: no conflict, and the annotation now mirrors what was applied.
    let ssa = apply(
        Some(&live),
        &manifest,
        &ManagedFields::from_object(&live),
        &apps("kubectl", T2),
        false,
        &schema,
    )
    .expect("ssa");
    let annotation = ssa.object["metadata"]["annotations"][LAST_APPLIED_ANNOTATION].clone();
    assert_eq!(
        annotation.as_str().unwrap_or_default(),
        format!("{}\n", crate::go_json::to_string(&manifest))
    );

    // 2. kubectl takes the annotation with a second manager.
    let take = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default",
                     "annotations": {LAST_APPLIED_ANNOTATION: annotation}},
    });
    let taken = apply(
        Some(&ssa.object),
        &take,
        &ssa.managed,
        &apps("kubectl-last-applied", T2),
        false,
        &schema,
    )
    .expect("last-applied");
    let entry = taken
        .managed
        .get("kubectl-last-applied", Apply)
        .expect("entry");
    assert_eq!(entry.api_version, "apps/v1");
    assert_eq!(
        entry.fields.to_json(),
        r#"{"f:metadata":{"f:annotations":{"f:kubectl.kubernetes.io/last-applied-configuration":{}}}}"#
    );
    assert_eq!(content(&taken.object), content(&ssa.object));

    // 3. The client-side applier still owns the annotation, so kubectl rewrites managedFields
    //    with a json-patch (csaupgrade: its fields join kubectl's Apply entry).
    let upgraded = csa_upgrade(&taken.managed);
    let mut patched = taken.object.clone();
    patched["metadata"]["managedFields"] = upgraded.to_value();
    let start = ManagedFields::for_write(Some(&taken.object), &patched, false);
    assert_eq!(start, upgraded);
    let after = update(
        Some(&taken.object),
        &patched,
        &start,
        &apps("kubectl", T3),
        &schema,
    );
    assert_eq!(after, upgraded);
    let live = stored(&taken.object, &after);

    // 4. kubectl now owns what the client-side applier did: dropping it removes it.
    let applied = apply(
        Some(&live),
        &manifest,
        &after,
        &apps("kubectl", T3),
        false,
        &schema,
    )
    .expect("apply after migration");
    assert!(
        applied.object["spec"]
            .get("progressDeadlineSeconds")
            .is_none()
    );
    assert!(
        applied
            .managed
            .get("kubectl-client-side-apply", Update)
            .is_none()
    );
}

/// What kubectl's csaupgrade does to the list: the client-side applier's fields (less the
/// annotation) join `kubectl`'s Apply entry, and its Update entries go.
fn csa_upgrade(managed: &ManagedFields) -> ManagedFields {
    let csa = managed
        .get("kubectl-client-side-apply", Update)
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let annotation = crate::FieldSet::from_json(
        r#"{"f:metadata":{"f:annotations":{"f:kubectl.kubernetes.io/last-applied-configuration":{}}}}"#,
    )
    .unwrap_or_default();
    let entries = managed.entries().iter().filter_map(|entry| {
        let mut entry = entry.clone();
        if entry.manager == "kubectl-client-side-apply" && entry.operation == Update {
            return None;
        }
        if entry.manager == "kubectl" && entry.operation == Apply {
            entry.fields = entry.fields.union(&csa).difference(&annotation);
        }
        Some(entry)
    });
    ManagedFields::from_entries(entries)
}

#[test]
fn bad_configurations_are_refused() {
    let schema = schema();
    let refuse = |config: Value| {
        apply(
            None,
            &config,
            &ManagedFields::new(),
            &apps("kubectl", T1),
            false,
            &schema,
        )
        .expect_err("refused")
        .to_string()
    };
    let mut with_managed = deployment(1, web("x"));
    with_managed["metadata"]["managedFields"] = json!([]);
    assert_eq!(refuse(with_managed), "metadata.managedFields must be nil");
    let mut other_version = deployment(1, web("x"));
    other_version["apiVersion"] = json!("apps/v1beta2");
    assert_eq!(
        refuse(other_version),
        r#"incorrect version specified in apply patch: specified patch version "apps/v1beta2", expected "apps/v1""#
    );
    assert_eq!(
        refuse(deployment(
            1,
            json!([{"name": "web"}, {"name": "web", "image": "x"}])
        )),
        r#"invalid applied configuration at .spec.template.spec.containers: duplicate entries for key [name="web"]"#
    );
    assert_eq!(
        refuse(deployment(1, json!([{"image": "x"}]))),
        "invalid applied configuration at .spec.template.spec.containers: element 0: associative list \
         with keys has an element that omits all key fields [\"name\"] (and doesn't have default \
         values for any key fields)"
    );
    assert_eq!(
        refuse(json!([1])),
        "the applied configuration is not a json object"
    );
}

#[test]
fn key_defaults_match_defaulted_live_elements() {
    let schema = schema();
    let mut live = deployment(
        1,
        json!([{"name": "web", "image": "a",
        "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 53, "protocol": "UDP"}]}]),
    );
    live["metadata"]["uid"] = json!("0b9f");
    let managed = update(
        None,
        &live,
        &ManagedFields::new(),
        &apps("kubectl-create", T1),
        &schema,
    );
    let live = stored(&live, &managed);
    let config = deployment(
        1,
        json!([{"name": "web", "image": "a",
        "ports": [{"containerPort": 80, "name": "http"}]}]),
    );
    let applied = apply(
        Some(&live),
        &config,
        &managed,
        &apps("kubectl", T2),
        false,
        &schema,
    )
    .expect("apply");
    assert_eq!(
        containers(&applied.object)[0]["ports"],
        json!([{"containerPort": 80, "protocol": "TCP", "name": "http"},
               {"containerPort": 53, "protocol": "UDP"}])
    );
}

#[test]
fn custom_resources_without_a_schema_replace_lists_and_own_every_level() {
    let widget = |size: i64, tags: Value| {
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
               "spec": {"size": size, "tags": tags}})
    };
    let request = |manager| Request::new(manager, "example.com/v1", T1);
    let created = apply(
        None,
        &widget(3, json!(["a", "b"])),
        &ManagedFields::new(),
        &request("alice"),
        false,
        &crate::Deduced,
    )
    .expect("create");
    assert_eq!(
        fields_of(&created.managed, "alice", Apply),
        r#"{"f:spec":{".":{},"f:size":{},"f:tags":{}}}"#
    );
    let applied = apply(
        Some(&created.object),
        &widget(3, json!(["c"])),
        &created.managed,
        &request("alice"),
        false,
        &crate::Deduced,
    )
    .expect("update");
    assert_eq!(applied.object["spec"]["tags"], json!(["c"]));
    let err = apply(
        Some(&applied.object),
        &widget(4, json!(["c"])),
        &applied.managed,
        &request("bob"),
        false,
        &crate::Deduced,
    )
    .expect_err("conflict");
    assert!(
        err.to_string()
            .contains(r#"conflict with "alice": .spec.size"#),
        "{err}"
    );
}

#[test]
fn reset_fields_are_neither_owned_nor_compared() {
    let schema = schema();
    let status = crate::FieldSet::from_json(r#"{"f:status":{}}"#).unwrap_or_default();
    let mut config = deployment(1, web("a"));
    config["status"] = json!({"replicas": 5});
    let request = apps("kubectl", T1).with_reset_fields(&status);
    let applied = apply(
        None,
        &config,
        &ManagedFields::new(),
        &request,
        false,
        &schema,
    )
    .expect("apply");
    assert!(!fields_of(&applied.managed, "kubectl", Apply).contains("status"));
}
