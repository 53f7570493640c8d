//! Image references in the normalized form containerd and CRI key images by:
//! `busybox` is `docker.io/library/busybox:latest`.

use std::fmt;
use std::str::FromStr;

use crate::ImageError;
use crate::digest::sha256_hex;

/// The registry a reference without one points at.
const DEFAULT_REGISTRY: &str = "docker.io";

/// A parsed, normalized image reference: `registry/repository[:tag][@digest]`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reference {
    /// `docker.io`, `127.0.0.1:5000`, `closet.local`...
    pub registry: String,
    /// `library/busybox`, `pause`...
    pub repository: String,
    /// The tag; `latest` when neither a tag nor a digest was given.
    pub tag: Option<String>,
    /// `sha256:<hex>`, when the reference pins one.
    pub digest: Option<String>,
}

impl Reference {
    /// Parses and normalizes `reference`, as Docker and containerd do.
    pub fn parse(reference: &str) -> Result<Self, ImageError> {
        let invalid = |reason| ImageError::InvalidReference {
            reference: reference.to_owned(),
            reason,
        };
        let (rest, digest) = match reference.split_once('@') {
            Some((rest, digest)) => {
                sha256_hex(digest).ok_or_else(|| invalid("the digest is not sha256:<64 hex>"))?;
                (rest, Some(digest.to_owned()))
            }
            None => (reference, None),
        };
        let (name, tag) = match rest.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => (name, Some(tag.to_owned())),
            _ => (rest, None),
        };
        if tag.as_deref().is_some_and(|tag| !valid_tag(tag)) {
            return Err(invalid(
                "a tag is 1-128 of [A-Za-z0-9_.-], not starting with . or -",
            ));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_owned(), path.to_owned())
            }
            _ => (DEFAULT_REGISTRY.to_owned(), name.to_owned()),
        };
        if !valid_registry(&registry) {
            return Err(invalid(
                "the registry is not a host name with an optional port",
            ));
        }
        let repository = if registry == DEFAULT_REGISTRY && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if !repository.split('/').all(valid_path_component) {
            return Err(invalid(
                "repository path components are lower-case letters and digits joined by . _ -",
            ));
        }
        let tag = match (tag, &digest) {
            (None, None) => Some("latest".to_owned()),
            (tag, _) => tag,
        };
        Ok(Self {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The tag, or the digest for a digest-only reference: what the OCI layout's
    /// `org.opencontainers.image.ref.name` holds and what a registry's manifest URL ends in.
    pub fn tag_or_digest(&self) -> &str {
        self.tag
            .as_deref()
            .or(self.digest.as_deref())
            .unwrap_or("latest")
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = ImageError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn valid_tag(tag: &str) -> bool {
    let mut bytes = tag.bytes();
    tag.len() <= 128
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn valid_registry(registry: &str) -> bool {
    let (host, port) = match registry.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (registry, None),
    };
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
        && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn valid_path_component(part: &str) -> bool {
    let lower_alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = part.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => {
            lower_alnum(first)
                && lower_alnum(last)
                && bytes
                    .iter()
                    .all(|&b| lower_alnum(b) || matches!(b, b'.' | b'_' | b'-'))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(s: &str) -> String {
        Reference::parse(s).expect(s).to_string()
    }

    #[test]
    fn short_names_normalize_like_docker() {
        assert_eq!(normalized("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(normalized("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(normalized("closet/test:e2e"), "docker.io/closet/test:e2e");
        assert_eq!(normalized("closet.local/pause:1"), "closet.local/pause:1");
        assert_eq!(normalized("localhost/x"), "localhost/x:latest");
        assert_eq!(
            normalized("127.0.0.1:5000/e2e/busybox:multi"),
            "127.0.0.1:5000/e2e/busybox:multi"
        );
    }

    #[test]
    fn parts_are_available() {
        let digest = crate::sha256_digest(b"m");
        let r = Reference::parse(&format!("127.0.0.1:5000/a/b@{digest}")).expect("parse");
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "a/b");
        assert_eq!(r.tag, None);
        assert_eq!(r.tag_or_digest(), digest);
        assert_eq!(r.name(), "127.0.0.1:5000/a/b");
        let r: Reference = "closet.local/pause:1".parse().expect("parse");
        assert_eq!(r.tag_or_digest(), "1");
    }

    #[test]
    fn malformed_references_are_refused() {
        for bad in [
            "",
            "Busybox",
            "busybox:",
            "busybox:-x",
            "a//b",
            "busybox@sha256:123",
            "reg:port/x",
            "x/",
            "a b",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} parsed");
        }
    }
}
