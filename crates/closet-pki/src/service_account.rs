//! The key that signs service account tokens: an ECDSA P-256 key (JWT `ES256`), generated on
//! first start and kept as `<tls-dir>/service-account.key` (PKCS#8 PEM, mode 0600) beside the
//! other server keys, so tokens stay valid across restarts.

use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;
use sha2::{Digest, Sha256};

use crate::PkiError;
use crate::files::read_optional;
use crate::write_file_atomic;

/// The file name of the signing key inside the server's TLS directory.
pub const KEY_FILE: &str = "service-account.key";

/// The service account token signing key. `Debug` shows only the key ID.
pub struct ServiceAccountKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
    key_id: String,
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl ServiceAccountKey {
    /// Loads `<dir>/service-account.key`, generating and storing a new key if there is none.
    /// A file that exists but does not hold a P-256 key is an error, never replaced: every
    /// token issued so far would stop working.
    pub fn load_or_create(dir: &Path) -> Result<Self, PkiError> {
        let path = dir.join(KEY_FILE);
        if let Some(pem) = read_optional(&path)? {
            return Self::from_pem(&pem).ok_or(PkiError::Parse {
                path,
                what: "ECDSA P-256 service account key",
            });
        }
        let (key, pem) = Self::generate()?;
        write_file_atomic(&path, pem.as_bytes(), 0o600)?;
        tracing::info!(path = %path.display(), "created the service account signing key");
        Ok(key)
    }

    /// A new random key and its PKCS#8 PEM text.
    pub fn generate() -> Result<(Self, String), PkiError> {
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).map_err(|_| {
                PkiError::Crypto {
                    what: "generating the service account key",
                }
            })?;
        let pem = pem_text(pkcs8.as_ref());
        let key = Self::from_der(pkcs8.as_ref()).ok_or(PkiError::Crypto {
            what: "loading the generated service account key",
        })?;
        Ok((key, pem))
    }

    /// The key in a PKCS#8 PEM text, or nothing if it is not a P-256 key.
    pub fn from_pem(pem: &str) -> Option<Self> {
        let der = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes()).ok()?;
        Self::from_der(der.secret_pkcs8_der())
    }

    fn from_der(der: &[u8]) -> Option<Self> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng).ok()?;
        // The key ID is a hash of the public key, as upstream derives it: stable across
        // restarts and different for every key.
        let key_id = URL_SAFE_NO_PAD.encode(Sha256::digest(pair.public_key().as_ref()));
        Some(Self { pair, rng, key_id })
    }

    /// The JWT `kid` of this key.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Signs `message` (ES256: SHA-256, then the 64-byte fixed `r || s` form JWS wants).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        self.pair
            .sign(&self.rng, message)
            .map(|sig| sig.as_ref().to_vec())
            .map_err(|_| PkiError::Crypto {
                what: "signing a service account token",
            })
    }

    /// Whether `signature` is this key's ES256 signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, self.pair.public_key().as_ref())
            .verify(message, signature)
            .is_ok()
    }
}

fn pem_text(der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END PRIVATE KEY-----\n");
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn signatures_verify_only_with_the_same_key_and_message() {
        let (key, _) = ServiceAccountKey::generate().unwrap();
        let (other, _) = ServiceAccountKey::generate().unwrap();
        let sig = key.sign(b"header.claims").unwrap();
        assert_eq!(sig.len(), 64);
        assert!(key.verify(b"header.claims", &sig));
        assert!(!key.verify(b"header.claimz", &sig));
        assert!(!other.verify(b"header.claims", &sig));
        assert_ne!(key.key_id(), other.key_id());
    }

    #[test]
    fn the_key_is_created_once_with_mode_0600_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = ServiceAccountKey::load_or_create(dir.path()).unwrap();
        let path = dir.path().join(KEY_FILE);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = ServiceAccountKey::load_or_create(dir.path()).unwrap();
        assert_eq!(first.key_id(), again.key_id());
        let sig = first.sign(b"m").unwrap();
        assert!(again.verify(b"m", &sig));
    }

    #[test]
    fn a_damaged_key_file_is_an_error_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(KEY_FILE), "not a key").unwrap();
        let err = ServiceAccountKey::load_or_create(dir.path()).unwrap_err();
        assert!(matches!(err, PkiError::Parse { .. }), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap(),
            "not a key"
        );
    }
}
