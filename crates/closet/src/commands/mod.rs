//! One module per subcommand; each exposes `run`.

pub(crate) mod agent;
pub(crate) mod image;
pub(crate) mod kubeconfig;
pub(crate) mod server;
pub(crate) mod token;
