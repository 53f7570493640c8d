//! Events for what closet's control loops do, as `kubectl describe` shows them.
//!
//! A [`Recorder`] writes core/v1 `Event`s (the group `kubectl describe` reads) on behalf of
//! one component. Repeats of the same event about the same object (same type, reason and
//! message) update the existing Event's `count` and `lastTimestamp` instead of creating a new
//! one, as upstream's event correlator does, so a pod that fails to schedule every few
//! seconds shows one line "(x12 over 2m)" rather than a page of copies.
//!
//! Publishing never fails the caller: an event is a report, not state, so errors are logged
//! and dropped.

#![cfg_attr(
    test,
    allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")
)]

use std::collections::HashMap;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};

/// How many distinct events a recorder remembers for de-duplication; past this the memory
/// is cleared, and the next repeat of an older event starts a new Event object.
const REMEMBERED: usize = 4096;

/// Whether an event reports normal progress or something a person may need to act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    /// Progress: "Scheduled", "SuccessfulCreate", "ScalingReplicaSet".
    Normal,
    /// A problem: "FailedScheduling", "BackoffLimitExceeded".
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Warning => "Warning",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    namespace: String,
    kind: String,
    name: String,
    uid: String,
    kind_of_event: EventType,
    reason: String,
    message: String,
}

/// Writes Events for one component (`deployment-controller`, `default-scheduler`, ...).
pub struct Recorder {
    client: kube::Client,
    component: String,
    host: Option<String>,
    seen: Mutex<HashMap<Key, (String, i32)>>,
}

impl Recorder {
    /// A recorder reporting as `component`.
    pub fn new(client: kube::Client, component: impl Into<String>) -> Self {
        Self {
            client,
            component: component.into(),
            host: None,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Names the node the component runs on (the `source.host` of its events).
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Reports a Normal event about `regarding`.
    pub async fn normal(&self, regarding: &ObjectReference, reason: &str, message: &str) {
        self.publish(regarding, EventType::Normal, reason, message)
            .await;
    }

    /// Reports a Warning event about `regarding`.
    pub async fn warning(&self, regarding: &ObjectReference, reason: &str, message: &str) {
        self.publish(regarding, EventType::Warning, reason, message)
            .await;
    }

    /// Reports an event about `regarding`; a repeat updates the earlier Event's count.
    pub async fn publish(
        &self,
        regarding: &ObjectReference,
        kind_of_event: EventType,
        reason: &str,
        message: &str,
    ) {
        let namespace = regarding
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".to_owned());
        let key = Key {
            namespace: namespace.clone(),
            kind: regarding.kind.clone().unwrap_or_default(),
            name: regarding.name.clone().unwrap_or_default(),
            uid: regarding.uid.clone().unwrap_or_default(),
            kind_of_event,
            reason: reason.to_owned(),
            message: message.to_owned(),
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        let now = Time(jiff::Timestamp::now());
        let earlier = self.remembered(&key);
        if let Some((name, count)) = earlier {
            let patch = serde_json::json!({"count": count + 1, "lastTimestamp": now});
            match api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {
                    self.remember(key, name, count + 1);
                    return;
                }
                // Expired or deleted: start a new Event below.
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(err) => {
                    tracing::debug!(error = %err, reason, "updating event");
                    return;
                }
            }
        }
        let event = Event {
            metadata: ObjectMeta {
                name: Some(format!(
                    "{}.{:x}",
                    key.name,
                    now.0.as_nanosecond().unsigned_abs()
                )),
                namespace: Some(namespace),
                ..ObjectMeta::default()
            },
            involved_object: regarding.clone(),
            type_: Some(kind_of_event.as_str().to_owned()),
            reason: Some(reason.to_owned()),
            message: Some(message.to_owned()),
            count: Some(1),
            first_timestamp: Some(now.clone()),
            last_timestamp: Some(now.clone()),
            event_time: None::<MicroTime>,
            source: Some(EventSource {
                component: Some(self.component.clone()),
                host: self.host.clone(),
            }),
            reporting_component: Some(self.component.clone()),
            reporting_instance: Some(self.host.clone().unwrap_or_else(|| self.component.clone())),
            ..Event::default()
        };
        match api.create(&PostParams::default(), &event).await {
            Ok(created) => {
                let name = created.metadata.name.unwrap_or_default();
                self.remember(key, name, 1);
            }
            Err(err) => tracing::debug!(error = %err, reason, "creating event"),
        }
    }

    fn remembered(&self, key: &Key) -> Option<(String, i32)> {
        self.seen.lock().ok()?.get(key).cloned()
    }

    fn remember(&self, key: Key, name: String, count: i32) {
        if let Ok(mut seen) = self.seen.lock() {
            if seen.len() >= REMEMBERED && !seen.contains_key(&key) {
                seen.clear();
            }
            seen.insert(key, (name, count));
        }
    }
}

/// A reference to `obj` for an event's `involvedObject`.
pub fn reference<K>(obj: &K) -> ObjectReference
where
    K: kube::Resource<DynamicType = ()>,
{
    obj.object_ref(&())
}

#[cfg(test)]
mod tests;
