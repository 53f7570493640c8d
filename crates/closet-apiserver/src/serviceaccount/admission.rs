//! The ServiceAccount admission step for new pods, as upstream's plugin does it: the pod
//! runs as `default` unless it names an account; the account must exist; and unless the pod
//! or the account turns automounting off (or the server issues no tokens), every container and init container gets the
//! projected `kube-api-access-<random>` volume (token, cluster CA, namespace) at
//! [`MOUNT_PATH`], read-only.

use serde_json::{Map, Value, json};

use super::get_core;
use crate::Shared;
use crate::error::{ApiError, ApiResult};

/// Where the token volume is mounted in containers.
pub(crate) const MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The prefix of the token volume's name.
pub(crate) const VOLUME_PREFIX: &str = "kube-api-access-";
/// The token lifetime the volume asks for (upstream's 1 h plus 7 s, which marks
/// admission-made volumes).
pub(crate) const TOKEN_EXPIRATION_SECONDS: i64 = 3607;
/// The ConfigMap with the cluster CA that every namespace has.
pub(crate) const ROOT_CA_CONFIGMAP: &str = "kube-root-ca.crt";
/// Characters of generated name suffixes (upstream's, without vowels and look-alikes).
const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Admits a pod about to be created in `namespace`.
pub(crate) async fn admit_pod(shared: &Shared, namespace: &str, pod: &mut Value) -> ApiResult<()> {
    // Mirror pods come from a node's static manifests and carry no API identity.
    if pod
        .pointer("/metadata/annotations/kubernetes.io~1config.mirror")
        .is_some()
    {
        return Ok(());
    }
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    let named = ["serviceAccountName", "serviceAccount"]
        .iter()
        .find_map(|f| {
            spec.get(*f)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        })
        .unwrap_or("default")
        .to_owned();
    spec.insert("serviceAccountName".into(), json!(named));
    let account = get_core(shared, "serviceaccounts", Some(namespace), &named).await?;
    // The controller creates `default` moments after its namespace; a pod created in that
    // gap (`kubectl create ns x && kubectl run -n x ...`) is admitted anyway, and its node
    // keeps asking for the token until the account exists. Other accounts must exist.
    let account = match account {
        None if named == "default" => Some(json!({})),
        found => found,
    };
    let account = account.ok_or_else(|| {
            ApiError::from(closet_types::Status::new(
                "Failure",
                403,
                "Forbidden",
                format!(
                    "pods is forbidden: error looking up service account {namespace}/{named}: serviceaccount \"{named}\" not found"
                ),
            ))
        })?;
    let automount = spec
        .get("automountServiceAccountToken")
        .and_then(Value::as_bool)
        .or_else(|| {
            account
                .get("automountServiceAccountToken")
                .and_then(Value::as_bool)
        })
        .unwrap_or(true);
    // Without a signing key no token could fill the volume; such a server (a test, or one
    // built without service account support) leaves pods as they are.
    if automount && shared.tokens.get().is_some() {
        mount_token(spec, rand::random::<u64>);
    }
    Ok(())
}

/// Adds the token volume and its mounts to `spec` (upstream's `mountServiceAccountToken`).
/// Containers that already mount something at [`MOUNT_PATH`] are left alone; an existing
/// `kube-api-access-` volume is reused.
pub(crate) fn mount_token(spec: &mut Map<String, Value>, mut random: impl FnMut() -> u64) {
    let existing = spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.get("name").and_then(Value::as_str))
        .find(|n| n.starts_with(VOLUME_PREFIX))
        .map(str::to_owned);
    let volume_name = existing.clone().unwrap_or_else(|| {
        let suffix: String = (0..5)
            .map(|_| {
                let i = usize::try_from(random() % SUFFIX_ALPHABET.len() as u64).unwrap_or(0);
                char::from(SUFFIX_ALPHABET[i])
            })
            .collect();
        format!("{VOLUME_PREFIX}{suffix}")
    });
    let mount = json!({"name": volume_name, "readOnly": true, "mountPath": MOUNT_PATH});
    let mut needed = false;
    for list in ["initContainers", "containers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for container in containers.iter_mut().filter_map(Value::as_object_mut) {
            let mounts = container.entry("volumeMounts").or_insert_with(|| json!([]));
            let Some(mounts) = mounts.as_array_mut() else {
                continue;
            };
            let taken = mounts
                .iter()
                .any(|m| m.get("mountPath").and_then(Value::as_str) == Some(MOUNT_PATH));
            if !taken {
                mounts.push(mount.clone());
                needed = true;
            }
        }
    }
    if needed && existing.is_none() {
        let volumes = spec.entry("volumes").or_insert_with(|| json!([]));
        if let Some(volumes) = volumes.as_array_mut() {
            volumes.push(token_volume(&volume_name));
        }
    }
}

/// The projected volume upstream's admission adds.
fn token_volume(name: &str) -> Value {
    json!({
        "name": name,
        "projected": {
            "defaultMode": 0o644,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS, "path": "token"}},
                {"configMap": {"name": ROOT_CA_CONFIGMAP, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ],
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn every_container_gets_the_volume_read_only() {
        let mut s = spec(json!({
            "initContainers": [{"name": "init", "image": "x"}],
            "containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "x"}],
        }));
        mount_token(&mut s, || 0);
        let volume = &s["volumes"][0];
        assert_eq!(volume["name"], "kube-api-access-bbbbb");
        let sources = &volume["projected"]["sources"];
        assert_eq!(sources[0]["serviceAccountToken"]["expirationSeconds"], 3607);
        assert_eq!(sources[1]["configMap"]["name"], "kube-root-ca.crt");
        assert_eq!(sources[2]["downwardAPI"]["items"][0]["path"], "namespace");
        for (list, i) in [("initContainers", 0), ("containers", 0), ("containers", 1)] {
            let m = &s[list][i]["volumeMounts"][0];
            assert_eq!(m["mountPath"], MOUNT_PATH);
            assert_eq!(m["readOnly"], true);
            assert_eq!(m["name"], "kube-api-access-bbbbb");
        }
    }

    #[test]
    fn a_container_with_its_own_mount_there_is_left_alone() {
        let mut s = spec(json!({
            "containers": [{"name": "a", "volumeMounts": [{"name": "mine", "mountPath": MOUNT_PATH}]}],
            "volumes": [{"name": "mine", "emptyDir": {}}],
        }));
        mount_token(&mut s, || 3);
        assert_eq!(s["volumes"].as_array().unwrap().len(), 1);
        assert_eq!(
            s["containers"][0]["volumeMounts"].as_array().unwrap().len(),
            1
        );
    }

    #[test]
    fn an_existing_token_volume_is_reused() {
        let mut s = spec(json!({
            "containers": [{"name": "a"}],
            "volumes": [{"name": "kube-api-access-abcde", "projected": {"sources": []}}],
        }));
        mount_token(&mut s, || 1);
        assert_eq!(s["volumes"].as_array().unwrap().len(), 1);
        assert_eq!(
            s["containers"][0]["volumeMounts"][0]["name"],
            "kube-api-access-abcde"
        );
    }
}
