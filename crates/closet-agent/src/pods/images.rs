//! Making sure a container's image is present, honouring `imagePullPolicy` and
//! `imagePullSecrets`, with upstream's pull back-off (`ErrImagePull`, then
//! `ImagePullBackOff`).

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use closet_cri::{Runtime, cri};
use k8s_openapi::api::core::v1::{Container, Secret};
use tokio::time::Instant;

/// Pull failures per image: when the next attempt is allowed and how many failed.
#[derive(Debug, Default)]
pub struct PullBackoff {
    failures: HashMap<String, (Instant, u32)>,
}

/// Why an image is not there.
#[derive(Clone, Debug, PartialEq)]
pub struct PullFailure {
    /// `ErrImagePull`, `ImagePullBackOff`, `ErrImageNeverPull` or `InvalidImageName`.
    pub reason: &'static str,
    /// For the user.
    pub message: String,
    /// When to try again.
    pub retry_in: Duration,
}

/// The pull policy in effect: as given, else `Always` for `:latest` or untagged images and
/// `IfNotPresent` otherwise, as upstream defaults it.
pub fn policy(container: &Container) -> String {
    if let Some(p) = container
        .image_pull_policy
        .clone()
        .filter(|p| !p.is_empty())
    {
        return p;
    }
    let image = container.image.as_deref().unwrap_or_default();
    let name = image.rsplit('/').next().unwrap_or(image);
    let tagged = name.contains(':') && !name.ends_with(":latest");
    if tagged || image.contains('@') {
        "IfNotPresent".to_owned()
    } else {
        "Always".to_owned()
    }
}

/// Ensures the image is present and returns the reference the runtime resolved it to.
pub async fn ensure(
    runtime: &dyn Runtime,
    container: &Container,
    secrets: &[Secret],
    sandbox: &cri::PodSandboxConfig,
    backoff: &mut PullBackoff,
) -> Result<String, PullFailure> {
    let image = container.image.clone().unwrap_or_default();
    if image.trim().is_empty() || image.chars().any(char::is_whitespace) {
        return Err(PullFailure {
            reason: "InvalidImageName",
            message: format!(
                "Failed to apply default image tag {image:?}: couldn't parse image name"
            ),
            retry_in: Duration::from_secs(60),
        });
    }
    let spec = cri::ImageSpec {
        image: image.clone(),
        ..Default::default()
    };
    let policy = policy(container);
    if policy != "Always" {
        let present = runtime
            .image_status(cri::ImageStatusRequest {
                image: Some(spec.clone()),
                verbose: false,
            })
            .await
            .ok()
            .and_then(|r| r.image);
        if let Some(found) = present {
            return Ok(found.id);
        }
        if policy == "Never" {
            return Err(PullFailure {
                reason: "ErrImageNeverPull",
                message: format!(
                    "Container image {image:?} is not present with pull policy of Never; import it with `closet image import` or drop its archive into the agent's images directory"
                ),
                retry_in: Duration::from_secs(10),
            });
        }
    }
    if let Some((next, failures)) = backoff.failures.get(&image)
        && Instant::now() < *next
    {
        return Err(PullFailure {
            reason: "ImagePullBackOff",
            message: format!("Back-off pulling image {image:?} ({failures} failed attempts)"),
            retry_in: next.saturating_duration_since(Instant::now()),
        });
    }
    let auth = credentials(&image, secrets);
    match runtime
        .pull_image(cri::PullImageRequest {
            image: Some(spec),
            auth,
            sandbox_config: Some(sandbox.clone()),
        })
        .await
    {
        Ok(response) => {
            backoff.failures.remove(&image);
            Ok(response.image_ref)
        }
        Err(err) => {
            let entry = backoff
                .failures
                .entry(image.clone())
                .or_insert((Instant::now(), 0));
            entry.1 += 1;
            let delay = Duration::from_secs(10)
                .saturating_mul(1u32 << entry.1.saturating_sub(1).min(5))
                .min(Duration::from_secs(300));
            entry.0 = Instant::now() + delay;
            Err(PullFailure {
                reason: "ErrImagePull",
                message: format!(
                    "Failed to pull image {image:?}: {}",
                    closet_cri_error_text(&err)
                ),
                retry_in: delay,
            })
        }
    }
}

