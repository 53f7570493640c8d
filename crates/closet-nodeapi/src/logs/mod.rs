//! `GET /containerLogs/{ns}/{pod}/{container}`: a container's CRI log file as text.

mod cri;
mod options;
mod reader;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::sync::mpsc;

use crate::server::Inner;
use crate::status::{self, Failure};

pub(crate) use options::{form_pairs, parse_bool};

/// Chunks in flight between the file reader and the connection.
const CHANNEL_DEPTH: usize = 16;

/// The handler.
pub(crate) async fn container_logs(
    State(api): State<Arc<Inner>>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    serve(api, namespace, pod, container, query.unwrap_or_default())
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn serve(
    api: Arc<Inner>,
    namespace: String,
    pod: String,
    container: String,
    query: String,
) -> Result<Response, Failure> {
    let opts = options::LogOptions::parse(&query, jiff::Timestamp::now())?;
    let info = api
        .pods
        .container(&namespace, &pod, &container)
        .ok_or_else(|| status::container_not_found(&namespace, &pod, &container))?;
    let path = if opts.previous {
        info.previous_log_path.clone().ok_or_else(|| {
            status::bad_request(format!(
                "previous terminated container {container:?} in pod {pod:?} not found"
            ))
        })?
    } else {
        info.log_path.clone()
    };
    let file = reader::open_at_tail(&path, opts.tail_lines)
        .await
        .map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => status::bad_request(format!(
                "container {container:?} in pod {pod:?} has no log yet ({} does not exist)",
                path.display()
            )),
            _ => status::internal(&format!("opening log file {}", path.display()), &err),
        })?;

    let plan = reader::ReadPlan {
        // The previous instance has ended: there is nothing to wait for.
        follow: opts.follow && !opts.previous,
        poll: api.log_poll,
    };
    let pods = api.pods.clone();
    let id = info.container_id.clone();
    let liveness = move || {
        pods.container(&namespace, &pod, &container)
            .is_some_and(|now| now.container_id == id && now.running)
    };
    let (tx, rx) = mpsc::channel::<Bytes>(CHANNEL_DEPTH);
    let formatter = cri::Formatter::new(&opts);
    tokio::spawn(async move {
        if let Err(err) = reader::stream(file, formatter, plan, liveness, tx).await {
            tracing::warn!(path = %path.display(), %err, "reading a container log failed");
        }
    });
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, std::convert::Infallible>(chunk), rx))
    });
    Ok((
        [(http::header::CONTENT_TYPE, "text/plain")],
        Body::from_stream(body),
    )
        .into_response())
}
