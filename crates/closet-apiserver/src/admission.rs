//! Admission plugins that rewrite objects on their way in.
//!
//! DefaultTolerationSeconds, as upstream: a new pod that does not already tolerate the
//! `not-ready` and `unreachable` NoExecute taints gets tolerations for them with a
//! cluster-wide number of seconds (300 unless configured), so its node's outage evicts it
//! after five minutes rather than at once.

use serde_json::{Value, json};

use crate::Config;
use crate::registry::ResourceInfo;

/// Seconds pods tolerate a not-ready or unreachable node unless configured otherwise.
pub const DEFAULT_TOLERATION_SECONDS: i64 = 300;
const NOT_READY: &str = "node.kubernetes.io/not-ready";
const UNREACHABLE: &str = "node.kubernetes.io/unreachable";

/// Applies the admission plugins to an object about to be created.
pub(crate) fn on_create(config: &Config, info: &ResourceInfo, obj: &mut Value) {
    if info.is_core("pods") {
        default_toleration_seconds(config, obj);
    }
}

/// Adds the default NoExecute tolerations a pod lacks.
pub fn default_toleration_seconds(config: &Config, pod: &mut Value) {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let tolerations = spec.entry("tolerations").or_insert_with(|| json!([]));
    if tolerations.is_null() {
        *tolerations = json!([]);
    }
    let Some(list) = tolerations.as_array_mut() else {
        return;
    };
    let covers = |list: &[Value], key: &str| {
        list.iter().any(|t| {
            let field = |f: &str| t.get(f).and_then(Value::as_str).unwrap_or("");
            (field("key") == key || field("key").is_empty())
                && (field("effect") == "NoExecute" || field("effect").is_empty())
        })
    };
    let wanted = [
        (
            NOT_READY,
            config
                .default_not_ready_toleration_seconds
                .unwrap_or(DEFAULT_TOLERATION_SECONDS),
        ),
        (
            UNREACHABLE,
            config
                .default_unreachable_toleration_seconds
                .unwrap_or(DEFAULT_TOLERATION_SECONDS),
        ),
    ];
    for (key, seconds) in wanted {
        if !covers(list, key) {
            list.push(json!({
                "key": key,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": seconds,
            }));
        }
    }
    if list.is_empty() {
        spec.remove("tolerations");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_both_tolerations_with_configured_seconds() {
        let config = Config {
            default_unreachable_toleration_seconds: Some(7),
            ..Config::default()
        };
        let mut pod = json!({"spec": {"containers": []}});
        default_toleration_seconds(&config, &mut pod);
        assert_eq!(
            pod["spec"]["tolerations"],
            json!([
                {"key": NOT_READY, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 7},
            ])
        );
    }

    #[test]
    fn keeps_the_pods_own_and_wildcards() {
        let config = Config::default();
        let own = json!({"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"});
        let mut pod = json!({"spec": {"tolerations": [own.clone()]}});
        default_toleration_seconds(&config, &mut pod);
        let list = pod["spec"]["tolerations"].as_array().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0], own);
        assert_eq!(list[1]["key"], NOT_READY);
        let mut all = json!({"spec": {"tolerations": [{"operator": "Exists"}]}});
        default_toleration_seconds(&config, &mut all);
        assert_eq!(all["spec"]["tolerations"].as_array().unwrap().len(), 1);
    }
}
