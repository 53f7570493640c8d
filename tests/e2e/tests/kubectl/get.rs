//! `kubectl get`: output formats, sorting, selectors and all-namespaces listing.

use closet_e2e::{TestNs, require_kubectl, test_ns};
use serde_json::Value;

use crate::{NOT_ROOT_CA, cluster, configmap, header, row, rows};

/// Three ConfigMaps created out of name order, with labels and data that sort differently.
fn three_configmaps(ns: &TestNs<'_>) {
    let marker = ns.name();
    let docs = [
        configmap(
            "cm-c",
            &[("app", "x"), ("env", "a"), ("marker", marker)],
            &[("k", "1")],
        ),
        configmap(
            "cm-a",
            &[("app", "x"), ("env", "b"), ("marker", marker)],
            &[("k", "3")],
        ),
        configmap(
            "cm-b",
            &[("app", "y"), ("env", "c"), ("marker", marker)],
            &[("k", "2"), ("j", "0")],
        ),
    ];
    let file = ns.write("three.yaml", &docs.join("---\n"));
    let out = ns.kubectl_ok(&["create", "-f", &file]);
    for name in ["cm-a", "cm-b", "cm-c"] {
        assert!(out.contains(&format!("configmap/{name} created")), "{out}");
    }
}

fn names(out: &str) -> Vec<String> {
    rows(out).into_iter().map(|r| r[0].clone()).collect()
}

#[test]
fn get_prints_the_configmap_table() {
    require_kubectl!();
    let ns = test_ns!(cluster());
    three_configmaps(&ns);
    let out = ns.kubectl_ok(&["get", "configmaps", NOT_ROOT_CA]);
    assert_eq!(header(&out), ["NAME", "DATA", "AGE"], "{out}");
    assert_eq!(
        names(&out),
        ["cm-a", "cm-b", "cm-c"],
        "lists are in name order:\n{out}"
    );
    assert_eq!(
        row(&out, "cm-b").expect("cm-b row")[1],
        "2",
        "DATA counts keys:\n{out}"
    );

    let one = ns.kubectl_ok(&["get", "cm", "cm-b"]);
    assert_eq!(names(&one), ["cm-b"], "{one}");
    let wide = ns.kubectl_ok(&["get", "cm", NOT_ROOT_CA, "-o", "wide"]);
    assert_eq!(header(&wide), ["NAME", "DATA", "AGE"], "{wide}");
}

#[test]
fn get_output_formats() {
    require_kubectl!();
    let ns = test_ns!(cluster());
    three_configmaps(&ns);

    let out = ns.kubectl_ok(&["get", "cm", NOT_ROOT_CA, "-o", "name"]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["configmap/cm-a", "configmap/cm-b", "configmap/cm-c"]
    );

    let out = ns.kubectl_ok(&["get", "cm", NOT_ROOT_CA, "-o", "json"]);
    let list: Value = serde_json::from_str(&out).expect("-o json prints JSON");
    assert_eq!(list["kind"], "List", "{out}");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 3, "{out}");
    assert_eq!(items[0]["kind"], "ConfigMap", "{out}");
    assert_eq!(items[0]["metadata"]["namespace"], ns.name(), "{out}");
    assert_eq!(items[2]["data"]["k"], "1", "{out}");
    let meta = &items[0]["metadata"];
    for field in ["uid", "resourceVersion", "creationTimestamp"] {
        assert!(meta[field].is_string(), "metadata.{field} missing:\n{out}");
    }

    let out = ns.kubectl_ok(&["get", "cm", "cm-a", "-o", "yaml"]);
    let obj: Value = serde_saphyr::from_str(&out).expect("-o yaml prints YAML");
    assert_eq!(obj["kind"], "ConfigMap", "{out}");
    assert_eq!(obj["apiVersion"], "v1", "{out}");
    assert_eq!(obj["metadata"]["labels"]["env"], "b", "{out}");

    let out = ns.kubectl_ok(&[
        "get",
        "cm",
        NOT_ROOT_CA,
        "-o",
        "jsonpath={.items[*].metadata.name}",
    ]);
    assert_eq!(out, "cm-a cm-b cm-c");

    let out = ns.kubectl_ok(&[
        "get",
        "cm",
        NOT_ROOT_CA,
        "-o",
        "custom-columns=NAME:.metadata.name,K:.data.k",
    ]);
    assert_eq!(header(&out), ["NAME", "K"], "{out}");
    assert_eq!(
        rows(&out),
        [["cm-a", "3"], ["cm-b", "2"], ["cm-c", "1"]],
        "{out}"
    );
}

