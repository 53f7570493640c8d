//! LIST: a consistent snapshot, filtered by selectors, paged with `limit`/`continue`.

use axum::response::Response;
use closet_store::{ListRequest, Revision};
use closet_types::continue_token::ContinueToken;
use closet_types::params::{ListParams, ResourceVersionMatch};
use http::StatusCode;
use serde_json::{Value, json};

use super::{Call, params_error, respond_value, watch};
use crate::Shared;
use crate::codec::Output;
use crate::error::{ApiError, ApiResult};
use crate::filter::Filter;
use crate::object;

/// `GET` on a collection: a watch when `watch=true`, a list otherwise.
pub(crate) async fn list_or_watch(shared: &Shared, call: Call) -> ApiResult<Response> {
    let params = ListParams::parse(&call.query).map_err(params_error)?;
    let filter = Filter::new(&call.info, &params)?;
    if params.watch {
        return watch::watch(shared, call, params, filter).await;
    }
    let page = read_page(shared, &call, &params, &filter).await?;
    let value = match call.output {
        Output::Table => crate::table::from_objects(
            &call.info,
            &page.items,
            Some(&page.meta),
            params.include_object,
        ),
        Output::Metadata => json!({
            "kind": "PartialObjectMetadataList",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": page.meta,
            "items": page.items.iter().map(crate::codec::partial).collect::<Vec<_>>(),
        }),
        _ => json!({
            "kind": call.info.list_kind(),
            "apiVersion": call.info.api_version(),
            "metadata": page.meta,
            "items": page.items,
        }),
    };
    Ok(respond_value(StatusCode::OK, &value, call.output))
}

/// One page of a list.
pub(crate) struct Page {
    /// Matching objects, in key order, stamped with their resourceVersion.
    pub items: Vec<Value>,
    /// List metadata: `resourceVersion` and, when cut short, `continue`.
    pub meta: Value,
    /// The revision the page was read at.
    pub revision: Revision,
}

/// Reads one page of matching objects, honouring `resourceVersion`, `limit` and `continue`.
pub(crate) async fn read_page(
    shared: &Shared,
    call: &Call,
    params: &ListParams,
    filter: &Filter,
) -> ApiResult<Page> {
    let prefix = call.info.prefix_for(call.namespace());
    let (mut revision, mut start_after) = match &params.continue_token {
        Some(token) => {
            let token =
                ContinueToken::decode(token).map_err(|e| ApiError::bad_request(e.to_string()))?;
            let revision = (token.revision >= 0).then_some(token.revision);
            if revision.is_some_and(|r| r < shared.store.compacted_revision()) {
                return Err(ApiError::expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                ));
            }
            (revision, Some(format!("{prefix}{}", token.start_after)))
        }
        None => (exact_revision(params)?, None),
    };
    if let (Some(name), None, None) = (filter.exact_name(), &start_after, revision) {
        return read_one(shared, &prefix, name, filter).await;
    }
    let limit = params
        .limit
        .filter(|l| *l > 0)
        .and_then(|l| usize::try_from(l).ok());
    let mut items = Vec::new();
    let mut more = false;
    let mut last_key = None;
    loop {
        let want = limit.map(|l| l - items.len());
        let req = ListRequest {
            prefix: prefix.clone(),
            revision,
            start_after: start_after.clone(),
            limit: want,
        };
        let resp = shared
            .store
            .list(req)
            .await
            .map_err(ApiError::from_store_general)?;
        revision = Some(resp.revision);
        for kv in &resp.items {
            last_key = Some(kv.key.clone());
            let obj = object::from_kv(kv)?;
            if filter.matches(&obj) {
                items.push(obj);
            }
        }
        if !resp.more {
            break;
        }
        if limit.is_some_and(|l| items.len() >= l) {
            more = true;
            break;
        }
        start_after = last_key.clone();
    }
    let revision = revision.unwrap_or_else(|| shared.store.current_revision());
    let mut meta = json!({"resourceVersion": revision.to_string()});
    if let (true, Some(key)) = (more, last_key) {
        let start_after = key.strip_prefix(&prefix).unwrap_or(&key).to_string();
        meta["continue"] = json!(
            ContinueToken {
                revision,
                start_after
            }
            .encode()
        );
    }
    Ok(Page {
        items,
        meta,
        revision,
    })
}

/// A list pinned to one name (`--field-selector metadata.name=x`, as `kubectl wait` and
/// `delete` send) is a point read, not a scan.
async fn read_one(shared: &Shared, prefix: &str, name: &str, filter: &Filter) -> ApiResult<Page> {
    let before = shared.store.current_revision();
    let kv = shared
        .store
        .get(&format!("{prefix}{name}"))
        .await
        .map_err(ApiError::from_store_general)?;
    // The read saw every write up to `before`, and this key's own latest write: a watch from
    // the larger of the two misses nothing and repeats nothing.
    let revision = before.max(kv.as_ref().map_or(0, |kv| kv.mod_revision));
    let mut items = Vec::new();
    if let Some(kv) = kv {
        let obj = object::from_kv(&kv)?;
        if filter.matches(&obj) {
            items.push(obj);
        }
    }
    Ok(Page {
        items,
        meta: json!({"resourceVersion": revision.to_string()}),
        revision,
    })
}

/// The revision a list must be read at: only `resourceVersionMatch=Exact` pins one; every
/// other form is satisfied by the latest state, which is never older than what was asked.
fn exact_revision(params: &ListParams) -> ApiResult<Option<Revision>> {
    match (
        params.resource_version.as_deref(),
        params.resource_version_match,
    ) {
        (Some(rv), Some(ResourceVersionMatch::Exact)) => Ok(Some(object::parse_revision(rv)?)),
        (Some(rv), _) if !rv.is_empty() => {
            object::parse_revision(rv)?;
            Ok(None)
        }
        _ => Ok(None),
    }
}
