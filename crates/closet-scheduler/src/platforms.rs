//! Which platforms (os/arch) an image offers, read from its registry over the OCI
//! distribution API and cached with a TTL. Anything unknown — a registry that does not
//! answer, a machine that is offline, a manifest that cannot be read — yields no platforms,
//! and no platforms never filters a node: the scheduler never blocks pods on the network.
//!
//! Registries are reached over HTTPS; one on a loopback address (`127.0.0.1:5000`,
//! `localhost`) is also tried over plain HTTP, as containerd does for local registries.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use closet_image::Reference;
use http::{Request, StatusCode, header};

/// One platform an image offers or a node is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// GOARCH naming: `amd64`, `arm64`, `arm`.
    pub architecture: String,
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)
    }
}

/// Known platforms by image, as written in the pod spec.
pub type Platforms = BTreeMap<String, Vec<Platform>>;

/// The normalized form CRI and node status use: `busybox` → `docker.io/library/busybox:latest`.
pub fn normalize_image(image: &str) -> String {
    Reference::parse(image).map_or_else(|_| image.to_owned(), |r| r.to_string())
}

/// Where image platforms come from: the registry in production, a map in tests.
pub trait PlatformSource: Send + Sync {
    /// The platforms `image` offers; empty when unknown.
    fn platforms<'a>(
        &'a self,
        image: &'a str,
    ) -> std::pin::Pin<Box<dyn Future<Output = Vec<Platform>> + Send + 'a>>;
}

/// A fixed answer per image, for tests and for turning lookups off (an empty map).
#[derive(Default)]
pub struct StaticPlatforms(pub Platforms);

impl PlatformSource for StaticPlatforms {
    fn platforms<'a>(
        &'a self,
        image: &'a str,
    ) -> std::pin::Pin<Box<dyn Future<Output = Vec<Platform>> + Send + 'a>> {
        let answer = self.0.get(image).cloned().unwrap_or_default();
        Box::pin(async move { answer })
    }
}

/// How long a known answer is reused.
const KNOWN_TTL: Duration = Duration::from_secs(600);
/// How long an unknown answer is reused before asking again.
const UNKNOWN_TTL: Duration = Duration::from_secs(60);
/// The longest one lookup may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Media types a manifest GET accepts.
const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// Platforms from registries, cached per image.
#[derive(Default)]
pub struct RegistryPlatforms {
    cache: Mutex<HashMap<String, (Instant, Vec<Platform>)>>,
    local_only: bool,
}

impl RegistryPlatforms {
    /// Asks only registries on this machine; images elsewhere have unknown platforms.
    pub fn local_only() -> Self {
        Self {
            local_only: true,
            ..Self::default()
        }
    }
}

impl PlatformSource for RegistryPlatforms {
    fn platforms<'a>(
        &'a self,
        image: &'a str,
    ) -> std::pin::Pin<Box<dyn Future<Output = Vec<Platform>> + Send + 'a>> {
        Box::pin(async move {
            if self.local_only && !Reference::parse(image).is_ok_and(|r| is_loopback(&r.registry)) {
                return Vec::new();
            }
            if let Ok(cache) = self.cache.lock()
                && let Some((at, answer)) = cache.get(image)
            {
                let ttl = if answer.is_empty() {
                    UNKNOWN_TTL
                } else {
                    KNOWN_TTL
                };
                if at.elapsed() < ttl {
                    return answer.clone();
                }
            }
            let answer = tokio::time::timeout(LOOKUP_TIMEOUT, lookup(image))
                .await
                .unwrap_or_else(|_| Err(format!("no answer within {LOOKUP_TIMEOUT:?}")))
                .unwrap_or_else(|why| {
                    tracing::debug!(%image, %why, "image platforms unknown");
                    Vec::new()
                });
            if let Ok(mut cache) = self.cache.lock() {
                cache.insert(image.to_owned(), (Instant::now(), answer.clone()));
            }
            answer
        })
    }
}

