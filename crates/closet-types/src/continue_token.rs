//! The opaque `continue` token of paged lists.
//!
//! A token records the revision of the first page, so later pages read the same snapshot, and
//! the last key returned, so the next page starts after it. On the wire it is unpadded
//! base64url of a small JSON object, the same shape of thing upstream sends, so it survives
//! query strings untouched. Clients never look inside.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// Marks our token layout, so a token from another server or a future layout is refused
/// instead of misread.
const VERSION: &str = "closet/v1";

/// Where the next page of a list starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContinueToken {
    /// The store revision the first page was read at; every page reads at this revision.
    /// A negative value means "continue at the latest revision", which the store hands out
    /// when the original revision has been compacted away and the client accepts that.
    pub revision: i64,
    /// The last store key already returned; the next page starts strictly after it.
    pub start_after: String,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    v: String,
    rv: i64,
    after: String,
}

impl ContinueToken {
    /// The token text to put in `metadata.continue`.
    pub fn encode(&self) -> String {
        let wire = Wire {
            v: VERSION.to_owned(),
            rv: self.revision,
            after: self.start_after.clone(),
        };
        // Serializing a struct of strings and an integer cannot fail.
        let json = serde_json::to_vec(&wire).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Reads a token from the `continue` query parameter.
    pub fn decode(token: &str) -> Result<Self, ContinueTokenError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(token.trim_end_matches('='))
            .map_err(|e| ContinueTokenError::Malformed(e.to_string()))?;
        let wire: Wire = serde_json::from_slice(&bytes)
            .map_err(|e| ContinueTokenError::Malformed(e.to_string()))?;
        if wire.v != VERSION {
            return Err(ContinueTokenError::UnknownVersion(wire.v));
        }
        if wire.rv == 0 {
            return Err(ContinueTokenError::ZeroRevision);
        }
        if wire.after.is_empty() {
            return Err(ContinueTokenError::EmptyKey);
        }
        Ok(Self {
            revision: wire.rv,
            start_after: wire.after,
        })
    }
}

/// Why a continue token was refused. The apiserver answers these with 400 and upstream's
/// `invalid continue token: ` in front of the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContinueTokenError {
    /// Not base64url, or not the expected JSON.
    #[error("continue key is not valid: {0}")]
    Malformed(String),
    /// Made by another server or a layout this one does not know.
    #[error("continue key is not valid: server does not recognize this encoded version {0}")]
    UnknownVersion(String),
    /// Revision zero is never handed out.
    #[error("continue key is not valid: incorrect encoded start resourceVersion")]
    ZeroRevision,
    /// A start key is always present in tokens we make.
    #[error("continue key is not valid: encoded start key empty")]
    EmptyKey,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = ContinueToken {
            revision: 42,
            start_after: "default/web-0".to_owned(),
        };
        let s = t.encode();
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(ContinueToken::decode(&s).unwrap(), t);
        let latest = ContinueToken {
            revision: -1,
            start_after: "k".to_owned(),
        };
        assert_eq!(ContinueToken::decode(&latest.encode()).unwrap(), latest);
    }

    #[test]
    fn garbage_is_refused() {
        for bad in ["", "!!!", "bm90IGpzb24", "e30"] {
            let e = ContinueToken::decode(bad).unwrap_err();
            assert!(
                e.to_string().starts_with("continue key is not valid"),
                "{bad}: {e}"
            );
        }
        let enc = |json: &str| URL_SAFE_NO_PAD.encode(json);
        assert_eq!(
            ContinueToken::decode(&enc(r#"{"v":"meta.k8s.io/v1","rv":1,"after":"a"}"#)),
            Err(ContinueTokenError::UnknownVersion(
                "meta.k8s.io/v1".to_owned()
            ))
        );
        assert_eq!(
            ContinueToken::decode(&enc(r#"{"v":"closet/v1","rv":0,"after":"a"}"#)),
            Err(ContinueTokenError::ZeroRevision)
        );
        assert_eq!(
            ContinueToken::decode(&enc(r#"{"v":"closet/v1","rv":3,"after":""}"#)),
            Err(ContinueTokenError::EmptyKey)
        );
    }
}
