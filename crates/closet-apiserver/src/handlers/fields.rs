//! `metadata.managedFields` on ordinary writes: the fields a create, update or patch changes
//! become owned by its field manager (operation Update), as upstream records them, so a
//! later server-side apply sees who owns what.

use serde_json::Value;

use super::Call;
use crate::object;

/// Longest field manager name derived from a User-Agent, as upstream.
const MAX_AGENT_PREFIX: usize = 128;

impl Call {
    /// The field manager of this write: `fieldManager` from the query, else the part of the
    /// User-Agent before the first `/` (upstream's default), else `unknown`.
    pub(crate) fn field_manager(&self) -> String {
        let from_query = form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == "fieldManager")
            .map(|(_, v)| v.into_owned())
            .filter(|v| !v.is_empty());
        from_query
            .or_else(|| {
                let agent = self.headers.get(http::header::USER_AGENT)?.to_str().ok()?;
                let prefix: String = agent
                    .split('/')
                    .next()?
                    .chars()
                    .take(MAX_AGENT_PREFIX)
                    .collect();
                (!prefix.is_empty()).then_some(prefix)
            })
            .unwrap_or_else(|| "unknown".to_string())
    }

    /// The kind whose schema describes the stored object.
    pub(crate) fn gvk(&self) -> (&str, &str, &str) {
        (&self.info.group, &self.info.version, &self.info.kind)
    }
}

/// Records, in `new`'s managedFields, the fields this write changed relative to `old`.
pub(crate) fn track(call: &Call, old: Option<&Value>, new: &mut Value) {
    let subresource = call.target.subresource.as_deref();
    let managed = closet_fieldmanager::ManagedFields::for_write(old, new, subresource.is_some());
    let manager = call.field_manager();
    let now = object::timestamp(jiff::Timestamp::now());
    let api_version = call.info.api_version();
    let mut request = closet_fieldmanager::Request::new(&manager, &api_version, &now);
    if let Some(sub) = subresource {
        request = request.with_subresource(sub);
    }
    let managed = crate::merge_meta::with_apply_schema(call.gvk(), |schema| {
        closet_fieldmanager::update(old, new, &managed, &request, schema)
    });
    managed.write_to(new);
}
