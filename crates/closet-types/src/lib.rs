//! closet-types: the sans-I/O vocabulary shared by the apiserver and its clients.
//!
//! Everything here is pure data and parsing, with no I/O and no async, so the apiserver and the
//! in-process clients read selectors, query parameters and errors exactly the same way. Where
//! Kubernetes defines a behaviour or an error text, this crate follows the 1.35 apimachinery
//! behaviour, because kubectl users see the text verbatim.
//!
//! Start reading at:
//! - [`labels`] and [`fields`] for selectors,
//! - [`params`] for list, get, write and delete query parameters,
//! - [`status`] for the `Status` object every error becomes,
//! - [`names`] for name syntax and `generateName`,
//! - [`field`] for the field errors validation produces,
//! - [`continue_token`] for list paging tokens.

pub mod continue_token;
pub mod field;
pub mod fields;
pub mod labels;
pub mod names;
pub mod params;
pub mod status;

pub use continue_token::{ContinueToken, ContinueTokenError};
pub use field::{BadValue, FieldError, FieldErrorList, FieldErrorType};
pub use fields::{FieldSelector, FieldSelectorError};
pub use labels::{LabelSelector, SelectorError};
pub use names::NameRule;
pub use params::{
    DeleteOptions, FieldValidation, GetParams, IncludeObject, ListParams, ParamsError,
    Preconditions, PropagationPolicy, ResourceVersionMatch, WriteParams, WriteVerb,
};
pub use status::{Status, StatusCause, StatusDetails};
