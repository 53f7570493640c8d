//! Joins the three inputs into one table and prints it as Rust.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::openapi::{self, OaType};
use crate::pb::{self, PbField, PbMessage, PbShape, PbType, Scalar};
use crate::{Sources, normalize};

const OBJECT_META: &str = "apimachinery/pkg/apis/meta/v1::ObjectMeta";

/// One line of `codegen/go-fields.txt`: `<fact> <definition> <field>`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Fact {
    what: String,
    definition: String,
    field: String,
}

struct Facts {
    all: BTreeSet<Fact>,
    used: BTreeSet<Fact>,
}

impl Facts {
    fn parse(text: &str) -> Self {
        let all = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let parts: Vec<&str> = l.split_whitespace().collect();
                assert!(parts.len() == 3, "bad go-fields line: {l}");
                assert!(
                    ["omit-zero", "keep-empty", "inline", "name"].contains(&parts[0]),
                    "bad go-fields fact: {l}"
                );
                Fact {
                    what: parts[0].to_string(),
                    definition: parts[1].to_string(),
                    field: parts[2].to_string(),
                }
            })
            .collect();
        Self {
            all,
            used: BTreeSet::new(),
        }
    }

    /// Whether `what` holds for the field, matched by exact name or, for `inline` (keyed by the
    /// protobuf name) and `name`, by normalized name.
    fn holds(&mut self, what: &str, definition: &str, field: &str) -> bool {
        self.find(what, definition, field).is_some()
    }

    fn find(&mut self, what: &str, definition: &str, field: &str) -> Option<String> {
        let found = self
            .all
            .iter()
            .find(|f| {
                f.what == what
                    && f.definition == definition
                    && (f.field == field
                        || matches!(what, "inline" | "name") && normalize(&f.field) == field)
            })
            .cloned();
        let fact = found?;
        let field = fact.field.clone();
        self.used.insert(fact);
        Some(field)
    }
}

struct Resolved {
    definition: String,
    special: &'static str,
    fields: Vec<ResolvedField>,
}

struct ResolvedField {
    tag: u32,
    json: String,
    ty: PbType,
    shape: PbShape,
    flags: Vec<&'static str>,
}

pub(crate) fn generate(sources: &Sources, go_fields: &str) -> String {
    let messages = pb::read(&sources.pb_src);
    let types = openapi::read(&sources.openapi_src);
    let mut facts = Facts::parse(go_fields);

    let json_names = json_dictionary(&types);
    let type_names: BTreeMap<String, String> = types
        .values()
        .map(|t| (normalize(&t.name), t.name.clone()))
        .collect();

    let mut resolved = BTreeMap::new();
    for message in messages.values() {
        // apimachinery's test group and the metrics APIs (read-only, served by metrics-server)
        // never reach a create request.
        if message.module.contains("testapigroup") || message.module.starts_with("metrics/") {
            continue;
        }
        let oa = types.get(&(message.module.clone(), normalize(&message.name)));
        let entry = resolve(message, oa, &messages, &json_names, &type_names, &mut facts);
        resolved.insert(message.key(), entry);
    }
    let unused: Vec<_> = facts.all.difference(&facts.used).collect();
    assert!(
        unused.is_empty(),
        "go-fields.txt lines that match no field: {unused:#?}"
    );

    let mut order: Vec<(&String, &Resolved)> = resolved.iter().collect();
    order.sort_by(|a, b| a.1.definition.cmp(&b.1.definition));
    for pair in order.windows(2) {
        assert!(
            pair[0].1.definition != pair[1].1.definition,
            "{}",
            pair[0].1.definition
        );
    }
    let index: BTreeMap<&String, usize> = order
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (*k, i))
        .collect();
    let kinds = kinds(&messages, &types, &index);
    emit(sources, &order, &index, &kinds)
}

/// Normalized JSON name → the spelling k8s-openapi uses most, for messages it lacks.
fn json_dictionary(types: &BTreeMap<(String, String), OaType>) -> BTreeMap<String, String> {
    let mut counts: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for field in types.values().flat_map(|t| &t.fields) {
        *counts
            .entry(normalize(&field.json))
            .or_default()
            .entry(field.json.clone())
            .or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(norm, spellings)| {
            let best = spellings
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                .unwrap()
                .0;
            (norm, best)
        })
        .collect()
}

