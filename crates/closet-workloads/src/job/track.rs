//! Counting finished pods without losing any: a finished pod's UID is first written to
//! `status.uncountedTerminatedPods`, then its tracking finalizer is removed, and once the pod
//! is released (or gone) the UID moves into `succeeded` or `failed`. A crash between any two
//! steps repeats the step, and no pod is counted twice, as in upstream's Job controller.

use std::collections::BTreeSet;

use k8s_openapi::api::batch::v1::{JobStatus, UncountedTerminatedPods};

use super::indexes;
use super::pods::{Outcome, PodView};

/// Folds pod results into `status`; returns the names of pods whose finalizer may now be
/// removed (once `status` is written).
pub fn track(status: &mut JobStatus, pods: &[PodView], indexed: Option<i32>) -> Vec<String> {
    let mut unc = status.uncounted_terminated_pods.take().unwrap_or_default();
    let mut succeeded_uids = unc.succeeded.take().unwrap_or_default();
    let mut failed_uids = unc.failed.take().unwrap_or_default();
    let tracked = |uid: &str| pods.iter().any(|p| p.uid == uid && p.tracked);

    // Released (or gone) pods recorded earlier are counted now.
    let before = succeeded_uids.len();
    succeeded_uids.retain(|u| tracked(u));
    let newly_succeeded = before - succeeded_uids.len();
    let before = failed_uids.len();
    failed_uids.retain(|u| tracked(u));
    let newly_failed = before - failed_uids.len();
    status.failed = Some(status.failed.unwrap_or(0) + count(newly_failed));

    let mut completed = indexed
        .map(|c| indexes::parse(status.completed_indexes.as_deref().unwrap_or(""), c))
        .unwrap_or_default();
    let mut release = Vec::new();
    for p in pods.iter().filter(|p| p.tracked) {
        let list = match p.outcome {
            Outcome::Active => continue,
            Outcome::Succeeded => &mut succeeded_uids,
            Outcome::Failed => &mut failed_uids,
        };
        if !list.contains(&p.uid) {
            list.push(p.uid.clone());
        }
        if let (Outcome::Succeeded, Some(c), Some(i)) = (p.outcome, indexed, p.index)
            && (0..c).contains(&i)
        {
            completed.insert(i);
        }
        release.push(p.name.clone());
    }
    match indexed {
        // An Indexed Job counts completed indexes, so a second success of one index is not
        // counted twice.
        Some(_) => {
            status.succeeded = Some(count(completed.len()));
            status.completed_indexes = Some(indexes::format(&completed));
        }
        None => status.succeeded = Some(status.succeeded.unwrap_or(0) + count(newly_succeeded)),
    }
    sort_dedup(&mut succeeded_uids);
    sort_dedup(&mut failed_uids);
    status.uncounted_terminated_pods = Some(UncountedTerminatedPods {
        succeeded: Some(succeeded_uids),
        failed: Some(failed_uids),
    });
    release
}

fn sort_dedup(v: &mut Vec<String>) {
    let set: BTreeSet<String> = v.drain(..).collect();
    v.extend(set);
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Results recorded but not yet counted.
pub fn uncounted(status: &JobStatus) -> (usize, usize) {
    let unc = status.uncounted_terminated_pods.as_ref();
    (
        unc.and_then(|u| u.succeeded.as_ref()).map_or(0, Vec::len),
        unc.and_then(|u| u.failed.as_ref()).map_or(0, Vec::len),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, outcome: Outcome, tracked: bool, index: Option<i32>) -> PodView {
        PodView {
            name: name.into(),
            uid: format!("uid-{name}"),
            outcome,
            index,
            tracked,
            ready: false,
            finished_at: None,
        }
    }

    #[test]
    fn results_are_recorded_then_counted_once() {
        let mut st = JobStatus::default();
        let pods = vec![
            pod("a", Outcome::Succeeded, true, None),
            pod("b", Outcome::Failed, true, None),
            pod("c", Outcome::Active, true, None),
        ];
        let release = track(&mut st, &pods, None);
        assert_eq!(release, ["a", "b"]);
        assert_eq!((st.succeeded, st.failed), (Some(0), Some(0)));
        assert_eq!(uncounted(&st), (1, 1));
        // Tracking again before release changes nothing.
        let again = track(&mut st, &pods, None);
        assert_eq!(again, ["a", "b"]);
        assert_eq!(uncounted(&st), (1, 1));
        // Released: counted; the same pods seen later without a finalizer are not recounted.
        let pods = vec![
            pod("a", Outcome::Succeeded, false, None),
            pod("c", Outcome::Active, true, None),
        ];
        assert!(track(&mut st, &pods, None).is_empty());
        assert_eq!((st.succeeded, st.failed), (Some(1), Some(1)));
        assert_eq!(uncounted(&st), (0, 0));
        track(&mut st, &pods, None);
        assert_eq!((st.succeeded, st.failed), (Some(1), Some(1)));
    }

    #[test]
    fn indexed_jobs_count_indexes() {
        let mut st = JobStatus::default();
        let pods = vec![
            pod("a", Outcome::Succeeded, true, Some(0)),
            pod("b", Outcome::Succeeded, true, Some(0)),
            pod("c", Outcome::Succeeded, true, Some(2)),
            pod("d", Outcome::Succeeded, true, Some(9)),
        ];
        track(&mut st, &pods, Some(3));
        assert_eq!(st.completed_indexes.as_deref(), Some("0,2"));
        assert_eq!(st.succeeded, Some(2));
    }
}
