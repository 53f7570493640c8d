//! Service accounts as identities: bound tokens issued through the `serviceaccounts/token`
//! subresource ([`request`]), checked when they come back as bearer tokens ([`authn`]), and
//! the ServiceAccount admission step that gives pods their token volume ([`admission`]).
//!
//! Tokens are ES256 JWTs ([`jwt`]) signed with the key closet-pki keeps beside the server's
//! other keys. A token is only as good as the objects it names: the service account, and
//! the pod, secret or node it is bound to, must still exist with the same UID.

pub(crate) mod admission;
pub(crate) mod authn;
pub(crate) mod jwt;
pub(crate) mod request;

use std::sync::Arc;

use closet_pki::ServiceAccountKey;
use serde_json::Value;

use crate::Shared;
use crate::object;

/// The issuer (and default audience) of tokens, as upstream clusters name it.
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// Signs and checks service account tokens.
#[derive(Clone, Debug)]
pub struct TokenAuthority {
    /// The signing key.
    pub key: Arc<ServiceAccountKey>,
    /// The `iss` of every token, e.g. [`DEFAULT_ISSUER`].
    pub issuer: String,
    /// The audiences this server accepts; requests without audiences get these.
    pub audiences: Vec<String>,
}

impl TokenAuthority {
    /// An authority issuing as [`DEFAULT_ISSUER`] and accepting that audience.
    pub fn new(key: ServiceAccountKey) -> Self {
        Self {
            key: Arc::new(key),
            issuer: DEFAULT_ISSUER.to_owned(),
            audiences: vec![DEFAULT_ISSUER.to_owned()],
        }
    }
}

/// The user name of a service account, `system:serviceaccount:<ns>:<name>`.
pub fn user_name(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// The groups of a service account in `namespace` (without `system:authenticated`, which
/// every authenticated user has).
pub fn groups(namespace: &str) -> Vec<String> {
    vec![
        "system:serviceaccounts".to_owned(),
        format!("system:serviceaccounts:{namespace}"),
    ]
}

/// Reads a stored object of the core/v1 `plural` resource, if it exists.
pub(crate) async fn get_core(
    shared: &Shared,
    plural: &str,
    namespace: Option<&str>,
    name: &str,
) -> Result<Option<Value>, crate::error::ApiError> {
    let Some(info) = shared.registry.get("", "v1", plural) else {
        return Ok(None);
    };
    let key = info.key_for(namespace, name);
    match shared.store.get(&key).await {
        Ok(Some(kv)) => object::from_kv(&kv).map(Some),
        Ok(None) => Ok(None),
        Err(err) => Err(crate::error::ApiError::from_store(err, &info, name)),
    }
}

/// The UID of a stored object.
pub(crate) fn uid(obj: &Value) -> &str {
    object::meta_str(obj, "uid").unwrap_or("")
}

/// The current time in seconds since 1970.
pub(crate) fn unix_now() -> i64 {
    jiff::Timestamp::now().as_second()
}
