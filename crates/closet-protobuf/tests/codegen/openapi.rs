//! Reads k8s-openapi's generated sources: definition names, JSON field names, which fields are
//! required, and which types are resources with an apiVersion and kind.

use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug)]
pub(crate) struct OaField {
    pub(crate) json: String,
    pub(crate) required: bool,
}

#[derive(Debug)]
pub(crate) struct OaType {
    /// The OpenAPI definition, e.g. `io.k8s.api.core.v1.PodIP`.
    pub(crate) definition: String,
    /// The module below the version directory, e.g. `api/core/v1`.
    pub(crate) module: String,
    /// The Go type name, e.g. `PodIP`.
    pub(crate) name: String,
    pub(crate) fields: Vec<OaField>,
    /// `(apiVersion, kind)` for resources.
    pub(crate) resource: Option<(String, String)>,
}

/// Every generated type under `version_dir` (`src/v1_35`), keyed by `(module, normalized name)`.
pub(crate) fn read(version_dir: &Path) -> BTreeMap<(String, String), OaType> {
    let mut types = BTreeMap::new();
    for file in super::rust_files(version_dir) {
        let text = std::fs::read_to_string(&file).unwrap();
        let Some(definition) = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("// Generated from definition "))
        else {
            continue;
        };
        let module = file
            .parent()
            .unwrap()
            .strip_prefix(version_dir)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let Some(ty) = parse_type(definition, &module, &text) else {
            continue;
        };
        types.insert((module, super::normalize(&ty.name)), ty);
    }
    types
}

fn parse_type(definition: &str, module: &str, text: &str) -> Option<OaType> {
    let mut lines = text.lines();
    let header = lines.by_ref().find(|l| l.starts_with("pub struct "))?;
    let name = header["pub struct ".len()..]
        .split([' ', '(', '{', ';'])
        .next()
        .unwrap()
        .to_string();
    let mut rust_fields = Vec::new();
    if header.ends_with('{') {
        for line in lines.by_ref() {
            if line == "}" {
                break;
            }
            if let Some(rest) = line.strip_prefix("    pub ") {
                let (rust, ty) = rest.split_once(": ").unwrap();
                rust_fields.push((rust.trim_start_matches("r#").to_string(), ty.to_string()));
            }
        }
    }
    // The Deserialize impl maps each JSON name to its Rust field: `"podIPs" => Field::Key_pod_ips,`.
    let mut json_names = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some((json, rust)) = line.split_once("\" => Field::Key_") {
            let json = json.trim_start_matches('"');
            json_names.insert(rust.trim_end_matches(',').to_string(), json.to_string());
        }
    }
    let fields = rust_fields
        .iter()
        .map(|(rust, ty)| OaField {
            json: json_names
                .get(rust)
                .unwrap_or_else(|| panic!("{definition}: no JSON name for {rust}"))
                .clone(),
            required: !ty.starts_with("Option<"),
        })
        .collect();
    let constant = |name: &str| {
        let prefix = format!("const {name}: &'static str = \"");
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix.as_str()))
            .map(|rest| rest.trim_end_matches("\";").to_string())
    };
    let resource = match (constant("API_VERSION"), constant("KIND")) {
        (Some(api_version), Some(kind)) => Some((api_version, kind)),
        _ => None,
    };
    Some(OaType {
        definition: definition.to_string(),
        module: module.to_string(),
        name,
        fields,
        resource,
    })
}
