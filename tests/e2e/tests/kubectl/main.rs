//! The real `kubectl` (the plain one on the PATH: its built-in 1.32 against our 1.35) over TLS
//! against one shared `closet server`; each test works in its own namespace.

mod apply;
mod discovery;
mod finalizers;
mod generators;
mod get;
mod metadata;
mod watch;
mod write;

use closet_e2e::Cluster;

/// The server every test in this binary shares.
/// Every namespace holds the `kube-root-ca.crt` ConfigMap, as upstream; listings that count
/// a test's own ConfigMaps leave it out.
const NOT_ROOT_CA: &str = "--field-selector=metadata.name!=kube-root-ca.crt";

fn cluster() -> &'static Cluster {
    Cluster::shared()
}

/// The whitespace-separated cells of the header line of kubectl's table output.
fn header(out: &str) -> Vec<&str> {
    out.lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect()
}

/// The cells of every row after the header, split on runs of spaces. Cells that contain
/// single spaces (such as `NOMINATED NODE`) are kept whole.
fn rows(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(cells)
        .collect()
}

/// A table line split on runs of two or more spaces, which is how kubectl pads columns.
fn cells(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

/// The row whose first cell is `name`.
fn row(out: &str, name: &str) -> Option<Vec<String>> {
    rows(out)
        .into_iter()
        .find(|r| r.first().is_some_and(|c| c == name))
}

/// A ConfigMap manifest.
fn configmap(name: &str, labels: &[(&str, &str)], data: &[(&str, &str)]) -> String {
    let mut y = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n");
    if !labels.is_empty() {
        y.push_str("  labels:\n");
        for (k, v) in labels {
            y.push_str(&format!("    {k}: \"{v}\"\n"));
        }
    }
    if !data.is_empty() {
        y.push_str("data:\n");
        for (k, v) in data {
            y.push_str(&format!("  {k}: \"{v}\"\n"));
        }
    }
    y
}