fn resolve(
    message: &PbMessage,
    oa: Option<&OaType>,
    messages: &BTreeMap<String, PbMessage>,
    json_names: &BTreeMap<String, String>,
    type_names: &BTreeMap<String, String>,
    facts: &mut Facts,
) -> Resolved {
    let definition = match oa {
        Some(t) => t.definition.clone(),
        None => {
            let name = type_names
                .get(&normalize(&message.name))
                .cloned()
                .unwrap_or_else(|| message.name.clone());
            format!(
                "io.k8s.{}.{name}",
                message.module.replace('/', ".").replace('_', "-")
            )
        }
    };
    let special = special(message);
    let mut fields = Vec::new();
    for field in &message.fields {
        let norm = normalize(&field.rust);
        let named = oa.and_then(|t| t.fields.iter().find(|f| normalize(&f.json) == norm));
        let json = match named {
            Some(f) => f.json.clone(),
            None => facts
                .find("name", &definition, &norm)
                .or_else(|| json_names.get(&norm).cloned())
                .unwrap_or_else(|| lower_camel(&field.rust)),
        };
        let required = named.is_some_and(|f| f.required);
        let mut flags = Vec::new();
        let is_message = matches!(field.ty, PbType::Message(_));
        if is_message && facts.holds("inline", &definition, &norm) {
            if let Some(t) = oa {
                check_inline(&definition, field, t, messages);
            }
            flags.push("INLINE");
        } else if oa.is_some() && named.is_none() && special == "None" {
            panic!(
                "{definition}.{}: no JSON field in k8s-openapi and not inline",
                field.rust
            );
        }
        match field.ty {
            PbType::Scalar(Scalar::String | Scalar::Bytes) if field.shape == PbShape::Single => {
                let omit = facts.holds("omit-zero", &definition, &json);
                let keep = facts.holds("keep-empty", &definition, &json);
                if (required || keep) && !omit {
                    flags.push("KEEP_EMPTY");
                }
            }
            PbType::Scalar(_)
                if field.shape == PbShape::Single
                    && facts.holds("omit-zero", &definition, &json) =>
            {
                flags.push("OMIT_ZERO");
            }
            _ => {}
        }
        fields.push(ResolvedField {
            tag: field.tag,
            json,
            ty: field.ty.clone(),
            shape: field.shape,
            flags,
        });
    }
    fields.sort_by_key(|f| f.tag);
    check_special(&definition, special, &fields);
    Resolved {
        definition,
        special,
        fields,
    }
}

/// An inlined message's fields must all be fields of the parent's JSON form (a message field
/// the parent lacks must be inlined in turn, like `RuleWithOperations` inside
/// `NamedRuleWithOperations`).
fn check_inline(
    definition: &str,
    field: &PbField,
    parent: &OaType,
    messages: &BTreeMap<String, PbMessage>,
) {
    let PbType::Message(key) = &field.ty else {
        unreachable!()
    };
    let parent_names: BTreeSet<String> = parent.fields.iter().map(|f| normalize(&f.json)).collect();
    for inner_field in &messages[key].fields {
        if parent_names.contains(&normalize(&inner_field.rust)) {
            continue;
        }
        assert!(
            matches!(inner_field.ty, PbType::Message(_)),
            "{definition}: inlined {key} has {} which the parent lacks",
            inner_field.rust
        );
        check_inline(definition, inner_field, parent, messages);
    }
}