#[test]
fn get_sorts_shows_labels_and_selects() {
    require_kubectl!();
    let ns = test_ns!(cluster());
    three_configmaps(&ns);

    let out = ns.kubectl_ok(&["get", "cm", NOT_ROOT_CA, "--sort-by=.metadata.name"]);
    assert_eq!(names(&out), ["cm-a", "cm-b", "cm-c"], "{out}");
    // Sorting by a field outside the table needs the full objects in the rows.
    let out = ns.kubectl_ok(&["get", "cm", NOT_ROOT_CA, "--sort-by=.data.k"]);
    assert_eq!(names(&out), ["cm-c", "cm-b", "cm-a"], "{out}");

    let out = ns.kubectl_ok(&["get", "cm", NOT_ROOT_CA, "--show-labels"]);
    assert_eq!(header(&out), ["NAME", "DATA", "AGE", "LABELS"], "{out}");
    let labels = row(&out, "cm-a").expect("cm-a row")[3].clone();
    assert_eq!(labels, format!("app=x,env=b,marker={}", ns.name()), "{out}");

    let select = |args: &[&str]| {
        let mut all = vec!["get", "cm", NOT_ROOT_CA, "-o", "name"];
        all.extend_from_slice(args);
        ns.kubectl_ok(&all)
            .lines()
            .map(|l| l.trim_start_matches("configmap/").to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(select(&["-l", "app=x"]), ["cm-a", "cm-c"]);
    assert_eq!(select(&["-l", "app!=x"]), ["cm-b"]);
    assert_eq!(select(&["-l", "env in (a,b)"]), ["cm-a", "cm-c"]);
    assert_eq!(select(&["-l", "env notin (a,b)"]), ["cm-b"]);
    assert_eq!(select(&["-l", "app=x,env=a"]), ["cm-c"]);
    assert_eq!(select(&["-l", "env"]), ["cm-a", "cm-b", "cm-c"]);
    assert_eq!(select(&["-l", "!env"]), Vec::<String>::new());
    assert_eq!(
        select(&["--field-selector", "metadata.name=cm-b"]),
        ["cm-b"]
    );
    assert_eq!(
        // A second --field-selector replaces the first, so this one repeats its exclusion.
        select(&[
            "--field-selector",
            "metadata.name!=cm-b,metadata.name!=kube-root-ca.crt"
        ]),
        ["cm-a", "cm-c"]
    );
    assert_eq!(
        select(&[
            "--field-selector",
            &format!(
                "metadata.namespace={},metadata.name!=kube-root-ca.crt",
                ns.name()
            )
        ])
        .len(),
        3
    );

    // kubectl pages with --chunk-size; every page must continue the first one's snapshot.
    let paged = ns.kubectl_ok(&["get", "cm", NOT_ROOT_CA, "--chunk-size=1", "-o", "name"]);
    assert_eq!(paged.lines().count(), 3, "{paged}");
    let paged = ns.kubectl_ok(&["get", "cm", NOT_ROOT_CA, "--chunk-size=2"]);
    assert_eq!(names(&paged), ["cm-a", "cm-b", "cm-c"], "{paged}");

    let none = ns.kubectl_ok(&["get", "cm", NOT_ROOT_CA, "-l", "app=nothing"]);
    assert!(none.is_empty(), "{none}");
    let none = ns.kubectl(&["get", "cm", NOT_ROOT_CA, "-l", "app=nothing"]);
    assert!(
        none.stderr.contains("No resources found in"),
        "{}",
        none.describe()
    );
}

#[test]
fn get_all_namespaces_adds_the_namespace_column() {
    require_kubectl!();
    let ns = test_ns!(cluster());
    three_configmaps(&ns);
    let selector = format!("marker={}", ns.name());
    let out = cluster().kubectl_ok(&["get", "cm", NOT_ROOT_CA, "-A", "-l", &selector]);
    assert_eq!(header(&out), ["NAMESPACE", "NAME", "DATA", "AGE"], "{out}");
    let rows = rows(&out);
    assert_eq!(rows.len(), 3, "{out}");
    assert!(rows.iter().all(|r| r[0] == ns.name()), "{out}");

    let out = cluster().kubectl_ok(&[
        "get",
        "cm",
        "--all-namespaces",
        "-l",
        &selector,
        "-o",
        "name",
    ]);
    assert_eq!(out.lines().count(), 3, "{out}");
}
