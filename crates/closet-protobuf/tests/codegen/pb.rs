//! Reads k8s-pb's prost-generated sources: every message, its field numbers and wire types.

use std::collections::BTreeMap;
use std::path::Path;

/// A scalar protobuf type, as prost names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scalar {
    String,
    Bytes,
    Bool,
    Int32,
    Int64,
    Double,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PbType {
    Scalar(Scalar),
    /// `module::Name`, e.g. `apimachinery/pkg/apis/meta/v1::ObjectMeta`.
    Message(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PbShape {
    Single,
    Repeated,
    Map,
}

#[derive(Debug)]
pub(crate) struct PbField {
    /// The Rust field name without `r#`, e.g. `pod_ips`.
    pub(crate) rust: String,
    pub(crate) tag: u32,
    pub(crate) ty: PbType,
    pub(crate) shape: PbShape,
}

#[derive(Debug)]
pub(crate) struct PbMessage {
    /// The module as a path below `src/`, e.g. `api/core/v1`.
    pub(crate) module: String,
    pub(crate) name: String,
    pub(crate) fields: Vec<PbField>,
}

impl PbMessage {
    pub(crate) fn key(&self) -> String {
        format!("{}::{}", self.module, self.name)
    }
}

/// Every message under `src_dir`, keyed by `module::Name`.
pub(crate) fn read(src_dir: &Path) -> BTreeMap<String, PbMessage> {
    let mut messages = BTreeMap::new();
    for file in super::rust_files(src_dir) {
        if file.file_name().is_none_or(|n| n != "mod.rs") {
            continue;
        }
        let module = file
            .parent()
            .unwrap()
            .strip_prefix(src_dir)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(&file).unwrap();
        for message in parse_module(&module, &text) {
            messages.insert(message.key(), message);
        }
    }
    messages
}

fn parse_module(module: &str, text: &str) -> Vec<PbMessage> {
    let mut out = Vec::new();
    let mut current: Option<PbMessage> = None;
    let mut attr: Option<String> = None;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if let Some(rest) = line.strip_prefix("pub struct ") {
            let name = rest.split([' ', '{']).next().unwrap().to_string();
            let message = PbMessage {
                module: module.to_string(),
                name,
                fields: Vec::new(),
            };
            if rest.trim_end().ends_with("{}") {
                out.push(message);
            } else {
                current = Some(message);
            }
        } else if line == "}" {
            if let Some(message) = current.take() {
                out.push(message);
            }
        } else if trimmed.starts_with("#[prost(") && current.is_some() {
            attr = Some(trimmed.to_string());
        } else if let (Some(rest), Some(a)) = (trimmed.strip_prefix("pub "), attr.as_ref()) {
            let (name, ty) = rest.split_once(':').unwrap();
            let mut ty = ty.to_string();
            while !complete(&ty) {
                ty.push_str(lines.next().unwrap().trim());
            }
            // rustfmt may break a long generic over lines with a trailing comma: `Vec<\n x,\n>`.
            let ty: String = ty.chars().filter(|c| !c.is_whitespace()).collect();
            let ty = ty.replace(",>", ">");
            let field = parse_field(module, name.trim_start_matches("r#"), a, &ty);
            current.as_mut().unwrap().fields.push(field);
            attr = None;
        }
    }
    assert!(current.is_none(), "unterminated struct in {module}");
    out
}

/// A field's type text is complete when its angle brackets balance and it ends with a comma.
fn complete(ty: &str) -> bool {
    let open = ty.matches('<').count();
    let close = ty.matches('>').count();
    open == close && ty.trim_end().ends_with(',')
}

fn parse_field(module: &str, rust: &str, attr: &str, ty: &str) -> PbField {
    let inner = attr
        .strip_prefix("#[prost(")
        .and_then(|a| a.strip_suffix(")]"))
        .unwrap();
    let tag = inner
        .split("tag = \"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap()
        .parse()
        .unwrap();
    let ty = ty.trim_end_matches(',');
    if let Some(map) = inner.strip_prefix("btree_map = \"") {
        let value = map.split('"').next().unwrap();
        let value = value
            .strip_prefix("string, ")
            .expect("map keys are strings");
        let value_type = match value {
            "message" => {
                let generic = ty.split_once(',').unwrap().1;
                PbType::Message(resolve(module, generic.trim_end_matches('>')))
            }
            other => PbType::Scalar(scalar(other)),
        };
        return PbField {
            rust: rust.to_string(),
            tag,
            ty: value_type,
            shape: PbShape::Map,
        };
    }
    let parts: Vec<&str> = inner.split(", ").collect();
    let shape = if parts.contains(&"repeated") {
        PbShape::Repeated
    } else {
        assert!(parts.contains(&"optional"), "{module} {rust}: {attr}");
        PbShape::Single
    };
    let kind = parts[0].split(' ').next().unwrap();
    let ty = if kind == "message" {
        let mut path = ty;
        for wrapper in [
            "::core::option::Option<",
            "::prost::alloc::vec::Vec<",
            "::prost::alloc::boxed::Box<",
        ] {
            if let Some(rest) = path.strip_prefix(wrapper) {
                path = rest.strip_suffix('>').unwrap();
            }
        }
        if let Some(rest) = path.strip_prefix("::prost::alloc::boxed::Box<") {
            path = rest.strip_suffix('>').unwrap();
        }
        PbType::Message(resolve(module, path))
    } else {
        PbType::Scalar(scalar(kind))
    };
    PbField {
        rust: rust.to_string(),
        tag,
        ty,
        shape,
    }
}

fn scalar(name: &str) -> Scalar {
    match name {
        "string" => Scalar::String,
        "bytes" => Scalar::Bytes,
        "bool" => Scalar::Bool,
        "int32" => Scalar::Int32,
        "int64" => Scalar::Int64,
        "double" => Scalar::Double,
        other => panic!("unexpected prost scalar {other}"),
    }
}

/// Turns a Rust path relative to `module` (`super::super::x::Y` or `Y`) into `module::Name`.
fn resolve(module: &str, path: &str) -> String {
    let mut base: Vec<&str> = module.split('/').collect();
    let mut segments: Vec<&str> = path.split("::").collect();
    let name = segments.pop().unwrap();
    let mut rest = segments.as_slice();
    while let Some((&"super", tail)) = rest.split_first() {
        base.pop();
        rest = tail;
    }
    base.extend_from_slice(rest);
    format!("{}::{name}", base.join("/"))
}
