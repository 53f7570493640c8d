//! Resource quantities and what a pod asks for: the sum of its containers' requests, or the
//! largest init container's when that is more (init containers run one at a time).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// The resources the scheduler accounts for.
pub const TRACKED: [&str; 3] = ["cpu", "memory", "ephemeral-storage"];

/// CPU a container without a request counts as when scoring, in millicores (upstream's default).
pub const DEFAULT_MILLI_CPU: i64 = 100;
/// Memory a container without a request counts as when scoring, in bytes.
pub const DEFAULT_MEMORY: i64 = 200 * 1024 * 1024;

/// Amounts by resource name: cpu in millicores, everything else in whole units (bytes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources(pub BTreeMap<String, i64>);

impl Resources {
    /// The amount of `name`, zero when absent.
    pub fn get(&self, name: &str) -> i64 {
        self.0.get(name).copied().unwrap_or(0)
    }

    /// Adds `other` to these amounts.
    pub fn add(&mut self, other: &Resources) {
        for (name, value) in &other.0 {
            *self.0.entry(name.clone()).or_insert(0) += value;
        }
    }

    fn max(&mut self, other: &Resources) {
        for (name, value) in &other.0 {
            let entry = self.0.entry(name.clone()).or_insert(0);
            *entry = (*entry).max(*value);
        }
    }

    /// Reads a quantity map (`requests`, `allocatable`), skipping values that do not parse.
    pub fn from_quantities(map: Option<&BTreeMap<String, Quantity>>) -> Self {
        let mut out = BTreeMap::new();
        for (name, quantity) in map.into_iter().flatten() {
            if let Some(value) = parse(name, &quantity.0) {
                out.insert(name.clone(), value);
            }
        }
        Self(out)
    }
}

/// Parses a quantity: millicores for `cpu`, whole units (rounded up) for anything else.
pub fn parse(resource: &str, text: &str) -> Option<i64> {
    let value = parse_number(text.trim())?;
    let scaled = if resource == "cpu" {
        value * 1000.0
    } else {
        value
    };
    if !scaled.is_finite() || !(0.0..=9.0e18).contains(&scaled) {
        return None;
    }
    // Quantities are ceil'd, like upstream's Value() and MilliValue().
    #[allow(clippy::cast_possible_truncation, reason = "range checked above")]
    Some(scaled.ceil() as i64)
}

fn parse_number(text: &str) -> Option<f64> {
    const SUFFIXES: [(&str, f64); 13] = [
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("Pi", 1_125_899_906_842_624.0),
        ("Ei", 1_152_921_504_606_846_976.0),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    for (suffix, factor) in SUFFIXES {
        if let Some(number) = text.strip_suffix(suffix) {
            return number.parse::<f64>().ok().map(|n| n * factor);
        }
    }
    // Plain numbers and decimal exponents (`1e3`) parse as floats.
    text.parse::<f64>().ok()
}

fn container_requests(container: &Container) -> Resources {
    Resources::from_quantities(
        container
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref().or(r.limits.as_ref())),
    )
}

/// What `pod` requests: its containers' sum or its largest init container, whichever is
/// more per resource, plus its overhead. Limits stand in for missing requests, as the API's
/// defaulting does.
pub fn pod_requests(pod: &Pod) -> Resources {
    let Some(spec) = pod.spec.as_ref() else {
        return Resources::default();
    };
    let mut sum = Resources::default();
    for container in &spec.containers {
        sum.add(&container_requests(container));
    }
    for init in spec.init_containers.iter().flatten() {
        sum.max(&container_requests(init));
    }
    sum.add(&Resources::from_quantities(spec.overhead.as_ref()));
    sum
}

/// Requests with upstream's scoring defaults filled in for containers that ask for no CPU
/// or memory, so pods without requests still spread.
pub fn pod_requests_for_scoring(pod: &Pod) -> Resources {
    let mut out = Resources::default();
    for container in pod.spec.iter().flat_map(|s| &s.containers) {
        let r = container_requests(container);
        let cpu = if r.0.contains_key("cpu") {
            r.get("cpu")
        } else {
            DEFAULT_MILLI_CPU
        };
        let memory = if r.0.contains_key("memory") {
            r.get("memory")
        } else {
            DEFAULT_MEMORY
        };
        out.add(&Resources(BTreeMap::from([
            ("cpu".to_owned(), cpu),
            ("memory".to_owned(), memory),
        ])));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities_parse_in_the_units_the_scheduler_counts() {
        assert_eq!(parse("cpu", "100m"), Some(100));
        assert_eq!(parse("cpu", "2"), Some(2000));
        assert_eq!(parse("cpu", "0.5"), Some(500));
        assert_eq!(parse("memory", "1Gi"), Some(1 << 30));
        assert_eq!(parse("memory", "128M"), Some(128_000_000));
        assert_eq!(parse("memory", "1e3"), Some(1000));
        assert_eq!(parse("memory", "lots"), None);
        assert_eq!(parse("memory", "-1"), None);
    }

    #[test]
    fn init_containers_count_as_their_maximum() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {
                "containers": [
                    {"name": "a", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}},
                    {"name": "b", "resources": {"limits": {"cpu": "200m"}}}
                ],
                "initContainers": [
                    {"name": "i", "resources": {"requests": {"cpu": "1", "memory": "1Mi"}}}
                ]
            }
        }))
        .unwrap();
        let r = pod_requests(&pod);
        assert_eq!(r.get("cpu"), 1000);
        assert_eq!(r.get("memory"), 64 << 20);
    }
}
