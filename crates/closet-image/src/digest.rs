use sha2::{Digest as _, Sha256};

/// The OCI digest of `data`: `sha256:` and 64 lower-case hex digits.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(data)))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// The hex part of a `sha256:` digest, if it is one (64 lower-case hex digits).
pub(crate) fn sha256_hex(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    let valid = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    valid.then_some(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_the_empty_blob_as_everyone_does() {
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn only_well_formed_sha256_digests_have_a_hex_part() {
        let digest = sha256_digest(b"x");
        assert_eq!(sha256_hex(&digest), digest.strip_prefix("sha256:"));
        assert_eq!(sha256_hex("sha256:ABC"), None);
        assert_eq!(sha256_hex("sha512:00"), None);
        assert_eq!(
            sha256_hex(&digest.replace('a', "A")).is_some(),
            !digest.contains('a')
        );
        assert_eq!(sha256_hex("sha256:../../etc/passwd"), None);
    }
}
