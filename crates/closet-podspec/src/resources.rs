//! Requests and limits → cgroup settings, and the QoS class that decides who the OOM killer
//! picks first (`pkg/kubelet/kuberuntime/kuberuntime_container_linux.go`, `pkg/kubelet/qos`).

use std::collections::BTreeMap;

use closet_cri::cri;
use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::SpecError;
use crate::quantity::QuantityValue;

/// CFS period the kubelet uses (100 ms, in microseconds).
pub const CPU_PERIOD_US: i64 = 100_000;
const MIN_SHARES: i64 = 2;
const MAX_SHARES: i64 = 262_144;
const SHARES_PER_CPU: i64 = 1024;
const MIN_QUOTA_US: i64 = 1000;
const GUARANTEED_OOM_SCORE_ADJ: i64 = -997;
const BEST_EFFORT_OOM_SCORE_ADJ: i64 = 1000;

/// A pod's quality-of-service class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QosClass {
    /// Every container sets equal CPU and memory requests and limits.
    Guaranteed,
    /// Anything between.
    Burstable,
    /// No container sets any CPU or memory request or limit.
    BestEffort,
}

impl QosClass {
    /// The name `status.qosClass` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            QosClass::Guaranteed => "Guaranteed",
            QosClass::Burstable => "Burstable",
            QosClass::BestEffort => "BestEffort",
        }
    }
}

/// The pod's QoS class: `status.qosClass` when the API server set it (it never changes
/// afterwards), otherwise computed from the containers as upstream's `ComputePodQOS` does.
pub fn qos_class(pod: &Pod) -> QosClass {
    match pod.status.as_ref().and_then(|s| s.qos_class.as_deref()) {
        Some("Guaranteed") => return QosClass::Guaranteed,
        Some("Burstable") => return QosClass::Burstable,
        Some("BestEffort") => return QosClass::BestEffort,
        _ => {}
    }
    let Some(spec) = pod.spec.as_ref() else {
        return QosClass::BestEffort;
    };
    let mut requests: BTreeMap<&str, QuantityValue> = BTreeMap::new();
    let mut limits: BTreeMap<&str, QuantityValue> = BTreeMap::new();
    let mut guaranteed = true;
    for container in spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
    {
        let resources = container.resources.as_ref();
        add_positive(&mut requests, resources.and_then(|r| r.requests.as_ref()));
        let found = add_positive(&mut limits, resources.and_then(|r| r.limits.as_ref()));
        if !(found.contains(&"cpu") && found.contains(&"memory")) {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return QosClass::BestEffort;
    }
    let equal = requests
        .iter()
        .all(|(name, request)| limits.get(name) == Some(request));
    if guaranteed && equal && requests.len() == limits.len() {
        QosClass::Guaranteed
    } else {
        QosClass::Burstable
    }
}

/// Adds the positive CPU and memory amounts of `list` into `sums`; returns which were found.
/// Unparseable amounts count as absent (the API server validated them already).
fn add_positive<'a>(
    sums: &mut BTreeMap<&'a str, QuantityValue>,
    list: Option<&'a BTreeMap<String, Quantity>>,
) -> Vec<&'a str> {
    let mut found = Vec::new();
    for (name, quantity) in list.into_iter().flatten() {
        if name != "cpu" && name != "memory" {
            continue;
        }
        let Ok(value) = QuantityValue::from_quantity(quantity) else {
            continue;
        };
        if value <= QuantityValue::ZERO {
            continue;
        }
        found.push(name.as_str());
        let sum = sums.entry(name.as_str()).or_default();
        *sum = sum.checked_add(value).unwrap_or(*sum);
    }
    found
}

/// CPU shares for a request (`MilliCPUToShares`): 1024 per CPU, at least 2.
pub fn milli_cpu_to_shares(milli_cpu: i64) -> i64 {
    if milli_cpu <= 0 {
        return MIN_SHARES;
    }
    let shares = milli_cpu.saturating_mul(SHARES_PER_CPU) / 1000;
    shares.clamp(MIN_SHARES, MAX_SHARES)
}

/// CFS quota for a limit over `period` microseconds; 0 (no quota) without a limit, and never
/// below 1 ms.
pub fn milli_cpu_to_quota(milli_cpu: i64, period: i64) -> i64 {
    if milli_cpu <= 0 {
        return 0;
    }
    (milli_cpu.saturating_mul(period) / 1000).max(MIN_QUOTA_US)
}

