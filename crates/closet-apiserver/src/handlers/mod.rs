//! Resource requests: one module per verb family, dispatched from [`serve`].

mod apply;
mod create;
mod delete;
mod eviction;
mod fields;
mod list;
pub(crate) mod node_proxy;
mod node_subpath;
mod patch;
mod read;
mod review;
mod scale;
mod storage;
mod update;
mod watch;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use closet_types::IncludeObject;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt;

use crate::Shared;
use crate::codec::{self, Output};
use crate::discovery;
use crate::error::{ApiError, ApiResult};
use crate::registry::ResourceInfo;
use crate::request::{PathKind, Target, parse_path};
use crate::strategy::UpdateScope;

/// One resource request, parsed.
pub(crate) struct Call {
    /// The resource addressed.
    pub(crate) info: Arc<ResourceInfo>,
    /// The parsed path.
    pub(crate) target: Target,
    /// The raw query string.
    pub(crate) query: String,
    /// Request headers.
    pub(crate) headers: HeaderMap,
    /// The whole body (bounded by [`codec::MAX_BODY_BYTES`]).
    pub(crate) body: Bytes,
    /// Response form from `Accept`.
    pub(crate) output: Output,
    /// Who is calling.
    pub(crate) user: Option<crate::auth::User>,
}

impl Call {
    /// The request's Content-Type header.
    pub(crate) fn content_type(&self) -> Option<&str> {
        self.headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
    }

    /// The object name from the path (only called on paths that have one).
    pub(crate) fn name(&self) -> &str {
        self.target.name.as_deref().unwrap_or("")
    }

    /// The namespace from the path, for namespaced resources.
    pub(crate) fn namespace(&self) -> Option<&str> {
        if self.info.namespaced {
            self.target.namespace.as_deref()
        } else {
            None
        }
    }

    /// The store key of the named object.
    pub(crate) fn key(&self) -> String {
        self.info.key_for(self.namespace(), self.name())
    }

    /// What Table rows carry, from `includeObject`.
    pub(crate) fn include_object(&self) -> IncludeObject {
        closet_types::ListParams::parse(&self.query)
            .map(|p| p.include_object)
            .unwrap_or(IncludeObject::Metadata)
    }
}

/// Serves every path not routed elsewhere: `/api` and `/apis` and everything below them.
pub(crate) async fn serve(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    match dispatch(shared, req).await {
        Ok(resp) => resp,
        Err(err) => err.into_response(),
    }
}

