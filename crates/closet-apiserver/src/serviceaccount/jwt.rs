//! Service account tokens as JWTs (RFC 7519) signed with ES256, carrying the claims upstream
//! puts in them: `iss`, `sub`, `aud`, `exp`, `iat`, `nbf`, `jti` and the private
//! `kubernetes.io` claim naming the namespace, service account and bound objects.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use closet_pki::ServiceAccountKey;
use serde::{Deserialize, Serialize};

/// Clock skew tolerated on `nbf` and `exp`, as upstream's validator allows (60 s).
pub(crate) const LEEWAY_SECONDS: i64 = 60;
/// Longest token accepted at all; longer ones are refused rather than parsed.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The name and UID of an object a token names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ObjectRef {
    pub(crate) name: String,
    pub(crate) uid: String,
}

/// The `kubernetes.io` claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KubernetesClaim {
    pub(crate) namespace: String,
    pub(crate) serviceaccount: ObjectRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pod: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) node: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) secret: Option<ObjectRef>,
}

/// Every claim of a service account token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    pub(crate) iss: String,
    pub(crate) sub: String,
    pub(crate) aud: Vec<String>,
    pub(crate) exp: i64,
    pub(crate) iat: i64,
    pub(crate) nbf: i64,
    pub(crate) jti: String,
    #[serde(rename = "kubernetes.io")]
    pub(crate) kubernetes: KubernetesClaim,
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
}

/// Why a bearer token was not accepted. The texts never quote the token.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum JwtError {
    /// Not three base64url parts of JSON, or not our algorithm.
    #[error("the token is not a well-formed ES256 JWT")]
    Malformed,
    /// The signature does not verify with the service account key.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// Issued by someone else.
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    /// `exp` has passed.
    #[error("the token has expired")]
    Expired,
    /// `nbf` is still ahead.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// None of the token's audiences is one of the server's.
    #[error("the token's audiences are not accepted by this server")]
    WrongAudience,
    /// The key could not sign.
    #[error("signing the token failed")]
    Sign,
}

/// The compact JWS form of `claims`, signed with `key`.
pub(crate) fn encode(claims: &Claims, key: &ServiceAccountKey) -> Result<String, JwtError> {
    let header = Header {
        alg: "ES256".into(),
        kid: Some(key.key_id().to_owned()),
    };
    let header = serde_json::to_vec(&header).map_err(|_| JwtError::Sign)?;
    let claims = serde_json::to_vec(claims).map_err(|_| JwtError::Sign)?;
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(claims));
    let signature = key.sign(token.as_bytes()).map_err(|_| JwtError::Sign)?;
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature));
    Ok(token)
}

/// Checks `token`'s signature, issuer, validity window (with [`LEEWAY_SECONDS`]) and that its
/// audiences meet `audiences`, and returns its claims.
pub(crate) fn verify(
    token: &str,
    key: &ServiceAccountKey,
    issuer: &str,
    audiences: &[String],
    now: i64,
) -> Result<Claims, JwtError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header: Header = decode_part(header)?;
    if header.alg != "ES256" {
        return Err(JwtError::Malformed);
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| JwtError::Malformed)?;
    let signed = &token[..header_and_payload_len(token)];
    if !key.verify(signed.as_bytes(), &signature) {
        return Err(JwtError::BadSignature);
    }
    let claims: Claims = decode_part(payload)?;
    if claims.iss != issuer {
        return Err(JwtError::WrongIssuer);
    }
    if now > claims.exp + LEEWAY_SECONDS {
        return Err(JwtError::Expired);
    }
    if now + LEEWAY_SECONDS < claims.nbf {
        return Err(JwtError::NotYetValid);
    }
    if !claims.aud.iter().any(|a| audiences.contains(a)) {
        return Err(JwtError::WrongAudience);
    }
    Ok(claims)
}

/// The length of `header.payload`, the part the signature covers.
fn header_and_payload_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(0)
}

fn decode_part<T: for<'de> Deserialize<'de>>(part: &str) -> Result<T, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
}

#[cfg(test)]
mod tests;
