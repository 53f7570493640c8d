//! `/containerLogs`: the CRI log file as kubectl expects it.

use std::io::Write;
use std::time::Duration;

use http::StatusCode;
use http_body_util::BodyExt;

use crate::harness::Node;

const LOG: &str = "\
2024-05-01T10:00:00.1Z stdout F one
2024-05-01T10:00:01Z stderr F two
2024-05-01T10:00:02Z stdout P thr
2024-05-01T10:00:03Z stdout F ee
";

#[tokio::test]
async fn the_whole_log_with_partial_lines_joined() {
    let node = Node::start().await;
    std::fs::write(node.add_web_pod(false), LOG).unwrap();
    let response = node.request("/containerLogs/default/web/app").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/plain");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "one\ntwo\nthree\n");
}

#[tokio::test]
async fn tail_timestamps_and_limit() {
    let node = Node::start().await;
    std::fs::write(node.add_web_pod(false), LOG).unwrap();
    let (status, body) = node
        .get("/containerLogs/default/web/app?tailLines=2&timestamps=true")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "2024-05-01T10:00:02Z three\n");
    let (_, body) = node
        .get("/containerLogs/default/web/app?tailLines=3&limitBytes=6")
        .await;
    assert_eq!(body, "two\nth");
    let (_, body) = node
        .get("/containerLogs/default/web/app?sinceTime=2024-05-01T10%3A00%3A01Z")
        .await;
    assert_eq!(body, "two\nthree\n");
}

#[tokio::test]
async fn bad_requests_and_missing_containers() {
    let node = Node::start().await;
    std::fs::write(node.add_web_pod(false), LOG).unwrap();
    let (status, body) = node
        .get("/containerLogs/default/web/app?tailLines=-3")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = node.get("/containerLogs/default/web/db").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status["kind"], "Status");
    let (status, body) = node
        .get("/containerLogs/default/web/app?previous=true")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("previous terminated container"), "{body}");
}

#[tokio::test]
async fn previous_reads_the_earlier_instance() {
    let node = Node::start().await;
    node.add_web_pod(false);
    let previous = node.dir.path().join("0.log");
    std::fs::write(
        &previous,
        "2024-05-01T09:00:00Z stdout F before the crash\n",
    )
    .unwrap();
    node.pods
        .containers
        .lock()
        .unwrap()
        .values_mut()
        .for_each(|c| c.previous_log_path = Some(previous.clone()));
    let (status, body) = node
        .get("/containerLogs/default/web/app?previous=true&follow=true")
        .await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "before the crash\n")
    );
}

#[tokio::test]
async fn follow_streams_new_lines_until_the_container_stops() {
    let node = Node::start().await;
    let path = node.add_web_pod(false);
    std::fs::write(&path, "2024-05-01T10:00:00Z stdout F first\n").unwrap();
    let response = node
        .request("/containerLogs/default/web/app?follow=true")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let mut seen = Vec::new();
    let mut next = async || {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("a chunk in time");
        frame.map(|f| f.unwrap().into_data().unwrap())
    };
    seen.extend_from_slice(&next().await.unwrap());
    assert_eq!(seen, b"first\n");

    // A line written in two pieces, the first without its newline yet.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(b"2024-05-01T10:00:01Z stdout F sec")
        .unwrap();
    file.flush().unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    file.write_all(b"ond\n").unwrap();
    seen.clear();
    seen.extend_from_slice(&next().await.unwrap());
    assert_eq!(seen, b"second\n", "each line is flushed as it is complete");

    // The container stops right after a last line: the line still arrives, then the end.
    file.write_all(b"2024-05-01T10:00:02Z stdout F last\n")
        .unwrap();
    node.pods.set_running("default", "web", "app", false);
    let mut rest = Vec::new();
    while let Some(chunk) = next().await {
        rest.extend_from_slice(&chunk);
    }
    assert_eq!(rest, b"last\n");
}
