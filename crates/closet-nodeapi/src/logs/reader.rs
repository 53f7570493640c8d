//! Reading a CRI log file for one request: from the tail position, through the formatter,
//! and for `follow`, on as the file grows until the container stops.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

use super::cri::Formatter;

/// Bytes gathered before a chunk is sent while catching up with a file; at the end of the
/// file whatever is gathered goes out at once, so a followed log is flushed per line.
const CHUNK: usize = 32 * 1024;
/// Block size when searching backwards for the tail.
const TAIL_BLOCK: u64 = 16 * 1024;

/// Whether the writer of a followed file is still there.
pub(crate) trait Liveness: Send + 'static {
    /// True while more lines may come.
    fn running(&self) -> bool;
}

impl<F: Fn() -> bool + Send + 'static> Liveness for F {
    fn running(&self) -> bool {
        self()
    }
}

/// How a file is read.
pub(crate) struct ReadPlan {
    /// Keep reading as the file grows.
    pub(crate) follow: bool,
    /// How often to look for new lines while following.
    pub(crate) poll: Duration,
}

/// Opens `path` positioned `tail_lines` records before its end (at its start if `None`).
pub(crate) async fn open_at_tail(
    path: &Path,
    tail_lines: Option<u64>,
) -> std::io::Result<tokio::fs::File> {
    let path = path.to_owned();
    let file = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
        let mut file = std::fs::File::open(&path)?;
        if let Some(n) = tail_lines {
            let start = tail_start(&mut file, n)?;
            file.seek(SeekFrom::Start(start))?;
        }
        Ok(file)
    })
    .await
    .map_err(std::io::Error::other)??;
    Ok(tokio::fs::File::from_std(file))
}

/// The offset where the last `n` lines of `file` begin. A final line without its newline
/// (one being written) counts as a line.
fn tail_start(file: &mut (impl Read + Seek), n: u64) -> std::io::Result<u64> {
    let len = file.seek(SeekFrom::End(0))?;
    if n == 0 {
        return Ok(len);
    }
    let mut end = len;
    let mut seen = 0u64;
    let mut block = vec![0u8; usize::try_from(TAIL_BLOCK).unwrap_or(16 * 1024)];
    while end > 0 {
        let start = end.saturating_sub(TAIL_BLOCK);
        let size = usize::try_from(end - start).unwrap_or(0);
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut block[..size])?;
        for i in (0..size).rev() {
            let at = start + i as u64;
            // The newline ending the file closes the last line; it does not start one.
            if block[i] == b'\n' && at + 1 != len {
                seen += 1;
                if seen == n {
                    return Ok(at + 1);
                }
            }
        }
        end = start;
    }
    Ok(0)
}

/// Streams `file` through `formatter` into `out` until the end (or, following, until
/// `liveness` says the writer stopped and the file has nothing more), the byte limit, or the
/// client going away.
pub(crate) async fn stream(
    file: tokio::fs::File,
    mut formatter: Formatter,
    plan: ReadPlan,
    liveness: impl Liveness,
    out: mpsc::Sender<Bytes>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut pending = Vec::new();
    loop {
        let read = reader.read_until(b'\n', &mut line).await?;
        if line.ends_with(b"\n") {
            line.pop();
            formatter.line(&line, &mut pending);
            line.clear();
            if pending.len() >= CHUNK && !send(&out, &mut pending).await {
                return Ok(());
            }
            if formatter.exhausted() {
                break;
            }
            continue;
        }
        // End of the file for now; `line` may hold the start of a line being written.
        if !send(&out, &mut pending).await {
            return Ok(());
        }
        if !plan.follow {
            break;
        }
        if read == 0 && !liveness.running() {
            // One last look: lines written just before the container stopped.
            if reader.read_until(b'\n', &mut line).await? == 0 {
                break;
            }
            continue;
        }
        tokio::select! {
            () = out.closed() => return Ok(()),
            () = tokio::time::sleep(plan.poll) => {}
        }
    }
    // A last record without its newline, left by a writer that stopped mid-line.
    if !line.is_empty() && !formatter.exhausted() {
        formatter.line(&line, &mut pending);
    }
    send(&out, &mut pending).await;
    Ok(())
}

/// Sends what is pending; false once the client has gone.
async fn send(out: &mpsc::Sender<Bytes>, pending: &mut Vec<u8>) -> bool {
    if pending.is_empty() {
        return !out.is_closed();
    }
    out.send(Bytes::from(std::mem::take(pending))).await.is_ok()
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    #[test]
    fn tail_finds_the_last_lines() {
        let text = b"a\nb\nc\n";
        let start = |n| tail_start(&mut Cursor::new(&text[..]), n).unwrap();
        assert_eq!(start(0), 6);
        assert_eq!(start(1), 4);
        assert_eq!(start(2), 2);
        assert_eq!(start(3), 0);
        assert_eq!(start(10), 0);
        // A line still being written counts.
        let partial = b"a\nb\nc";
        assert_eq!(tail_start(&mut Cursor::new(&partial[..]), 1).unwrap(), 4);
    }

    #[test]
    fn tail_crosses_block_boundaries() {
        let mut text = Vec::new();
        for i in 0..5000 {
            text.extend_from_slice(format!("line {i:08}\n").as_bytes());
        }
        let start = tail_start(&mut Cursor::new(&text), 3000).unwrap();
        assert!(text[start as usize..].starts_with(b"line 00002000\n"));
    }
}
