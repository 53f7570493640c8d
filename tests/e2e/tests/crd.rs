//! CustomResourceDefinitions with the real kubectl: a CRD becomes a served resource with its
//! short name and printer columns, custom objects are defaulted, pruned and validated, they
//! survive a restart, and deleting the CRD deletes them.

use closet_e2e::{Cluster, require_kubectl, test_ns};

const CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.e2e.closet.dev}
spec:
  group: e2e.closet.dev
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget, shortNames: [gdg]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}, scale: {specReplicasPath: .spec.size, statusReplicasPath: .status.size}}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Color, type: string, jsonPath: .spec.color}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 1}
              color: {type: string, default: blue}
"#;

const GADGET: &str = r#"apiVersion: e2e.closet.dev/v1
kind: Gadget
metadata: {name: g1}
spec: {size: 3, unknownField: dropped}
"#;

#[test]
fn custom_resources_follow_their_definition() {
    require_kubectl!();
    // Its own server: the CRD is cluster-wide and this test restarts the server.
    let cluster = Cluster::start();
    let ns = test_ns!(&cluster);
    let crd = ns.write("crd.yaml", CRD);
    ns.kubectl_ok(&["create", "-f", &crd]);
    ns.kubectl_ok(&[
        "wait",
        "--for=condition=established",
        "crd/gadgets.e2e.closet.dev",
        "--timeout=20s",
    ]);

    let gadget = ns.write("gadget.yaml", GADGET);
    // kubectl asks for strict validation by default: unknown fields are refused...
    let strict = ns.kubectl_err(&["create", "-f", &gadget]);
    assert!(
        strict.contains(r#"unknown field "spec.unknownField""#),
        "{strict}"
    );
    // ...and pruned when validation is off.
    ns.kubectl_ok(&["create", "--validate=false", "-f", &gadget]);
    let table = ns.kubectl_ok(&["get", "gdg"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "SIZE", "COLOR"], "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["g1", "3", "blue"]),
        "{table}"
    );

    let spec = ns.kubectl_ok(&["get", "gadget", "g1", "-o", "jsonpath={.spec}"]);
    assert!(
        spec.contains("\"color\":\"blue\"") && !spec.contains("unknownField"),
        "{spec}"
    );

    let invalid = ns.write(
        "bad.yaml",
        "apiVersion: e2e.closet.dev/v1\nkind: Gadget\nmetadata: {name: bad}\nspec: {size: 0}\n",
    );
    let err = ns.kubectl_err(&["create", "-f", &invalid]);
    assert!(
        err.contains("Invalid") && err.contains("spec.size"),
        "{err}"
    );

    // The scale subresource reads and writes the paths the CRD declares.
    ns.kubectl_ok(&["scale", "gadget", "g1", "--replicas=7"]);
    let size = ns.kubectl_ok(&["get", "gadget", "g1", "-o", "jsonpath={.spec.size}"]);
    assert_eq!(size, "7");

    let resources = ns.kubectl_ok(&["api-resources", "--api-group=e2e.closet.dev"]);
    assert!(
        resources.contains("gadgets") && resources.contains("gdg"),
        "{resources}"
    );

    cluster.restart();
    let after = ns.kubectl_ok(&["get", "gdg", "g1", "-o", "name"]);
    assert_eq!(after.trim(), "gadget.e2e.closet.dev/g1");

    ns.kubectl_ok(&["delete", "-f", &crd]);
    let gone = ns.kubectl(&[
        "get",
        "--raw",
        &format!("/apis/e2e.closet.dev/v1/namespaces/{}/gadgets", ns.name()),
    ]);
    assert!(
        !gone.success(),
        "custom objects are still served after their CRD was deleted"
    );
    ns.kubectl_ok(&["create", "-f", &crd]);
    ns.kubectl_ok(&[
        "wait",
        "--for=condition=established",
        "crd/gadgets.e2e.closet.dev",
        "--timeout=20s",
    ]);
    let empty = ns.kubectl_ok(&["get", "gdg", "-o", "name"]);
    assert!(
        empty.trim().is_empty(),
        "objects outlived their CRD: {empty}"
    );
}
