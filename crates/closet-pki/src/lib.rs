//! The cluster's public-key infrastructure: one CA, the API server's serving certificate, and
//! client certificates whose subject names the user (CN) and groups (O), as Kubernetes reads
//! them.
//!
//! Start at [`ClusterTls::load_or_create`]: it keeps the PEM files under
//! `<data-dir>/server/tls/`, reuses them on restart and reissues the serving certificate when
//! the host's names change or it nears expiry. [`ClusterTls::server_config`] builds the rustls
//! configuration of the API listener, [`user_from_certificate`] turns a verified client
//! certificate into a user, and [`ClusterTls::admin_kubeconfig`] renders the admin kubeconfig.
//!
//! Nodes join with a [`JoinToken`] (`<data-dir>/server/token`, see [`join`]) and get
//! [`NodeCredentials`] of their own (see [`node`]).
//!
//! Everything uses rustls's ring provider; nothing here installs a process-wide default.

mod error;
mod files;
mod inspect;
mod issue;
pub mod join;
#[cfg(feature = "client")]
pub mod join_client;
mod kubeconfig;
mod names;
pub mod node;
pub mod service_account;
mod tls;

#[cfg(test)]
mod tests;

pub use error::PkiError;
pub use files::{ADMIN_GROUP, ADMIN_USER, ClusterTls, RENEW_BEFORE, write_file_atomic};
pub use inspect::user_from_certificate;
pub use issue::{CertAndKey, CertificateAuthority};
pub use join::JoinToken;
pub use kubeconfig::{KUBECONFIG_NAME, local_server_url};
pub use names::ServingNames;
pub use node::NodeCredentials;
pub use service_account::ServiceAccountKey;
pub use tls::ALPN_PROTOCOLS;

/// The current time in seconds since 1970. A clock before 1970 reads as 0, which only makes
/// new certificates look old; it cannot fail.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
