//! The cluster's certificates on disk, under `<data-dir>/server/tls/`: created on first start,
//! reused on restart, and the leaf certificates reissued when they no longer fit.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::inspect::{self, LeafFacts};
use crate::issue::{CertAndKey, CertificateAuthority, LEAF_LIFETIME};
use crate::{PkiError, ServingNames};

/// The admin user's name: the client certificate's CN.
pub const ADMIN_USER: &str = "closet-admin";
/// The admin user's group, which RBAC binds to `cluster-admin` as upstream does.
pub const ADMIN_GROUP: &str = "system:masters";
/// Leaf certificates are reissued when they expire within this many seconds (30 days).
pub const RENEW_BEFORE: i64 = 30 * 24 * 60 * 60;

/// The cluster CA, the API server's serving certificate and the admin client certificate.
#[derive(Clone, Debug)]
pub struct ClusterTls {
    /// The cluster CA (`ca.crt`, `ca.key`).
    pub ca: CertificateAuthority,
    /// The serving certificate (`serving.crt`, `serving.key`).
    pub serving: CertAndKey,
    /// The admin client certificate (`admin.crt`, `admin.key`).
    pub admin: CertAndKey,
}

impl ClusterTls {
    /// Loads the certificates in `dir`, creating whatever is missing. The CA is never replaced;
    /// the serving certificate is reissued if it does not cover `names`, and either leaf is
    /// reissued if it expires within 30 days or was not signed by the CA.
    pub fn load_or_create(dir: &Path, names: &ServingNames) -> Result<Self, PkiError> {
        Self::load_or_create_at(dir, names, crate::unix_now())
    }

    /// Loads existing certificates without creating anything, for `closet kubeconfig`.
    pub fn load(dir: &Path) -> Result<Self, PkiError> {
        let not_initialized = || PkiError::NotInitialized {
            dir: dir.to_path_buf(),
        };
        let ca = read_pair(dir, "ca")?.ok_or_else(not_initialized)?;
        let serving = read_pair(dir, "serving")?.ok_or_else(not_initialized)?;
        let admin = read_pair(dir, "admin")?.ok_or_else(not_initialized)?;
        Ok(Self {
            ca: load_ca(dir, ca)?,
            serving,
            admin,
        })
    }

    pub(crate) fn load_or_create_at(
        dir: &Path,
        names: &ServingNames,
        now: i64,
    ) -> Result<Self, PkiError> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| PkiError::Write {
                path: dir.to_path_buf(),
                source,
            })?;

        let ca = match read_pair(dir, "ca")? {
            Some(pair) => load_ca(dir, pair)?,
            None => {
                let ca = CertificateAuthority::generate_at(now)?;
                write_pair(dir, "ca", ca.pair())?;
                tracing::info!(dir = %dir.display(), "created a new cluster CA");
                ca
            }
        };
        if let Some(expires) = inspect::not_after(&der_of(&ca.pair().cert_pem))
            && expires - now < RENEW_BEFORE
        {
            tracing::warn!(
                dir = %dir.display(),
                "the cluster CA expires within 30 days; clients will stop trusting this server"
            );
        }
        let ca_der = der_of(&ca.pair().cert_pem);

        let serving = match fit(read_pair(dir, "serving")?, &ca_der, now, |facts| {
            names.is_subset(&facts.names)
        }) {
            Some(pair) => pair,
            None => {
                let pair = ca.issue_serving_at(names, now, LEAF_LIFETIME)?;
                write_pair(dir, "serving", &pair)?;
                tracing::info!(dns = ?names.dns, ips = ?names.ips, "issued a serving certificate");
                pair
            }
        };

        let admin_groups = vec![ADMIN_GROUP.to_owned()];
        let admin = match fit(read_pair(dir, "admin")?, &ca_der, now, |facts| {
            facts.user.as_ref() == Some(&(ADMIN_USER.to_owned(), admin_groups.clone()))
        }) {
            Some(pair) => pair,
            None => {
                let pair = ca.issue_client_at(ADMIN_USER, &admin_groups, now, LEAF_LIFETIME)?;
                write_pair(dir, "admin", &pair)?;
                tracing::info!(user = ADMIN_USER, "issued the admin client certificate");
                pair
            }
        };
        Ok(Self { ca, serving, admin })
    }
}

