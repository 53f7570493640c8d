//! Parameters of list and watch requests (`metav1.ListOptions`, plus `includeObject` for Tables).

use super::query::Query;
use super::{ParamsError, check};
use crate::field::FieldError;
use crate::fields::{FieldSelector, FieldSelectorError};
use crate::labels::{LabelSelector, SelectorError};

const KIND: &str = "ListOptions";

/// How `resourceVersion` constrains a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceVersionMatch {
    /// Exactly the given version (410 if it was compacted).
    Exact,
    /// The given version or anything newer.
    NotOlderThan,
}

impl ResourceVersionMatch {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "Exact",
            Self::NotOlderThan => "NotOlderThan",
        }
    }
}

/// What a Table response carries in each row's `object`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IncludeObject {
    /// No object.
    None,
    /// A PartialObjectMetadata (the default).
    #[default]
    Metadata,
    /// The full object.
    Object,
}

/// Parameters of a list or watch request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListParams {
    /// `labelSelector`; checked to parse, absent when empty.
    pub label_selector: Option<String>,
    /// `fieldSelector`; checked to parse, absent when empty.
    pub field_selector: Option<String>,
    /// `limit`; absent when 0, which means no limit.
    pub limit: Option<i64>,
    /// `continue`.
    pub continue_token: Option<String>,
    /// `resourceVersion`.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`.
    pub resource_version_match: Option<ResourceVersionMatch>,
    /// `watch`.
    pub watch: bool,
    /// `allowWatchBookmarks`.
    pub allow_watch_bookmarks: bool,
    /// `timeoutSeconds`.
    pub timeout_seconds: Option<i64>,
    /// `sendInitialEvents`; see [`ListParams::parse`] for its default on watches.
    pub send_initial_events: Option<bool>,
    /// `includeObject`, for Table output.
    pub include_object: IncludeObject,
}

impl ListParams {
    /// Parses and validates a raw query string.
    ///
    /// As in upstream 1.35 (WatchList on), a watch from "now or any" (`resourceVersion` unset
    /// or `0`) that sets neither `sendInitialEvents` nor `resourceVersionMatch` is given
    /// `sendInitialEvents=true` and `resourceVersionMatch=NotOlderThan`: it starts with the
    /// current objects and, with bookmarks allowed, ends them with the initial-events bookmark.
    pub fn parse(query: &str) -> Result<Self, ParamsError> {
        let q = Query::parse(query);
        let label_selector = q.string("labelSelector");
        if let Some(s) = &label_selector {
            LabelSelector::parse(s)?;
        }
        let field_selector = q.string("fieldSelector");
        if let Some(s) = &field_selector {
            FieldSelector::parse(s)?;
        }
        let limit = q.int("limit")?;
        let timeout_seconds = q.int("timeoutSeconds")?;
        let watch = q.bool("watch")?.unwrap_or(false);
        let allow_watch_bookmarks = q.bool("allowWatchBookmarks")?.unwrap_or(false);
        let mut send_initial_events = q.bool("sendInitialEvents")?;
        let include_object = match q.first("includeObject").unwrap_or("") {
            "" | "Metadata" => IncludeObject::Metadata,
            "None" => IncludeObject::None,
            "Object" => IncludeObject::Object,
            other => {
                let msg = "must be 'Metadata', 'Object', 'None', or empty";
                let e = FieldError::invalid("includeObject", other, msg);
                return Err(ParamsError::IncludeObject(Box::new(e)));
            }
        };
        let continue_token = q.string("continue");
        let resource_version = q.string("resourceVersion");
        let mut rv_match = q.string("resourceVersionMatch");

        let legacy_rv = matches!(resource_version.as_deref(), None | Some("0"));
        if watch && legacy_rv && send_initial_events.is_none() && rv_match.is_none() {
            send_initial_events = Some(true);
            rv_match = Some(ResourceVersionMatch::NotOlderThan.as_str().to_owned());
        }

        let raw = Raw {
            watch,
            rv: resource_version.as_deref(),
            rv_match: rv_match.as_deref(),
            continue_token: continue_token.as_deref(),
            send_initial_events,
            limit,
        };
        raw.validate()?;

        let resource_version_match = match rv_match.as_deref() {
            Some("Exact") => Some(ResourceVersionMatch::Exact),
            Some("NotOlderThan") => Some(ResourceVersionMatch::NotOlderThan),
            _ => None,
        };
        Ok(Self {
            label_selector,
            field_selector,
            limit: limit.filter(|l| *l > 0),
            continue_token,
            resource_version,
            resource_version_match,
            watch,
            allow_watch_bookmarks,
            timeout_seconds,
            send_initial_events,
            include_object,
        })
    }

