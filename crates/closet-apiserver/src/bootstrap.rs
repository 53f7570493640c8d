//! What every cluster has from its first start: the system namespaces and a `default`
//! ServiceAccount in each namespace the server creates.

use serde_json::json;

use crate::Shared;
use crate::object;
use crate::strategy;

/// Namespaces created at every start if missing.
pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Creates the system namespaces and their default ServiceAccounts if missing.
pub(crate) async fn run(shared: &Shared) -> Result<(), closet_store::StoreError> {
    let Some(namespaces) = shared.registry.get("", "v1", "namespaces") else {
        return Ok(());
    };
    for ns in SYSTEM_NAMESPACES {
        let key = namespaces.key_for(None, ns);
        if shared.store.get(&key).await?.is_none() {
            let mut obj = json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
            });
            strategy::prepare_create(&namespaces, &mut obj, jiff::Timestamp::now());
            match shared.store.create(&key, object::to_stored(&obj)).await {
                Ok(_) | Err(closet_store::StoreError::AlreadyExists { .. }) => {}
                Err(err) => return Err(err),
            }
        }
        ensure_default_service_account(shared, ns).await;
    }
    Ok(())
}

/// Creates the `default` ServiceAccount in `namespace` unless it exists. Failures are
/// logged, not returned: the namespace itself was created, and the next start retries.
pub(crate) async fn ensure_default_service_account(shared: &Shared, namespace: &str) {
    let Some(accounts) = shared.registry.get("", "v1", "serviceaccounts") else {
        return;
    };
    let key = accounts.key_for(Some(namespace), "default");
    match shared.store.get(&key).await {
        Ok(Some(_)) => return,
        Ok(None) => {}
        Err(err) => {
            tracing::warn!(namespace, error = %err, "could not read the default service account");
            return;
        }
    }
    let mut obj = json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": namespace},
    });
    strategy::prepare_create(&accounts, &mut obj, jiff::Timestamp::now());
    match shared.store.create(&key, object::to_stored(&obj)).await {
        Ok(_) | Err(closet_store::StoreError::AlreadyExists { .. }) => {}
        Err(err) => {
            tracing::warn!(namespace, error = %err, "could not create the default service account")
        }
    }
}