/// Whether a registry host names this machine, so plain HTTP is acceptable.
pub fn is_loopback(host: &str) -> bool {
    let name = host
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(host, |(name, _)| name);
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The origins to try for a registry, in order.
pub fn origins(registry: &str) -> Vec<String> {
    let host = if registry == "docker.io" {
        "registry-1.docker.io"
    } else {
        registry
    };
    let mut out = vec![format!("https://{host}")];
    if is_loopback(host) {
        out.push(format!("http://{host}"));
    }
    out
}

async fn lookup(image: &str) -> Result<Vec<Platform>, String> {
    let reference = Reference::parse(image).map_err(|e| e.to_string())?;
    let mut last = String::new();
    for origin in origins(&reference.registry) {
        let path = format!(
            "/v2/{}/manifests/{}",
            reference.repository,
            reference.tag_or_digest()
        );
        match get_json(&origin, &path).await {
            Ok(manifest) => return platforms_of(&origin, &reference, &manifest).await,
            Err(why) => last = why,
        }
    }
    Err(last)
}

/// Platforms listed in an index, or read from a single manifest's config blob.
async fn platforms_of(
    origin: &str,
    reference: &Reference,
    manifest: &serde_json::Value,
) -> Result<Vec<Platform>, String> {
    if let Some(listed) = index_platforms(manifest) {
        return Ok(listed);
    }
    let digest = manifest
        .pointer("/config/digest")
        .and_then(|d| d.as_str())
        .ok_or("the manifest names no config blob")?;
    let config = get_json(
        origin,
        &format!("/v2/{}/blobs/{digest}", reference.repository),
    )
    .await?;
    Ok(config_platform(&config).into_iter().collect())
}

/// The platforms of an image index's entries (attestations and unknowns left out), or
/// `None` for a single-image manifest.
pub fn index_platforms(manifest: &serde_json::Value) -> Option<Vec<Platform>> {
    let entries = manifest.get("manifests")?.as_array()?;
    let mut out: Vec<Platform> = entries
        .iter()
        .filter_map(|m| config_platform(m.get("platform")?))
        .collect();
    out.sort();
    out.dedup();
    Some(out)
}

/// `os`/`architecture` of an image config or an index entry's platform.
pub fn config_platform(value: &serde_json::Value) -> Option<Platform> {
    let os = value.get("os")?.as_str()?;
    let architecture = value.get("architecture")?.as_str()?;
    (os != "unknown" && architecture != "unknown").then(|| Platform {
        os: os.to_owned(),
        architecture: architecture.to_owned(),
    })
}

async fn get_json(origin: &str, path: &str) -> Result<serde_json::Value, String> {
    let mut token: Option<String> = None;
    let mut url = format!("{origin}{path}");
    // One auth challenge and one redirect (blob stores) at most.
    for _ in 0..3 {
        let (status, headers, body) = get(&url, token.as_deref()).await?;
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|e| format!("{url}: {e}"));
        }
        if status.is_redirection()
            && let Some(location) = headers.get(header::LOCATION).and_then(|l| l.to_str().ok())
        {
            url = if location.starts_with('/') {
                format!("{origin}{location}")
            } else {
                location.to_owned()
            };
            token = None;
            continue;
        }
        if status == StatusCode::UNAUTHORIZED
            && token.is_none()
            && let Some(challenge) = headers
                .get(header::WWW_AUTHENTICATE)
                .and_then(|c| c.to_str().ok())
        {
            token = Some(anonymous_token(challenge).await?);
            continue;
        }
        return Err(format!("GET {url}: {status}"));
    }
    Err(format!("GET {url}: too many redirects or challenges"))
}

/// The parameters of a `Bearer realm="...",service="...",scope="..."` challenge.
pub fn challenge_params(challenge: &str) -> BTreeMap<String, String> {
    let rest = challenge.trim().strip_prefix("Bearer ").unwrap_or_default();
    rest.split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        .collect()
}

async fn anonymous_token(challenge: &str) -> Result<String, String> {
    let params = challenge_params(challenge);
    let realm = params
        .get("realm")
        .ok_or("the auth challenge names no realm")?;
    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            params
                .iter()
                .filter(|(k, _)| *k == "service" || *k == "scope"),
        )
        .finish();
    let (status, _, body) = get(&format!("{realm}?{query}"), None).await?;
    if !status.is_success() {
        return Err(format!("token from {realm}: {status}"));
    }
    let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    value
        .get("token")
        .or_else(|| value.get("access_token"))
        .and_then(|t| t.as_str())
        .map(str::to_owned)
        .ok_or_else(|| format!("token from {realm}: no token"))
}

async fn get(
    url: &str,
    token: Option<&str>,
) -> Result<(StatusCode, http::HeaderMap, Vec<u8>), String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
    let origin: http::Uri = format!(
        "{}://{}",
        uri.scheme_str().unwrap_or("https"),
        uri.authority().map(|a| a.as_str()).unwrap_or_default()
    )
    .parse()
    .map_err(|e| format!("{url}: {e}"))?;
    // kube's client is a plain HTTP(S) client with the system's roots when given no cluster
    // credentials; it prefixes each request path with the origin.
    let client = kube::Client::try_from(kube::Config::new(origin)).map_err(|e| e.to_string())?;
    let mut request = Request::get(uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
        .header(header::ACCEPT, ACCEPT);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request
        .body(kube::client::Body::empty())
        .map_err(|e| e.to_string())?;
    let response = client
        .send(request)
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let (parts, body) = response.into_parts();
    let bytes = body
        .collect_bytes()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    Ok((parts.status, parts.headers, bytes.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn docker_hub_names_normalize_and_loopback_registries_also_get_http() {
        assert_eq!(
            normalize_image("busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(origins("docker.io"), vec!["https://registry-1.docker.io"]);
        assert_eq!(
            origins("127.0.0.1:5000"),
            vec!["https://127.0.0.1:5000", "http://127.0.0.1:5000"]
        );
        assert_eq!(origins("localhost:5000").len(), 2);
        assert_eq!(origins("[::1]:5000").len(), 2);
        assert_eq!(origins("registry.example:5000").len(), 1);
    }

    #[test]
    fn indexes_list_platforms_and_configs_name_one() {
        let index = json!({"manifests": [
            {"platform": {"os": "linux", "architecture": "arm64"}},
            {"platform": {"os": "linux", "architecture": "amd64"}},
            {"platform": {"os": "unknown", "architecture": "unknown"}}
        ]});
        let listed = index_platforms(&index).unwrap();
        assert_eq!(
            listed.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["linux/amd64", "linux/arm64"]
        );
        assert!(index_platforms(&json!({"config": {}})).is_none());
        assert_eq!(
            config_platform(&json!({"os": "linux", "architecture": "arm64"}))
                .unwrap()
                .to_string(),
            "linux/arm64"
        );
    }

    #[test]
    fn bearer_challenges_parse() {
        let p = challenge_params(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        );
        assert_eq!(p["realm"], "https://auth.docker.io/token");
        assert_eq!(p["scope"], "repository:library/busybox:pull");
    }
}
