use std::path::PathBuf;

/// Why creating, loading or using the cluster's certificates failed.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// rcgen could not build or sign a certificate or key.
    #[error("generating the {what} failed")]
    Generate {
        /// Which certificate or key.
        what: String,
        /// The cause.
        #[source]
        source: rcgen::Error,
    },
    /// A certificate or key file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A certificate, key or directory could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A stored file holds no usable PEM certificate or key.
    #[error("{} is not a valid {what}; restore it from a backup or remove it", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What it should have held.
        what: &'static str,
    },
    /// Only one of the CA certificate and its key exists. Generating a new CA silently would
    /// invalidate every client certificate, so this is left to the operator.
    #[error(
        "found {} but not {}; restore the missing file, or remove the other one to create a \
         new cluster CA (every client certificate must then be issued again)",
        present.display(),
        missing.display()
    )]
    IncompleteCa {
        /// The CA file that exists.
        present: PathBuf,
        /// The CA file that is missing.
        missing: PathBuf,
    },
    /// The certificates have not been created yet.
    #[error("no cluster certificates in {}; start `closet server` once to create them", dir.display())]
    NotInitialized {
        /// The directory that should hold them.
        dir: PathBuf,
    },
    /// A client certificate was asked for without a user name.
    #[error("a client certificate needs a non-empty user name")]
    EmptyUser,
    /// A client certificate was asked for with more groups than can be encoded.
    #[error("client certificate for {user} asks for {count} groups; at most one is supported")]
    TooManyGroups {
        /// The user.
        user: String,
        /// How many groups were asked for.
        count: usize,
    },
    /// The system clock gives a time no certificate can carry.
    #[error(
        "the system clock reads {unix_seconds} s since 1970, which no certificate can carry; fix the clock"
    )]
    Clock {
        /// The time that could not be encoded.
        unix_seconds: i64,
    },
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// ring refused a key operation (generating, loading or signing with a key).
    #[error("{what} failed")]
    Crypto {
        /// The operation.
        what: &'static str,
    },
    /// A certificate or key is not valid PEM.
    #[error("the {what} is not valid PEM")]
    BadPem {
        /// Which certificate or key.
        what: &'static str,
    },
    /// rustls refused the certificates or settings.
    #[error("building the TLS server configuration failed")]
    Tls(#[source] rustls::Error),
    /// The client-certificate verifier could not be built from the CA.
    #[error("building the client certificate verifier from the cluster CA failed")]
    Verifier(#[source] rustls::server::VerifierBuilderError),
    /// The kubeconfig could not be rendered as YAML.
    #[error("rendering the kubeconfig failed")]
    Kubeconfig(#[source] serde_saphyr::SerializeError),
}
