//! A PodDisruptionBudget's numbers from its spec, its pods and their controllers' scale:
//! pure functions, no I/O (upstream's disruption controller arithmetic).

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudgetSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// How long an eviction's entry in `disruptedPods` waits for the pod's deletion (as
/// upstream's DeletionTimeout).
pub const DELETION_TIMEOUT: Duration = Duration::from_secs(120);

/// Why the expected count could not be worked out.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BudgetError {
    /// A percentage that does not parse.
    #[error("invalid value for IntOrString: {0:?}")]
    BadPercent(String),
}

/// The numbers written into a PDB's status.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Numbers {
    /// Pods the budget expects (from the controllers' scale or the pod count).
    pub expected: i32,
    /// Healthy pods the budget requires.
    pub desired_healthy: i32,
    /// Ready pods not marked disrupted.
    pub current_healthy: i32,
    /// How many more pods may go.
    pub disruptions_allowed: i32,
}

/// `value` of `total`: an int as is, or a percentage rounded up.
pub fn scaled(value: &IntOrString, total: i32) -> Result<i32, BudgetError> {
    match value {
        IntOrString::Int(n) => Ok(*n),
        IntOrString::String(s) => {
            let percent: i64 = s
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| BudgetError::BadPercent(s.clone()))?;
            let scaled = (percent * i64::from(total) + 99) / 100;
            Ok(i32::try_from(scaled).unwrap_or(i32::MAX))
        }
    }
}

/// Whether the budget needs its pods' controllers' scale: maxUnavailable, or a percentage
/// minAvailable. A plain-number minAvailable counts pods.
pub fn needs_scale(spec: &PodDisruptionBudgetSpec) -> bool {
    spec.max_unavailable.is_some() || matches!(spec.min_available, Some(IntOrString::String(_)))
}

/// The budget's numbers. `scale` is the sum of the pods' controllers' replicas (ignored when
/// [`needs_scale`] is false); `healthy` counts ready, undisrupted pods.
pub fn numbers(
    spec: &PodDisruptionBudgetSpec,
    pod_count: i32,
    scale: i32,
    healthy: i32,
) -> Result<Numbers, BudgetError> {
    let (expected, desired) = if let Some(max) = &spec.max_unavailable {
        let max = scaled(max, scale)?;
        (scale, (scale - max).max(0))
    } else if let Some(min) = &spec.min_available {
        match min {
            IntOrString::Int(n) => (pod_count, *n),
            IntOrString::String(_) => (scale, scaled(min, scale)?),
        }
    } else {
        // Neither field: upstream treats it as minAvailable 100% of the pods.
        (pod_count, pod_count)
    };
    Ok(Numbers {
        expected,
        desired_healthy: desired,
        current_healthy: healthy,
        disruptions_allowed: (healthy - desired).max(0),
    })
}

/// Whether a pod counts as healthy: Ready and not being deleted.
pub fn is_healthy(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The `disruptedPods` entries still pending: the pod exists, is not yet being deleted, and
/// the eviction is younger than [`DELETION_TIMEOUT`].
pub fn pending_disruptions(
    recorded: &BTreeMap<String, Time>,
    pods: &[Pod],
    now: jiff::Timestamp,
) -> BTreeMap<String, Time> {
    recorded
        .iter()
        .filter(|(name, at)| {
            let young = Duration::try_from(now.duration_since(at.0))
                .map_or(true, |age| age < DELETION_TIMEOUT);
            let alive = pods.iter().any(|p| {
                p.metadata.name.as_deref() == Some(name.as_str())
                    && p.metadata.deletion_timestamp.is_none()
            });
            young && alive
        })
        .map(|(n, t)| (n.clone(), t.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(min: Option<IntOrString>, max: Option<IntOrString>) -> PodDisruptionBudgetSpec {
        PodDisruptionBudgetSpec {
            min_available: min,
            max_unavailable: max,
            ..Default::default()
        }
    }

    #[test]
    fn min_available_int_counts_pods() {
        let s = spec(Some(IntOrString::Int(2)), None);
        assert!(!needs_scale(&s));
        let n = numbers(&s, 3, 0, 3).unwrap();
        assert_eq!(
            (n.expected, n.desired_healthy, n.disruptions_allowed),
            (3, 2, 1)
        );
        let n = numbers(&s, 3, 0, 2).unwrap();
        assert_eq!(n.disruptions_allowed, 0);
    }

    #[test]
    fn percentages_round_up_against_scale() {
        let s = spec(Some(IntOrString::String("50%".into())), None);
        assert!(needs_scale(&s));
        let n = numbers(&s, 3, 3, 3).unwrap();
        assert_eq!(
            (n.expected, n.desired_healthy, n.disruptions_allowed),
            (3, 2, 1)
        );
        let s = spec(None, Some(IntOrString::String("34%".into())));
        let n = numbers(&s, 3, 3, 3).unwrap();
        // 34% of 3 rounds up to 2 unavailable, so 1 must stay healthy.
        assert_eq!((n.desired_healthy, n.disruptions_allowed), (1, 2));
        let s = spec(None, Some(IntOrString::Int(1)));
        let n = numbers(&s, 2, 4, 2).unwrap();
        assert_eq!(
            (n.expected, n.desired_healthy, n.disruptions_allowed),
            (4, 3, 0)
        );
        assert!(scaled(&IntOrString::String("x%".into()), 3).is_err());
    }

    #[test]
    fn stale_and_deleted_disruptions_drop_out() {
        let now = jiff::Timestamp::from_second(10_000).unwrap();
        let pod = |name: &str| Pod {
            metadata: kube::api::ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let recorded = BTreeMap::from([
            ("fresh".to_owned(), Time(now)),
            (
                "old".to_owned(),
                Time(jiff::Timestamp::from_second(1).unwrap()),
            ),
            ("gone".to_owned(), Time(now)),
        ]);
        let kept = pending_disruptions(&recorded, &[pod("fresh"), pod("old")], now);
        assert_eq!(kept.keys().collect::<Vec<_>>(), vec!["fresh"]);
    }
}
