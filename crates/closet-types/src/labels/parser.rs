//! The string grammar of label selectors, following apimachinery's `labels.Parse`:
//!
//! ```text
//! selector    := requirement ( "," requirement )*
//! requirement := "!" KEY | KEY [ ("in" | "notin") "(" values ")" | ("=" | "==" | "!=" | ">" | "<") VALUE ]
//! ```
//!
//! The tokenizer and the error texts match upstream's, because kubectl shows them verbatim.

use super::{Operator, Requirement, RequirementError, SelectorError};
use crate::field::{FieldError, FieldErrorList};
use crate::names::is_qualified_name;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    End,
    OpenPar,
    ClosePar,
    Comma,
    Not,
    Equals,
    DoubleEquals,
    NotEquals,
    GreaterThan,
    LessThan,
    In,
    NotIn,
    Identifier,
}

/// Where a token is read decides whether `in` and `notin` are keywords: only in operator
/// position, so `in in (in)` is a valid selector.
#[derive(Clone, Copy)]
enum Context {
    Operator,
    Value,
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Splits the input into tokens with their literal text; the list always ends with `End`.
fn tokenize(input: &str) -> Vec<(Token, &str)> {
    let bytes = input.as_bytes();
    let mut tokens = Vec::new();
    let mut pos = 0;
    loop {
        while pos < bytes.len() && is_whitespace(bytes[pos]) {
            pos += 1;
        }
        let Some(&b) = bytes.get(pos) else {
            tokens.push((Token::End, ""));
            return tokens;
        };
        let start = pos;
        let mut token = if is_special(b) {
            // Two-character operators win over their one-character prefixes.
            let two = match (b, bytes.get(pos + 1)) {
                (b'!', Some(b'=')) => Some(Token::NotEquals),
                (b'=', Some(b'=')) => Some(Token::DoubleEquals),
                _ => None,
            };
            if let Some(t) = two {
                pos += 2;
                t
            } else {
                pos += 1;
                match b {
                    b'=' => Token::Equals,
                    b'!' => Token::Not,
                    b'(' => Token::OpenPar,
                    b')' => Token::ClosePar,
                    b',' => Token::Comma,
                    b'>' => Token::GreaterThan,
                    _ => Token::LessThan,
                }
            }
        } else {
            while pos < bytes.len() && !is_special(bytes[pos]) && !is_whitespace(bytes[pos]) {
                pos += 1;
            }
            Token::Identifier
        };
        // Token edges are always next to ASCII bytes, so they are character boundaries.
        let literal = input.get(start..pos).unwrap_or_default();
        if token == Token::Identifier {
            token = match literal {
                "in" => Token::In,
                "notin" => Token::NotIn,
                _ => Token::Identifier,
            };
        }
        tokens.push((token, literal));
    }
}

struct Parser<'a> {
    tokens: Vec<(Token, &'a str)>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self, ctx: Context) -> (Token, &'a str) {
        let (tok, lit) = self
            .tokens
            .get(self.pos)
            .copied()
            .unwrap_or((Token::End, ""));
        match (ctx, tok) {
            (Context::Value, Token::In | Token::NotIn) => (Token::Identifier, lit),
            _ => (tok, lit),
        }
    }

    fn next(&mut self, ctx: Context) -> (Token, &'a str) {
        let item = self.peek(ctx);
        self.pos += 1;
        item
    }

