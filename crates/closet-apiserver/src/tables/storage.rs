//! Volumes: persistent volumes and claims (core group) and storage classes
//! (storage.k8s.io).

use jiff::Timestamp;
use serde_json::Value;

use super::format::{age, arr_at, at, deleting, name, obj, opt_bool, opt_str, quantity, str_at};
use super::{AGE, Column, NAME, Printer, col, wide};

/// Volume printers.
#[rustfmt::skip]
pub(super) static PRINTERS: &[Printer] = &[
    Printer::new("", "persistentvolumes", PV, pv_cells),
    Printer::new("", "persistentvolumeclaims", PVC, pvc_cells),
    Printer::new("storage.k8s.io", "storageclasses", STORAGE_CLASS, storage_class_cells),
];

#[rustfmt::skip]
static PV: &[Column] = &[
    NAME,
    col("Capacity", "string", "Storage capacity of the volume."),
    col("Access Modes", "string", "How the volume can be mounted (RWO, ROX, RWX, RWOP)."),
    col("Reclaim Policy", "string", "What happens to the volume when its claim goes away."),
    col("Status", "string", "Phase of the volume."),
    col("Claim", "string", "The claim bound to the volume, as namespace/name."),
    col("StorageClass", "string", "Storage class of the volume."),
    col("VolumeAttributesClass", "string", "Volume attributes class of the volume."),
    col("Reason", "string", "Why the volume is in its phase, if it failed."),
    AGE,
    wide("VolumeMode", "string", "Filesystem or Block."),
];

#[rustfmt::skip]
static PVC: &[Column] = &[
    NAME,
    col("Status", "string", "Phase of the claim."),
    col("Volume", "string", "The volume bound to the claim."),
    col("Capacity", "string", "Capacity of the bound volume."),
    col("Access Modes", "string", "Access modes of the bound volume."),
    col("StorageClass", "string", "Storage class the claim asks for."),
    col("VolumeAttributesClass", "string", "Volume attributes class the claim asks for."),
    AGE,
    wide("VolumeMode", "string", "Filesystem or Block."),
];

#[rustfmt::skip]
static STORAGE_CLASS: &[Column] = &[
    NAME,
    col("Provisioner", "string", "Driver that provisions volumes of this class."),
    col("ReclaimPolicy", "string", "Reclaim policy given to provisioned volumes."),
    col("VolumeBindingMode", "string", "When volumes are bound and provisioned."),
    col("AllowVolumeExpansion", "string", "Whether claims of this class may grow."),
    AGE,
];

/// The annotation that predates `storageClassName` and still wins over it upstream.
const BETA_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

/// The class of a volume or claim: the beta annotation first, then the spec field.
fn class(o: &Value) -> &str {
    opt_str(o, &["metadata", "annotations", BETA_CLASS])
        .unwrap_or_else(|| str_at(o, &["spec", "storageClassName"]))
}

fn pv_cells(pv: &Value, now: Timestamp) -> Vec<Value> {
    let claim = match obj(pv, &["spec", "claimRef"]) {
        Some(_) => format!(
            "{}/{}",
            str_at(pv, &["spec", "claimRef", "namespace"]),
            str_at(pv, &["spec", "claimRef", "name"])
        ),
        None => String::new(),
    };
    let phase = if deleting(pv) {
        "Terminating"
    } else {
        str_at(pv, &["status", "phase"])
    };
    vec![
        name(pv),
        Value::from(quantity(at(pv, &["spec", "capacity", "storage"]))),
        Value::from(access_modes(arr_at(pv, &["spec", "accessModes"]))),
        Value::from(str_at(pv, &["spec", "persistentVolumeReclaimPolicy"])),
        Value::from(phase),
        Value::from(claim),
        Value::from(class(pv)),
        Value::from(unset(opt_str(pv, &["spec", "volumeAttributesClassName"]))),
        Value::from(str_at(pv, &["status", "reason"])),
        age(pv, now),
        Value::from(unset(opt_str(pv, &["spec", "volumeMode"]))),
    ]
}

fn pvc_cells(pvc: &Value, now: Timestamp) -> Vec<Value> {
    let phase = if deleting(pvc) {
        "Terminating"
    } else {
        str_at(pvc, &["status", "phase"])
    };
    let volume = str_at(pvc, &["spec", "volumeName"]);
    // Capacity and modes describe the bound volume, so they stay blank until binding.
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity(at(pvc, &["status", "capacity", "storage"])),
            access_modes(arr_at(pvc, &["status", "accessModes"])),
        )
    };
    vec![
        name(pvc),
        Value::from(phase),
        Value::from(volume),
        Value::from(capacity),
        Value::from(modes),
        Value::from(class(pvc)),
        Value::from(unset(opt_str(pvc, &["spec", "volumeAttributesClassName"]))),
        age(pvc, now),
        Value::from(unset(opt_str(pvc, &["spec", "volumeMode"]))),
    ]
}

