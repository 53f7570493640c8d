//! Crash safety: every acknowledged write survives `kill -9` of the writing process.
//!
//! The test re-runs its own binary in "writer child" mode, selected by an environment
//! variable. The child writes keys from many tasks and prints each acknowledgement; the parent
//! kills it with SIGKILL mid-run, reopens the store and looks for every acknowledged write.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use closet_store::sqlite::Options;
use closet_store::{ListRequest, Revision, Store};
use common::open;

/// Set in the child: the directory of the store to write to.
const CHILD_DIR: &str = "CLOSET_STORE_CRASH_CHILD_DIR";
/// Set in the child: which round this is, to keep keys apart.
const CHILD_ROUND: &str = "CLOSET_STORE_CRASH_CHILD_ROUND";
const ROUNDS: usize = 6;
const CHILD_TASKS: usize = 16;

/// The child half. Without the environment variable it does nothing, so a normal test run
/// just passes over it.
#[test]
fn crash_child() {
    let (Ok(dir), Ok(round)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_ROUND)) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build();
    rt.unwrap().block_on(async move {
        let store = open(Path::new(&dir), Options::default());
        let tasks: Vec<_> = (0..CHILD_TASKS)
            .map(|t| {
                let (store, round) = (store.clone(), round.clone());
                tokio::spawn(async move {
                    // Runs until killed; the bound only stops a child whose parent died.
                    for i in 0..1_000_000 {
                        let key = format!("/crash/{round}/{t}/{i}");
                        let kv = store.create(&key, Bytes::from(key.clone())).await.unwrap();
                        let mut out = std::io::stdout().lock();
                        writeln!(out, "ACK {key} {}", kv.mod_revision).unwrap();
                        out.flush().unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
}

/// Runs one child until it has acknowledged at least `min_acks` writes, kills it, and returns
/// every acknowledgement it printed.
fn run_child_and_kill(dir: &Path, round: usize, min_acks: usize) -> Vec<(String, Revision)> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash_child",
            "--exact",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_DIR, dir)
        .env(CHILD_ROUND, round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, acks) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        while stdout.read_line(&mut line).unwrap_or(0) > 0 {
            // A line cut off by the kill was never a complete acknowledgement.
            if let Some(ack) = line.strip_suffix('\n').and_then(parse_ack) {
                let _ = lines.send(ack);
            }
            line.clear();
        }
    });

    let mut acked = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while acked.len() < min_acks {
        let left = deadline.saturating_duration_since(Instant::now());
        match acks.recv_timeout(left) {
            Ok(ack) => acked.push(ack),
            Err(_) => {
                let _ = child.kill();
                panic!("child acknowledged only {} writes", acked.len());
            }
        }
    }
    // std's kill is SIGKILL on Unix: no destructors, no flush, exactly like `kill -9`.
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    acked.extend(acks.try_iter());
    acked
}

/// Finds `ACK <key> <rev>` anywhere in a line: libtest may print its own text before it.
fn parse_ack(line: &str) -> Option<(String, Revision)> {
    let rest = &line[line.find("ACK ")? + 4..];
    let (key, rev) = rest.split_once(' ')?;
    Some((key.to_owned(), rev.parse().ok()?))
}

#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut last_current = 0;
    for round in 0..ROUNDS {
        let acked = run_child_and_kill(dir.path(), round, 150 + 400 * round);

        let store = open(dir.path(), Options::default());
        let current = store.current_revision();
        assert!(
            current >= last_current,
            "revision went back from {last_current} to {current}"
        );
        for (key, rev) in &acked {
            let kv = store.get(key).await.unwrap();
            let kv = kv.unwrap_or_else(|| panic!("round {round}: acknowledged {key} is missing"));
            assert_eq!((kv.mod_revision, kv.value.as_ref()), (*rev, key.as_bytes()));
        }
        // Only creates were written, so the surviving keys must hold every revision once.
        let all = store.list(ListRequest {
            prefix: "/crash/".into(),
            ..Default::default()
        });
        let revs: BTreeSet<Revision> = all
            .await
            .unwrap()
            .items
            .iter()
            .map(|kv| kv.mod_revision)
            .collect();
        assert_eq!(
            revs,
            (1..=current).collect::<BTreeSet<_>>(),
            "round {round}"
        );
        eprintln!(
            "round {round}: {} acknowledged, {current} committed in total",
            acked.len()
        );
        last_current = current;
        drop(store);
    }
}