    fn selector(&mut self) -> Result<Vec<Requirement>, SelectorError> {
        let mut requirements = Vec::new();
        loop {
            let (tok, lit) = self.peek(Context::Value);
            match tok {
                Token::Identifier | Token::Not => {
                    requirements.push(self.requirement().map_err(SelectorError::Requirement)?);
                    match self.next(Context::Value) {
                        (Token::End, _) => return Ok(requirements),
                        (Token::Comma, _) => {
                            let (t, l) = self.peek(Context::Value);
                            if t != Token::Identifier && t != Token::Not {
                                return Err(syntax(format!(
                                    "found '{l}', expected: identifier after ','"
                                )));
                            }
                        }
                        (_, l) => {
                            return Err(syntax(format!(
                                "found '{l}', expected: ',' or 'end of string'"
                            )));
                        }
                    }
                }
                Token::End => return Ok(requirements),
                _ => {
                    return Err(syntax(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    )));
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, RequirementError> {
        let mut negated = false;
        let (mut tok, mut key) = self.next(Context::Value);
        if tok == Token::Not {
            negated = true;
            (tok, key) = self.next(Context::Value);
        }
        if tok != Token::Identifier {
            return Err(RequirementError::Syntax(format!(
                "found '{key}', expected: identifier"
            )));
        }
        let key_errs = is_qualified_name(key);
        if !key_errs.is_empty() {
            // Upstream validates the key here with a nil field path, which prints as `<nil>`.
            let e = FieldError::invalid("<nil>", key, key_errs.join("; "));
            return Err(RequirementError::Invalid(FieldErrorList(vec![e])));
        }
        let (after_key, _) = self.peek(Context::Value);
        // `!key` stops here whatever follows; a stray operator is then reported by the caller.
        if negated {
            return build(key, Operator::DoesNotExist, Vec::new());
        }
        if matches!(after_key, Token::End | Token::Comma) {
            return build(key, Operator::Exists, Vec::new());
        }
        let operator = match self.next(Context::Operator) {
            (Token::In, _) => Operator::In,
            (Token::NotIn, _) => Operator::NotIn,
            (Token::Equals, _) => Operator::Equals,
            (Token::DoubleEquals, _) => Operator::DoubleEquals,
            (Token::NotEquals, _) => Operator::NotEquals,
            (Token::GreaterThan, _) => Operator::GreaterThan,
            (Token::LessThan, _) => Operator::LessThan,
            (_, lit) => {
                return Err(RequirementError::Syntax(format!(
                    "found '{lit}', expected: in, notin, =, ==, !=, gt, lt"
                )));
            }
        };
        let values = match operator {
            Operator::In | Operator::NotIn => {
                // Upstream collects these into a sorted set before validating, so error paths
                // like `values[0][key]` count positions in sorted order.
                let mut set = self.value_set()?;
                set.sort();
                set.dedup();
                set
            }
            _ => vec![self.exact_value()?],
        };
        build(key, operator, values)
    }

    /// `( a, b, ... )`; empty entries stand for the empty value, as in `(a,,b)` or `()`.
    fn value_set(&mut self) -> Result<Vec<String>, RequirementError> {
        let (tok, lit) = self.next(Context::Value);
        if tok != Token::OpenPar {
            return Err(RequirementError::Syntax(format!(
                "found '{lit}' expected: '('"
            )));
        }
        let (tok, lit) = self.peek(Context::Value);
        match tok {
            Token::ClosePar => {
                self.pos += 1;
                Ok(vec![String::new()])
            }
            Token::Identifier | Token::Comma => {
                let values = self.value_list()?;
                // value_list only returns with ')' next.
                self.pos += 1;
                Ok(values)
            }
            _ => Err(RequirementError::Syntax(format!(
                "found '{lit}', expected: ',', ')' or identifier"
            ))),
        }
    }

    fn value_list(&mut self) -> Result<Vec<String>, RequirementError> {
        let mut values: Vec<String> = Vec::new();
        loop {
            match self.next(Context::Value) {
                (Token::Identifier, lit) => {
                    values.push(lit.to_owned());
                    match self.peek(Context::Value) {
                        (Token::Comma, _) => {}
                        (Token::ClosePar, _) => return Ok(values),
                        (_, l) => {
                            return Err(RequirementError::Syntax(format!(
                                "found '{l}', expected: ',' or ')'"
                            )));
                        }
                    }
                }
                (Token::Comma, _) => {
                    // A leading, trailing or doubled comma contributes the empty value.
                    if values.is_empty() {
                        values.push(String::new());
                    }
                    match self.peek(Context::Value) {
                        (Token::ClosePar, _) => {
                            values.push(String::new());
                            return Ok(values);
                        }
                        (Token::Comma, _) => {
                            self.pos += 1;
                            values.push(String::new());
                        }
                        _ => {}
                    }
                }
                (_, lit) => {
                    return Err(RequirementError::Syntax(format!(
                        "found '{lit}', expected: ',', or identifier"
                    )));
                }
            }
        }
    }

    /// The value after `=`, `!=`, `>`...; nothing before `,` or the end means the empty value.
    fn exact_value(&mut self) -> Result<String, RequirementError> {
        if matches!(self.peek(Context::Value).0, Token::End | Token::Comma) {
            return Ok(String::new());
        }
        match self.next(Context::Value) {
            (Token::Identifier, lit) => Ok(lit.to_owned()),
            (_, lit) => Err(RequirementError::Syntax(format!(
                "found '{lit}', expected: identifier"
            ))),
        }
    }
}

fn build(key: &str, op: Operator, values: Vec<String>) -> Result<Requirement, RequirementError> {
    Requirement::new(key, op, values).map_err(RequirementError::Invalid)
}

fn syntax(msg: String) -> SelectorError {
    SelectorError::Syntax(msg)
}

/// Parses the whole string into requirements, in written order.
pub(super) fn parse(input: &str) -> Result<Vec<Requirement>, SelectorError> {
    Parser {
        tokens: tokenize(input),
        pos: 0,
    }
    .selector()
}
