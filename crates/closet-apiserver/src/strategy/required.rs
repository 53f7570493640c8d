//! Required fields people forget in hand-written manifests, with upstream's `Required value`
//! causes. (k8s-openapi's decoder fills a missing required string with "", so the typed
//! check cannot see these.)

use closet_types::FieldError;
use serde_json::Value;

use crate::registry::ResourceInfo;

fn missing(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        _ => false,
    }
}

/// Checks the containers of a pod spec at `path`.
fn pod_spec(spec: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let containers = spec.get("containers").and_then(Value::as_array);
    if containers.is_none_or(|c| c.is_empty()) {
        errors.push(FieldError::required(format!("{path}.containers"), ""));
    }
    for (at, c) in super::containers(spec, path) {
        for field in ["name", "image"] {
            if missing(c.get(field)) {
                errors.push(FieldError::required(format!("{at}.{field}"), ""));
            }
        }
    }
}

/// A CronJob's time zone belongs in `spec.timeZone`, which must name an IANA zone, as
/// upstream's validation insists.
fn cronjob_zone(spec: &Value, errors: &mut Vec<FieldError>) {
    if let Some(s) = spec.get("schedule").and_then(Value::as_str)
        && (s.contains("TZ="))
    {
        let why = "cannot use TZ or CRON_TZ in schedule, use timeZone field instead";
        errors.push(FieldError::invalid("spec.schedule", s, why));
    }
    let Some(tz) = spec.get("timeZone").and_then(Value::as_str) else {
        return;
    };
    if tz.eq_ignore_ascii_case("local") {
        let why =
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones";
        errors.push(FieldError::invalid("spec.timeZone", tz, why));
    } else if jiff::tz::TimeZone::get(tz).is_err() {
        let why = format!("unknown time zone {tz}");
        errors.push(FieldError::invalid("spec.timeZone", tz, why));
    }
}

/// Required fields of `obj`'s kind.
pub(super) fn check(info: &ResourceInfo, obj: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if info.custom.is_some() {
        return errors;
    }
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    match (info.group.as_str(), info.kind.as_str()) {
        ("", "Pod") => pod_spec(spec, "spec", &mut errors),
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") => {
            if missing(spec.get("selector")) {
                errors.push(FieldError::required("spec.selector", ""));
            }
            pod_spec(
                spec.get("template")
                    .and_then(|t| t.get("spec"))
                    .unwrap_or(&Value::Null),
                "spec.template.spec",
                &mut errors,
            );
        }
        ("batch", "Job") => {
            pod_spec(
                spec.get("template")
                    .and_then(|t| t.get("spec"))
                    .unwrap_or(&Value::Null),
                "spec.template.spec",
                &mut errors,
            );
        }
        ("batch", "CronJob") => {
            if missing(spec.get("schedule")) {
                errors.push(FieldError::required("spec.schedule", ""));
            }
            cronjob_zone(spec, &mut errors);
            let template = spec
                .get("jobTemplate")
                .and_then(|j| j.get("spec"))
                .and_then(|s| s.get("template"));
            pod_spec(
                template.and_then(|t| t.get("spec")).unwrap_or(&Value::Null),
                "spec.jobTemplate.spec.template.spec",
                &mut errors,
            );
        }
        ("", "Service") => {
            let kind = spec
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("ClusterIP");
            for (i, p) in spec
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                if missing(p.get("port")) {
                    errors.push(FieldError::required(format!("spec.ports[{i}].port"), ""));
                }
            }
            if kind == "ExternalName" && missing(spec.get("externalName")) {
                errors.push(FieldError::required("spec.externalName", ""));
            }
        }
        _ => {}
    }
    errors
}
