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