fn special(message: &PbMessage) -> &'static str {
    let name = normalize(&message.name);
    match (message.module.as_str(), name.as_str()) {
        ("apimachinery/pkg/apis/meta/v1", "time") => "Time",
        ("apimachinery/pkg/apis/meta/v1", "microtime") => "MicroTime",
        ("apimachinery/pkg/apis/meta/v1", "fieldsv1") => "RawJson",
        ("apimachinery/pkg/apis/meta/v1", "verbs") => "StringList",
        ("apimachinery/pkg/api/resource", "quantity" | "quantityvalue") => "Quantity",
        ("apimachinery/pkg/util/intstr", "intorstring") => "IntOrString",
        ("apimachinery/pkg/runtime", "rawextension") => "RawJson",
        (m, "json") if m.starts_with("apiextensions_apiserver/") => "RawJson",
        (m, "jsonschemapropsorarray") if m.starts_with("apiextensions_apiserver/") => {
            "SchemaOrArray"
        }
        (m, "jsonschemapropsorbool") if m.starts_with("apiextensions_apiserver/") => "SchemaOrBool",
        (m, "jsonschemapropsorstringarray") if m.starts_with("apiextensions_apiserver/") => {
            "SchemaOrStringArray"
        }
        (_, "extravalue") => "StringList",
        _ => "None",
    }
}

/// The special decoders read fields by number; make sure the numbers are what they expect.
fn check_special(definition: &str, special: &str, fields: &[ResolvedField]) {
    use PbShape::{Repeated as R, Single as S};
    let string = PbType::Scalar(Scalar::String);
    let expected: Vec<(u32, Option<PbType>, PbShape)> = match special {
        "Time" | "MicroTime" => vec![
            (1, Some(PbType::Scalar(Scalar::Int64)), S),
            (2, Some(PbType::Scalar(Scalar::Int32)), S),
        ],
        "Quantity" => vec![(1, Some(string), S)],
        "IntOrString" => vec![
            (1, Some(PbType::Scalar(Scalar::Int64)), S),
            (2, Some(PbType::Scalar(Scalar::Int32)), S),
            (3, Some(string), S),
        ],
        "RawJson" => vec![(1, Some(PbType::Scalar(Scalar::Bytes)), S)],
        "StringList" => vec![(1, Some(string), R)],
        "SchemaOrArray" => vec![(1, None, S), (2, None, R)],
        "SchemaOrBool" => vec![(1, Some(PbType::Scalar(Scalar::Bool)), S), (2, None, S)],
        "SchemaOrStringArray" => vec![(1, None, S), (2, Some(string), R)],
        _ => return,
    };
    let actual: Vec<(u32, Option<PbType>, PbShape)> = fields
        .iter()
        .map(|f| {
            let ty = match &f.ty {
                PbType::Scalar(_) => Some(f.ty.clone()),
                PbType::Message(_) => None,
            };
            (f.tag, ty, f.shape)
        })
        .collect();
    assert_eq!(
        actual, expected,
        "{definition}: unexpected layout for {special}"
    );
}

/// `(apiVersion, kind, message index)` for every top-level object.
fn kinds(
    messages: &BTreeMap<String, PbMessage>,
    types: &BTreeMap<(String, String), OaType>,
    index: &BTreeMap<&String, usize>,
) -> BTreeSet<(String, String, usize)> {
    let mut kinds = BTreeSet::new();
    // Group directory (`api/authentication`) → API group and the kinds k8s-openapi knows in it.
    let mut groups: BTreeMap<String, (String, BTreeMap<String, String>)> = BTreeMap::new();
    for t in types.values() {
        let Some((api_version, kind)) = &t.resource else {
            continue;
        };
        let key = format!("{}::{}", t.module, pb_name(messages, &t.module, &t.name));
        if let Some(&i) = index.get(&key) {
            kinds.insert((api_version.clone(), kind.clone(), i));
        }
        let group = api_version
            .rsplit_once('/')
            .map_or("", |(g, _)| g)
            .to_string();
        let dir = t.module.rsplit_once('/').unwrap().0.to_string();
        let entry = groups
            .entry(dir)
            .or_insert_with(|| (group, BTreeMap::new()));
        entry.1.insert(normalize(kind), kind.clone());
    }
    // Versions k8s-openapi no longer carries (authentication.k8s.io/v1beta1 SelfSubjectReview,
    // which `kubectl auth whoami` falls back to) still decode when k8s-pb has them.
    for message in messages.values() {
        let Some((dir, version)) = message.module.rsplit_once('/') else {
            continue;
        };
        let Some((group, group_kinds)) = groups.get(dir) else {
            continue;
        };
        let Some(kind) = group_kinds.get(&normalize(&message.name)) else {
            continue;
        };
        let has_meta = message.fields.iter().any(|f| {
            f.tag == 1 && f.shape == PbShape::Single && f.ty == PbType::Message(OBJECT_META.into())
        });
        if !has_meta {
            continue;
        }
        let api_version = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        if !kinds.iter().any(|(v, k, _)| *v == api_version && k == kind) {
            kinds.insert((api_version, kind.clone(), index[&message.key()]));
        }
    }
    kinds
}

