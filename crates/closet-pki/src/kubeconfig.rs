//! The admin kubeconfig: one cluster, one user, one context, all named for closet, with the CA
//! and the client certificate embedded so the file works on its own when copied elsewhere.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

use crate::{ADMIN_USER, ClusterTls, PkiError};

/// The cluster and context name in the kubeconfig.
pub const KUBECONFIG_NAME: &str = "closet";

/// The server URL for a listener on `port` of this machine.
pub fn local_server_url(port: u16) -> String {
    format!("https://127.0.0.1:{port}")
}

impl ClusterTls {
    /// The admin kubeconfig as YAML text, pointing at `server` (e.g. `https://127.0.0.1:6443`).
    pub fn admin_kubeconfig(&self, server: &str) -> Result<String, PkiError> {
        let config = Kubeconfig {
            api_version: "v1",
            kind: "Config",
            clusters: vec![Named {
                name: KUBECONFIG_NAME,
                cluster: Some(Cluster {
                    server,
                    certificate_authority_data: STANDARD.encode(&self.ca.pair().cert_pem),
                }),
                user: None,
                context: None,
            }],
            users: vec![Named {
                name: ADMIN_USER,
                cluster: None,
                user: Some(User {
                    client_certificate_data: STANDARD.encode(&self.admin.cert_pem),
                    client_key_data: STANDARD.encode(&self.admin.key_pem),
                }),
                context: None,
            }],
            contexts: vec![Named {
                name: KUBECONFIG_NAME,
                cluster: None,
                user: None,
                context: Some(Context {
                    cluster: KUBECONFIG_NAME,
                    user: ADMIN_USER,
                }),
            }],
            current_context: KUBECONFIG_NAME,
        };
        serde_saphyr::to_string(&config).map_err(PkiError::Kubeconfig)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Kubeconfig<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'a str,
    kind: &'a str,
    clusters: Vec<Named<'a>>,
    users: Vec<Named<'a>>,
    contexts: Vec<Named<'a>>,
    current_context: &'a str,
}

/// One entry of `clusters`, `users` or `contexts`; exactly one of the bodies is set.
#[derive(Serialize)]
struct Named<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<Cluster<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<User>,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<Context<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Cluster<'a> {
    server: &'a str,
    certificate_authority_data: String,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct User {
    client_certificate_data: String,
    client_key_data: String,
}

#[derive(Serialize)]
struct Context<'a> {
    cluster: &'a str,
    user: &'a str,
}
