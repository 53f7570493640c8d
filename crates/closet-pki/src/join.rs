//! The join token: what a new node shows the server to get its own certificates.
//!
//! The format is k3s's "secure" token, `K10<ca-hash>::server:<secret>`. The CA hash is the
//! hex SHA-256 of the cluster CA certificate (DER), so an agent that fetches the CA over an
//! unverified connection can check it before trusting anything signed by it; the secret (32
//! hex digits, 128 random bits) is what the server checks. The server creates the token on
//! first start in `<data-dir>/server/token` (mode 0600) and keeps it; `closet token` prints it.

use std::fmt;
use std::fs::DirBuilder;
use std::io::ErrorKind;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use sha2::{Digest, Sha256};

use crate::{CertificateAuthority, PkiError, write_file_atomic};

/// The version tag every token starts with (k3s's, so the format is familiar).
pub const TOKEN_PREFIX: &str = "K10";
/// The only user a join token may name.
pub const TOKEN_USER: &str = "server";
/// The file under the data dir that holds the token.
pub const TOKEN_FILE: &str = "server/token";
/// Length of the secret, in hex digits.
const SECRET_HEX_LEN: usize = 32;
/// Length of the CA hash, in hex digits.
const CA_HASH_HEX_LEN: usize = 64;

/// A parsed join token. `Display` prints the whole token, secret included (what `closet
/// token` shows); `Debug` hides the secret so it never reaches a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinToken {
    /// Lower-case hex SHA-256 of the CA certificate's DER.
    ca_hash: String,
    /// Lower-case hex secret.
    secret: String,
}

/// Why a join token could not be parsed, created or read.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The text does not start with the version tag.
    #[error(
        "a join token starts with `{TOKEN_PREFIX}`; this one does not (copy it again from `closet token`)"
    )]
    MissingPrefix,
    /// The `::` between the CA hash and the credentials is missing.
    #[error(
        "a join token looks like `{TOKEN_PREFIX}<ca-hash>::{TOKEN_USER}:<secret>`; the `::` after the CA hash is missing"
    )]
    MissingSeparator,
    /// The CA hash is not 64 hex digits.
    #[error("the CA hash in a join token must be 64 hex digits (a SHA-256); found {found}")]
    BadCaHash {
        /// What was found instead, without the text itself.
        found: String,
    },
    /// The credentials name another user than `server`.
    #[error("the join token names user {user:?} where `{TOKEN_USER}` was expected")]
    BadUser {
        /// The user the token names (never the secret).
        user: String,
    },
    /// The credentials have no `:` between the user and the secret.
    #[error("the join token has no `{TOKEN_USER}:` before its secret")]
    MissingUser,
    /// The secret is not 32 hex digits.
    #[error("the secret in a join token must be {SECRET_HEX_LEN} hex digits; found {found}")]
    BadSecret {
        /// What was found instead, without the text itself.
        found: String,
    },
    /// The token file does not exist: the server never ran with this data dir.
    #[error("no join token at {}; start `closet server` with this --data-dir once to create it", path.display())]
    NotInitialized {
        /// Where the token should be.
        path: PathBuf,
    },
    /// The token file could not be read.
    #[error("cannot read the join token {}", path.display())]
    Read {
        /// The token file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The token file exists but does not hold a token.
    #[error(
        "{} does not hold a valid join token; remove it to create a new one at the next start \
         (joined nodes keep working, new nodes need the new token)",
        path.display()
    )]
    Damaged {
        /// The token file.
        path: PathBuf,
        /// What is wrong with its contents.
        #[source]
        source: Box<TokenError>,
    },
    /// The token file could not be written.
    #[error("cannot store the join token")]
    Write(#[source] PkiError),
    /// The CA certificate does not parse, so it cannot be hashed.
    #[error("the cluster CA certificate is not valid PEM, so no join token can be made for it")]
    BadCa,
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Random,
}

impl JoinToken {
    /// A new token for `ca` with a fresh random secret.
    pub fn generate(ca: &CertificateAuthority) -> Result<Self, TokenError> {
        let mut bytes = [0u8; SECRET_HEX_LEN / 2];
        rustls::crypto::ring::default_provider()
            .secure_random
            .fill(&mut bytes)
            .map_err(|_| TokenError::Random)?;
        Ok(Self {
            ca_hash: ca_hash(&ca.pair().cert_pem).ok_or(TokenError::BadCa)?,
            secret: hex(&bytes),
        })
    }

