//! Names for objects created with `metadata.generateName`.

/// The characters of the random suffix: lower-case consonants and digits without look-alikes,
/// the same set upstream uses, so generated names never spell words.
pub const GENERATE_NAME_ALPHABET: &[u8; 27] = b"bcdfghjklmnpqrstvwxz2456789";

/// Length of the random suffix.
const SUFFIX_LEN: usize = 5;

/// Longest base kept before the suffix, so the result fits a 63-byte DNS label.
pub const MAX_GENERATED_BASE_LEN: usize = 63 - SUFFIX_LEN;

/// Builds `base` (cut to [`MAX_GENERATED_BASE_LEN`] bytes) followed by five random characters
/// from [`GENERATE_NAME_ALPHABET`]; `next_random` supplies the randomness, one call per character.
///
/// If `base` passes [`NameRule::validate_prefix`](crate::NameRule::validate_prefix) the result is
/// normally a valid name too; the apiserver still validates the result, as upstream does.
pub fn generate_name(base: &str, mut next_random: impl FnMut() -> u32) -> String {
    let mut cut = base.len().min(MAX_GENERATED_BASE_LEN);
    // A valid base is ASCII; for any other, stay on a character boundary instead of panicking.
    while !base.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut name = String::with_capacity(cut + SUFFIX_LEN);
    name.push_str(&base[..cut]);
    for _ in 0..SUFFIX_LEN {
        let idx = next_random() as usize % GENERATE_NAME_ALPHABET.len();
        name.push(char::from(GENERATE_NAME_ALPHABET[idx]));
    }
    name
}
