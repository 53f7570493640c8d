use super::*;
use crate::{ContainerInfo, PodInfo};

struct OnePod;

impl PodDirectory for OnePod {
    fn container(&self, _: &str, _: &str, _: &str) -> Option<ContainerInfo> {
        None
    }
    fn pod(&self, _: &str, _: &str) -> Option<PodInfo> {
        None
    }
    fn pods(&self) -> Vec<PodInfo> {
        vec![PodInfo {
            namespace: "default".into(),
            name: "web".into(),
            uid: "u1".into(),
            sandbox_id: "s1".into(),
            containers: vec![("app".into(), "c1".into()), ("side".into(), "c2".into())],
            volumes: Vec::new(),
        }]
    }
}

fn sample(at: Instant, node_cpu: u64, containers: &[(&str, u64, u64)]) -> Sample {
    Sample {
        at,
        time: jiff::Timestamp::UNIX_EPOCH,
        node_cpu_nanos: Some(node_cpu),
        node_memory: Some(proc::Memory {
            total: 8 << 30,
            available: 6 << 30,
        }),
        containers: containers
            .iter()
            .map(|(id, cpu, mem)| {
                (
                    (*id).to_owned(),
                    ContainerSample {
                        cpu_nanos: Some(*cpu),
                        runtime_nano_cores: Some(1),
                        working_set: Some(*mem),
                        usage: Some(*mem),
                    },
                )
            })
            .collect(),
    }
}

#[test]
fn rates_come_from_two_samples() {
    let t0 = Instant::now();
    let base = sample(t0, 0, &[("c1", 1_000_000_000, 0)]);
    let now = sample(
        t0 + Duration::from_secs(2),
        3_000_000_000,
        &[("c1", 1_500_000_000, 10 << 20), ("c2", 7, 1 << 20)],
    );
    let summary = build(&base, &now, &OnePod.pods(), "n1");
    assert_eq!(summary.node.node_name, "n1");
    let node_cpu = summary.node.cpu.unwrap();
    assert_eq!(node_cpu.usage_nano_cores, Some(1_500_000_000));
    assert_eq!(node_cpu.window_seconds, Some(2.0));
    assert_eq!(
        summary.node.memory.unwrap().working_set_bytes,
        Some(2 << 30)
    );
    let pod = &summary.pods[0];
    assert_eq!(pod.pod_ref.name, "web");
    // 0.5 s of CPU over 2 s is a quarter core; c2 is new, so the runtime's figure is used.
    assert_eq!(
        pod.containers[0].cpu.as_ref().unwrap().usage_nano_cores,
        Some(250_000_000)
    );
    assert_eq!(
        pod.containers[1].cpu.as_ref().unwrap().usage_nano_cores,
        Some(1)
    );
    assert_eq!(
        pod.cpu.as_ref().unwrap().usage_nano_cores,
        Some(250_000_001)
    );
    assert_eq!(
        pod.memory.as_ref().unwrap().working_set_bytes,
        Some((10 << 20) + (1 << 20))
    );
}

#[test]
fn pods_without_stats_are_left_out() {
    let t0 = Instant::now();
    let s = sample(t0, 0, &[]);
    assert!(build(&s, &s, &OnePod.pods(), "n1").pods.is_empty());
}

#[test]
fn a_base_must_be_old_enough_and_not_stale() {
    let sampler = Sampler::default();
    let t0 = Instant::now();
    let at = |secs: u64| Arc::new(sample(t0 + Duration::from_secs(secs), 0, &[]));
    assert!(sampler.keep(at(0)).is_none());
    let base = sampler.keep(at(5)).expect("5 s after the first");
    assert_eq!(base.at, t0);
    // At 5.5 s the sample at 5 s is too young, so the base is still the one at 0 s.
    let half = Arc::new(sample(t0 + Duration::from_millis(5500), 0, &[]));
    assert_eq!(sampler.keep(half).expect("base").at, t0);
    let next = sampler.keep(at(7)).expect("base");
    assert_eq!(next.at, t0 + Duration::from_millis(5500));
    assert!(
        sampler.keep(at(1000)).is_none(),
        "every kept sample is stale"
    );
    assert!(sampler.kept.lock().unwrap().len() <= 3);
}
