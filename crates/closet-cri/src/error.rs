use std::path::PathBuf;
use std::time::Duration;

/// Everything that can fail while supervising containerd or calling CRI.
#[derive(Debug, thiserror::Error)]
pub enum CriError {
    /// A binary closet runs (or that containerd runs) is not on PATH.
    #[error("`{binary}` not found on PATH; install it with `apt-get install {package}`")]
    MissingBinary {
        /// The executable looked for.
        binary: &'static str,
        /// The Debian package that ships it.
        package: &'static str,
    },
    /// A path closet writes into containerd's config is not UTF-8.
    #[error("path {0} is not valid UTF-8 and cannot be written into containerd's config")]
    NonUtf8Path(PathBuf),
    /// The socket path does not fit in a unix socket address.
    #[error("socket path {path} is {len} bytes, longer than the {max} a unix socket allows")]
    SocketPathTooLong {
        /// The socket that would be created.
        path: PathBuf,
        /// Its length in bytes, including containerd's `.ttrpc` sibling suffix.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A directory under the agent's data dir could not be created.
    #[error("creating directory {path}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The rendered config could not be written.
    #[error("writing containerd config {path}")]
    WriteConfig {
        /// The config file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// containerd's log file could not be opened.
    #[error("opening containerd log {path}")]
    OpenLog {
        /// The log file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Something already answers on the socket closet's containerd would serve, most likely a
    /// containerd left running by an earlier closet.
    #[error("a process already listens on {socket}; stop it before starting closet's containerd")]
    AlreadyRunning {
        /// The socket.
        socket: PathBuf,
    },
    /// The containerd process could not be started.
    #[error("starting {binary}")]
    Spawn {
        /// The binary.
        binary: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// containerd exited before its socket answered.
    #[error("containerd exited ({status}) before socket {socket} answered; see {log}")]
    Exited {
        /// The exit status.
        status: String,
        /// The socket it should have served.
        socket: PathBuf,
        /// Its log file.
        log: PathBuf,
    },
    /// containerd did not answer CRI `Version` in time.
    #[error("containerd socket {socket} did not answer CRI Version within {timeout:?}; see {log}")]
    NotReady {
        /// The socket.
        socket: PathBuf,
        /// How long closet waited.
        timeout: Duration,
        /// containerd's log file.
        log: PathBuf,
        /// The last error seen, if any.
        #[source]
        last: Option<Box<CriError>>,
    },
    /// Waiting for or signalling the containerd child failed.
    #[error("stopping containerd (pid {pid})")]
    Stop {
        /// The child's pid.
        pid: u32,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The socket path does not make a valid endpoint URI.
    #[error("invalid CRI socket path {socket}")]
    Endpoint {
        /// The socket.
        socket: PathBuf,
        /// The cause.
        #[source]
        source: tonic::transport::Error,
    },
    /// Connecting to the socket failed.
    #[error("connecting to CRI socket {socket}")]
    Connect {
        /// The socket.
        socket: PathBuf,
        /// The cause.
        #[source]
        source: tonic::transport::Error,
    },
    /// A CRI call returned an error status.
    #[error("CRI {method} on {socket}")]
    Call {
        /// The CRI method, e.g. `ListContainers`.
        method: &'static str,
        /// The socket.
        socket: PathBuf,
        /// The gRPC status (boxed: it is large).
        #[source]
        source: Box<tonic::Status>,
    },
}
