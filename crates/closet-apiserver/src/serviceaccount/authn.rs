//! Bearer service account tokens on incoming requests: signature, validity window and
//! audience ([`super::jwt::verify`]), then the objects the token names, read from the store,
//! so deleting a service account or the pod a token is bound to revokes the token.

use serde_json::Value;

use super::jwt::{self, Claims, LEEWAY_SECONDS, ObjectRef};
use super::{TokenAuthority, get_core, uid, unix_now};
use crate::Shared;
use crate::auth::User;

/// Why a well-signed token no longer names a live identity.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TokenError {
    /// The JWT itself did not verify.
    #[error(transparent)]
    Jwt(#[from] jwt::JwtError),
    /// An object the token names is gone, recreated (another UID) or past its deletion.
    #[error("{what} {name:?} referenced by the token has been deleted or replaced")]
    Invalidated {
        /// `service account`, `pod`, `secret` or `node`.
        what: &'static str,
        /// Its name.
        name: String,
    },
    /// The store could not be read.
    #[error("the objects the token names could not be read")]
    Lookup,
    /// The server has no key to check tokens with.
    #[error("this server accepts no service account tokens")]
    NoAuthority,
}

/// The user a bearer `token` authenticates as, with the audiences it was checked against
/// (`audiences`, or the server's own).
pub(crate) async fn authenticate(
    shared: &Shared,
    token: &str,
    audiences: Option<&[String]>,
) -> Result<User, TokenError> {
    let authority: &TokenAuthority = shared.tokens.get().ok_or(TokenError::NoAuthority)?;
    let now = unix_now();
    let audiences = audiences.unwrap_or(&authority.audiences);
    let claims = jwt::verify(token, &authority.key, &authority.issuer, audiences, now)?;
    check_objects(shared, &claims, now).await?;
    let k = &claims.kubernetes;
    Ok(User {
        name: super::user_name(&k.namespace, &k.serviceaccount.name),
        groups: super::groups(&k.namespace),
    })
}

async fn check_objects(shared: &Shared, claims: &Claims, now: i64) -> Result<(), TokenError> {
    let k = &claims.kubernetes;
    let ns = Some(k.namespace.as_str());
    live(
        shared,
        "serviceaccounts",
        "service account",
        ns,
        &k.serviceaccount,
        now,
    )
    .await?;
    if let Some(pod) = &k.pod {
        live(shared, "pods", "pod", ns, pod, now).await?;
    }
    if let Some(secret) = &k.secret {
        live(shared, "secrets", "secret", ns, secret, now).await?;
    }
    // A pod's node is informational (the pod check already covers the binding); a token
    // bound to the node itself needs the node.
    if k.pod.is_none()
        && let Some(node) = &k.node
    {
        live(shared, "nodes", "node", None, node, now).await?;
    }
    Ok(())
}

/// Checks that the object exists with the token's UID and is not past its deletion time
/// (plus the clock-skew leeway), as upstream's validator does.
async fn live(
    shared: &Shared,
    plural: &str,
    what: &'static str,
    namespace: Option<&str>,
    reference: &ObjectRef,
    now: i64,
) -> Result<(), TokenError> {
    let invalidated = || TokenError::Invalidated {
        what,
        name: reference.name.clone(),
    };
    let obj = get_core(shared, plural, namespace, &reference.name)
        .await
        .map_err(|_| TokenError::Lookup)?
        .ok_or_else(invalidated)?;
    if uid(&obj) != reference.uid {
        return Err(invalidated());
    }
    if deleted_before(&obj, now - LEEWAY_SECONDS) {
        return Err(invalidated());
    }
    Ok(())
}

/// Whether `metadata.deletionTimestamp` is set and earlier than `cutoff`.
fn deleted_before(obj: &Value, cutoff: i64) -> bool {
    obj.pointer("/metadata/deletionTimestamp")
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .is_some_and(|t| t.as_second() < cutoff)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn deletion_counts_only_once_the_grace_has_passed() {
        let obj = json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:30Z"}});
        let at = "2026-01-01T00:00:30Z"
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_second();
        assert!(!deleted_before(&obj, at));
        assert!(deleted_before(&obj, at + 1));
        assert!(!deleted_before(&json!({"metadata": {}}), at + 1000));
    }
}
