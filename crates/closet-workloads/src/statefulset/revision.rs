//! ControllerRevisions: every distinct pod template a StatefulSet has had is stored as a
//! ControllerRevision `<set>-<hash>` whose `data` is the template as a strategic merge
//! patch of the set (`{"spec": {"template": {..., "$patch": "replace"}}}`), as upstream.
//! Pods carry the revision name in `controller-revision-hash`.

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::ObjectMeta;
use serde_json::{Value, json};

use super::identity::owner_reference;

/// The pod label naming the revision the pod was made from.
pub const REVISION_LABEL: &str = "controller-revision-hash";

/// The characters upstream uses for names made from hashes (no vowels, no look-alikes).
const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The revision data for the set's current template.
pub fn patch_of(set: &StatefulSet) -> Value {
    let template = set
        .spec
        .as_ref()
        .map(|s| serde_json::to_value(&s.template).unwrap_or(Value::Null))
        .unwrap_or(Value::Null);
    let mut template = template;
    if let Some(map) = template.as_object_mut() {
        map.insert("$patch".into(), json!("replace"));
    }
    json!({"spec": {"template": template}})
}

/// The pod template a revision records.
pub fn template_of(revision: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut template = revision
        .data
        .as_ref()?
        .0
        .get("spec")?
        .get("template")?
        .clone();
    if let Some(map) = template.as_object_mut() {
        map.remove("$patch");
    }
    serde_json::from_value(template).ok()
}

/// FNV-1a (32 bits) of the data and the collision count, in upstream's safe alphabet.
pub fn hash(data: &Value, collision_count: i32) -> String {
    let mut h: u32 = 0x811c_9dc5;
    let bytes = serde_json::to_vec(data).unwrap_or_default();
    let extra = collision_count.to_le_bytes();
    let tail: &[u8] = if collision_count > 0 { &extra } else { &[] };
    for b in bytes.iter().chain(tail) {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    // Encode the decimal digits of the hash, one letter per digit, as upstream's
    // rand.SafeEncodeString does with the formatted number.
    h.to_string()
        .bytes()
        .map(|d| char::from(ALPHABET[usize::from(d - b'0') % ALPHABET.len()]))
        .collect()
}

/// A new revision `number` of `set` holding `data`.
pub fn new_revision(
    set: &StatefulSet,
    data: Value,
    name: String,
    number: i64,
) -> ControllerRevision {
    let labels = set
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.clone());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: set.metadata.namespace.clone(),
            labels,
            owner_references: Some(vec![owner_reference(set)]),
            ..Default::default()
        },
        data: Some(RawExtension(data)),
        revision: number,
    }
}

/// Whether `revision` is owned by `set`.
pub fn owned_by(revision: &ControllerRevision, set: &StatefulSet) -> bool {
    revision
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true) && Some(&o.uid) == set.metadata.uid.as_ref())
}

/// The revisions to delete to keep `limit` beyond those in use, oldest first.
pub fn excess<'a>(
    revisions: &'a [ControllerRevision],
    in_use: &[&str],
    limit: usize,
) -> Vec<&'a ControllerRevision> {
    let mut unused: Vec<&ControllerRevision> = revisions
        .iter()
        .filter(|r| !in_use.contains(&r.metadata.name.as_deref().unwrap_or_default()))
        .collect();
    unused.sort_by_key(|r| r.revision);
    let over = unused.len().saturating_sub(limit);
    unused.into_iter().take(over).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(image: &str) -> StatefulSet {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "n", "uid": "u"},
            "spec": {"serviceName": "web", "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}},
        }))
        .unwrap()
    }

    #[test]
    fn hashes_follow_the_template_and_the_collision_count() {
        let a = patch_of(&set("a"));
        assert_eq!(hash(&a, 0), hash(&patch_of(&set("a")), 0));
        assert_ne!(hash(&a, 0), hash(&patch_of(&set("b")), 0));
        assert_ne!(hash(&a, 0), hash(&a, 1));
        assert!(hash(&a, 0).bytes().all(|c| ALPHABET.contains(&c)));
    }

    #[test]
    fn a_revision_gives_back_its_template() {
        let s = set("a");
        let rev = new_revision(&s, patch_of(&s), "web-x".into(), 1);
        assert_eq!(
            rev.data.as_ref().unwrap().0["spec"]["template"]["$patch"],
            "replace"
        );
        assert_eq!(template_of(&rev).unwrap(), s.spec.unwrap().template);
        assert!(owned_by(&rev, &set("a")));
    }

    #[test]
    fn history_beyond_the_limit_goes_oldest_first_sparing_those_in_use() {
        let rev = |name: &str, n| ControllerRevision {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            data: None,
            revision: n,
        };
        let all = [rev("a", 1), rev("b", 2), rev("c", 3), rev("d", 4)];
        let names: Vec<_> = excess(&all, &["a", "d"], 1)
            .iter()
            .map(|r| r.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(names, ["b"]);
    }
}