fn closet_cri_error_text(err: &closet_cri::CriError) -> String {
    let mut out = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// The registry host of an image reference (`docker.io` when none is named).
pub fn registry_host(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first
        }
        _ => "docker.io",
    }
}

/// Credentials for the image's registry from `kubernetes.io/dockerconfigjson` (or legacy
/// `dockercfg`) secrets, as upstream's keyring matches them (by registry host).
pub fn credentials(image: &str, secrets: &[Secret]) -> Option<cri::AuthConfig> {
    let host = registry_host(image);
    for secret in secrets {
        let data = secret.data.clone().unwrap_or_default();
        let config: Option<serde_json::Value> = data
            .get(".dockerconfigjson")
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b.0).ok())
            .and_then(|v| v.get("auths").cloned())
            .or_else(|| {
                data.get(".dockercfg")
                    .and_then(|b| serde_json::from_slice(&b.0).ok())
            });
        let Some(serde_json::Value::Object(auths)) = config else {
            continue;
        };
        for (registry, entry) in auths {
            let registry_name = registry
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .split('/')
                .next()
                .unwrap_or_default();
            let matches = registry_name == host
                || (host == "docker.io" && registry_name == "index.docker.io");
            if !matches {
                continue;
            }
            let text = |k: &str| {
                entry
                    .get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            let (mut username, mut password) = (text("username"), text("password"));
            if username.is_empty()
                && let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(text("auth"))
                && let Some((u, p)) = String::from_utf8_lossy(&decoded).split_once(':')
            {
                username = u.to_owned();
                password = p.to_owned();
            }
            return Some(cri::AuthConfig {
                username,
                password,
                server_address: registry_name.to_owned(),
                ..Default::default()
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn container(image: &str, policy: Option<&str>) -> Container {
        serde_json::from_value(json!({"name": "c", "image": image, "imagePullPolicy": policy}))
            .unwrap()
    }

    #[test]
    fn default_pull_policies_follow_the_tag() {
        assert_eq!(policy(&container("busybox", None)), "Always");
        assert_eq!(policy(&container("busybox:latest", None)), "Always");
        assert_eq!(policy(&container("busybox:1.36", None)), "IfNotPresent");
        assert_eq!(policy(&container("127.0.0.1:5000/busybox", None)), "Always");
        assert_eq!(
            policy(&container("127.0.0.1:5000/busybox:1", None)),
            "IfNotPresent"
        );
        assert_eq!(policy(&container("busybox", Some("Never"))), "Never");
    }

    #[test]
    fn pull_secrets_match_by_registry_host() {
        let config = json!({"auths": {"reg.lan:5000": {"auth": base64::engine::general_purpose::STANDARD.encode("me:pw")}}});
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": "s"},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": base64::engine::general_purpose::STANDARD.encode(config.to_string())}
        }))
        .unwrap();
        let auth = credentials("reg.lan:5000/app:1", std::slice::from_ref(&secret)).unwrap();
        assert_eq!(
            (auth.username.as_str(), auth.password.as_str()),
            ("me", "pw")
        );
        assert!(credentials("docker.io/library/busybox:1", &[secret]).is_none());
        assert_eq!(registry_host("busybox"), "docker.io");
        assert_eq!(registry_host("localhost/x"), "localhost");
    }

    #[tokio::test]
    async fn present_images_are_not_pulled_and_never_means_never() {
        let fake = closet_cri::fake::FakeRuntime::new();
        fake.add_image("busybox:1");
        let mut backoff = PullBackoff::default();
        let sandbox = cri::PodSandboxConfig::default();
        ensure(
            &fake,
            &container("busybox:1", None),
            &[],
            &sandbox,
            &mut backoff,
        )
        .await
        .unwrap();
        assert!(!fake.calls().contains(&"PullImage"));
        let err = ensure(
            &fake,
            &container("other:1", Some("Never")),
            &[],
            &sandbox,
            &mut backoff,
        )
        .await
        .unwrap_err();
        assert_eq!(err.reason, "ErrImageNeverPull");
        ensure(
            &fake,
            &container("other:1", None),
            &[],
            &sandbox,
            &mut backoff,
        )
        .await
        .unwrap();
        assert!(fake.calls().contains(&"PullImage"));
    }
}
