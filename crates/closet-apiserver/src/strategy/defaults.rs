//! Upstream defaults for the kinds people write by hand, applied on every write as
//! upstream's decoder does: what `kubectl get -o yaml` shows after `kubectl create`.

use serde_json::{Map, Value, json};

use crate::registry::ResourceInfo;

/// Sets `key` to `value` when it is absent (or null).
fn default(map: &mut Map<String, Value>, key: &str, value: Value) {
    if map.get(key).is_none_or(Value::is_null) {
        map.insert(key.to_string(), value);
    }
}

/// The object at `path`, if every step is an object.
fn at<'a>(obj: &'a mut Value, path: &[&str]) -> Option<&'a mut Map<String, Value>> {
    let mut cur = obj;
    for p in path {
        cur = cur.get_mut(*p)?;
    }
    cur.as_object_mut()
}

/// Applies the defaults of `info`'s kind to `obj`.
pub(super) fn apply(info: &ResourceInfo, obj: &mut Value) {
    if info.custom.is_some() {
        return;
    }
    match (info.group.as_str(), info.kind.as_str()) {
        ("", "Pod") => {
            if let Some(spec) = at(obj, &["spec"]) {
                pod_spec(spec);
                // The ServiceAccount admission plugin's part.
                default(spec, "serviceAccountName", json!("default"));
            }
        }
        ("", "Service") => {
            if let Some(spec) = at(obj, &["spec"]) {
                service_spec(spec);
            }
        }
        ("", "Secret") => {
            if let Some(secret) = obj.as_object_mut() {
                default(secret, "type", json!("Opaque"));
            }
        }
        ("", "PersistentVolumeClaim") => {
            if let Some(spec) = at(obj, &["spec"]) {
                default(spec, "volumeMode", json!("Filesystem"));
            }
        }
        ("apps", "Deployment") => {
            if let Some(spec) = at(obj, &["spec"]) {
                default(spec, "replicas", json!(1));
                default(spec, "revisionHistoryLimit", json!(10));
                default(spec, "progressDeadlineSeconds", json!(600));
                default(spec, "strategy", json!({"type": "RollingUpdate"}));
                if let Some(strategy) = spec.get_mut("strategy").and_then(Value::as_object_mut) {
                    default(strategy, "type", json!("RollingUpdate"));
                    if strategy.get("type") == Some(&json!("RollingUpdate")) {
                        default(strategy, "rollingUpdate", json!({}));
                        if let Some(ru) = strategy
                            .get_mut("rollingUpdate")
                            .and_then(Value::as_object_mut)
                        {
                            default(ru, "maxUnavailable", json!("25%"));
                            default(ru, "maxSurge", json!("25%"));
                        }
                    }
                }
            }
            template(obj, &["spec", "template", "spec"]);
        }
        ("apps", "ReplicaSet") => {
            if let Some(spec) = at(obj, &["spec"]) {
                default(spec, "replicas", json!(1));
            }
            template(obj, &["spec", "template", "spec"]);
        }
        ("apps", "StatefulSet") => {
            if let Some(spec) = at(obj, &["spec"]) {
                default(spec, "replicas", json!(1));
                default(spec, "podManagementPolicy", json!("OrderedReady"));
                default(spec, "revisionHistoryLimit", json!(10));
                default(
                    spec,
                    "updateStrategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
                );
                default(
                    spec,
                    "persistentVolumeClaimRetentionPolicy",
                    json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
                );
            }
            template(obj, &["spec", "template", "spec"]);
        }
        ("apps", "DaemonSet") => {
            if let Some(spec) = at(obj, &["spec"]) {
                default(spec, "revisionHistoryLimit", json!(10));
                default(
                    spec,
                    "updateStrategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
                );
            }
            template(obj, &["spec", "template", "spec"]);
        }
        ("batch", "Job") => {
            if let Some(spec) = at(obj, &["spec"]) {
                job_spec(spec);
            }
            template(obj, &["spec", "template", "spec"]);
        }
        ("batch", "CronJob") => {
            if let Some(spec) = at(obj, &["spec"]) {
                default(spec, "concurrencyPolicy", json!("Allow"));
                default(spec, "suspend", json!(false));
                default(spec, "successfulJobsHistoryLimit", json!(3));
                default(spec, "failedJobsHistoryLimit", json!(1));
            }
            if let Some(spec) = at(obj, &["spec", "jobTemplate", "spec"]) {
                job_spec(spec);
            }
            template(obj, &["spec", "jobTemplate", "spec", "template", "spec"]);
        }
        _ => {}
    }
}

fn template(obj: &mut Value, path: &[&str]) {
    if let Some(spec) = at(obj, path) {
        pod_spec(spec);
    }
}