/// The cgroup settings for a CPU request, CPU limit and memory limit (`calculateLinuxResources`).
/// Without a request but with a limit, the shares follow the limit, as the API server's
/// defaulting would have made them.
pub(crate) fn linux_resources(
    cpu_request: Option<QuantityValue>,
    cpu_limit: Option<QuantityValue>,
    memory_limit: Option<QuantityValue>,
) -> cri::LinuxContainerResources {
    let shares_from = match (cpu_request, cpu_limit) {
        (None, Some(limit)) => limit,
        (request, _) => request.unwrap_or_default(),
    };
    cri::LinuxContainerResources {
        cpu_shares: milli_cpu_to_shares(shares_from.milli_value()),
        cpu_quota: milli_cpu_to_quota(cpu_limit.unwrap_or_default().milli_value(), CPU_PERIOD_US),
        cpu_period: CPU_PERIOD_US,
        memory_limit_in_bytes: memory_limit.map(QuantityValue::value).unwrap_or(0),
        ..Default::default()
    }
}

/// The container's cgroup settings and OOM score adjustment. `memory_capacity` is the node's
/// memory in bytes, which scales the score of burstable containers.
pub fn container_resources(
    pod: &Pod,
    container: &Container,
    memory_capacity: i64,
) -> Result<cri::LinuxContainerResources, SpecError> {
    let resources = container.resources.as_ref();
    let requests = resources.and_then(|r| r.requests.as_ref());
    let limits = resources.and_then(|r| r.limits.as_ref());
    let mut linux = linux_resources(
        amount(requests, "cpu", "resources.requests")?,
        amount(limits, "cpu", "resources.limits")?,
        amount(limits, "memory", "resources.limits")?,
    );
    let memory_request = amount(requests, "memory", "resources.requests")?.unwrap_or_default();
    linux.oom_score_adj = oom_score_adj(pod, memory_request.value(), memory_capacity);
    Ok(linux)
}

/// Overhead declared by the pod's RuntimeClass, as sandbox resources (requests = limits).
pub(crate) fn overhead_resources(
    pod: &Pod,
) -> Result<Option<cri::LinuxContainerResources>, SpecError> {
    let Some(overhead) = pod.spec.as_ref().and_then(|s| s.overhead.as_ref()) else {
        return Ok(None);
    };
    let cpu = amount(Some(overhead), "cpu", "overhead")?;
    let memory = amount(Some(overhead), "memory", "overhead")?;
    Ok(Some(linux_resources(cpu, cpu, memory)))
}

fn amount(
    list: Option<&BTreeMap<String, Quantity>>,
    name: &str,
    field: &str,
) -> Result<Option<QuantityValue>, SpecError> {
    let Some(quantity) = list.and_then(|l| l.get(name)) else {
        return Ok(None);
    };
    QuantityValue::from_quantity(quantity)
        .map(Some)
        .map_err(|e| SpecError::quantity(format!("{field}.{name}"), &quantity.0, e))
}

/// Upstream's OOM policy (`GetContainerOOMScoreAdjust`): node-critical and guaranteed pods
/// are killed last, best-effort first, and a burstable container scores by how much of the
/// node's memory it requested, kept strictly between the two.
fn oom_score_adj(pod: &Pod, memory_request: i64, memory_capacity: i64) -> i64 {
    if is_node_critical(pod) {
        return GUARANTEED_OOM_SCORE_ADJ;
    }
    match qos_class(pod) {
        QosClass::Guaranteed => return GUARANTEED_OOM_SCORE_ADJ,
        QosClass::BestEffort => return BEST_EFFORT_OOM_SCORE_ADJ,
        QosClass::Burstable => {}
    }
    let share = if memory_capacity > 0 {
        let share = i128::from(memory_request) * 1000 / i128::from(memory_capacity);
        i64::try_from(share.clamp(0, 1000)).unwrap_or(0)
    } else {
        0
    };
    let adj = 1000 - share;
    if adj < 1000 + GUARANTEED_OOM_SCORE_ADJ {
        return 1000 + GUARANTEED_OOM_SCORE_ADJ;
    }
    if adj == BEST_EFFORT_OOM_SCORE_ADJ {
        return adj - 1;
    }
    adj
}

/// `system-node-critical` pods with a critical priority (or mirror pods of static manifests).
fn is_node_critical(pod: &Pod) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return false;
    };
    let critical_priority = spec.priority.is_some_and(|p| p >= 2_000_000_000);
    let mirror = pod
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
    spec.priority_class_name.as_deref() == Some("system-node-critical")
        && (critical_priority || mirror)
}

#[cfg(test)]
mod tests;
