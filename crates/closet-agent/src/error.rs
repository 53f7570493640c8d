/// Why an agent step failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A request to the API failed.
    #[error("{action}")]
    Api {
        /// What the agent was doing.
        action: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },
    /// A call to the container runtime failed.
    #[error("{action}")]
    Cri {
        /// What the agent was doing.
        action: String,
        /// The cause.
        #[source]
        source: closet_cri::CriError,
    },
    /// Anything else, already explained.
    #[error("{0}")]
    Other(String),
}

impl AgentError {
    pub(crate) fn api(action: impl Into<String>) -> impl FnOnce(kube::Error) -> Self {
        let action = action.into();
        move |source| Self::Api { action, source }
    }

    pub(crate) fn cri(action: impl Into<String>) -> impl FnOnce(closet_cri::CriError) -> Self {
        let action = action.into();
        move |source| Self::Cri { action, source }
    }
}

/// An error and its sources, joined with `: `.
pub fn error_text(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
