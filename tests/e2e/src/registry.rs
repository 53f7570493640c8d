//! A local OCI registry for tests: Debian's `docker-registry` (the distribution registry,
//! `apt-get install docker-registry`) on 127.0.0.1 with its storage in a temp dir, and a
//! client that pushes [`OciLayout`]s to it over the OCI distribution API on plain HTTP.
//!
//! [`Registry::start`] picks a free port and waits until `/v2/` answers; dropping the
//! [`Registry`] stops the process by its PID. [`push`] works against any plain-HTTP registry.

use std::fs;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use closet_image::spec::{Descriptor, MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST};
use closet_image::{OciLayout, Reference};
use http_body_util::{BodyExt as _, Full};
use hyper::header::{ACCEPT, CONTENT_TYPE, HOST, HeaderValue, LOCATION};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use crate::process::{sigterm, wait_timeout, watchdog};

/// Where Debian's package installs the registry.
pub const REGISTRY_BINARY: &str = "/usr/bin/docker-registry";

/// Media types a manifest GET accepts, so the registry answers with what was pushed.
const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// A running `docker-registry` owned by a test.
pub struct Registry {
    child: Child,
    watchdog: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl Registry {
    /// Whether the registry binary is installed.
    pub fn available() -> bool {
        Path::new(REGISTRY_BINARY).is_file()
    }

    /// Starts a registry on a free port of 127.0.0.1 and waits until `/v2/` answers.
    pub fn start() -> anyhow::Result<Self> {
        if !Self::available() {
            bail!("{REGISTRY_BINARY} not found; install it with `apt-get install docker-registry`");
        }
        let dir = tempfile::tempdir().context("registry temp dir")?;
        let mut last_error = None;
        // A port found free can be taken before the registry binds it; try a few.
        for _ in 0..3 {
            let port = free_port()?;
            match Self::start_on(&dir, port) {
                Ok((child, watchdog)) => {
                    return Ok(Self {
                        child,
                        watchdog,
                        port,
                        dir,
                    });
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("registry did not start")))
    }

    fn start_on(dir: &tempfile::TempDir, port: u16) -> anyhow::Result<(Child, Option<Child>)> {
        let storage = dir.path().join("storage");
        let config = dir.path().join("config.yml");
        fs::write(
            &config,
            format!(
                "version: 0.1\n\
                 log:\n  level: warn\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 http:\n  addr: 127.0.0.1:{port}\n",
                storage.display()
            ),
        )
        .context("writing registry config")?;
        let log_path = dir.path().join("registry.log");
        let log = fs::File::create(&log_path).context("registry log")?;
        let mut child = Command::new(REGISTRY_BINARY)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("registry log")?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {REGISTRY_BINARY}"))?;
        let deadline = Instant::now() + crate::scaled(Duration::from_secs(20));
        loop {
            if let Some(status) = child.try_wait().context("registry status")? {
                let log = fs::read_to_string(&log_path).unwrap_or_default();
                bail!("docker-registry exited ({status}) on port {port}:\n{log}");
            }
            if v2_answers(port) {
                let watchdog = watchdog(child.id(), None);
                return Ok((child, watchdog));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("docker-registry on port {port} did not answer /v2/ in time");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`, the registry part of image references.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:<port>/<name>`, e.g. `reference("e2e/busybox:1")`.
    pub fn reference(&self, name: &str) -> String {
        format!("{}/{name}", self.host())
    }

    /// The registry's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Where it stores blobs and manifests.
    pub fn storage_dir(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// Pushes the only image in `layout` as `name` (e.g. `e2e/busybox:1`) to this registry.
    /// Returns the digest of the pushed manifest or index.
    pub async fn push(&self, layout: &OciLayout, name: &str) -> anyhow::Result<String> {
        push(layout, &self.reference(name)).await
    }

    /// A GET (or HEAD) of `path` on this registry, accepting any manifest media type.
    pub async fn get(&self, method: Method, path: &str) -> anyhow::Result<Response<Bytes>> {
        let accept = [(ACCEPT.as_str(), MANIFEST_TYPES)];
        request(&self.host(), method, path, &accept, Bytes::new()).await
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        sigterm(self.child.id());
        if wait_timeout(&mut self.child, Duration::from_secs(5)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}

/// Pushes the only image in `layout` to `target` (`host:port/name:tag`) over plain HTTP: every
/// blob (skipping those the registry has), each platform's manifest by digest, then the
/// manifest or index under the tag. Returns the digest of what the tag now names.
pub async fn push(layout: &OciLayout, target: &str) -> anyhow::Result<String> {
    let [entry] = layout.index().manifests.as_slice() else {
        bail!(
            "the layout holds {} images; push one with push_entry",
            layout.index().manifests.len()
        );
    };
    push_entry(layout, entry, target).await
}

/// Pushes the archive `archive` (an OCI layout tar, as `closet_image` writes) to `target`.
pub async fn push_archive(archive: &[u8], target: &str) -> anyhow::Result<String> {
    push(&OciLayout::from_archive(archive)?, target).await
}

/// Pushes the image `entry` (an entry of `layout`'s `index.json`) to `target`.
pub async fn push_entry(
    layout: &OciLayout,
    entry: &Descriptor,
    target: &str,
) -> anyhow::Result<String> {
    let target = Reference::parse(target)?;
    let pusher = Pusher {
        layout,
        host: &target.registry,
        repository: &target.repository,
    };
    pusher.push_tree(entry, target.tag_or_digest()).await?;
    Ok(entry.digest.clone())
}

struct Pusher<'a> {
    layout: &'a OciLayout,
    host: &'a str,
    repository: &'a str,
}

impl Pusher<'_> {
    /// Pushes what `descriptor` references, then the document itself under `reference`.
    /// Registries check that an index's manifests and a manifest's blobs exist, so children
    /// always go first.
    async fn push_tree(&self, descriptor: &Descriptor, reference: &str) -> anyhow::Result<()> {
        match descriptor.media_type.as_str() {
            MEDIA_TYPE_INDEX => {
                let index = self.layout.image_index(descriptor)?;
                for child in &index.manifests {
                    Box::pin(self.push_tree(child, &child.digest)).await?;
                }
            }
            MEDIA_TYPE_MANIFEST => {
                let manifest = self.layout.manifest(descriptor)?;
                for blob in std::iter::once(&manifest.config).chain(&manifest.layers) {
                    self.push_blob(&blob.digest).await?;
                }
            }
            other => bail!("cannot push {} of media type {other}", descriptor.digest),
        }
        self.put_manifest(descriptor, reference).await
    }

    async fn push_blob(&self, digest: &str) -> anyhow::Result<()> {
        let repository = self.repository;
        let exists = request(
            self.host,
            Method::HEAD,
            &format!("/v2/{repository}/blobs/{digest}"),
            &[],
            Bytes::new(),
        )
        .await?;
        if exists.status() == StatusCode::OK {
            return Ok(());
        }
        let blob = self
            .layout
            .blob(digest)
            .with_context(|| format!("the layout lacks blob {digest}"))?;
        let start = request(
            self.host,
            Method::POST,
            &format!("/v2/{repository}/blobs/uploads/"),
            &[],
            Bytes::new(),
        )
        .await?;
        expect_status(&start, StatusCode::ACCEPTED, "starting a blob upload")?;
        let location = start
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .context("blob upload answer has no Location")?;
        let path = upload_path(location, digest);
        let put = request(
            self.host,
            Method::PUT,
            &path,
            &[(CONTENT_TYPE.as_str(), "application/octet-stream")],
            Bytes::from(blob.data.clone()),
        )
        .await?;
        expect_status(
            &put,
            StatusCode::CREATED,
            &format!("uploading blob {digest}"),
        )
    }

    async fn put_manifest(&self, descriptor: &Descriptor, reference: &str) -> anyhow::Result<()> {
        let blob = self
            .layout
            .blob(&descriptor.digest)
            .with_context(|| format!("the layout lacks {}", descriptor.digest))?;
        let put = request(
            self.host,
            Method::PUT,
            &format!("/v2/{}/manifests/{reference}", self.repository),
            &[(CONTENT_TYPE.as_str(), descriptor.media_type.as_str())],
            Bytes::from(blob.data.clone()),
        )
        .await?;
        expect_status(
            &put,
            StatusCode::CREATED,
            &format!("putting manifest {} as {reference}", descriptor.digest),
        )?;
        let stored = put
            .headers()
            .get("docker-content-digest")
            .and_then(|d| d.to_str().ok());
        if stored.is_some_and(|d| d != descriptor.digest) {
            bail!(
                "the registry stored {reference} as {stored:?}, not {}",
                descriptor.digest
            );
        }
        Ok(())
    }
}

/// The path and query to PUT a monolithic upload to: the upload `Location` (absolute or
/// not) with the digest added to its query.
fn upload_path(location: &str, digest: &str) -> String {
    let path = match location.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => location,
    };
    let separator = if path.contains('?') { '&' } else { '?' };
    format!("{path}{separator}digest={digest}")
}

fn expect_status(response: &Response<Bytes>, want: StatusCode, what: &str) -> anyhow::Result<()> {
    if response.status() != want {
        bail!(
            "{what}: registry answered {} ({})",
            response.status(),
            String::from_utf8_lossy(response.body())
        );
    }
    Ok(())
}

/// One HTTP/1.1 request on a fresh connection to `host` (`127.0.0.1:port`).
pub async fn request(
    host: &str,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> anyhow::Result<Response<Bytes>> {
    let stream = tokio::net::TcpStream::connect(host)
        .await
        .with_context(|| format!("connecting to {host}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP handshake")?;
    let driver = tokio::spawn(connection);
    let mut builder = Request::builder()
        .method(method.clone())
        .uri(path)
        .header(HOST, HeaderValue::from_str(host)?);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let response = sender
        .send_request(builder.body(Full::new(body))?)
        .await
        .with_context(|| format!("{method} {path}"))?;
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .context("reading the answer")?
        .to_bytes();
    driver.abort();
    Ok(Response::from_parts(parts, body))
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Whether `GET /v2/` on `port` answers 200 (blocking, for the start-up wait).
fn v2_answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_locations_get_the_digest_in_their_query() {
        assert_eq!(
            upload_path(
                "http://127.0.0.1:5000/v2/a/blobs/uploads/u?_state=s",
                "sha256:1"
            ),
            "/v2/a/blobs/uploads/u?_state=s&digest=sha256:1"
        );
        assert_eq!(
            upload_path("/v2/a/blobs/uploads/u", "sha256:1"),
            "/v2/a/blobs/uploads/u?digest=sha256:1"
        );
    }
}
