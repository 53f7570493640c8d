//! Who is calling. The listener authenticates; the apiserver only reads the result.

/// An authenticated caller, put into the request extensions by whoever terminated TLS (or by
/// the in-process client's transport).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The user name: a client certificate's CN.
    pub name: String,
    /// Group names: a client certificate's O fields.
    pub groups: Vec<String>,
}

/// Paths served without authentication: health and version, as upstream allows.
pub const PUBLIC_PATHS: &[&str] = &["/healthz", "/livez", "/readyz", "/version"];

/// The token of an `Authorization: Bearer <token>` header, if the request has one.
pub fn bearer_token(headers: &http::HeaderMap) -> Option<String> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}
