//! Which objects a list or watch returns: label selector and field selector.

use closet_types::fields::FieldSelector;
use closet_types::labels::LabelSelector;
use closet_types::params::ListParams;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::object;
use crate::registry::ResourceInfo;
use crate::strategy::field_lookup;

/// A compiled list/watch filter.
#[derive(Clone, Debug)]
pub(crate) struct Filter {
    labels: Option<LabelSelector>,
    fields: Option<FieldSelector>,
}

impl Filter {
    /// Parses the selectors of a request, rejecting fields the kind does not support with the
    /// message upstream uses.
    pub(crate) fn new(info: &ResourceInfo, params: &ListParams) -> ApiResult<Self> {
        let labels = match params
            .label_selector
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            Some(_) => Some(
                params
                    .parsed_label_selector()
                    .map_err(|e| ApiError::bad_request(e.to_string()))?,
            ),
            None => None,
        };
        let fields = match params
            .field_selector
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            Some(_) => {
                let sel = params
                    .parsed_field_selector()
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                for field in sel.fields() {
                    if !info.supports_field(field) {
                        return Err(ApiError::bad_request(format!(
                            "field label not supported: {field}"
                        )));
                    }
                }
                Some(sel)
            }
            None => None,
        };
        Ok(Self { labels, fields })
    }

    /// The name when the field selector pins `metadata.name` to one value.
    pub(crate) fn exact_name(&self) -> Option<&str> {
        self.fields.as_ref()?.exact_match("metadata.name")
    }

    /// Whether `obj` passes every selector.
    pub(crate) fn matches(&self, obj: &Value) -> bool {
        if let Some(labels) = &self.labels
            && !labels.matches(&object::labels(obj))
        {
            return false;
        }
        if let Some(fields) = &self.fields
            && !fields.matches(|f| field_lookup(obj, f))
        {
            return false;
        }
        true
    }
}