    /// The parsed label selector; everything when absent.
    pub fn parsed_label_selector(&self) -> Result<LabelSelector, SelectorError> {
        self.label_selector
            .as_deref()
            .map_or_else(|| Ok(LabelSelector::everything()), str::parse)
    }

    /// The parsed field selector; everything when absent.
    pub fn parsed_field_selector(&self) -> Result<FieldSelector, FieldSelectorError> {
        self.field_selector
            .as_deref()
            .map_or_else(|| Ok(FieldSelector::everything()), str::parse)
    }
}

/// The values validation looks at, before unknown spellings are dropped.
struct Raw<'a> {
    watch: bool,
    rv: Option<&'a str>,
    rv_match: Option<&'a str>,
    continue_token: Option<&'a str>,
    send_initial_events: Option<bool>,
    limit: Option<i64>,
}

impl Raw<'_> {
    /// Upstream's `ValidateListOptions`, then its storage-layer check on `continue`, then our
    /// own refusal of a negative `limit` (upstream silently ignores it).
    fn validate(&self) -> Result<(), ParamsError> {
        let mut errs = if self.watch {
            self.watch_errors()
        } else {
            self.list_errors()
        };
        if let Some(limit) = self.limit.filter(|l| *l < 0) {
            errs.push(FieldError::invalid(
                "limit",
                limit,
                "must be greater than or equal to 0",
            ));
        }
        check(KIND, errs)?;
        let pinned_rv = self.rv.is_some_and(|rv| rv != "0");
        if !self.watch && self.continue_token.is_some() && pinned_rv {
            return Err(ParamsError::ContinueWithResourceVersion);
        }
        Ok(())
    }

    fn list_errors(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if let Some(m) = self.rv_match {
            let path = "resourceVersionMatch";
            if self.rv.is_none() {
                let msg = "resourceVersionMatch is forbidden unless resourceVersion is provided";
                errs.push(FieldError::forbidden(path, msg));
            }
            if self.continue_token.is_some() {
                let msg = "resourceVersionMatch is forbidden when continue is provided";
                errs.push(FieldError::forbidden(path, msg));
            }
            if m != "Exact" && m != "NotOlderThan" {
                errs.push(FieldError::not_supported(
                    path,
                    m,
                    &["Exact", "NotOlderThan", ""],
                ));
            }
            if m == "Exact" && self.rv == Some("0") {
                let msg = r#"resourceVersionMatch "exact" is forbidden for resourceVersion "0""#;
                errs.push(FieldError::forbidden(path, msg));
            }
        }
        if self.send_initial_events.is_some() {
            let msg = "sendInitialEvents is forbidden for list";
            errs.push(FieldError::forbidden("sendInitialEvents", msg));
        }
        errs
    }

    fn watch_errors(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let path = "resourceVersionMatch";
        if self.send_initial_events.is_some() && self.rv_match != Some("NotOlderThan") {
            let msg = "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan";
            errs.push(FieldError::forbidden(path, msg));
        }
        if let Some(m) = self.rv_match {
            if self.send_initial_events.is_none() {
                let msg = "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided";
                errs.push(FieldError::forbidden(path, msg));
            }
            if m != "NotOlderThan" {
                errs.push(FieldError::not_supported(path, m, &["NotOlderThan"]));
            }
            if self.continue_token.is_some() {
                let msg = "resourceVersionMatch is forbidden when continue is provided";
                errs.push(FieldError::forbidden(path, msg));
            }
        }
        errs
    }
}
