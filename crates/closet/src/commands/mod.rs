//! One module per subcommand; each exposes `run`.

pub(crate) mod kubeconfig;
pub(crate) mod server;