fn job_spec(spec: &mut Map<String, Value>) {
    if spec.get("completions").is_none_or(Value::is_null)
        && spec.get("parallelism").is_none_or(Value::is_null)
    {
        spec.insert("completions".into(), json!(1));
        spec.insert("parallelism".into(), json!(1));
    }
    default(spec, "parallelism", json!(1));
    default(spec, "backoffLimit", json!(6));
    default(spec, "completionMode", json!("NonIndexed"));
    default(spec, "suspend", json!(false));
    default(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
    default(spec, "manualSelector", json!(false));
}

fn pod_spec(spec: &mut Map<String, Value>) {
    default(spec, "restartPolicy", json!("Always"));
    default(spec, "terminationGracePeriodSeconds", json!(30));
    default(spec, "dnsPolicy", json!("ClusterFirst"));
    default(spec, "securityContext", json!({}));
    default(spec, "schedulerName", json!("default-scheduler"));
    default(spec, "enableServiceLinks", json!(true));
    for list in ["containers", "initContainers"] {
        if let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for c in containers.iter_mut().filter_map(Value::as_object_mut) {
                container(c);
            }
        }
    }
    if let Some(volumes) = spec.get_mut("volumes").and_then(Value::as_array_mut) {
        for v in volumes.iter_mut().filter_map(Value::as_object_mut) {
            for source in ["configMap", "secret", "downwardAPI", "projected"] {
                if let Some(s) = v.get_mut(source).and_then(Value::as_object_mut) {
                    default(s, "defaultMode", json!(420));
                }
            }
        }
    }
}

fn container(c: &mut Map<String, Value>) {
    let image = c
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    default(c, "imagePullPolicy", json!(pull_policy(&image)));
    default(c, "terminationMessagePath", json!("/dev/termination-log"));
    default(c, "terminationMessagePolicy", json!("File"));
    default(c, "resources", json!({}));
    if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            default(p, "protocol", json!("TCP"));
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(probe).and_then(Value::as_object_mut) {
            default(p, "timeoutSeconds", json!(1));
            default(p, "periodSeconds", json!(10));
            default(p, "successThreshold", json!(1));
            default(p, "failureThreshold", json!(3));
            if let Some(http) = p.get_mut("httpGet").and_then(Value::as_object_mut) {
                default(http, "path", json!("/"));
                default(http, "scheme", json!("HTTP"));
            }
        }
    }
}

/// `Always` for `:latest` or untagged images, `IfNotPresent` otherwise, as upstream.
fn pull_policy(image: &str) -> &'static str {
    if image.contains('@') {
        return "IfNotPresent";
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, tag)) if tag != "latest" => "IfNotPresent",
        _ => "Always",
    }
}

fn service_spec(spec: &mut Map<String, Value>) {
    default(spec, "type", json!("ClusterIP"));
    default(spec, "sessionAffinity", json!("None"));
    let kind = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    if kind != "ExternalName" {
        default(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if matches!(kind.as_str(), "NodePort" | "LoadBalancer") {
        default(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    // Client affinity lasts three hours unless the Service says otherwise, as upstream.
    if spec.get("sessionAffinity").and_then(Value::as_str) == Some("ClientIP") {
        default(spec, "sessionAffinityConfig", json!({}));
        if let Some(config) = spec
            .get_mut("sessionAffinityConfig")
            .and_then(Value::as_object_mut)
        {
            default(config, "clientIP", json!({}));
            if let Some(client) = config.get_mut("clientIP").and_then(Value::as_object_mut) {
                default(client, "timeoutSeconds", json!(10800));
            }
        }
    }
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            default(p, "protocol", json!("TCP"));
            if let Some(port) = p.get("port").cloned() {
                default(p, "targetPort", port);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;

    fn defaulted(group: &str, plural: &str, mut obj: Value) -> Value {
        let info = Registry::builtin().get(group, "v1", plural).unwrap();
        apply(&info, &mut obj);
        obj
    }

    #[test]
    fn pull_policies() {
        assert_eq!(pull_policy("nginx"), "Always");
        assert_eq!(pull_policy("nginx:latest"), "Always");
        assert_eq!(pull_policy("nginx:1.27"), "IfNotPresent");
        assert_eq!(pull_policy("registry:5000/app"), "Always");
        assert_eq!(pull_policy("app@sha256:abc"), "IfNotPresent");
    }

    #[test]
    fn deployment_and_template() {
        let d = defaulted(
            "apps",
            "deployments",
            json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}}}}),
        );
        assert_eq!(d["spec"]["replicas"], 1);
        assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["imagePullPolicy"], "IfNotPresent");
        assert_eq!(c["ports"][0]["protocol"], "TCP");
        assert_eq!(d["spec"]["template"]["spec"]["restartPolicy"], "Always");
        let recreate = defaulted(
            "apps",
            "deployments",
            json!({"spec": {"strategy": {"type": "Recreate"}}}),
        );
        assert!(recreate["spec"]["strategy"].get("rollingUpdate").is_none());
    }

    #[test]
    fn services_secrets_jobs() {
        let s = defaulted("", "services", json!({"spec": {"ports": [{"port": 80}]}}));
        assert_eq!(s["spec"]["type"], "ClusterIP");
        assert_eq!(s["spec"]["ports"][0]["targetPort"], 80);
        let sticky = defaulted(
            "",
            "services",
            json!({"spec": {"sessionAffinity": "ClientIP"}}),
        );
        assert_eq!(
            sticky["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"],
            10800
        );
        assert_eq!(defaulted("", "secrets", json!({}))["type"], "Opaque");
        let j = defaulted("batch", "jobs", json!({"spec": {"template": {"spec": {}}}}));
        assert_eq!(
            (
                j["spec"]["completions"].clone(),
                j["spec"]["backoffLimit"].clone()
            ),
            (json!(1), json!(6))
        );
        let keep = defaulted("", "secrets", json!({"type": "kubernetes.io/tls"}));
        assert_eq!(keep["type"], "kubernetes.io/tls");
    }
}