/// Access modes in upstream's fixed order and short names, duplicates dropped.
fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(long, _)| has(long))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// `<unset>` for an absent optional field.
fn unset(v: Option<&str>) -> String {
    v.unwrap_or("<unset>").to_string()
}

fn storage_class_cells(sc: &Value, now: Timestamp) -> Vec<Value> {
    let is_default = |key: &str| str_at(sc, &["metadata", "annotations", key]) == "true";
    let mut shown = str_at(sc, &["metadata", "name"]).to_string();
    if is_default("storageclass.kubernetes.io/is-default-class")
        || is_default("storageclass.beta.kubernetes.io/is-default-class")
    {
        shown.push_str(" (default)");
    }
    // Unset policies print the API defaults.
    vec![
        Value::from(shown),
        Value::from(str_at(sc, &["provisioner"])),
        Value::from(opt_str(sc, &["reclaimPolicy"]).unwrap_or("Delete")),
        Value::from(opt_str(sc, &["volumeBindingMode"]).unwrap_or("Immediate")),
        Value::from(opt_bool(sc, &["allowVolumeExpansion"]).unwrap_or(false)),
        age(sc, now),
    ]
}

#[cfg(test)]
pub(super) use tests::samples;
#[cfg(test)]
mod tests {
    use super::super::{cells, test_now};
    use serde_json::{Value, json};

    /// Samples for the module-wide robustness tests.
    pub(in super::super) fn samples() -> Vec<(&'static str, &'static str, Value)> {
        vec![
            ("", "persistentvolumes", pv()),
            ("", "persistentvolumeclaims", pvc()),
            ("storage.k8s.io", "storageclasses", storage_class()),
        ]
    }

    fn pv() -> Value {
        json!({
            "metadata": {"name": "pv-data", "creationTimestamp": "2024-04-01T12:00:00Z"},
            "spec": {"capacity": {"storage": "10Gi"},
                     "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"],
                     "persistentVolumeReclaimPolicy": "Retain",
                     "storageClassName": "local-path", "volumeMode": "Filesystem",
                     "claimRef": {"namespace": "media", "name": "library"}},
            "status": {"phase": "Bound"}
        })
    }

    fn pvc() -> Value {
        json!({
            "metadata": {"name": "library", "namespace": "media",
                         "creationTimestamp": "2024-04-30T12:00:00Z"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local-path",
                     "resources": {"requests": {"storage": "5Gi"}}, "volumeName": "pv-data"},
            "status": {"phase": "Bound", "capacity": {"storage": "10Gi"},
                       "accessModes": ["ReadWriteOnce", "ReadWriteMany"]}
        })
    }

    fn storage_class() -> Value {
        json!({
            "metadata": {"name": "local-path", "creationTimestamp": "2024-05-01T11:00:00Z",
                         "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "closet.dev/local-path",
            "volumeBindingMode": "WaitForFirstConsumer"
        })
    }

    #[test]
    fn persistent_volume_row() {
        let r = cells("", "persistentvolumes", &pv(), test_now());
        let want = [
            "pv-data",
            "10Gi",
            "RWO,RWX",
            "Retain",
            "Bound",
            "media/library",
            "local-path",
            "<unset>",
            "",
            "30d",
            "Filesystem",
        ];
        assert_eq!(r, want.map(Value::from));
        let mut gone = pv();
        gone["metadata"]["deletionTimestamp"] = json!("2024-05-01T11:00:00Z");
        gone["metadata"]["annotations"] = json!({"volume.beta.kubernetes.io/storage-class": "old"});
        let r = cells("", "persistentvolumes", &gone, test_now());
        assert_eq!((&r[4], &r[6]), (&json!("Terminating"), &json!("old")));
    }

    #[test]
    fn claim_rows_bound_and_pending() {
        let r = cells("", "persistentvolumeclaims", &pvc(), test_now());
        let want = [
            "Bound",
            "pv-data",
            "10Gi",
            "RWO,RWX",
            "local-path",
            "<unset>",
            "24h",
        ];
        assert_eq!(r[1..8], want.map(Value::from));
        let pending = json!({"metadata": {"name": "x"}, "spec": {"storageClassName": "fast"},
                             "status": {"phase": "Pending"}});
        let r = cells("", "persistentvolumeclaims", &pending, test_now());
        assert_eq!(r[1..6], ["Pending", "", "", "", "fast"].map(Value::from));
    }

    #[test]
    fn storage_class_marks_the_default() {
        let r = cells(
            "storage.k8s.io",
            "storageclasses",
            &storage_class(),
            test_now(),
        );
        let want = [
            json!("local-path (default)"),
            json!("closet.dev/local-path"),
            json!("Delete"),
            json!("WaitForFirstConsumer"),
            json!(false),
            json!("60m"),
        ];
        assert_eq!(r, want);
    }
}
