//! `$(VAR)` references in env values, command, args and `subPathExpr`.
//!
//! The rules are upstream's (`third_party/forked/golang/expansion`): `$(NAME)` is replaced by
//! the mapping's value; `$$` is an escaped `$`; a reference that is never closed, or a `$`
//! followed by anything else, is copied as written. A name the mapping does not know is left as
//! `$(NAME)`, so a typo shows up verbatim in the container rather than as an empty string.

/// Expands `$(VAR)` references in `input`, asking `mapping` for each name.
pub fn expand(input: &str, mut mapping: impl FnMut(&str) -> String) -> String {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < bytes.len() {
        if bytes[cursor] == b'$' && cursor + 1 < bytes.len() {
            out.push_str(&input[checkpoint..cursor]);
            let rest = &input[cursor + 1..];
            let advance = match read_reference(rest) {
                Reference::Variable(name) => {
                    out.push_str(&mapping(name));
                    name.len() + 2
                }
                Reference::EscapedDollar => {
                    out.push('$');
                    1
                }
                Reference::Literal => {
                    // Only the `$` is consumed; whatever follows is copied on the next pass.
                    out.push('$');
                    0
                }
            };
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    out.push_str(&input[checkpoint.min(input.len())..]);
    out
}

/// Expands against a list of name/value pairs, the later pair winning for repeated names, and
/// leaves unknown names as written.
pub fn expand_with<'a>(input: &str, lookup: impl Fn(&str) -> Option<&'a str>) -> String {
    expand(input, |name| match lookup(name) {
        Some(value) => value.to_owned(),
        None => format!("$({name})"),
    })
}

enum Reference<'a> {
    /// `(NAME)`: the name between the parentheses.
    Variable(&'a str),
    /// `$`: the escape for a literal dollar.
    EscapedDollar,
    /// Anything else, including an unclosed `(`: the `$` stands for itself.
    Literal,
}

fn read_reference(rest: &str) -> Reference<'_> {
    match rest.as_bytes().first() {
        Some(b'$') => Reference::EscapedDollar,
        Some(b'(') => match rest[1..].find(')') {
            Some(end) => Reference::Variable(&rest[1..1 + end]),
            None => Reference::Literal,
        },
        _ => Reference::Literal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_test(input: &str) -> String {
        expand_with(input, |name| match name {
            "VAR_A" => Some("A"),
            "VAR_B" => Some("B"),
            "VAR_EMPTY" => Some(""),
            "MULTI" => Some("x y"),
            _ => None,
        })
    }

    #[test]
    fn upstream_cases() {
        let cases = [
            ("$(VAR_A)", "A"),
            ("___$(VAR_B)___", "___B___"),
            ("$(VAR_A)-$(VAR_B)", "A-B"),
            ("f000-$$VAR_A", "f000-$VAR_A"),
            ("foo\\$(VAR_A)bar", "foo\\Abar"),
            ("$$(VAR_A)", "$(VAR_A)"),
            ("$$$(VAR_A)", "$A"),
            ("$$$$(VAR_A)", "$$(VAR_A)"),
            ("$(VAR_EMPTY)", ""),
            ("$(UNKNOWN)", "$(UNKNOWN)"),
            ("$(VAR_A", "$(VAR_A"),
            ("$VAR_A", "$VAR_A"),
            ("$", "$"),
            ("$$", "$"),
            ("$()", "$()"),
            ("$(MULTI)", "x y"),
            ("x$", "x$"),
            ("$(VAR_A)$(VAR_B)$", "AB$"),
            ("é$(VAR_A)é", "éAé"),
            ("$é", "$é"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(expand_test(input), want, "input {input:?}");
        }
    }
}
