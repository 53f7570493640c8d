//! Which garbage-collection finalizers a DELETE puts on its object: `orphan` makes the
//! garbage collector drop the owner's references from its dependents first,
//! `foregroundDeletion` makes it delete the dependents first. Background, the default, needs
//! neither: the owner goes at once and the collector deletes the dependents afterwards.

use closet_types::params::{DeleteOptions, PropagationPolicy};

/// The finalizer that orphans an object's dependents before it goes.
pub const ORPHAN_FINALIZER: &str = "orphan";
/// The finalizer that deletes an object's dependents before it goes.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";

/// Whether the dependents are to be orphaned: an explicit option wins, then a finalizer the
/// object already carries (from an earlier DELETE), as upstream's registry decides.
fn orphan(current: &[String], options: &DeleteOptions) -> bool {
    if let Some(orphan) = options.orphan_dependents {
        return orphan;
    }
    match options.propagation_policy {
        Some(PropagationPolicy::Orphan) => return true,
        Some(_) => return false,
        None => {}
    }
    for f in current {
        match f.as_str() {
            ORPHAN_FINALIZER => return true,
            FOREGROUND_FINALIZER => return false,
            _ => {}
        }
    }
    false
}

/// Whether the dependents are to be deleted before the object.
fn foreground(current: &[String], options: &DeleteOptions) -> bool {
    if options.orphan_dependents.is_some() {
        return false;
    }
    match options.propagation_policy {
        Some(PropagationPolicy::Foreground) => true,
        Some(_) => false,
        None => current.iter().any(|f| f == FOREGROUND_FINALIZER),
    }
}

/// The object's finalizers after a DELETE with `options`, or `None` when they stay as they are.
pub fn gc_finalizers(current: &[String], options: &DeleteOptions) -> Option<Vec<String>> {
    let mut next: Vec<String> = current
        .iter()
        .filter(|f| *f != ORPHAN_FINALIZER && *f != FOREGROUND_FINALIZER)
        .cloned()
        .collect();
    if orphan(current, options) {
        next.push(ORPHAN_FINALIZER.to_string());
    }
    if foreground(current, options) {
        next.push(FOREGROUND_FINALIZER.to_string());
    }
    let same = next.len() == current.len() && next.iter().all(|f| current.contains(f));
    (!same).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(policy: Option<PropagationPolicy>, orphan: Option<bool>) -> DeleteOptions {
        DeleteOptions {
            propagation_policy: policy,
            orphan_dependents: orphan,
            ..DeleteOptions::default()
        }
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn background_is_the_default_and_adds_nothing() {
        assert_eq!(gc_finalizers(&[], &opts(None, None)), None);
        let bg = opts(Some(PropagationPolicy::Background), None);
        assert_eq!(gc_finalizers(&s(&["x/y"]), &bg), None);
    }

    #[test]
    fn foreground_and_orphan_add_their_finalizer() {
        let fg = opts(Some(PropagationPolicy::Foreground), None);
        assert_eq!(
            gc_finalizers(&s(&["x/y"]), &fg),
            Some(s(&["x/y", FOREGROUND_FINALIZER]))
        );
        let or = opts(Some(PropagationPolicy::Orphan), None);
        assert_eq!(gc_finalizers(&[], &or), Some(s(&[ORPHAN_FINALIZER])));
        assert_eq!(
            gc_finalizers(&[], &opts(None, Some(true))),
            Some(s(&[ORPHAN_FINALIZER]))
        );
    }

    #[test]
    fn a_later_policy_replaces_the_earlier_finalizer() {
        let fg = opts(Some(PropagationPolicy::Foreground), None);
        assert_eq!(
            gc_finalizers(&s(&[ORPHAN_FINALIZER]), &fg),
            Some(s(&[FOREGROUND_FINALIZER]))
        );
        let bg = opts(Some(PropagationPolicy::Background), None);
        assert_eq!(
            gc_finalizers(&s(&[FOREGROUND_FINALIZER]), &bg),
            Some(vec![])
        );
        // Without a policy, the earlier choice stands.
        assert_eq!(
            gc_finalizers(&s(&[ORPHAN_FINALIZER]), &opts(None, None)),
            None
        );
        assert_eq!(
            gc_finalizers(&s(&[FOREGROUND_FINALIZER]), &opts(None, None)),
            None
        );
        // orphanDependents=false means "do not orphan", which drops the orphan finalizer.
        assert_eq!(
            gc_finalizers(&s(&[ORPHAN_FINALIZER]), &opts(None, Some(false))),
            Some(vec![])
        );
    }
}
