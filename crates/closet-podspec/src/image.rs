//! Image reference checks, so an unusable `image` is reported as `InvalidImageName` before any
//! pull is attempted.
//!
//! The grammar is the distribution reference one every runtime uses:
//! `[host[:port]/]path[:tag][@algorithm:hex]`, path components lower case alphanumerics joined
//! by `.`, `_`, `__` or runs of `-`.

use crate::SpecError;

const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// Checks that `image` is a well-formed image reference.
pub fn validate_image_name(image: &str) -> Result<(), SpecError> {
    check(image).map_err(|reason| SpecError::InvalidImageName {
        image: image.to_owned(),
        reason: reason.to_owned(),
    })
}

fn check(image: &str) -> Result<(), &'static str> {
    if image.is_empty() {
        return Err("the image is empty");
    }
    let (rest, digest) = match image.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (image, None),
    };
    if let Some(digest) = digest {
        check_digest(digest)?;
    }
    // A `:` after the last `/` starts the tag; one before it belongs to a registry port.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(tag) = tag {
        check_tag(tag)?;
    }
    if name.len() > MAX_NAME_LEN {
        return Err("the repository name is longer than 255 characters");
    }
    let mut components = name.split('/');
    let first = components.next().unwrap_or_default();
    let has_more = name.contains('/');
    let is_domain = has_more && (first.contains(['.', ':']) || first == "localhost");
    if is_domain {
        check_domain(first)?;
    } else {
        check_path_component(first)?;
    }
    components.try_for_each(check_path_component)
}

fn check_domain(domain: &str) -> Result<(), &'static str> {
    let (host, port) = split_host_port(domain)?;
    if let Some(port) = port
        && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("invalid registry port");
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6
            .parse::<std::net::Ipv6Addr>()
            .map(|_| ())
            .map_err(|_| "invalid registry address");
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if host.split('.').all(label_ok) {
        Ok(())
    } else {
        Err("invalid registry host")
    }
}

/// `host:port` or `[v6]:port`.
fn split_host_port(domain: &str) -> Result<(&str, Option<&str>), &'static str> {
    if domain.starts_with('[') {
        let end = domain.find(']').ok_or("invalid registry address")?;
        let (host, after) = domain.split_at(end + 1);
        return match after.strip_prefix(':') {
            Some(port) => Ok((host, Some(port))),
            None if after.is_empty() => Ok((host, None)),
            None => Err("invalid registry address"),
        };
    }
    Ok(match domain.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    })
}

fn check_path_component(component: &str) -> Result<(), &'static str> {
    const MESSAGE: &str =
        "repository names must be lower case letters, digits and single separators";
    let bytes = component.as_bytes();
    if bytes.is_empty() || !is_alnum(bytes[0]) || !is_alnum(bytes[bytes.len() - 1]) {
        return Err(MESSAGE);
    }
    let mut i = 0;
    while i < bytes.len() {
        if is_alnum(bytes[i]) {
            i += 1;
            continue;
        }
        // A separator: `.`, `_`, `__`, or any run of `-`, always followed by an alphanumeric.
        let start = i;
        match bytes[i] {
            b'.' => i += 1,
            b'_' => {
                i += if bytes.get(i + 1) == Some(&b'_') {
                    2
                } else {
                    1
                }
            }
            b'-' => {
                while bytes.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => return Err(MESSAGE),
        }
        if i == start || !bytes.get(i).copied().is_some_and(is_alnum) {
            return Err(MESSAGE);
        }
    }
    Ok(())
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn check_tag(tag: &str) -> Result<(), &'static str> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.len() <= MAX_TAG_LEN
        && word(bytes[0])
        && bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-');
    if ok { Ok(()) } else { Err("invalid tag") }
}

fn check_digest(digest: &str) -> Result<(), &'static str> {
    let (algorithm, hex) = digest.split_once(':').ok_or("invalid digest")?;
    let component_ok = |part: &str| {
        part.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && part.bytes().all(|b| b.is_ascii_alphanumeric())
    };
    let algorithm_ok = algorithm.split(['+', '.', '-', '_']).all(component_ok);
    let hex_ok = hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    if algorithm_ok && hex_ok {
        Ok(())
    } else {
        Err("invalid digest")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_references() {
        for good in [
            "nginx",
            "nginx:1.27",
            "library/nginx:latest",
            "docker.io/library/nginx:1.27-alpine",
            "registry.local:5000/team/app:v1.2.3",
            "localhost/app",
            "localhost:5000/app_x__y/a-b--c:tag",
            "ghcr.io/owner/repo@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "quay.io/a/b:tag@sha256:0123456789abcdef0123456789abcdef",
            "[fd00::1]:5000/app",
            "Registry.Example.com/app",
        ] {
            validate_image_name(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
    }

    #[test]
    fn refuses_malformed_references() {
        for bad in [
            "",
            "Nginx",
            "nginx:",
            "nginx:-bad",
            "nginx::1",
            "app/",
            "/app",
            "a//b",
            "app_",
            "a___b",
            "a..b",
            "with space",
            "registry:port/app",
            "app@sha256:short",
            "app@:0123456789abcdef0123456789abcdef",
        ] {
            let err = validate_image_name(bad)
                .err()
                .unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert_eq!(err.reason(), "InvalidImageName");
        }
    }
}
