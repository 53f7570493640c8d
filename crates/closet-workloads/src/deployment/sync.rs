//! A Deployment's ReplicaSets for one reconcile: finding or creating the new one, keeping
//! revisions, scaling with the bookkeeping annotations and events, proportional scaling and
//! history cleanup.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use super::util::{self, HASH_LABEL, REVISION, REVISION_HISTORY, rs_replicas};
use super::{Context, DeploymentError};
use crate::shared::ownership;

/// The Deployment's ReplicaSets while one reconcile works on them.
pub struct Rollout<'a> {
    /// The Deployment.
    pub d: &'a Deployment,
    /// The controller's context.
    pub ctx: &'a Context,
    /// The ReplicaSet whose template is the Deployment's, if one exists.
    pub new: Option<ReplicaSet>,
    /// The others, oldest first.
    pub old: Vec<ReplicaSet>,
    /// A Progressing condition to report (reason, message) about the new ReplicaSet.
    pub note: Option<(&'static str, String)>,
}

fn created(rs: &ReplicaSet) -> (Option<jiff::Timestamp>, String) {
    (
        rs.metadata.creation_timestamp.as_ref().map(|t| t.0),
        rs.metadata.name.clone().unwrap_or_default(),
    )
}

impl<'a> Rollout<'a> {
    /// Splits the owned ReplicaSets into new and old and brings the new one's revision
    /// annotations and the Deployment's revision up to date.
    pub async fn prepare(
        d: &'a Deployment,
        ctx: &'a Context,
        mut owned: Vec<ReplicaSet>,
    ) -> Result<Self, DeploymentError> {
        owned.sort_by_key(created);
        let template = d
            .spec
            .as_ref()
            .map(|s| s.template.clone())
            .unwrap_or_default();
        let new_at = owned.iter().position(|rs| {
            rs.spec
                .as_ref()
                .and_then(|s| s.template.as_ref())
                .is_some_and(|t| util::equal_ignoring_hash(t, &template))
        });
        let new = new_at.map(|i| owned.remove(i));
        let mut r = Self {
            d,
            ctx,
            new,
            old: owned,
            note: None,
        };
        if r.new.is_some() {
            r.sync_new_annotations().await?;
        }
        Ok(r)
    }

    /// Every ReplicaSet, old ones first.
    pub fn all(&self) -> impl Iterator<Item = &ReplicaSet> {
        self.old.iter().chain(self.new.as_ref())
    }

    fn next_revision(&self) -> i64 {
        self.old.iter().map(util::revision).max().unwrap_or(0) + 1
    }

    fn api(&self) -> Api<ReplicaSet> {
        Api::namespaced(
            self.ctx.client.clone(),
            self.d.metadata.namespace.as_deref().unwrap_or_default(),
        )
    }

    fn dname(&self) -> String {
        self.d.metadata.name.clone().unwrap_or_default()
    }

