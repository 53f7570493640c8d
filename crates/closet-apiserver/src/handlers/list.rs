//! LIST: a consistent snapshot, filtered by selectors, paged with `limit`/`continue`.
//!
//! Objects stream from the store in bounded chunks at one revision and go to a sink one at
//! a time, so a list of ten thousand objects never holds ten thousand decoded trees: the
//! JSON response is encoded as it is read.

use std::io::Write;

use axum::response::{IntoResponse, Response};
use closet_store::{ListRequest, Revision};
use closet_types::continue_token::ContinueToken;
use closet_types::params::{ListParams, ResourceVersionMatch};
use http::StatusCode;
use serde_json::{Value, json};

use super::{Call, params_error, respond_value, watch};
use crate::Shared;
use crate::codec::{self, Output};
use crate::error::{ApiError, ApiResult};
use crate::filter::Filter;
use crate::object;

/// How many stored objects one store read returns while scanning.
const CHUNK: usize = 500;

/// `GET` on a collection: a watch when `watch=true`, a list otherwise.
pub(crate) async fn list_or_watch(shared: &Shared, call: Call) -> ApiResult<Response> {
    let params = ListParams::parse(&call.query).map_err(params_error)?;
    let filter = Filter::new(&call.info, &params)?;
    if params.watch {
        return watch::watch(shared, call, params, filter).await;
    }
    match call.output {
        Output::Json | Output::Metadata => list_json(shared, &call, &params, &filter).await,
        Output::Table => {
            let now = jiff::Timestamp::now();
            let mut rows = Vec::new();
            let page = scan(shared, &call, &params, &filter, |obj| {
                rows.push(crate::table::row(
                    &call.info,
                    &obj,
                    params.include_object,
                    now,
                ));
                Ok(())
            })
            .await?;
            let table = crate::table::table(&call.info, rows, page.meta);
            Ok(respond_value(StatusCode::OK, &table, Output::Table))
        }
        Output::Yaml => {
            let mut items = Vec::new();
            let page = scan(shared, &call, &params, &filter, |obj| {
                items.push(obj);
                Ok(())
            })
            .await?;
            let list = json!({
                "kind": call.info.list_kind(),
                "apiVersion": call.info.api_version(),
                "metadata": page.meta,
                "items": items,
            });
            Ok(respond_value(StatusCode::OK, &list, Output::Yaml))
        }
    }
}

/// A JSON list (or PartialObjectMetadataList), encoded item by item as it is read.
async fn list_json(
    shared: &Shared,
    call: &Call,
    params: &ListParams,
    filter: &Filter,
) -> ApiResult<Response> {
    let metadata_only = call.output == Output::Metadata;
    let mut items: Vec<u8> = Vec::new();
    let page = scan(shared, call, params, filter, |obj| {
        if !items.is_empty() {
            items.push(b',');
        }
        let written = if metadata_only {
            serde_json::to_writer(&mut items, &codec::partial(&obj))
        } else {
            serde_json::to_writer(&mut items, &obj)
        };
        written.map_err(|e| ApiError::internal(&format!("encoding a list item: {e}")))
    })
    .await?;
    let (kind, api_version) = if metadata_only {
        (
            "PartialObjectMetadataList".to_string(),
            "meta.k8s.io/v1".to_string(),
        )
    } else {
        (call.info.list_kind(), call.info.api_version())
    };
    let mut out = Vec::with_capacity(items.len() + 256);
    let header = format!(
        "{{\"kind\":{},\"apiVersion\":{},\"metadata\":{},\"items\":[",
        Value::String(kind),
        Value::String(api_version),
        page.meta
    );
    out.extend_from_slice(header.as_bytes());
    drop(header);
    out.append(&mut items);
    let _ = out.write_all(b"]}");
    Ok((
        StatusCode::OK,
        [(http::header::CONTENT_TYPE, "application/json")],
        out,
    )
        .into_response())
}

/// What a scan read, besides the objects it handed to its sink.
pub(crate) struct PageMeta {
    /// List metadata: `resourceVersion` and, when cut short, `continue`.
    pub meta: Value,
    /// The revision the page was read at.
    pub revision: Revision,
}

/// Reads one page of matching objects, honouring `resourceVersion`, `limit` and `continue`,
/// and hands each to `sink` in key order, stamped with its resourceVersion.
pub(crate) async fn scan(
    shared: &Shared,
    call: &Call,
    params: &ListParams,
    filter: &Filter,
    mut sink: impl FnMut(Value) -> ApiResult<()>,
) -> ApiResult<PageMeta> {
    let prefix = call.info.prefix_for(call.namespace());
    let (mut revision, mut start_after) = match &params.continue_token {
        Some(token) => {
            let token =
                ContinueToken::decode(token).map_err(|e| ApiError::bad_request(e.to_string()))?;
            let revision = (token.revision >= 0).then_some(token.revision);
            // A token names a key inside this collection and a revision already written;
            // anything else was not issued by this server.
            let segments = if call.info.namespaced && call.namespace().is_none() {
                2
            } else {
                1
            };
            let bad_key = token.start_after.split('/').count() != segments
                || token
                    .start_after
                    .split('/')
                    .any(|s| s.is_empty() || s == "." || s == "..");
            if bad_key || revision.is_some_and(|r| r > shared.store.current_revision()) {
                return Err(ApiError::bad_request(
                    "continue key is not valid for this list",
                ));
            }
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
        return read_one(shared, &prefix, name, filter, sink).await;
    }
    let limit = params
        .limit
        .filter(|l| *l > 0)
        .and_then(|l| usize::try_from(l).ok());
    let mut count = 0;
    let mut more = false;
    let mut last_key = None;
    loop {
        let want = limit.map_or(CHUNK, |l| (l - count).min(CHUNK));
        let req = ListRequest {
            prefix: prefix.clone(),
            revision,
            start_after: start_after.clone(),
            limit: Some(want),
        };
        let resp = shared
            .store
            .list(req)
            .await
            .map_err(ApiError::from_store_general)?;
        // Every later chunk reads the same snapshot.
        revision = Some(resp.revision);
        for kv in resp.items {
            let obj = object::from_kv(&kv)?;
            last_key = Some(kv.key);
            if filter.matches(&obj) {
                count += 1;
                sink(obj)?;
            }
        }
        if !resp.more {
            break;
        }
        if limit.is_some_and(|l| count >= l) {
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
    Ok(PageMeta { meta, revision })
}

/// A list pinned to one name (`--field-selector metadata.name=x`, as `kubectl wait` and
/// `delete` send) is a point read, not a scan.
async fn read_one(
    shared: &Shared,
    prefix: &str,
    name: &str,
    filter: &Filter,
    mut sink: impl FnMut(Value) -> ApiResult<()>,
) -> ApiResult<PageMeta> {
    let before = shared.store.current_revision();
    let kv = shared
        .store
        .get(&format!("{prefix}{name}"))
        .await
        .map_err(ApiError::from_store_general)?;
    // The read saw every write up to `before`, and this key's own latest write: a watch from
    // the larger of the two misses nothing and repeats nothing.
    let revision = before.max(kv.as_ref().map_or(0, |kv| kv.mod_revision));
    if let Some(kv) = kv {
        let obj = object::from_kv(&kv)?;
        if filter.matches(&obj) {
            sink(obj)?;
        }
    }
    Ok(PageMeta {
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