async fn dispatch(shared: Arc<Shared>, req: Request) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let accept = parts
        .headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let target = match parse_path(parts.uri.path()) {
        PathKind::CoreRoot => return Ok(discovery::core_root(&shared, accept)),
        PathKind::GroupsRoot => return Ok(discovery::groups_root(&shared, accept)),
        PathKind::Group(group) => return discovery::group(&shared, &group),
        PathKind::GroupVersion { group, version } => {
            return discovery::resource_list(&shared, &group, &version);
        }
        PathKind::Resource(target) => target,
        PathKind::Other => return Err(ApiError::path_not_found(parts.uri.path())),
    };
    if node_proxy::handles(&target) {
        return node_proxy::serve(&shared, target, Request::from_parts(parts, body)).await;
    }
    if node_subpath::handles(&target) {
        return node_subpath::serve(&shared, target, Request::from_parts(parts, body)).await;
    }
    if target.group == crate::metrics::GROUP {
        return crate::metrics::serve(&shared, target, Request::from_parts(parts, body)).await;
    }
    let info = resolve(&shared, &target, parts.uri.path())?;
    // A declared body over the limit is refused before waiting for any of it.
    let declared = parts.headers.get(http::header::CONTENT_LENGTH);
    if declared
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > codec::MAX_BODY_BYTES as u64)
    {
        return Err(ApiError::too_large(codec::MAX_BODY_BYTES));
    }
    if parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.to_str().is_err())
    {
        return Err(ApiError::unsupported_media_type());
    }
    let user = parts.extensions.get::<crate::auth::User>().cloned();
    let output = codec::negotiate(accept)?;
    let body = read_body(body).await?;
    let call = Call {
        info,
        target,
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts.headers,
        body,
        output,
        user,
    };
    let sub = call.target.subresource.clone();
    let named = call.target.name.is_some();
    if call.info.is_review() {
        return match (&parts.method, named, &sub) {
            (&Method::POST, false, None) => review::create(&shared, call).await,
            (method, _, _) => Err(ApiError::method_not_allowed(
                Some(&call.info),
                &method.as_str().to_lowercase(),
            )),
        };
    }
    match (&parts.method, named, sub.as_deref()) {
        (&Method::GET, false, None) => list::list_or_watch(&shared, call).await,
        (&Method::GET, true, None | Some("status")) => read::get(&shared, call).await,
        (&Method::GET, true, Some("scale")) => scale::get(&shared, call).await,
        (&Method::PUT, true, Some("scale")) => scale::write(&shared, call, false).await,
        (&Method::PATCH, true, Some("scale")) => scale::write(&shared, call, true).await,
        (&Method::POST, false, None) => create::create(&shared, call).await,
        (&Method::POST, true, Some("binding")) => create::bind(&shared, call).await,
        (&Method::POST, true, Some("eviction")) => eviction::evict(&shared, call).await,
        (&Method::POST, true, Some("token")) if call.info.is_core("serviceaccounts") => {
            crate::serviceaccount::request::create(&shared, call).await
        }
        (&Method::PUT, true, None) => update::update(&shared, call, UpdateScope::Main).await,
        (&Method::PUT, true, Some("status")) => {
            update::update(&shared, call, UpdateScope::Status).await
        }
        (&Method::PUT, true, Some("finalize")) => {
            update::update(&shared, call, UpdateScope::Finalize).await
        }
        (&Method::PATCH, true, None) if is_apply(&call) => {
            apply::server_side_apply(&shared, call).await
        }
        (&Method::PATCH, true, None) => patch::patch(&shared, call, UpdateScope::Main).await,
        (&Method::PATCH, true, Some("status")) => {
            patch::patch(&shared, call, UpdateScope::Status).await
        }
        (&Method::DELETE, true, None) => delete::delete(&shared, call).await,
        (&Method::DELETE, false, None) => delete::delete_collection(&shared, call).await,
        (method, _, _) => Err(ApiError::method_not_allowed(
            Some(&call.info),
            &method.as_str().to_lowercase(),
        )),
    }
}

/// Whether a PATCH carries a server-side apply configuration.
fn is_apply(call: &Call) -> bool {
    call.content_type().is_some_and(|ct| {
        ct.split(';').next().unwrap_or("").trim() == "application/apply-patch+yaml"
    })
}

/// Finds the resource a path addresses and checks the path's shape fits it.
fn resolve(shared: &Shared, t: &Target, path: &str) -> ApiResult<Arc<ResourceInfo>> {
    let info = shared
        .registry
        .get(&t.group, &t.version, &t.resource)
        .ok_or_else(|| ApiError::path_not_found(path))?;
    let shape_ok = match (info.namespaced, &t.namespace, &t.name) {
        // Cluster-scoped kinds have no namespace segment.
        (false, Some(_), _) => false,
        // Namespaced objects are named only inside a namespace; collections may span all.
        (true, None, Some(_)) => false,
        _ => true,
    };
    let sub_ok = t
        .subresource
        .as_deref()
        .is_none_or(|s| info.has_subresource(s));
    if !shape_ok || !sub_ok {
        return Err(ApiError::path_not_found(path));
    }
    Ok(info)
}

