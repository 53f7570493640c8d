//! A node's own certificates, and the apiserver's certificate for talking to nodes.
//!
//! A joining node gets three things from the server ([`issue_node`]): the cluster CA, a client
//! certificate naming it as Kubernetes names kubelets (CN `system:node:<name>`, O
//! `system:nodes`), and a serving certificate for its own HTTPS API covering its name, its
//! addresses and the loopback names. The agent keeps them in `<data-dir>/agent/tls/`
//! ([`NodeCredentials::store`]) and reuses them at restart while they still fit
//! ([`NodeCredentials::fits`]).
//!
//! The other direction, apiserver → node API, uses a client certificate with CN
//! `closet-apiserver`, which node APIs accept and nothing else presents
//! ([`load_or_create_apiserver_node_client`]).

use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, SanType};
use serde::{Deserialize, Serialize};

use crate::files::{der_of, fit, read_optional, read_pair, write_pair};
use crate::inspect::leaf_facts;
use crate::issue::LEAF_LIFETIME;
use crate::{ADMIN_GROUP, CertAndKey, CertificateAuthority, PkiError, ServingNames};

/// The group every node's client certificate carries, as upstream's Node authorizer expects.
pub const NODE_GROUP: &str = "system:nodes";
/// The user-name prefix of node client certificates: `system:node:<name>`.
pub const NODE_USER_PREFIX: &str = "system:node:";
/// The CN of the apiserver's client certificate for node APIs.
pub const APISERVER_NODE_CLIENT_USER: &str = "closet-apiserver";
/// The file stem of that certificate under the server's TLS dir.
pub const APISERVER_NODE_CLIENT_STEM: &str = "apiserver-node-client";

/// The user name of node `node_name`'s client certificate.
pub fn node_user(node_name: &str) -> String {
    format!("{NODE_USER_PREFIX}{node_name}")
}

/// What a node asks for when it joins: its name and the addresses (IP addresses or DNS names)
/// its serving certificate must cover. The JSON body of `POST /closet/v1/join`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JoinRequest {
    /// The Node object's name.
    pub node_name: String,
    /// The node's addresses; the node name and the loopback names are always covered.
    #[serde(default)]
    pub addresses: Vec<String>,
}

/// Everything a node needs to talk to the API and to serve its own: the JSON answer to
/// `POST /closet/v1/join`, and the contents of `<data-dir>/agent/tls/`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "CredentialsWire", from = "CredentialsWire")]
pub struct NodeCredentials {
    /// The cluster CA certificate, PEM.
    pub ca_pem: String,
    /// The node's client certificate (CN `system:node:<name>`, O `system:nodes`).
    pub client: CertAndKey,
    /// The serving certificate of the node's own HTTPS API.
    pub serving: CertAndKey,
}

/// The flat JSON shape of [`NodeCredentials`].
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CredentialsWire {
    ca_cert: String,
    client_cert: String,
    client_key: String,
    serving_cert: String,
    serving_key: String,
}

impl From<NodeCredentials> for CredentialsWire {
    fn from(creds: NodeCredentials) -> Self {
        Self {
            ca_cert: creds.ca_pem,
            client_cert: creds.client.cert_pem,
            client_key: creds.client.key_pem,
            serving_cert: creds.serving.cert_pem,
            serving_key: creds.serving.key_pem,
        }
    }
}

impl From<CredentialsWire> for NodeCredentials {
    fn from(wire: CredentialsWire) -> Self {
        Self {
            ca_pem: wire.ca_cert,
            client: CertAndKey {
                cert_pem: wire.client_cert,
                key_pem: wire.client_key,
            },
            serving: CertAndKey {
                cert_pem: wire.serving_cert,
                key_pem: wire.serving_key,
            },
        }
    }
}

/// The names a node's serving certificate covers: `localhost`, `127.0.0.1`, `::1`, the node
/// name and each of `addresses` (an IP address, or else a DNS name).
pub fn node_serving_names(node_name: &str, addresses: &[String]) -> ServingNames {
    let mut names = ServingNames::loopback();
    names.add(node_name);
    for address in addresses {
        names.add(address);
    }
    names
}

/// Issues a node's client and serving certificates, valid for one year. The caller validates
/// `node_name` (a DNS subdomain) and `addresses`; a name rcgen cannot encode fails here.
pub fn issue_node(
    ca: &CertificateAuthority,
    node_name: &str,
    addresses: &[String],
) -> Result<NodeCredentials, PkiError> {
    issue_node_at(ca, node_name, addresses, crate::unix_now())
}

pub(crate) fn issue_node_at(
    ca: &CertificateAuthority,
    node_name: &str,
    addresses: &[String],
    now: i64,
) -> Result<NodeCredentials, PkiError> {
    let user = node_user(node_name);
    let client = ca.issue_client_at(&user, &[NODE_GROUP.to_owned()], now, LEAF_LIFETIME)?;

    let names = node_serving_names(node_name, addresses);
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::OrganizationName, NODE_GROUP);
    params.distinguished_name.push(DnType::CommonName, user);
    for dns in &names.dns {
        let name = dns
            .clone()
            .try_into()
            .map_err(|source| PkiError::Generate {
                what: format!("SAN {dns:?}"),
                source,
            })?;
        params.subject_alt_names.push(SanType::DnsName(name));
    }
    params
        .subject_alt_names
        .extend(names.ips.iter().copied().map(SanType::IpAddress));
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let serving = ca.sign(
        &format!("serving certificate for node {node_name}"),
        params,
        now,
        LEAF_LIFETIME,
    )?;
    Ok(NodeCredentials {
        ca_pem: ca.pair().cert_pem.clone(),
        client,
        serving,
    })
}

