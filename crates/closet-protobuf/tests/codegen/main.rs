//! Generates `src/schema/generated.rs` and checks that the committed copy is current.
//!
//! Inputs, all on this machine once the crate's dev-dependencies are fetched:
//! - k8s-pb (prost messages): message names, field numbers, wire types, maps and lists;
//! - k8s-openapi (`v1_35`): JSON field names, required fields, resources' apiVersion and kind;
//! - `codegen/go-fields.txt`: what Go's `encoding/json` does that neither crate records (value
//!   fields with `omitempty`, pointers, inlined structs).
//!
//! `CLOSET_PROTOBUF_REGENERATE=1 cargo test -p closet-protobuf --test codegen` rewrites the table.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed generation")]

mod build;
mod openapi;
mod pb;

use std::path::{Path, PathBuf};

const TABLE: &str = "src/schema/generated.rs";
const GO_FIELDS: &str = "codegen/go-fields.txt";

#[test]
fn generated_schema_is_current() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sources = Sources::locate(crate_dir);
    let go_fields = std::fs::read_to_string(crate_dir.join(GO_FIELDS)).unwrap();
    let text = build::generate(&sources, &go_fields);
    let path = crate_dir.join(TABLE);
    if std::env::var_os("CLOSET_PROTOBUF_REGENERATE").is_some() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "{TABLE} is stale: run `CLOSET_PROTOBUF_REGENERATE=1 cargo test -p closet-protobuf \
         --test codegen` and commit the result"
    );
}

/// Where the two crates' sources are, as cargo resolved them for this workspace.
pub(crate) struct Sources {
    pub(crate) pb_src: PathBuf,
    pub(crate) pb_version: String,
    pub(crate) openapi_src: PathBuf,
    pub(crate) openapi_version: String,
}

impl Sources {
    fn locate(crate_dir: &Path) -> Self {
        // Only the host's packages: the others (Windows console crates...) may not be downloaded.
        let rustc = std::process::Command::new("rustc")
            .arg("-vV")
            .output()
            .unwrap();
        let rustc = String::from_utf8(rustc.stdout).unwrap();
        let host = rustc
            .lines()
            .find_map(|l| l.strip_prefix("host: "))
            .unwrap();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let output = std::process::Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--offline"])
            .args(["--filter-platform", host])
            .current_dir(crate_dir)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let find = |name: &str| {
            let packages = metadata["packages"].as_array().unwrap();
            let package = packages
                .iter()
                .find(|p| p["name"] == name)
                .unwrap_or_else(|| panic!("{name} is not in the dependency graph"));
            let manifest = Path::new(package["manifest_path"].as_str().unwrap());
            let version = package["version"].as_str().unwrap().to_string();
            (manifest.parent().unwrap().join("src"), version)
        };
        let (pb_src, pb_version) = find("k8s-pb");
        let (openapi_src, openapi_version) = find("k8s-openapi");
        Self {
            pb_src,
            pb_version,
            openapi_src: openapi_src.join("v1_35"),
            openapi_version,
        }
    }
}

/// Every `.rs` file below `dir`, sorted so the output never depends on directory order.
pub(crate) fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Lower case without separators, so `podIPs`, `pod_ips` and `PodIPs` all meet.
pub(crate) fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}
