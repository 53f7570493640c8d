use std::collections::HashSet;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use super::graph::*;

fn node(name: &str, owners: &[(&str, bool)]) -> Node {
    Node {
        kind: 0,
        namespace: Some("ns".into()),
        name: name.into(),
        uid: format!("uid-{name}"),
        resource_version: "1".into(),
        owners: owners
            .iter()
            .map(|(o, block)| OwnerReference {
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                name: (*o).into(),
                uid: format!("uid-{o}"),
                block_owner_deletion: Some(*block),
                ..OwnerReference::default()
            })
            .collect(),
        finalizers: vec![],
        deleting: false,
    }
}

fn deleting(mut n: Node, finalizer: &str) -> Node {
    n.deleting = true;
    n.finalizers.push(finalizer.into());
    n
}

fn gone(uids: &[&str]) -> HashSet<String> {
    uids.iter().map(|u| format!("uid-{u}")).collect()
}

#[test]
fn a_missing_owner_is_verified_before_anything_happens() {
    let d = node("d", &[("o", false)]);
    let p = plan(std::slice::from_ref(&d), &HashSet::new());
    assert!(p.actions.is_empty());
    assert_eq!(p.verify.len(), 1);
    assert_eq!(p.verify[0].owner.uid, "uid-o");
    assert_eq!(p.verify[0].namespace.as_deref(), Some("ns"));
}

#[test]
fn a_dependent_of_a_gone_owner_is_deleted_in_the_background() {
    let d = node("d", &[("o", false)]);
    let p = plan(std::slice::from_ref(&d), &gone(&["o"]));
    assert_eq!(p.actions, vec![Action::Delete(d, Policy::Background)]);
    assert!(p.verify.is_empty());
}

#[test]
fn a_live_owner_keeps_the_dependent_and_the_dangling_reference_goes() {
    let o = node("o", &[]);
    let d = node("d", &[("o", false), ("x", false)]);
    let p = plan(&[o, d.clone()], &gone(&["x"]));
    assert_eq!(
        p.actions,
        vec![Action::RemoveOwners(d, vec!["uid-x".into()])]
    );
}

#[test]
fn an_owner_in_another_namespace_is_not_the_owner() {
    let mut o = node("o", &[]);
    o.namespace = Some("elsewhere".into());
    let d = node("d", &[("o", false)]);
    let p = plan(&[o, d], &HashSet::new());
    assert!(p.actions.is_empty());
    assert_eq!(p.verify.len(), 1);
}

#[test]
fn orphaning_strips_references_then_the_finalizer() {
    let o = deleting(node("o", &[]), ORPHAN);
    let d = node("d", &[("o", true)]);
    let p = plan(&[o.clone(), d.clone()], &HashSet::new());
    assert_eq!(
        p.actions,
        vec![Action::RemoveOwners(d, vec!["uid-o".into()])]
    );
    let p = plan(&[o.clone(), node("d", &[])], &HashSet::new());
    assert_eq!(p.actions, vec![Action::RemoveFinalizer(o, ORPHAN)]);
}

#[test]
fn foreground_deletes_dependents_and_waits_for_blocking_ones() {
    let o = deleting(node("o", &[]), FOREGROUND);
    let blocking = node("b", &[("o", true)]);
    let loose = node("l", &[("o", false)]);
    let p = plan(
        &[o.clone(), blocking.clone(), loose.clone()],
        &HashSet::new(),
    );
    assert_eq!(
        p.actions,
        vec![
            Action::Delete(blocking.clone(), Policy::Background),
            Action::Delete(loose.clone(), Policy::Background),
        ]
    );
    // The blocking dependent is still there while it terminates: the owner waits.
    let mut terminating = blocking.clone();
    terminating.deleting = true;
    let p = plan(&[o.clone(), terminating, loose.clone()], &HashSet::new());
    assert_eq!(p.actions, vec![Action::Delete(loose, Policy::Background)]);
    // Only non-blocking dependents left: the finalizer goes.
    let p = plan(std::slice::from_ref(&o), &HashSet::new());
    assert_eq!(p.actions, vec![Action::RemoveFinalizer(o, FOREGROUND)]);
}

#[test]
fn foreground_recurses_through_dependents_with_dependents() {
    let o = deleting(node("o", &[]), FOREGROUND);
    let mid = node("m", &[("o", true)]);
    let leaf = node("leaf", &[("m", true)]);
    let p = plan(&[o, mid.clone(), leaf], &HashSet::new());
    assert_eq!(p.actions, vec![Action::Delete(mid, Policy::Foreground)]);
}

#[test]
fn a_second_live_owner_keeps_a_foreground_dependent() {
    let o = deleting(node("o", &[]), FOREGROUND);
    let other = node("other", &[]);
    let d = node("d", &[("o", true), ("other", false)]);
    let p = plan(&[o, other, d.clone()], &HashSet::new());
    assert_eq!(
        p.actions,
        vec![Action::RemoveOwners(d, vec!["uid-o".into()])]
    );
}

#[test]
fn all_owners_must_be_gone() {
    let d = node("d", &[("a", false), ("b", false)]);
    let p = plan(std::slice::from_ref(&d), &gone(&["a"]));
    assert!(p.actions.is_empty(), "b is not known to be gone yet");
    let p = plan(std::slice::from_ref(&d), &gone(&["a", "b"]));
    assert_eq!(p.actions, vec![Action::Delete(d, Policy::Background)]);
}

#[test]
fn a_dependent_already_deleting_is_left_alone() {
    let mut d = node("d", &[("o", false)]);
    d.deleting = true;
    let p = plan(&[d], &gone(&["o"]));
    assert!(p.actions.is_empty());
}

#[test]
fn an_orphaning_dependent_of_a_gone_owner_keeps_its_policy() {
    let mut d = node("d", &[("o", false)]);
    d.finalizers.push(ORPHAN.into());
    let p = plan(std::slice::from_ref(&d), &gone(&["o"]));
    assert_eq!(p.actions, vec![Action::Delete(d, Policy::Orphan)]);
}
