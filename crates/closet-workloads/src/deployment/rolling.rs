//! The RollingUpdate strategy: grow the new ReplicaSet within maxSurge, shrink the old ones
//! within maxUnavailable, as upstream's `rolloutRolling`.

use k8s_openapi::api::apps::v1::Deployment;

use super::DeploymentError;
use super::sync::Rollout;
use super::util::{max_surge, max_unavailable, replicas, rs_available, rs_replicas};

/// The new ReplicaSet's size: up to `replicas`, without the total passing `replicas + surge`.
pub fn new_replicas(replicas: i32, surge: i32, total: i32, new_current: i32) -> i32 {
    if new_current >= replicas {
        return replicas;
    }
    let max_total = replicas + surge;
    if total >= max_total {
        return new_current;
    }
    new_current + (max_total - total).min(replicas - new_current).max(0)
}

/// Shrinks old ReplicaSets (oldest first, given as (spec replicas, available)) that have
/// unavailable pods, by at most `max_cleanup` pods in all: those pods give no availability.
pub fn cleanup_unhealthy(old: &[(i32, i32)], max_cleanup: i32) -> Vec<i32> {
    let mut done = 0;
    old.iter()
        .map(|&(spec, available)| {
            if done >= max_cleanup || spec == 0 || spec <= available {
                return spec;
            }
            let down = (max_cleanup - done).min(spec - available);
            done += down;
            spec - down
        })
        .collect()
}

/// Shrinks old ReplicaSets (oldest first, (spec replicas, available)) so that no more than
/// the available pods above `min_available` (`available_total` counts every ReplicaSet) go.
pub fn scale_down_old(old: &[(i32, i32)], available_total: i32, min_available: i32) -> Vec<i32> {
    let allowed = (available_total - min_available).max(0);
    let mut done = 0;
    old.iter()
        .map(|&(spec, _)| {
            if done >= allowed || spec == 0 {
                return spec;
            }
            let down = spec.min(allowed - done);
            done += down;
            spec - down
        })
        .collect()
}

/// One step of a rolling update; true if it scaled anything.
pub async fn step(r: &mut Rollout<'_>) -> Result<bool, DeploymentError> {
    let d: &Deployment = r.d;
    let want = replicas(d);
    let total: i32 = r.all().map(rs_replicas).sum();
    if let Some(new) = r.new.clone() {
        let current = rs_replicas(&new);
        let target = if current > want {
            want
        } else {
            new_replicas(want, max_surge(d), total, current)
        };
        if target != current {
            r.scale_new(target).await?;
            return Ok(true);
        }
    }
    // Old ReplicaSets shrink only as far as availability allows.
    let old_total: i32 = r.old.iter().map(rs_replicas).sum();
    if old_total == 0 {
        return Ok(false);
    }
    let all_total: i32 = r.all().map(rs_replicas).sum();
    let min_available = want - max_unavailable(d);
    let new_unavailable = r
        .new
        .as_ref()
        .map_or(0, |n| (rs_replicas(n) - rs_available(n)).max(0));
    let max_scaled_down = all_total - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return Ok(false);
    }
    let sizes: Vec<(i32, i32)> = r
        .old
        .iter()
        .map(|rs| (rs_replicas(rs), rs_available(rs)))
        .collect();
    let cleaned = cleanup_unhealthy(&sizes, max_scaled_down);
    let mut scaled = r.resize_old(&cleaned).await?;
    let available: i32 = r.all().map(rs_available).sum();
    let sizes: Vec<(i32, i32)> = r
        .old
        .iter()
        .map(|rs| (rs_replicas(rs), rs_available(rs)))
        .collect();
    let down = scale_down_old(&sizes, available, min_available);
    scaled |= r.resize_old(&down).await?;
    Ok(scaled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_replica_set_grows_within_surge() {
        // 10 replicas, surge 3: from nothing, the new set starts at 3 beside 10 old.
        assert_eq!(new_replicas(10, 3, 10, 0), 3);
        // At the ceiling already: no growth.
        assert_eq!(new_replicas(10, 3, 13, 3), 3);
        // Never past the wanted count.
        assert_eq!(new_replicas(10, 3, 10, 9), 10);
        assert_eq!(new_replicas(10, 3, 12, 12), 10);
        // maxSurge 0 (maxUnavailable then paces the rollout).
        assert_eq!(new_replicas(3, 0, 3, 0), 0);
        assert_eq!(new_replicas(3, 0, 2, 0), 1);
    }

    #[test]
    fn old_replica_sets_shrink_within_unavailability() {
        // Unhealthy pods go first, oldest set first, bounded.
        assert_eq!(
            cleanup_unhealthy(&[(3, 1), (4, 4), (2, 0)], 3),
            vec![1, 4, 1]
        );
        assert_eq!(cleanup_unhealthy(&[(3, 3)], 5), vec![3]);
        // 10 replicas, maxUnavailable 2 → min available 8; 10 available → 2 may go.
        assert_eq!(scale_down_old(&[(1, 1), (9, 9)], 10, 8), vec![0, 8]);
        assert_eq!(scale_down_old(&[(5, 5)], 8, 8), vec![5]);
        assert_eq!(scale_down_old(&[(0, 0), (5, 5)], 13, 8), vec![0, 0]);
    }
}
