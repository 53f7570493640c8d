//! The `kubernetes` Service in `default`: how pods reach the API. Its cluster IP is the
//! service CIDR's first address and port 443 (`https`) leads to the server's HTTPS port. It
//! has no selector; its Endpoints and EndpointSlice, both named `kubernetes`, are written
//! here and point at the address other nodes reach this server at. Written at every start
//! and put back by [`maintain`] when someone deletes or edits them.

use std::net::SocketAddr;
use std::time::Duration;

use closet_store::StoreError;
use serde_json::{Value, json};

use crate::Shared;
use crate::object;
use crate::strategy;

/// The Service's name and namespace.
pub const NAME: &str = "kubernetes";
const NAMESPACE: &str = "default";
/// The EndpointSlice's manager, as the label `endpointslice.kubernetes.io/managed-by` says;
/// the endpoints controller leaves slices with another manager alone.
pub const SLICE_MANAGER: &str = "kube-apiserver";
/// How often [`maintain`] looks.
const REPAIR_PERIOD: Duration = Duration::from_secs(10);

/// Creates or repairs the Service, its Endpoints and its EndpointSlice. Failures are logged:
/// the API serves without them, and the next pass retries.
pub(crate) async fn ensure(shared: &Shared) {
    let _allocating = shared.allocations.lock.lock().await;
    if let Err(err) = ensure_service(shared).await {
        tracing::warn!(error = %err, "could not write the kubernetes service");
    }
    let Some(endpoint) = shared.config.kubernetes_endpoint else {
        return;
    };
    for (plural, group, wanted) in [
        ("endpoints", "", endpoints(endpoint)),
        ("endpointslices", "discovery.k8s.io", slice(endpoint)),
    ] {
        if let Err(err) = put(shared, group, plural, wanted).await {
            tracing::warn!(error = %err, "could not write the kubernetes {plural}");
        }
    }
}

/// Runs [`ensure`] every few seconds until `shutdown` resolves. Each pass only reads unless
/// something is missing or changed.
pub async fn maintain(api: crate::ApiServer, shutdown: impl std::future::Future<Output = ()>) {
    let repair = async {
        loop {
            tokio::time::sleep(REPAIR_PERIOD).await;
            ensure(&api.shared).await;
        }
    };
    tokio::select! {
        () = repair => {}
        () = shutdown => {}
    }
}

fn service(shared: &Shared) -> Value {
    let ip = shared.config.service_cidr.kubernetes_ip().to_string();
    let port = shared.config.kubernetes_endpoint.map_or(443, |e| e.port());
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": NAME,
            "namespace": NAMESPACE,
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": ip,
            "clusterIPs": [ip],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
            "sessionAffinity": "None",
            "internalTrafficPolicy": "Cluster",
        },
    })
}

async fn ensure_service(shared: &Shared) -> Result<(), StoreError> {
    let Some(info) = shared.registry.get("", "v1", "services") else {
        return Ok(());
    };
    let key = info.key_for(Some(NAMESPACE), NAME);
    let mut wanted = service(shared);
    let current = shared.store.get(&key).await?;
    if let Some(kv) = &current {
        let stored: Value = serde_json::from_slice(&kv.value).unwrap_or(Value::Null);
        let spec = |v: &Value, f: &str| v.get("spec").and_then(|s| s.get(f)).cloned();
        if spec(&stored, "clusterIP") == spec(&wanted, "clusterIP") {
            if spec(&stored, "ports") == spec(&wanted, "ports") {
                return Ok(());
            }
            let mut next = stored;
            next["spec"]["ports"] = wanted["spec"]["ports"].clone();
            shared
                .store
                .update(&key, object::to_stored(&next), kv.mod_revision)
                .await?;
            return Ok(());
        }
        // The service CIDR changed: cluster IPs are immutable, so the Service is made anew.
        shared.store.delete(&key, Some(kv.mod_revision)).await?;
    }
    strategy::prepare_create(&info, &mut wanted, jiff::Timestamp::now());
    match shared.store.create(&key, object::to_stored(&wanted)).await {
        Ok(_) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
        Err(err) => Err(err),
    }
}

fn endpoints(endpoint: SocketAddr) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": NAME,
            "namespace": NAMESPACE,
            "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
        },
        "subsets": [{
            "addresses": [{"ip": endpoint.ip().to_string()}],
            "ports": [{"name": "https", "port": endpoint.port(), "protocol": "TCP"}],
        }],
    })
}

fn slice(endpoint: SocketAddr) -> Value {
    let family = if endpoint.is_ipv4() { "IPv4" } else { "IPv6" };
    json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": NAME,
            "namespace": NAMESPACE,
            "labels": {
                "kubernetes.io/service-name": NAME,
                "endpointslice.kubernetes.io/managed-by": SLICE_MANAGER,
            },
        },
        "addressType": family,
        "endpoints": [{
            "addresses": [endpoint.ip().to_string()],
            "conditions": {"ready": true, "serving": true, "terminating": false},
        }],
        "ports": [{"name": "https", "port": endpoint.port(), "protocol": "TCP"}],
    })
}

/// Creates `wanted`, or rewrites the stored object's labels and content when they differ.
async fn put(shared: &Shared, group: &str, plural: &str, wanted: Value) -> Result<(), StoreError> {
    let Some(info) = shared.registry.get(group, "v1", plural) else {
        return Ok(());
    };
    let key = info.key_for(Some(NAMESPACE), NAME);
    let content = |v: &Value| {
        let mut m = v.as_object().cloned().unwrap_or_default();
        m.remove("metadata");
        m.remove("apiVersion");
        m.remove("kind");
        (m, object::labels(v))
    };
    match shared.store.get(&key).await? {
        Some(kv) => {
            let stored: Value = serde_json::from_slice(&kv.value).unwrap_or(Value::Null);
            let (have, have_labels) = content(&stored);
            let (want, want_labels) = content(&wanted);
            let labels_ok = want_labels
                .iter()
                .all(|(k, v)| have_labels.get(k) == Some(v));
            if have == want && labels_ok {
                return Ok(());
            }
            let mut next = stored;
            if let Some(map) = next.as_object_mut() {
                for (k, v) in want {
                    map.insert(k, v);
                }
            }
            let labels = object::meta_mut(&mut next)
                .entry("labels")
                .or_insert_with(|| json!({}));
            if let Some(labels) = labels.as_object_mut() {
                labels.extend(want_labels);
            }
            shared
                .store
                .update(&key, object::to_stored(&next), kv.mod_revision)
                .await
                .map(|_| ())
        }
        None => {
            let mut obj = wanted;
            strategy::prepare_create(&info, &mut obj, jiff::Timestamp::now());
            match shared.store.create(&key, object::to_stored(&obj)).await {
                Ok(_) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
                Err(err) => Err(err),
            }
        }
    }
}