async fn read_body(body: Body) -> ApiResult<Bytes> {
    let limited = http_body_util::Limited::new(body, codec::MAX_BODY_BYTES);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => {
            Err(ApiError::too_large(codec::MAX_BODY_BYTES))
        }
        Err(err) => Err(ApiError::bad_request(format!(
            "could not read the request body: {err}"
        ))),
    }
}

/// A response carrying one object in the negotiated form.
pub(crate) fn respond_object(call: &Call, code: StatusCode, obj: &serde_json::Value) -> Response {
    let value = match call.output {
        Output::Table => crate::table::from_objects(
            &call.info,
            std::slice::from_ref(obj),
            None,
            call.include_object(),
        ),
        Output::Metadata => codec::partial(obj),
        _ => obj.clone(),
    };
    respond_value(code, &value, call.output)
}

/// A response carrying any value in the negotiated form.
pub(crate) fn respond_value(
    code: StatusCode,
    value: &serde_json::Value,
    output: Output,
) -> Response {
    let (content_type, bytes) = codec::encode(value, output);
    (code, [(http::header::CONTENT_TYPE, content_type)], bytes).into_response()
}

/// Problems with the fields of a write body under `fieldValidation`: an error under Strict,
/// warnings to return under Warn, nothing under Ignore. Unknown fields are those the kind's
/// schema does not declare (custom resources; built-in kinds once their schemas are wired).
pub(crate) fn field_problems(
    call: &Call,
    validation: closet_types::FieldValidation,
    obj: &serde_json::Value,
) -> ApiResult<Vec<String>> {
    use closet_types::FieldValidation;
    if validation == FieldValidation::Ignore {
        return Ok(Vec::new());
    }
    let mut problems: Vec<String> = Vec::new();
    if call.info.custom.is_none() {
        problems.extend(
            crate::merge_meta::unknown_fields(call.gvk(), obj)
                .into_iter()
                .map(|f| format!("unknown field \"{f}\"")),
        );
    }
    if let Some(schema) = call.info.custom.as_ref().and_then(|c| c.schema.as_ref()) {
        problems.extend(
            crate::crd::schema::unknown_fields(schema, obj)
                .into_iter()
                .map(|f| format!("unknown field \"{f}\"")),
        );
    }
    let json_body = call
        .content_type()
        .is_none_or(|ct| ct.trim_start().starts_with("application/json"));
    if json_body {
        problems.extend(
            codec::duplicate_fields(&call.body)
                .into_iter()
                .map(|f| format!("duplicate field \"{f}\"")),
        );
    }
    // Hostile bodies can name thousands of bad fields: report a bounded, readable few.
    problems.truncate(MAX_FIELD_PROBLEMS);
    for problem in &mut problems {
        if problem.len() > 300 {
            let cut = (0..=300)
                .rev()
                .find(|i| problem.is_char_boundary(*i))
                .unwrap_or(0);
            problem.truncate(cut);
            problem.push_str("...\"");
        }
    }
    if validation == FieldValidation::Strict && !problems.is_empty() {
        let kind = &call.info.kind;
        return Err(ApiError::bad_request(format!(
            "{kind} in version \"{}\" cannot be handled as a {kind}: strict decoding error: {}",
            call.info.version,
            problems.join(", ")
        )));
    }
    Ok(problems)
}

/// How many field problems a response names at most.
const MAX_FIELD_PROBLEMS: usize = 16;

/// Adds one `Warning` header per message, as upstream (`299 - "message"`).
pub(crate) fn with_warnings(mut resp: Response, warnings: &[String]) -> Response {
    for warning in warnings {
        let text = format!("299 - {}", serde_json::Value::String(warning.clone()));
        if let Ok(value) = http::HeaderValue::from_str(&text) {
            resp.headers_mut().append(http::header::WARNING, value);
        }
    }
    resp
}

/// Parameter errors carry their own upstream status (400 or 422).
pub(crate) fn params_error(err: closet_types::ParamsError) -> ApiError {
    ApiError::from(err.to_status())
}
