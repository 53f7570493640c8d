//! Every patch engine on an arbitrary document and patch: RFC 6902 JSON patch and RFC 7386
//! merge patch through the `json-patch` crate, as the apiserver applies them, and the
//! strategic merge patch of `closet_patch` with [`closet_patch::NoMeta`] (custom resources)
//! and with a metadata that makes lists merge by key, as sets and with `retainKeys`, so that
//! every directive is reachable.
//!
//! JSON patches go one operation at a time, each checked first for depth and growth, the
//! way `closet-apiserver`'s `handlers/patch.rs` does it (that function is private, so the
//! checks are mirrored here): `json_patch::patch` on a whole multi-operation patch panics
//! when it undoes a failed patch whose earlier `move` went from a child to its parent
//! (json-patch 4.2, `lib.rs:464`), and unchecked `copy` operations double a document per
//! operation.
//!
//! Input: `document NUL patch`, both JSON. Without a NUL the whole input is the patch and the
//! document is a small Deployment, so patch bodies from `tests/e2e/corpus` work as seeds
//! (`python3 tests/e2e/corpus/generate.py --fuzz-seeds fuzz/corpus` writes them).

#![no_main]

use closet_apiserver::codec::MAX_BODY_BYTES;
use closet_apiserver::object::{MAX_DEPTH, depth_and_size};
use closet_patch::{ListStrategy, NoMeta, PatchMeta};
use json_patch::PatchOperation;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const DEPLOYMENT: &str = r#"{"apiVersion":"apps/v1","kind":"Deployment",
"metadata":{"name":"web","labels":{"app":"web"},"finalizers":["a","b"]},
"spec":{"replicas":1,"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}},
"template":{"spec":{"containers":[{"name":"c","image":"i","env":[{"name":"A","value":"1"}]}],
"volumes":[{"name":"v","emptyDir":{}}]}}}}"#;

/// Lists named `*s` merge by `name` (`containers`, `env`, `volumes`), `finalizers` is a
/// set, and `strategy` and `volumes` retain keys: enough to reach every list path.
struct ByName;

impl PatchMeta for ByName {
    fn list_strategy(&self, field: &str) -> ListStrategy {
        match field {
            "finalizers" | "args" => ListStrategy::MergePrimitives,
            f if f.ends_with('s') => ListStrategy::MergeByKey("name".into()),
            _ => ListStrategy::Replace,
        }
    }

    fn retain_keys(&self, field: &str) -> bool {
        matches!(field, "strategy" | "volumes")
    }

    fn child(&self, _field: &str) -> Box<dyn PatchMeta + '_> {
        Box::new(ByName)
    }
}

/// Applies `ops` as the apiserver does: one at a time, refusing a move into the value's own
/// child and any operation that would nest deeper than [`MAX_DEPTH`] or grow the document
/// past [`MAX_BODY_BYTES`]. Returns whether every operation applied.
fn apply_json_patch(doc: &mut Value, ops: &json_patch::Patch) -> bool {
    let (_, mut size) = depth_and_size(doc, MAX_DEPTH, MAX_BODY_BYTES);
    for op in &ops.0 {
        let (path, inserted, grows) = match op {
            PatchOperation::Add(a) => (a.path.to_string(), Some(&a.value), true),
            PatchOperation::Replace(r) => (r.path.to_string(), Some(&r.value), true),
            PatchOperation::Copy(c) => (c.path.to_string(), doc.pointer(&c.from.to_string()), true),
            PatchOperation::Move(m) => {
                let (from, path) = (m.from.to_string(), m.path.to_string());
                if path.starts_with(&format!("{from}/")) {
                    return false;
                }
                (path, doc.pointer(&from), false)
            }
            _ => (String::new(), None, false),
        };
        if let Some(value) = inserted {
            let (depth, added) = depth_and_size(value, MAX_DEPTH, MAX_BODY_BYTES);
            if depth + path.matches('/').count() > MAX_DEPTH {
                return false;
            }
            if grows {
                size += added;
            }
            if size > MAX_BODY_BYTES {
                return false;
            }
        }
        if json_patch::patch(doc, std::slice::from_ref(op)).is_err() {
            return false;
        }
    }
    true
}

fn size(v: &Value) -> usize {
    serde_json::to_vec(v).map_or(0, |b| b.len())
}

fn strategic(doc: &Value, patch: &Value, meta: &dyn PatchMeta) {
    if let Ok(merged) = closet_patch::apply_strategic(doc, patch, meta) {
        // The crate promises the result holds only values from its inputs.
        assert!(
            size(&merged) <= size(doc) + size(patch),
            "strategic merge grew past its inputs"
        );
        let _ = closet_patch::create_two_way_patch(doc, &merged, meta);
    }
    let _ = closet_patch::create_two_way_patch(doc, patch, meta);
    let _ = closet_patch::create_three_way_patch(Some(doc), patch, doc, meta);
    let _ = closet_patch::create_three_way_patch(None, doc, patch, meta);
}

fuzz_target!(|data: &[u8]| {
    let (doc_bytes, patch_bytes) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (DEPLOYMENT.as_bytes(), data),
    };
    let (Ok(doc), Ok(patch)) = (
        serde_json::from_slice::<Value>(doc_bytes),
        serde_json::from_slice::<Value>(patch_bytes),
    ) else {
        return;
    };

    if let Ok(ops) = serde_json::from_value::<json_patch::Patch>(patch.clone()) {
        let mut patched = doc.clone();
        let (before, _) = depth_and_size(&doc, MAX_DEPTH + 1, usize::MAX);
        if apply_json_patch(&mut patched, &ops) && before <= MAX_DEPTH {
            // The checks must hold what they promise: nothing deeper than the limit.
            let (depth, _) = depth_and_size(&patched, MAX_DEPTH + 1, usize::MAX);
            assert!(depth <= MAX_DEPTH, "a checked JSON patch nested {depth} deep");
            let _ = serde_json::to_vec(&patched);
        }
    }

    let mut merged = doc.clone();
    json_patch::merge(&mut merged, &patch);

    strategic(&doc, &patch, &NoMeta);
    strategic(&doc, &patch, &ByName);
});
