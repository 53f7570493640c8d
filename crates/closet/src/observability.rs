//! The one place a tracing subscriber is installed. Logs go to stderr, so stdout stays clean
//! for command output such as `closet kubeconfig`.

use anyhow::Context;
use closet_cli::LogFormat;
use tracing_subscriber::EnvFilter;

/// The environment variable holding the log filter, in `tracing_subscriber::EnvFilter` syntax.
pub(crate) const LOG_ENV: &str = "CLOSET_LOG";
/// The filter when [`LOG_ENV`] is unset: closet's own progress, everyone else's warnings.
pub(crate) const DEFAULT_FILTER: &str = "warn,closet=info";

/// Installs the global subscriber for `format`, filtered by `CLOSET_LOG`.
pub(crate) fn init(format: LogFormat) -> anyhow::Result<()> {
    let directives = std::env::var(LOG_ENV).unwrap_or_else(|_| DEFAULT_FILTER.to_owned());
    let filter = EnvFilter::try_new(&directives).with_context(|| {
        format!("{LOG_ENV}={directives:?} is not a valid filter; try {LOG_ENV}=info or unset it")
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    installed.map_err(|err| anyhow::anyhow!("installing the log subscriber failed: {err}"))
}
