//! Parameters of get, create, update and patch requests.

use super::query::Query;
use super::{ParamsError, check, validate_dry_run};
use crate::field::{BadValue, FieldError};

/// Parameters of a get request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GetParams {
    /// `resourceVersion`: unset for the latest, `0` for any cached copy.
    pub resource_version: Option<String>,
}

impl GetParams {
    /// Reads a raw query string; nothing in GetOptions can be malformed.
    pub fn parse(query: &str) -> Self {
        Self {
            resource_version: Query::parse(query).string("resourceVersion"),
        }
    }
}

/// Which write a [`WriteParams`] belongs to; upstream names its options kind in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteVerb {
    /// POST.
    Create,
    /// PUT.
    Update,
    /// PATCH.
    Patch,
}

impl WriteVerb {
    fn options_kind(self) -> &'static str {
        match self {
            Self::Create => "CreateOptions",
            Self::Update => "UpdateOptions",
            Self::Patch => "PatchOptions",
        }
    }
}

/// What to do with unknown or duplicate fields in a request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FieldValidation {
    /// Refuse the request.
    Strict,
    /// Accept it and return a `Warning` header (the server default when unset).
    #[default]
    Warn,
    /// Accept it silently.
    Ignore,
}

/// The longest `fieldManager` upstream accepts.
const FIELD_MANAGER_MAX_LEN: usize = 128;

/// Parameters of a create, update or patch request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WriteParams {
    /// `dryRun=All`: run everything but do not persist.
    pub dry_run: bool,
    /// `fieldManager`, recorded in managedFields; required for server-side apply.
    pub field_manager: Option<String>,
    /// `fieldValidation`.
    pub field_validation: FieldValidation,
    /// `pretty`, read leniently as upstream does (anything unreadable is false).
    pub pretty: bool,
    /// `force`, for server-side apply conflicts.
    pub force: bool,
}

impl WriteParams {
    /// Parses and validates a raw query string for `verb`.
    pub fn parse(query: &str, verb: WriteVerb) -> Result<Self, ParamsError> {
        let q = Query::parse(query);
        let force = q.bool("force")?.unwrap_or(false);
        let mut errs = Vec::new();
        let field_manager = q.string("fieldManager");
        if let Some(m) = &field_manager {
            validate_field_manager(m, &mut errs);
        }
        let dry_run = validate_dry_run(&q.all("dryRun"), &mut errs);
        let field_validation = match q.first("fieldValidation").unwrap_or("") {
            "" | "Warn" => FieldValidation::Warn,
            "Strict" => FieldValidation::Strict,
            "Ignore" => FieldValidation::Ignore,
            other => {
                let supported = ["", "Ignore", "Strict", "Warn"];
                errs.push(FieldError::not_supported(
                    "fieldValidation",
                    other,
                    &supported,
                ));
                FieldValidation::Warn
            }
        };
        check(verb.options_kind(), errs)?;
        Ok(Self {
            dry_run,
            field_manager,
            field_validation,
            pretty: q.lenient_bool("pretty"),
            force,
        })
    }
}

/// At most 128 bytes, all printable, as upstream's `ValidateFieldManager`.
fn validate_field_manager(manager: &str, errs: &mut Vec<FieldError>) {
    if manager.len() > FIELD_MANAGER_MAX_LEN {
        errs.push(FieldError::too_long("fieldManager", FIELD_MANAGER_MAX_LEN));
    }
    for (i, c) in manager.char_indices() {
        if c.is_control() {
            let detail = format!("invalid character U+{:04X} (at position {i})", u32::from(c));
            errs.push(FieldError::invalid(
                "fieldManager",
                BadValue::from(manager),
                detail,
            ));
        }
    }
}
