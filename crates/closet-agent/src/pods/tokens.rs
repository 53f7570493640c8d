//! Service account tokens for pods' projected volumes, requested from the API through the
//! `serviceaccounts/token` subresource, bound to the pod, and cached per pod. As the kubelet
//! does, a token is requested again once 80% of its lifetime has passed (or it is a day
//! old); volume refreshes then write the new one into the volume.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use closet_podspec::volumes::TokenKey;
use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::api::{Api, PostParams};

/// Tokens older than this are renewed whatever their lifetime (the kubelet's rule).
const MAX_AGE_SECONDS: i64 = 24 * 60 * 60;

/// One issued token.
#[derive(Clone, Debug)]
struct Cached {
    token: String,
    issued_at: i64,
    expires_at: i64,
}

impl Cached {
    /// Whether the token should be requested again at `now`.
    fn needs_refresh(&self, now: i64) -> bool {
        let lifetime = self.expires_at - self.issued_at;
        now >= self.issued_at + lifetime * 8 / 10 || now - self.issued_at >= MAX_AGE_SECONDS
    }
}

/// The tokens of every pod on the node, by pod UID.
#[derive(Debug, Default)]
pub struct TokenCache {
    pods: Mutex<HashMap<String, BTreeMap<TokenKey, Cached>>>,
}

impl TokenCache {
    /// Forgets a pod's tokens (the pod is gone).
    pub fn forget(&self, uid: &str) {
        if let Ok(mut pods) = self.pods.lock() {
            pods.remove(uid);
        }
    }

    fn get(&self, uid: &str, key: &TokenKey) -> Option<Cached> {
        self.pods.lock().ok()?.get(uid)?.get(key).cloned()
    }

    fn put(&self, uid: &str, key: TokenKey, cached: Cached) {
        if let Ok(mut pods) = self.pods.lock() {
            pods.entry(uid.to_owned()).or_default().insert(key, cached);
        }
    }
}

/// A token could not be requested.
#[derive(Debug, thiserror::Error)]
#[error("requesting a token for service account {namespace}/{account}")]
pub struct TokenError {
    namespace: String,
    account: String,
    #[source]
    source: kube::Error,
}

/// The tokens `pod`'s projected volumes need, fresh: cached ones while they are young
/// enough, new ones otherwise. A failed renewal keeps a token that has not expired yet.
pub async fn tokens_for(
    client: &kube::Client,
    cache: &TokenCache,
    pod: &Pod,
) -> Result<BTreeMap<TokenKey, String>, TokenError> {
    let wanted = closet_podspec::volumes::token_requests(pod);
    let mut out = BTreeMap::new();
    if wanted.is_empty() {
        return Ok(out);
    }
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let now = jiff::Timestamp::now().as_second();
    for key in wanted {
        let cached = cache.get(&uid, &key);
        if let Some(c) = cached.as_ref().filter(|c| !c.needs_refresh(now)) {
            out.insert(key, c.token.clone());
            continue;
        }
        match request(client, pod, &key).await {
            Ok(fresh) => {
                out.insert(key.clone(), fresh.token.clone());
                cache.put(&uid, key, fresh);
            }
            Err(err) => match cached.filter(|c| c.expires_at > now) {
                Some(c) => {
                    tracing::warn!(pod = %pod.metadata.name.as_deref().unwrap_or_default(), error = %err, "renewing a service account token failed; keeping the current one");
                    out.insert(key, c.token);
                }
                None => return Err(err),
            },
        }
    }
    Ok(out)
}

async fn request(client: &kube::Client, pod: &Pod, key: &TokenKey) -> Result<Cached, TokenError> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let account = pod
        .spec
        .as_ref()
        .and_then(|s| s.service_account_name.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".to_owned());
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: if key.audience.is_empty() {
                Vec::new()
            } else {
                vec![key.audience.clone()]
            },
            expiration_seconds: Some(key.expiration_seconds),
            bound_object_ref: Some(BoundObjectReference {
                api_version: Some("v1".to_owned()),
                kind: Some("Pod".to_owned()),
                name: pod.metadata.name.clone(),
                uid: pod.metadata.uid.clone(),
            }),
        },
        ..Default::default()
    };
    let fail = |source| TokenError {
        namespace: namespace.clone(),
        account: account.clone(),
        source,
    };
    let issued_at = jiff::Timestamp::now().as_second();
    let answer: TokenRequest = Api::<ServiceAccount>::namespaced(client.clone(), &namespace)
        .create_subresource("token", &account, &PostParams::default(), &request)
        .await
        .map_err(fail)?;
    // A 201 without a status is the server's fault; treat it as a failed request.
    let status = answer.status.ok_or_else(|| {
        fail(kube::Error::Service(
            "the token request was answered without a token".into(),
        ))
    })?;
    Ok(Cached {
        token: status.token,
        issued_at,
        expires_at: status.expiration_timestamp.0.as_second(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_renewed_at_80_percent_of_their_lifetime_or_a_day() {
        let c = Cached {
            token: "t".into(),
            issued_at: 1000,
            expires_at: 1000 + 3607,
        };
        assert!(!c.needs_refresh(1000));
        assert!(!c.needs_refresh(1000 + 2884));
        assert!(c.needs_refresh(1000 + 2885));
        let long = Cached {
            token: "t".into(),
            issued_at: 0,
            expires_at: 365 * 24 * 3600,
        };
        assert!(!long.needs_refresh(MAX_AGE_SECONDS - 1));
        assert!(long.needs_refresh(MAX_AGE_SECONDS));
    }

    #[test]
    fn forgetting_a_pod_drops_its_tokens() {
        let cache = TokenCache::default();
        let key = TokenKey {
            audience: String::new(),
            expiration_seconds: 3600,
        };
        cache.put(
            "uid",
            key.clone(),
            Cached {
                token: "t".into(),
                issued_at: 0,
                expires_at: 10,
            },
        );
        assert!(cache.get("uid", &key).is_some());
        cache.forget("uid");
        assert!(cache.get("uid", &key).is_none());
    }
}
