//! Query parameters of API requests, parsed and checked the way the upstream apiserver does.
//!
//! Each request kind has its own type: [`ListParams`] (list and watch), [`GetParams`],
//! [`WriteParams`] (create, update, patch) and [`DeleteOptions`] (query and body). Parameters
//! this crate does not know, such as kubectl's `timeout=32s`, are ignored, as upstream ignores
//! them. A failure is a [`ParamsError`]; [`ParamsError::to_status`] gives the `Status` upstream
//! would answer with: 400 for unreadable values, 422 for combinations its validation refuses.

mod delete;
mod list;
mod query;
mod write;

pub use delete::{DeleteOptions, Preconditions, PropagationPolicy};
pub use list::{IncludeObject, ListParams, ResourceVersionMatch};
pub use write::{FieldValidation, GetParams, WriteParams, WriteVerb};

use crate::field::{FieldError, FieldErrorList, go_quote};
use crate::fields::FieldSelectorError;
use crate::labels::SelectorError;
use crate::status::Status;

/// The API group of ListOptions, CreateOptions and the other option kinds.
const META_GROUP: &str = "meta.k8s.io";

/// Why a request's parameters were refused; messages are upstream's.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamsError {
    /// An integer parameter did not parse; worded like Go's `strconv.ParseInt`, which is what
    /// upstream shows.
    #[error(
        "strconv.ParseInt: parsing {}: {}",
        go_quote(value),
        if *out_of_range { "value out of range" } else { "invalid syntax" }
    )]
    Integer {
        /// The query parameter.
        param: &'static str,
        /// The text received.
        value: String,
        /// Whether the text was a number too large for 64 bits.
        out_of_range: bool,
    },
    /// A boolean parameter was neither true nor false.
    #[error("strconv.ParseBool: parsing {}: invalid syntax", go_quote(value))]
    Bool {
        /// The query parameter.
        param: &'static str,
        /// The text received.
        value: String,
    },
    /// `labelSelector` did not parse.
    #[error(transparent)]
    LabelSelector(#[from] SelectorError),
    /// `fieldSelector` did not parse.
    #[error(transparent)]
    FieldSelector(#[from] FieldSelectorError),
    /// `includeObject` is not None, Metadata or Object.
    #[error("Unable to convert to Table as requested: {0}")]
    IncludeObject(#[source] Box<FieldError>),
    /// `continue` came with a specific `resourceVersion`; the token already fixes the version.
    #[error("specifying resource version is not allowed when using continue")]
    ContinueWithResourceVersion,
    /// A DeleteOptions body that is not a DeleteOptions object.
    #[error("{0}")]
    DeleteBody(String),
    /// The options, taken together, fail upstream's validation of `kind` (e.g. ListOptions).
    #[error("{kind}.{META_GROUP} \"\" is invalid: {errors}")]
    Invalid {
        /// The options kind: ListOptions, CreateOptions, UpdateOptions, PatchOptions or
        /// DeleteOptions.
        kind: &'static str,
        /// Every problem found.
        errors: FieldErrorList,
    },
}

impl ParamsError {
    /// The `Status` upstream answers with: 422 `Invalid` for [`ParamsError::Invalid`],
    /// 400 `BadRequest` for the rest.
    pub fn to_status(&self) -> Status {
        match self {
            Self::Invalid { kind, errors } => Status::invalid(META_GROUP, kind, "", &errors.0),
            other => Status::bad_request(other.to_string()),
        }
    }
}

/// Turns collected validation problems into the error for `kind`, if there are any.
fn check(kind: &'static str, errors: Vec<FieldError>) -> Result<(), ParamsError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ParamsError::Invalid {
            kind,
            errors: FieldErrorList(errors),
        })
    }
}

/// Checks `dryRun` values: each must be `All`. Returns whether the request is a dry run.
fn validate_dry_run(values: &[String], errors: &mut Vec<FieldError>) -> bool {
    if values.iter().any(|v| v != "All") {
        errors.push(FieldError::not_supported("dryRun", values, &["All"]));
    }
    !values.is_empty()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests;
