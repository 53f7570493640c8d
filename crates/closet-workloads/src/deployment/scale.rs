//! Scaling a Deployment that is mid-rollout or paused: upstream's `scale`, which spreads
//! new replicas (or removals) over the active ReplicaSets in proportion to their sizes.

use k8s_openapi::api::apps::v1::ReplicaSet;

use super::DeploymentError;
use super::sync::Rollout;
use super::util::{self, rs_available, rs_replicas};

/// Whether the Deployment's replicas changed since its active ReplicaSets were last sized.
pub fn is_scaling_event(r: &Rollout<'_>) -> bool {
    let want = i64::from(util::replicas(r.d));
    r.all()
        .filter(|rs| rs_replicas(rs) > 0)
        .any(|rs| util::int_annotation(rs, util::DESIRED_REPLICAS).is_some_and(|n| n != want))
}

/// One ReplicaSet's share of a resize: `size` scaled from the old maximum (`max_before`)
/// to the new one (`max_after`), as a change in replicas.
pub fn fraction(size: i32, max_before: i32, max_after: i32, want: i32) -> i32 {
    if want == 0 {
        return -size;
    }
    if max_before == 0 {
        return 0;
    }
    let scaled = f64::from(size) * f64::from(max_after) / f64::from(max_before);
    // Upstream rounds half away from zero.
    #[allow(clippy::cast_possible_truncation, reason = "bounded by i32 inputs")]
    let rounded = scaled.round() as i32;
    rounded - size
}

/// New sizes for `sets` ((size, max-replicas annotation)), sorted by the caller so the set
/// that takes the leftover comes first, when `to_add` replicas are to be added (or removed).
pub fn proportions(sets: &[(i32, i32)], to_add: i32, max_after: i32, want: i32) -> Vec<i32> {
    let mut added = 0;
    let mut sizes: Vec<i32> = sets
        .iter()
        .map(|&(size, max_before)| {
            if to_add == 0 {
                return size;
            }
            let f = fraction(size, max_before, max_after, want);
            let allowed = to_add - added;
            let p = if to_add > 0 {
                f.min(allowed)
            } else {
                f.max(allowed)
            };
            added += p;
            size + p
        })
        .collect();
    if to_add != 0
        && added != to_add
        && let Some(first) = sizes.first_mut()
    {
        *first = (*first + to_add - added).max(0);
    }
    sizes
}

/// Resizes the ReplicaSets to the Deployment's replicas without moving the rollout along.
pub async fn scale(r: &mut Rollout<'_>) -> Result<(), DeploymentError> {
    let want = util::replicas(r.d);
    let active: Vec<bool> = r.all().map(|rs| rs_replicas(rs) > 0).collect();
    let active_count = active.iter().filter(|a| **a).count();
    // One active set (or none): it alone takes the new size.
    if active_count <= 1 {
        if let Some(new) = r.new.clone()
            && (active_count == 0 || rs_replicas(&new) > 0)
        {
            return r.scale_new(want).await;
        }
        if let Some(i) = r
            .old
            .iter()
            .rposition(|rs| rs_replicas(rs) > 0 || active_count == 0)
        {
            let rs = r.old[i].clone();
            r.old[i] = r.scale_rs(&rs, want).await?;
        }
        return Ok(());
    }
    // The new set has everything: the old ones go.
    let saturated = r.new.as_ref().is_some_and(|n| {
        rs_replicas(n) == want
            && util::int_annotation(n, util::DESIRED_REPLICAS) == Some(i64::from(want))
            && rs_available(n) == want
    });
    if saturated {
        let zeros = vec![0; r.old.len()];
        r.resize_old(&zeros).await?;
        return Ok(());
    }
    let surge = util::max_surge(r.d);
    let allowed = if want > 0 { want + surge } else { 0 };
    let mut sets: Vec<ReplicaSet> = r.all().filter(|rs| rs_replicas(rs) > 0).cloned().collect();
    let total: i32 = sets.iter().map(rs_replicas).sum();
    let to_add = allowed - total;
    // Largest first; ties go to the newer set when growing and the older when shrinking.
    sets.sort_by(|a, b| {
        let by_size = rs_replicas(b).cmp(&rs_replicas(a));
        let age = |rs: &ReplicaSet| rs.metadata.creation_timestamp.as_ref().map(|t| t.0);
        by_size.then(if to_add > 0 {
            age(b).cmp(&age(a))
        } else {
            age(a).cmp(&age(b))
        })
    });
    let status_replicas = r.d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0);
    let shape: Vec<(i32, i32)> = sets
        .iter()
        .map(|rs| {
            let before = util::int_annotation(rs, util::MAX_REPLICAS)
                .and_then(|n| i32::try_from(n).ok())
                .filter(|n| *n > 0)
                .unwrap_or(status_replicas);
            (rs_replicas(rs), before)
        })
        .collect();
    let sizes = proportions(&shape, to_add, allowed, want);
    for (rs, to) in sets.iter().zip(sizes) {
        let updated = r.scale_rs(rs, to).await?;
        if r.new
            .as_ref()
            .is_some_and(|n| n.metadata.uid == updated.metadata.uid)
        {
            r.new = Some(updated);
        } else if let Some(slot) = r
            .old
            .iter_mut()
            .find(|o| o.metadata.uid == updated.metadata.uid)
        {
            *slot = updated;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proportional_scaling_spreads_like_upstream() {
        // 10 replicas with surge 3 (max 13) split 8 new / 5 old, scaled to 20 (surge 5: 25).
        let sizes = proportions(&[(8, 13), (5, 13)], 12, 25, 20);
        assert_eq!(sizes.iter().sum::<i32>(), 25);
        assert_eq!(sizes, vec![15, 10]);
        // Scaling down to zero empties every set.
        assert_eq!(proportions(&[(3, 4), (1, 4)], -4, 0, 0), vec![0, 0]);
        // Rounding leftovers go to the first (largest) set.
        let sizes = proportions(&[(1, 3), (1, 3), (1, 3)], 1, 4, 4);
        assert_eq!(sizes.iter().sum::<i32>(), 4);
        assert_eq!(fraction(5, 10, 20, 20), 5);
        assert_eq!(fraction(5, 0, 20, 20), 0);
    }
}
