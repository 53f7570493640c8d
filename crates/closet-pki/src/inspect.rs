//! Reading facts back out of certificates: who a client certificate names, and whether a
//! stored certificate still fits (names covered, not about to expire, signed by our CA).

use std::net::IpAddr;

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

use crate::ServingNames;

/// The user a client certificate names, as Kubernetes reads it: the subject's CN is the user
/// name and each O is a group.
///
/// Returns `None` for a certificate that does not parse or has no (or an empty) CN: such a
/// certificate authenticates nobody. Verifying the chain is the TLS layer's job; call this
/// only on certificates rustls has already verified against the cluster CA.
pub fn user_from_certificate(der: &[u8]) -> Option<(String, Vec<String>)> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let subject = cert.subject();
    let name = subject.iter_common_name().next()?.as_str().ok()?.to_owned();
    if name.is_empty() {
        return None;
    }
    let groups = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok())
        .map(str::to_owned)
        .collect();
    Some((name, groups))
}

/// What [`crate::ClusterTls`] needs to know about a stored leaf certificate.
#[derive(Debug)]
pub(crate) struct LeafFacts {
    /// `notAfter`, in seconds since 1970.
    pub(crate) not_after: i64,
    /// The subject alternative names.
    pub(crate) names: ServingNames,
    /// The user and groups, if it has a CN.
    pub(crate) user: Option<(String, Vec<String>)>,
    /// Whether the cluster CA's key signed it.
    pub(crate) signed_by_ca: bool,
}

/// Parses a leaf certificate and checks its signature against `ca_der`; `None` if either
/// does not parse.
pub(crate) fn leaf_facts(der: &[u8], ca_der: &[u8]) -> Option<LeafFacts> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let (_, ca) = X509Certificate::from_der(ca_der).ok()?;
    let mut names = ServingNames::default();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(dns) => {
                    names.dns.insert(dns.to_ascii_lowercase());
                }
                GeneralName::IPAddress(bytes) => {
                    if let Some(ip) = ip_from_bytes(bytes) {
                        names.ips.insert(ip);
                    }
                }
                _ => {}
            }
        }
    }
    Some(LeafFacts {
        not_after: cert.validity().not_after.timestamp(),
        names,
        user: user_from_certificate(der),
        signed_by_ca: cert.verify_signature(Some(ca.public_key())).is_ok(),
    })
}

/// `notAfter` of a certificate, in seconds since 1970.
pub(crate) fn not_after(der: &[u8]) -> Option<i64> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(cert.validity().not_after.timestamp())
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}