    /// The bookkeeping annotations of the new ReplicaSet (revision, history, copied
    /// Deployment annotations), then the Deployment's own revision annotation.
    async fn sync_new_annotations(&mut self) -> Result<(), DeploymentError> {
        let Some(new) = self.new.clone() else {
            return Ok(());
        };
        let next = self.next_revision();
        let current = util::revision(&new);
        let mut wanted: BTreeMap<String, Option<String>> = util::copied_annotations(self.d)
            .into_iter()
            .map(|(k, v)| (k, Some(v)))
            .collect();
        if current < next {
            wanted.insert(REVISION.into(), Some(next.to_string()));
            if current > 0 {
                let history = new
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(REVISION_HISTORY).cloned())
                    .filter(|h| !h.is_empty());
                let history = match history {
                    Some(h) => format!("{h},{current}"),
                    None => current.to_string(),
                };
                wanted.insert(REVISION_HISTORY.into(), Some(history));
            }
        }
        let have = new.metadata.annotations.clone().unwrap_or_default();
        wanted.retain(|k, v| have.get(k) != v.as_ref());
        let min_ready = self.d.spec.as_ref().and_then(|s| s.min_ready_seconds);
        let spec_min_ready = new.spec.as_ref().and_then(|s| s.min_ready_seconds);
        if !wanted.is_empty() || min_ready.unwrap_or(0) != spec_min_ready.unwrap_or(0) {
            let patch = json!({
                "metadata": {"resourceVersion": new.metadata.resource_version, "annotations": wanted},
                "spec": {"minReadySeconds": min_ready.unwrap_or(0)},
            });
            let name = new.metadata.name.clone().unwrap_or_default();
            let updated = self
                .api()
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(|e| DeploymentError::api(format!("annotating replica set {name}"), e))?;
            self.new = Some(updated);
        }
        if !self.has_progressing() {
            let name = new.metadata.name.unwrap_or_default();
            self.note = Some((
                "FoundNewReplicaSet",
                format!("Found new replica set \"{name}\""),
            ));
        }
        self.sync_deployment_revision().await
    }

    fn has_progressing(&self) -> bool {
        self.d
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Progressing"))
    }

    async fn sync_deployment_revision(&self) -> Result<(), DeploymentError> {
        let Some(new) = &self.new else { return Ok(()) };
        let revision = util::revision(new).to_string();
        let have = self
            .d
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(REVISION));
        if have == Some(&revision) {
            return Ok(());
        }
        let api: Api<Deployment> = Api::namespaced(
            self.ctx.client.clone(),
            self.d.metadata.namespace.as_deref().unwrap_or_default(),
        );
        let patch = json!({"metadata": {"annotations": {REVISION: revision}}});
        api.patch(
            &self.dname(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .map_err(|e| DeploymentError::api("annotating the deployment's revision", e))?;
        Ok(())
    }

    /// Creates the new ReplicaSet, `<deployment>-<hash>`, sized as the strategy allows.
    pub async fn create_new(&mut self) -> Result<(), DeploymentError> {
        let d = self.d;
        let spec = d.spec.clone().unwrap_or_default();
        let collisions = d.status.as_ref().and_then(|s| s.collision_count);
        let hash = util::template_hash(&spec.template, collisions);
        let mut template = spec.template.clone();
        template
            .metadata
            .get_or_insert_with(ObjectMeta::default)
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(HASH_LABEL.into(), hash.clone());
        let mut selector: LabelSelector = spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(HASH_LABEL.into(), hash.clone());
        let want = util::replicas(d);
        let replicas = if util::max_surge(d) == 0 && util::max_unavailable(d) == 0 {
            want
        } else {
            let total: i32 = self.all().map(rs_replicas).sum();
            super::rolling::new_replicas(want, util::max_surge(d), total, 0)
        };
        let mut annotations = util::copied_annotations(d);
        annotations.insert(REVISION.into(), self.next_revision().to_string());
        annotations.insert(util::DESIRED_REPLICAS.into(), want.to_string());
        annotations.insert(
            util::MAX_REPLICAS.into(),
            (want + util::max_surge(d)).to_string(),
        );
        let name = format!("{}-{hash}", self.dname());
        let rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: d.metadata.namespace.clone(),
                labels: template.metadata.as_ref().and_then(|m| m.labels.clone()),
                annotations: Some(annotations),
                owner_references: Some(vec![ownership::controller_ref(d)]),
                ..ObjectMeta::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas),
                min_ready_seconds: spec.min_ready_seconds,
                selector,
                template: Some(template),
            }),
            status: None,
        };
        let created = match self.api().create(&PostParams::default(), &rs).await {
            Ok(created) => created,
            Err(e) if crate::shared::is_status(&e, 409) => return self.collided(&name, e).await,
            Err(e) => {
                return Err(DeploymentError::api(
                    format!("creating replica set {name}"),
                    e,
                ));
            }
        };
        let reference = closet_events::reference(d);
        if replicas > 0 {
            let message = format!("Scaled up replica set {name} from 0 to {replicas}");
            self.ctx
                .recorder
                .normal(&reference, "ScalingReplicaSet", &message)
                .await;
        }
        self.note = Some((
            "NewReplicaSetCreated",
            format!("Created new replica set \"{name}\""),
        ));
        self.new = Some(created);
        self.sync_deployment_revision().await
    }

    /// A ReplicaSet with the new one's name exists: ours with this template means a cache
    /// behind; anything else is a hash collision, counted so the next hash differs.
    async fn collided(&mut self, name: &str, cause: kube::Error) -> Result<(), DeploymentError> {
        let existing = self
            .api()
            .get(name)
            .await
            .map_err(|e| DeploymentError::api("reading a colliding replica set", e))?;
        let ours = ownership::controller_of(&existing.metadata)
            .is_some_and(|r| Some(&r.uid) == self.d.metadata.uid.as_ref());
        let template = self
            .d
            .spec
            .as_ref()
            .map(|s| s.template.clone())
            .unwrap_or_default();
        let same = existing
            .spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .is_some_and(|t| util::equal_ignoring_hash(t, &template));
        if ours && same {
            self.new = Some(existing);
            return Ok(());
        }
        let count = self
            .d
            .status
            .as_ref()
            .and_then(|s| s.collision_count)
            .unwrap_or(0)
            + 1;
        let api: Api<Deployment> = Api::namespaced(
            self.ctx.client.clone(),
            self.d.metadata.namespace.as_deref().unwrap_or_default(),
        );
        api.patch_status(
            &self.dname(),
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": {"collisionCount": count}})),
        )
        .await
        .map_err(|e| DeploymentError::api("counting a hash collision", e))?;
        Err(DeploymentError::api(
            format!("replica set {name} exists (hash collision)"),
            cause,
        ))
    }

    /// Scales `rs` to `to`, keeping its desired/max annotations current; returns it updated.
    pub async fn scale_rs(&self, rs: &ReplicaSet, to: i32) -> Result<ReplicaSet, DeploymentError> {
        let want = util::replicas(self.d);
        let max = want + util::max_surge(self.d);
        let from = rs_replicas(rs);
        let annotated = util::int_annotation(rs, util::DESIRED_REPLICAS) == Some(i64::from(want))
            && util::int_annotation(rs, util::MAX_REPLICAS) == Some(i64::from(max));
        if from == to && annotated {
            return Ok(rs.clone());
        }
        let name = rs.metadata.name.clone().unwrap_or_default();
        let patch = json!({
            "metadata": {"resourceVersion": rs.metadata.resource_version, "annotations": {
                util::DESIRED_REPLICAS: want.to_string(), util::MAX_REPLICAS: max.to_string()}},
            "spec": {"replicas": to},
        });
        let updated = self
            .api()
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| DeploymentError::api(format!("scaling replica set {name}"), e))?;
        if from != to {
            let way = if to > from { "up" } else { "down" };
            let message = format!("Scaled {way} replica set {name} from {from} to {to}");
            self.ctx
                .recorder
                .normal(
                    &closet_events::reference(self.d),
                    "ScalingReplicaSet",
                    &message,
                )
                .await;
        }
        Ok(updated)
    }

    /// Scales the new ReplicaSet.
    pub async fn scale_new(&mut self, to: i32) -> Result<(), DeploymentError> {
        if let Some(new) = self.new.clone() {
            self.new = Some(self.scale_rs(&new, to).await?);
        }
        Ok(())
    }

    /// Scales the old ReplicaSets to `sizes` (same order); true if any size changed.
    pub async fn resize_old(&mut self, sizes: &[i32]) -> Result<bool, DeploymentError> {
        let mut changed = false;
        for (i, &to) in sizes.iter().enumerate() {
            let Some(rs) = self.old.get(i).cloned() else {
                break;
            };
            if rs_replicas(&rs) != to {
                self.old[i] = self.scale_rs(&rs, to).await?;
                changed = true;
            }
        }
        Ok(changed)
    }

    /// Deletes the oldest empty ReplicaSets beyond `revisionHistoryLimit`.
    pub async fn clean_history(&self) -> Result<(), DeploymentError> {
        let Some(limit) = self.d.spec.as_ref().and_then(|s| s.revision_history_limit) else {
            return Ok(());
        };
        let mut cleanable: Vec<&ReplicaSet> = self
            .old
            .iter()
            .filter(|rs| rs.metadata.deletion_timestamp.is_none())
            .collect();
        let extra = cleanable
            .len()
            .saturating_sub(usize::try_from(limit.max(0)).unwrap_or(0));
        cleanable.sort_by_key(|rs| (util::revision(rs), created(rs)));
        for rs in cleanable.into_iter().take(extra) {
            let status = rs.status.clone().unwrap_or_default();
            let settled = status.observed_generation >= rs.metadata.generation;
            if status.replicas != 0 || rs_replicas(rs) != 0 || !settled {
                continue;
            }
            let name = rs.metadata.name.clone().unwrap_or_default();
            match self.api().delete(&name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(e) if crate::shared::is_status(&e, 404) => {}
                Err(e) => {
                    return Err(DeploymentError::api(
                        format!("deleting old replica set {name}"),
                        e,
                    ));
                }
            }
        }
        Ok(())
    }
}
