//! What the workload controllers share: informer caches feeding a work queue
//! ([`informer`]), label selectors ([`selector`]), controller references and adoption
//! ([`ownership`]), expectations of the controller's own writes ([`expectations`]) and pod
//! facts ([`pod`]).

pub mod expectations;
pub mod informer;
pub mod ownership;
pub mod pod;
pub mod selector;

/// An error and its sources, joined with `: `, for log lines.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Whether `err` is an API error with HTTP status `code`.
pub fn is_status(err: &kube::Error, code: u16) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == code)
}
