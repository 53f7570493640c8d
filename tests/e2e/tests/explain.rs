//! `kubectl explain` and the OpenAPI v3 documents behind it: real field descriptions for
//! built-in kinds (generated from k8s-openapi's schemas), the merge metadata kubectl reads, and
//! a custom resource's schema from its CRD.

use closet_e2e::{Cluster, require_kubectl, test_ns};
use serde_json::Value;

fn cluster() -> &'static Cluster {
    Cluster::shared()
}

/// The `<name>\t<type>` line of a field in kubectl's FIELDS section, if present.
fn field_line<'a>(out: &'a str, name: &str) -> Option<&'a str> {
    out.lines()
        .map(str::trim)
        .find(|l| l.split('\t').next() == Some(name))
}

#[test]
fn explain_nested_fields_prints_their_descriptions() {
    require_kubectl!();
    let cluster = cluster();
    let out = cluster.kubectl_ok(&["explain", "pods.spec.containers"]);
    assert!(out.contains("KIND:       Pod"), "{out}");
    assert!(out.contains("FIELD: containers <[]Container>"), "{out}");
    assert!(
        out.contains("List of containers belonging to the pod."),
        "{out}"
    );
    let env = field_line(&out, "env").unwrap_or_else(|| panic!("no env field in\n{out}"));
    assert!(env.ends_with("<[]EnvVar>"), "{env}");
    assert!(out.contains("Container image name."), "{out}");

    let out = cluster.kubectl_ok(&["explain", "deployments.spec.strategy"]);
    assert!(out.contains("GROUP:      apps"), "{out}");
    assert!(
        out.contains("FIELD: strategy <DeploymentStrategy>"),
        "{out}"
    );
    assert!(
        out.contains("The deployment strategy to use to replace existing pods"),
        "{out}"
    );
    let rolling = field_line(&out, "rollingUpdate").unwrap_or_else(|| panic!("{out}"));
    assert!(rolling.ends_with("<RollingUpdateDeployment>"), "{rolling}");

    // Scalar unions and quantities read as upstream's do.
    let out = cluster.kubectl_ok(&["explain", "deploy.spec.strategy.rollingUpdate.maxSurge"]);
    assert!(out.contains("FIELD: maxSurge <IntOrString>"), "{out}");
    let out = cluster.kubectl_ok(&["explain", "pods.spec.containers.resources.limits"]);
    assert!(out.contains("<map[string]Quantity>"), "{out}");
}

#[test]
fn explain_recursive_walks_the_whole_kind() {
    require_kubectl!();
    let out = cluster().kubectl_ok(&["explain", "services", "--recursive"]);
    assert!(out.contains("KIND:       Service"), "{out}");
    let metadata = field_line(&out, "metadata").unwrap_or_else(|| panic!("{out}"));
    // Upstream never marks metadata required, and neither do we.
    assert_eq!(metadata, "metadata\t<ObjectMeta>", "{out}");
    for (field, ty) in [
        ("ports", "<[]ServicePort>"),
        ("targetPort", "<IntOrString>"),
        ("creationTimestamp", "<string>"),
    ] {
        let line = field_line(&out, field).unwrap_or_else(|| panic!("no {field} in\n{out}"));
        assert!(line.ends_with(ty), "{line}");
    }
}

#[test]
fn documents_carry_kinds_and_merge_metadata() {
    require_kubectl!();
    let raw = cluster().kubectl_ok(&["get", "--raw", "/openapi/v3/apis/apps/v1"]);
    let doc: Value = serde_json::from_str(&raw).expect("apps/v1 document is JSON");
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"][0]["kind"],
        "Deployment"
    );
    let containers = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-list-type"], "map");
    let strategy = &schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"];
    assert_eq!(strategy["x-kubernetes-patch-strategy"], "retainKeys");
    let get = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["get"];
    assert_eq!(
        get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/io.k8s.api.apps.v1.Deployment"
    );
}

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: explained
spec:
  replicas: 1
  selector:
    matchLabels: {app: explained}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: "25%"}
  template:
    metadata:
      labels: {app: explained}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 80}]
        resources: {limits: {cpu: 500m, memory: 128Mi}}
"#;

/// With schemas in the documents, kubectl still finds the PATCH operation and its
/// `fieldValidation` parameter, so `create -f` validates on the server.
#[test]
fn create_f_still_asks_for_server_validation() {
    require_kubectl!();
    let ns = test_ns!(cluster());
    let file = ns.write("deploy.yaml", DEPLOYMENT);
    let out = ns.kubectl(&["create", "-f", &file, "-v=6"]);
    assert!(out.success(), "{}", out.describe());
    assert!(
        out.stdout.contains("deployment.apps/explained created"),
        "{}",
        out.describe()
    );
    assert!(
        out.stderr.contains("fieldValidation=Strict"),
        "{}",
        out.describe()
    );
    let surge = ns.kubectl_ok(&[
        "get",
        "deploy",
        "explained",
        "-o",
        "jsonpath={.spec.strategy.rollingUpdate.maxSurge}",
    ]);
    assert_eq!(surge, "1");
}

const CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: lamps.explain.closet.dev}
spec:
  group: explain.closet.dev
  scope: Namespaced
  names: {plural: lamps, singular: lamp, kind: Lamp}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            description: What the lamp should do.
            properties:
              brightness: {type: integer, description: Percent of full power.}
"#;

#[test]
fn explain_custom_resources_from_their_schema() {
    require_kubectl!();
    // The CRD is cluster-wide but its group is this test's alone.
    let ns = test_ns!(cluster());
    let crd = ns.write("crd.yaml", CRD);
    ns.kubectl_ok(&["create", "-f", &crd]);
    ns.kubectl_ok(&[
        "wait",
        "--for=condition=established",
        "crd/lamps.explain.closet.dev",
        "--timeout=20s",
    ]);
    let out = ns.kubectl_ok(&["explain", "lamps.spec"]);
    assert!(out.contains("GROUP:      explain.closet.dev"), "{out}");
    assert!(out.contains("What the lamp should do."), "{out}");
    let brightness = field_line(&out, "brightness").unwrap_or_else(|| panic!("{out}"));
    assert!(brightness.ends_with("<integer>"), "{brightness}");
    let out = ns.kubectl_ok(&["explain", "lamps.metadata.labels"]);
    assert!(out.contains("<map[string]string>"), "{out}");
}
