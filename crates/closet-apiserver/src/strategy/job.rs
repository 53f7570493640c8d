//! A Job's generated selector: unless `spec.manualSelector` is true, the server labels the
//! pod template with the Job's UID and name and selects on the UID, as upstream's job
//! strategy does, so Jobs never adopt each other's pods.

use serde_json::{Map, Value, json};

use crate::object::meta;

/// The label carrying the Job's UID.
pub(super) const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
/// The label carrying the Job's name.
pub(super) const JOB_NAME: &str = "batch.kubernetes.io/job-name";

/// Sets the selector and template labels of a new Job (after its UID is assigned).
pub(super) fn generate_selector(obj: &mut Value) {
    let manual = obj
        .get("spec")
        .and_then(|s| s.get("manualSelector"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if manual {
        return;
    }
    let Some(m) = meta(obj) else { return };
    let uid = m
        .get("uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let name = m
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let template = object_at(spec, "template");
    let labels = object_at(object_at(template, "metadata"), "labels");
    // The legacy keys are kept beside the prefixed ones, as upstream still writes both.
    labels.insert(CONTROLLER_UID.into(), json!(uid));
    labels.insert(JOB_NAME.into(), json!(name));
    labels.insert("controller-uid".into(), json!(uid));
    labels.insert("job-name".into(), json!(name));
    spec.insert(
        "selector".into(),
        json!({"matchLabels": {CONTROLLER_UID: uid}}),
    );
}

fn object_at<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let entry = map.entry(key).or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    match entry {
        Value::Object(inner) => inner,
        _ => unreachable!("made an object above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_unless_manual() {
        let mut job = json!({"metadata": {"name": "pi", "uid": "u1"}, "spec": {"template": {"metadata": {"labels": {"app": "x"}}, "spec": {}}}});
        generate_selector(&mut job);
        assert_eq!(
            job["spec"]["selector"],
            json!({"matchLabels": {CONTROLLER_UID: "u1"}})
        );
        let labels = &job["spec"]["template"]["metadata"]["labels"];
        assert_eq!(labels["app"], "x");
        assert_eq!(labels[JOB_NAME], "pi");
        assert_eq!(labels["controller-uid"], "u1");
        assert_eq!(labels["job-name"], "pi");

        let mut manual = json!({"metadata": {"name": "m", "uid": "u2"}, "spec": {"manualSelector": true, "selector": {"matchLabels": {"a": "b"}}, "template": {}}});
        let before = manual.clone();
        generate_selector(&mut manual);
        assert_eq!(manual, before);
    }
}