/// Keeps a stored leaf only if it parses, was signed by the CA, is not about to expire, and
/// passes `wanted`.
pub(crate) fn fit(
    stored: Option<CertAndKey>,
    ca_der: &[u8],
    now: i64,
    wanted: impl Fn(&LeafFacts) -> bool,
) -> Option<CertAndKey> {
    let pair = stored?;
    rcgen::KeyPair::from_pem(&pair.key_pem).ok()?;
    let facts = inspect::leaf_facts(&der_of(&pair.cert_pem), ca_der)?;
    let keep = facts.signed_by_ca && facts.not_after - now >= RENEW_BEFORE && wanted(&facts);
    keep.then_some(pair)
}

fn load_ca(dir: &Path, pair: CertAndKey) -> Result<CertificateAuthority, PkiError> {
    CertificateAuthority::from_pem(pair).map_err(|_| PkiError::Parse {
        path: dir.join("ca.crt"),
        what: "CA certificate and key pair",
    })
}

/// The first certificate in a PEM text as DER, or nothing (which every check treats as unfit).
pub(crate) fn der_of(pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map(|der| der.to_vec())
        .unwrap_or_default()
}

/// Reads `<stem>.crt` and `<stem>.key`. `None` when neither exists; an error when only one does
/// for the CA (leaves are simply reissued).
pub(crate) fn read_pair(dir: &Path, stem: &str) -> Result<Option<CertAndKey>, PkiError> {
    let cert_path = dir.join(format!("{stem}.crt"));
    let key_path = dir.join(format!("{stem}.key"));
    let cert = read_optional(&cert_path)?;
    let key = read_optional(&key_path)?;
    match (cert, key) {
        (Some(cert_pem), Some(key_pem)) => Ok(Some(CertAndKey { cert_pem, key_pem })),
        (None, None) => Ok(None),
        (Some(_), None) if stem == "ca" => Err(PkiError::IncompleteCa {
            present: cert_path,
            missing: key_path,
        }),
        (None, Some(_)) if stem == "ca" => Err(PkiError::IncompleteCa {
            present: key_path,
            missing: cert_path,
        }),
        _ => Ok(None),
    }
}

pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, PkiError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PkiError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

pub(crate) fn write_pair(dir: &Path, stem: &str, pair: &CertAndKey) -> Result<(), PkiError> {
    // The key goes first: a crash in between leaves a key without a certificate, which the
    // next start treats as missing and reissues, never a certificate with a stale key.
    write_file_atomic(
        &dir.join(format!("{stem}.key")),
        pair.key_pem.as_bytes(),
        0o600,
    )?;
    write_file_atomic(
        &dir.join(format!("{stem}.crt")),
        pair.cert_pem.as_bytes(),
        0o644,
    )
}

/// Writes `contents` to `path` through a temporary file in the same directory and a rename,
/// so readers see the old file or the new one, never half of one. The file gets `mode` from
/// its creation on, so a key is never readable by others even for a moment.
pub fn write_file_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    let tmp = tmp_path(path);
    let write_error = |source| PkiError::Write {
        path: path.to_path_buf(),
        source,
    };
    // A temporary file left by a crash would keep its old mode; start from scratch.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(err) if err.kind() == ErrorKind::NotFound => {}
        Err(source) => return Err(write_error(source)),
    }
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        // The rename itself is durable only once the directory entry is on disk.
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::File::open(parent)?.sync_all()
    })();
    if let Err(source) = result {
        let _ = fs::remove_file(&tmp);
        return Err(write_error(source));
    }
    Ok(())
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}
