//! Creating the cluster CA and issuing certificates from it.
//!
//! Keys are ECDSA P-256 (small, fast on a Raspberry Pi, accepted by every Kubernetes client).
//! Serial numbers are random so that a reissued certificate for the same key never collides
//! with an earlier one in a client's cache.

use std::fmt;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber,
};
use x509_parser::time::ASN1Time;

use crate::{PkiError, ServingNames};

const DAY: i64 = 24 * 60 * 60;
/// How long the cluster CA is valid.
pub(crate) const CA_LIFETIME: i64 = 10 * 365 * DAY;
/// How long serving and client certificates are valid.
pub(crate) const LEAF_LIFETIME: i64 = 365 * DAY;
/// Certificates start an hour in the past so that a node whose clock is a little behind
/// still accepts them.
const CLOCK_SKEW: i64 = 60 * 60;

/// A certificate and its private key, both PEM-encoded.
#[derive(Clone, PartialEq, Eq)]
pub struct CertAndKey {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The PKCS#8 private key, PEM.
    pub key_pem: String,
}

// Hand-written so that a private key never ends up in a log line.
impl fmt::Debug for CertAndKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertAndKey")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// The cluster's certificate authority: it signs the serving certificate and every client
/// certificate, and clients and the server trust only it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateAuthority {
    pair: CertAndKey,
}

impl CertificateAuthority {
    /// Creates a new CA valid for ten years.
    pub fn generate() -> Result<Self, PkiError> {
        Self::generate_at(crate::unix_now())
    }

    pub(crate) fn generate_at(now: i64) -> Result<Self, PkiError> {
        let what = "cluster CA";
        let key = KeyPair::generate().map_err(|source| generate_error(what, source))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        // The creation time in the name tells CAs of re-created clusters apart, as k3s does.
        params
            .distinguished_name
            .push(DnType::CommonName, format!("closet-ca@{now}"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        set_validity(&mut params, now, CA_LIFETIME)?;
        let cert = params
            .self_signed(&key)
            .map_err(|source| generate_error(what, source))?;
        Ok(Self {
            pair: CertAndKey {
                cert_pem: cert.pem(),
                key_pem: key.serialize_pem(),
            },
        })
    }

    /// Wraps a stored CA; [`PkiError::Generate`] if the key or certificate do not parse.
    pub fn from_pem(pair: CertAndKey) -> Result<Self, PkiError> {
        let ca = Self { pair };
        let key = ca.key()?;
        Issuer::from_ca_cert_pem(&ca.pair.cert_pem, &key)
            .map_err(|source| generate_error("issuer from the stored CA", source))?;
        Ok(ca)
    }

    /// The CA certificate and key.
    pub fn pair(&self) -> &CertAndKey {
        &self.pair
    }

    /// Issues a serving certificate for `names`, valid for one year.
    pub fn issue_serving(&self, names: &ServingNames) -> Result<CertAndKey, PkiError> {
        self.issue_serving_at(names, crate::unix_now(), LEAF_LIFETIME)
    }

    /// Issues a client certificate with CN = `user` and O = `groups`, valid for one year.
    ///
    /// At most one group is supported: rcgen keeps one value per subject attribute type, and
    /// every built-in identity (admin, node, component) needs at most one.
    pub fn issue_client(&self, user: &str, groups: &[String]) -> Result<CertAndKey, PkiError> {
        self.issue_client_at(user, groups, crate::unix_now(), LEAF_LIFETIME)
    }

    pub(crate) fn issue_serving_at(
        &self,
        names: &ServingNames,
        now: i64,
        lifetime: i64,
    ) -> Result<CertAndKey, PkiError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "closet-apiserver");
        for dns in &names.dns {
            let name = dns
                .clone()
                .try_into()
                .map_err(|source| generate_error(&format!("SAN {dns:?}"), source))?;
            params.subject_alt_names.push(SanType::DnsName(name));
        }
        params
            .subject_alt_names
            .extend(names.ips.iter().copied().map(SanType::IpAddress));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign("serving certificate", params, now, lifetime)
    }

    pub(crate) fn issue_client_at(
        &self,
        user: &str,
        groups: &[String],
        now: i64,
        lifetime: i64,
    ) -> Result<CertAndKey, PkiError> {
        if user.is_empty() {
            return Err(PkiError::EmptyUser);
        }
        if groups.len() > 1 {
            return Err(PkiError::TooManyGroups {
                user: user.to_owned(),
                count: groups.len(),
            });
        }
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        for group in groups {
            params
                .distinguished_name
                .push(DnType::OrganizationName, group.as_str());
        }
        params.distinguished_name.push(DnType::CommonName, user);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(
            &format!("client certificate for {user}"),
            params,
            now,
            lifetime,
        )
    }

    pub(crate) fn sign(
        &self,
        what: &str,
        mut params: CertificateParams,
        now: i64,
        lifetime: i64,
    ) -> Result<CertAndKey, PkiError> {
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params, now, lifetime)?;
        let ca_key = self.key()?;
        let issuer = Issuer::from_ca_cert_pem(&self.pair.cert_pem, &ca_key)
            .map_err(|source| generate_error("issuer from the cluster CA", source))?;
        let key = KeyPair::generate().map_err(|source| generate_error(what, source))?;
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(|source| generate_error(what, source))?;
        Ok(CertAndKey {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    fn key(&self) -> Result<KeyPair, PkiError> {
        KeyPair::from_pem(&self.pair.key_pem)
            .map_err(|source| generate_error("key from the stored CA key", source))
    }
}

fn set_validity(params: &mut CertificateParams, now: i64, lifetime: i64) -> Result<(), PkiError> {
    let at = |secs: i64| {
        ASN1Time::from_timestamp(secs)
            .map(|t| t.to_datetime())
            .map_err(|_| PkiError::Clock { unix_seconds: secs })
    };
    params.not_before = at(now - CLOCK_SKEW)?;
    params.not_after = at(now + lifetime)?;
    params.serial_number = Some(random_serial()?);
    Ok(())
}

/// 16 random bytes with the top bit cleared, so the DER integer stays positive.
fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; 16];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut bytes)
        .map_err(|_| PkiError::Random)?;
    bytes[0] &= 0x7f;
    Ok(SerialNumber::from(bytes.to_vec()))
}

fn generate_error(what: &str, source: rcgen::Error) -> PkiError {
    PkiError::Generate {
        what: what.to_owned(),
        source,
    }
}