/// k8s-pb's spelling of a type k8s-openapi names `name` in `module`.
fn pb_name(messages: &BTreeMap<String, PbMessage>, module: &str, name: &str) -> String {
    let norm = normalize(name);
    messages
        .values()
        .find(|m| m.module == module && normalize(&m.name) == norm)
        .map_or_else(|| name.to_string(), |m| m.name.clone())
}

fn lower_camel(rust: &str) -> String {
    let mut out = String::new();
    for (i, part) in rust.split('_').enumerate() {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            if i == 0 {
                out.push(first);
            } else {
                out.push(first.to_ascii_uppercase());
            }
            out.extend(chars);
        }
    }
    out
}

fn emit(
    sources: &Sources,
    order: &[(&String, &Resolved)],
    index: &BTreeMap<&String, usize>,
    kinds: &BTreeSet<(String, String, usize)>,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// @generated by tests/codegen from k8s-pb {} and k8s-openapi {} (v1_35) with\n\
         // codegen/go-fields.txt. Do not edit; regenerate with\n\
         // `CLOSET_PROTOBUF_REGENERATE=1 cargo test -p closet-protobuf --test codegen`.\n",
        sources.pb_version, sources.openapi_version
    );
    out.push_str(
        "use super::Kind::{Bool, Bytes, Double, Int32, Int64, Message as Msg, String as Str};\n\
         use super::Shape::{Map, Repeated, Single};\n\
         use super::{f, Message, Special, INLINE, KEEP_EMPTY, OMIT_ZERO};\n\n",
    );
    let _ = writeln!(
        out,
        "pub(super) static MESSAGES: [Message; {}] = [",
        order.len()
    );
    for (i, (_, message)) in order.iter().enumerate() {
        let _ = writeln!(
            out,
            "    // {i}: {}\n    Message {{ special: Special::{}, fields: &[",
            message.definition, message.special
        );
        for field in &message.fields {
            let kind = match &field.ty {
                PbType::Scalar(Scalar::String) => "Str".to_string(),
                PbType::Scalar(Scalar::Bytes) => "Bytes".to_string(),
                PbType::Scalar(Scalar::Bool) => "Bool".to_string(),
                PbType::Scalar(Scalar::Int32) => "Int32".to_string(),
                PbType::Scalar(Scalar::Int64) => "Int64".to_string(),
                PbType::Scalar(Scalar::Double) => "Double".to_string(),
                PbType::Message(key) => {
                    format!("Msg({})", index.get(key).unwrap_or_else(|| panic!("{key}")))
                }
            };
            let shape = match field.shape {
                PbShape::Single => "Single",
                PbShape::Repeated => "Repeated",
                PbShape::Map => "Map",
            };
            let flags = if field.flags.is_empty() {
                "0".to_string()
            } else {
                field.flags.join(" | ")
            };
            let _ = writeln!(
                out,
                "        f({}, {:?}, {kind}, {shape}, {flags}),",
                field.tag, field.json
            );
        }
        out.push_str("    ] },\n");
    }
    out.push_str("];\n\n");
    let _ = writeln!(
        out,
        "pub(super) static KINDS: [(&str, &str, u16); {}] = [",
        kinds.len()
    );
    for (api_version, kind, i) in kinds {
        let _ = writeln!(out, "    ({api_version:?}, {kind:?}, {i}),");
    }
    out.push_str("];\n");
    out
}