    /// `<data-dir>/server/token`.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(TOKEN_FILE)
    }

    /// The server's token: read from `<data-dir>/server/token`, or created there (mode 0600)
    /// on first start. The secret is never replaced; if the CA was re-created since, the
    /// token is rewritten with the new CA's hash and the same secret.
    pub fn load_or_create(data_dir: &Path, ca: &CertificateAuthority) -> Result<Self, TokenError> {
        let path = Self::path(data_dir);
        let hash = ca_hash(&ca.pair().cert_pem).ok_or(TokenError::BadCa)?;
        let token = match Self::load(data_dir) {
            Ok(token) if token.ca_hash == hash => return Ok(token),
            Ok(token) => {
                tracing::warn!(
                    path = %path.display(),
                    "the cluster CA changed since the join token was made; rewriting the token \
                     with the new CA hash (agents must use the new token)"
                );
                Self {
                    ca_hash: hash,
                    secret: token.secret,
                }
            }
            Err(TokenError::NotInitialized { .. }) => Self::generate(ca)?,
            Err(other) => return Err(other),
        };
        if let Some(dir) = path.parent() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|source| {
                    TokenError::Write(PkiError::Write {
                        path: dir.to_path_buf(),
                        source,
                    })
                })?;
        }
        write_file_atomic(&path, format!("{token}\n").as_bytes(), 0o600)
            .map_err(TokenError::Write)?;
        tracing::info!(path = %path.display(), "created the join token");
        Ok(token)
    }

    /// Reads the token of the server whose data dir is `data_dir`, creating nothing.
    pub fn load(data_dir: &Path) -> Result<Self, TokenError> {
        let path = Self::path(data_dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == ErrorKind::NotFound => {
                return Err(TokenError::NotInitialized { path });
            }
            Err(source) => return Err(TokenError::Read { path, source }),
        };
        text.parse().map_err(|source| TokenError::Damaged {
            path,
            source: Box::new(source),
        })
    }

    /// Parses `K10<ca-hash>::server:<secret>`. Surrounding whitespace is ignored and hex
    /// digits may be in either case.
    pub fn parse(text: &str) -> Result<Self, TokenError> {
        let rest = text
            .trim()
            .strip_prefix(TOKEN_PREFIX)
            .ok_or(TokenError::MissingPrefix)?;
        let (hash, credentials) = rest.split_once("::").ok_or(TokenError::MissingSeparator)?;
        if hash.len() != CA_HASH_HEX_LEN || !is_hex(hash) {
            return Err(TokenError::BadCaHash {
                found: describe(hash),
            });
        }
        let (user, secret) = credentials.split_once(':').ok_or(TokenError::MissingUser)?;
        if user != TOKEN_USER {
            return Err(TokenError::BadUser {
                user: user.chars().take(64).collect(),
            });
        }
        if secret.len() != SECRET_HEX_LEN || !is_hex(secret) {
            return Err(TokenError::BadSecret {
                found: describe(secret),
            });
        }
        Ok(Self {
            ca_hash: hash.to_ascii_lowercase(),
            secret: secret.to_ascii_lowercase(),
        })
    }

    /// The hex SHA-256 of the CA certificate this token belongs to.
    pub fn ca_hash(&self) -> &str {
        &self.ca_hash
    }

    /// Whether `ca_pem`'s first certificate is the CA this token names.
    pub fn matches_ca(&self, ca_pem: &str) -> bool {
        ca_hash(ca_pem)
            .is_some_and(|hash| constant_time_eq(hash.as_bytes(), self.ca_hash.as_bytes()))
    }

    /// Whether `presented` is this token: same CA hash and same secret, compared in constant
    /// time so the comparison leaks nothing about how much of the secret was right.
    pub fn accepts(&self, presented: &JoinToken) -> bool {
        let hash_ok = constant_time_eq(self.ca_hash.as_bytes(), presented.ca_hash.as_bytes());
        let secret_ok = constant_time_eq(self.secret.as_bytes(), presented.secret.as_bytes());
        hash_ok & secret_ok
    }
}

impl FromStr for JoinToken {
    type Err = TokenError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{TOKEN_PREFIX}{}::{TOKEN_USER}:{}",
            self.ca_hash, self.secret
        )
    }
}

// Hand-written so that the secret never ends up in a log line.
impl fmt::Debug for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinToken")
            .field("ca_hash", &self.ca_hash)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The hex SHA-256 of the first certificate in `pem` (its DER), or `None` if there is none.
pub fn ca_hash(pem: &str) -> Option<String> {
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).ok()?;
    Some(hex(&Sha256::digest(der.as_ref())))
}

/// Byte-wise equality whose running time depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // Keeps the optimiser from turning the fold into an early-exit comparison.
    std::hint::black_box(diff) == 0
}

fn is_hex(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// How a malformed part looked, for an error message that must not echo a secret.
fn describe(part: &str) -> String {
    if part.is_empty() {
        "nothing".to_owned()
    } else if is_hex(part) {
        format!("{} hex digits", part.len())
    } else {
        format!("{} characters, not all hex digits", part.chars().count())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[path = "join_tests.rs"]
mod tests;
