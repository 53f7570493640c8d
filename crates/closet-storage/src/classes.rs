//! The built-in StorageClasses: `local-path` (the default; volumes are retained after their
//! claim goes) and `local-path-delete` (volumes are deleted with their claim).
//!
//! Both are created when missing at server start and never updated afterwards, so a class a
//! user edited (another default, a different reclaim policy) stays as the user left it.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, ObjectMeta, PostParams};

use crate::{DEFAULT_CLASS, DELETE_CLASS, PROVISIONER, StorageError};

/// The annotation that marks the default class.
pub const DEFAULT_CLASS_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";

/// The class called `name` as closet ships it.
pub fn builtin(name: &str, default: bool, reclaim: &str) -> StorageClass {
    let annotations =
        default.then(|| BTreeMap::from([(DEFAULT_CLASS_ANNOTATION.to_owned(), "true".to_owned())]));
    StorageClass {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            annotations,
            ..Default::default()
        },
        provisioner: PROVISIONER.to_owned(),
        reclaim_policy: Some(reclaim.to_owned()),
        volume_binding_mode: Some("WaitForFirstConsumer".to_owned()),
        allow_volume_expansion: Some(false),
        ..Default::default()
    }
}

/// Creates the built-in classes that do not exist.
pub async fn ensure(client: &kube::Client) -> Result<(), StorageError> {
    let api: Api<StorageClass> = Api::all(client.clone());
    for class in [
        builtin(DEFAULT_CLASS, true, "Retain"),
        builtin(DELETE_CLASS, false, "Delete"),
    ] {
        let name = class.metadata.name.clone().unwrap_or_default();
        let found = api
            .get_opt(&name)
            .await
            .map_err(StorageError::api(format!("reading storageclass {name}")))?;
        if found.is_some() {
            continue;
        }
        match api.create(&PostParams::default(), &class).await {
            Ok(_) => tracing::info!(class = %name, "created storageclass"),
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(err) => {
                return Err(StorageError::api(format!("creating storageclass {name}"))(
                    err,
                ));
            }
        }
    }
    Ok(())
}

/// Ensures the classes, retrying while the API is not yet answering.
pub async fn run(client: kube::Client, shutdown: impl std::future::Future<Output = ()>) {
    let work = async {
        for attempt in 0u32..60 {
            match ensure(&client).await {
                Ok(()) => return,
                Err(err) if attempt % 10 == 0 => {
                    tracing::warn!("storage classes: {}", crate::error_chain(&err));
                }
                Err(_) => {}
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    tokio::select! {
        () = work => {}
        () = shutdown => {}
    }
}