impl NodeCredentials {
    /// Reads `ca.crt`, `client.{crt,key}` and `serving.{crt,key}` from `dir`; `None` if any
    /// of them is missing (the node then joins again).
    pub fn load(dir: &Path) -> Result<Option<Self>, PkiError> {
        let Some(ca_pem) = read_optional(&dir.join("ca.crt"))? else {
            return Ok(None);
        };
        let (Some(client), Some(serving)) = (read_pair(dir, "client")?, read_pair(dir, "serving")?)
        else {
            return Ok(None);
        };
        Ok(Some(Self {
            ca_pem,
            client,
            serving,
        }))
    }

    /// Writes the credentials into `dir` (created with mode 0700): keys 0600, certificates
    /// 0644. The CA goes last, so a crash part-way leaves a set that [`Self::load`] reports
    /// as missing rather than a mix of old and new.
    pub fn store(&self, dir: &Path) -> Result<(), PkiError> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| PkiError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        let ca_path = dir.join("ca.crt");
        match std::fs::remove_file(&ca_path) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(PkiError::Write {
                    path: ca_path,
                    source,
                });
            }
        }
        write_pair(dir, "client", &self.client)?;
        write_pair(dir, "serving", &self.serving)?;
        crate::write_file_atomic(&ca_path, self.ca_pem.as_bytes(), 0o644)
    }

    /// Whether these credentials can be kept for node `node_name` with `addresses`: both
    /// certificates parse, were signed by the stored CA, do not expire within 30 days, name
    /// this node, and the serving certificate covers every wanted name.
    pub fn fits(&self, node_name: &str, addresses: &[String]) -> bool {
        self.fits_at(node_name, addresses, crate::unix_now())
    }

    pub(crate) fn fits_at(&self, node_name: &str, addresses: &[String], now: i64) -> bool {
        let ca_der = der_of(&self.ca_pem);
        let user = Some((node_user(node_name), vec![NODE_GROUP.to_owned()]));
        let names = node_serving_names(node_name, addresses);
        let client_ok = fit(Some(self.client.clone()), &ca_der, now, |facts| {
            facts.user == user
        })
        .is_some();
        let serving_ok = fit(Some(self.serving.clone()), &ca_der, now, |facts| {
            names.is_subset(&facts.names) && facts.user == user
        })
        .is_some();
        client_ok && serving_ok
    }

    /// Seconds until the sooner of the two certificates expires (negative once expired), or
    /// `None` if either does not parse; for the agent's renewal timer.
    pub fn expires_in(&self) -> Option<i64> {
        let ca_der = der_of(&self.ca_pem);
        let now = crate::unix_now();
        let client = leaf_facts(&der_of(&self.client.cert_pem), &ca_der)?;
        let serving = leaf_facts(&der_of(&self.serving.cert_pem), &ca_der)?;
        Some(client.not_after.min(serving.not_after) - now)
    }
}

/// The apiserver's client certificate for node APIs (CN `closet-apiserver`, O
/// `system:masters`), kept as `apiserver-node-client.{crt,key}` in the server's TLS dir
/// `dir`: reused while it was signed by `ca` and does not expire within 30 days, otherwise
/// issued again.
pub fn load_or_create_apiserver_node_client(
    dir: &Path,
    ca: &CertificateAuthority,
) -> Result<CertAndKey, PkiError> {
    load_or_create_apiserver_node_client_at(dir, ca, crate::unix_now())
}

pub(crate) fn load_or_create_apiserver_node_client_at(
    dir: &Path,
    ca: &CertificateAuthority,
    now: i64,
) -> Result<CertAndKey, PkiError> {
    let ca_der = der_of(&ca.pair().cert_pem);
    let groups = vec![ADMIN_GROUP.to_owned()];
    let wanted = Some((APISERVER_NODE_CLIENT_USER.to_owned(), groups.clone()));
    let stored = read_pair(dir, APISERVER_NODE_CLIENT_STEM)?;
    if let Some(pair) = fit(stored, &ca_der, now, |facts| facts.user == wanted) {
        return Ok(pair);
    }
    let pair = ca.issue_client_at(APISERVER_NODE_CLIENT_USER, &groups, now, LEAF_LIFETIME)?;
    write_pair(dir, APISERVER_NODE_CLIENT_STEM, &pair)?;
    tracing::info!(
        user = APISERVER_NODE_CLIENT_USER,
        "issued the apiserver's client certificate for node APIs"
    );
    Ok(pair)
}

#[cfg(test)]
#[path = "node_tests.rs"]
mod tests;
