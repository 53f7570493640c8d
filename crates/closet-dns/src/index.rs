//! The watch-fed index: Services and EndpointSlices from the API, kept current by two
//! kube-runtime watchers, turned into a fresh [`Zone`] after every batch of events.
//!
//! Queries read the latest published zone (an `Arc` behind a lock held only to clone it);
//! the watch task is the only writer. A (re)list replaces a kind's objects whole at
//! `InitDone`, so objects deleted while the watch was down disappear too. A new Service is
//! answerable as soon as its watch event arrives: there is no polling.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};

use crate::records::{ServiceInfo, SliceInfo};
use crate::zone::{Zone, ZoneSettings};

/// The current zone, shared by the watch task and the servers.
#[derive(Clone)]
pub struct Index {
    current: Arc<RwLock<Arc<Zone>>>,
}

impl Index {
    /// An index that is not ready yet: cluster names get SERVFAIL until the first lists
    /// arrive.
    pub fn new(settings: ZoneSettings) -> Index {
        Index::with_zone(Zone::not_ready(settings))
    }

    /// An index holding `zone` (tests, and the watch task's first publish).
    pub fn with_zone(zone: Zone) -> Index {
        Index {
            current: Arc::new(RwLock::new(Arc::new(zone))),
        }
    }

    /// The zone queries are answered from now.
    pub fn zone(&self) -> Arc<Zone> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Makes `zone` the current one.
    pub fn publish(&self, zone: Zone) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(zone);
    }

    /// Keeps the index current from the API until `shutdown` resolves.
    pub async fn watch(
        &self,
        client: kube::Client,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) {
        let settings = self.zone().settings.clone();
        let services = watcher(
            Api::<Service>::all(client.clone()),
            watcher::Config::default(),
        )
        .default_backoff()
        .map(|event| event.map(|e| Change::Service(Box::new(e))))
        .boxed();
        let slices = watcher(
            Api::<EndpointSlice>::all(client),
            watcher::Config::default(),
        )
        .default_backoff()
        .map(|event| event.map(|e| Change::Slice(Box::new(e))))
        .boxed();
        let mut events = futures::stream::select(services, slices);
        let mut state = State::default();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let first = tokio::select! {
                () = &mut shutdown => return,
                event = events.next() => event,
            };
            let Some(first) = first else { return };
            let mut changed = state.apply(first);
            // Everything already queued goes into the same rebuild.
            while let Some(Some(event)) = events.next().now_or_never() {
                changed |= state.apply(event);
            }
            if changed && state.synced() {
                state.serial = state.serial.wrapping_add(1);
                let zone = Zone::build(
                    settings.clone(),
                    state.services.values(),
                    state.slices.values(),
                    state.serial,
                );
                tracing::debug!(names = zone.len(), "cluster DNS zone rebuilt");
                self.publish(zone);
            }
        }
    }
}

enum Change {
    Service(Box<watcher::Event<Service>>),
    Slice(Box<watcher::Event<EndpointSlice>>),
}

/// `(namespace, name)` of an object.
type Key = (String, String);

#[derive(Default)]
struct State {
    services: HashMap<Key, ServiceInfo>,
    slices: HashMap<Key, SliceInfo>,
    /// Objects of a list in progress, swapped in at its `InitDone`.
    listing_services: Option<HashMap<Key, ServiceInfo>>,
    listing_slices: Option<HashMap<Key, SliceInfo>>,
    services_synced: bool,
    slices_synced: bool,
    serial: u32,
}

impl State {
    fn synced(&self) -> bool {
        self.services_synced && self.slices_synced
    }

    /// Applies one event; true when the zone may have changed.
    fn apply(&mut self, event: Result<Change, watcher::Error>) -> bool {
        match event {
            Ok(Change::Service(event)) => apply(
                *event,
                &mut self.services,
                &mut self.listing_services,
                &mut self.services_synced,
                ServiceInfo::from_service,
            ),
            Ok(Change::Slice(event)) => apply(
                *event,
                &mut self.slices,
                &mut self.listing_slices,
                &mut self.slices_synced,
                SliceInfo::from_slice,
            ),
            Err(err) => {
                tracing::warn!("cluster DNS watch: {err}");
                false
            }
        }
    }
}

fn key_of<K: kube::Resource>(object: &K) -> Key {
    let meta = object.meta();
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

fn apply<K: kube::Resource, V>(
    event: watcher::Event<K>,
    current: &mut HashMap<Key, V>,
    listing: &mut Option<HashMap<Key, V>>,
    synced: &mut bool,
    view: impl Fn(&K) -> Option<V>,
) -> bool {
    match event {
        watcher::Event::Apply(object) => {
            match view(&object) {
                Some(info) => current.insert(key_of(&object), info),
                None => current.remove(&key_of(&object)),
            };
            true
        }
        watcher::Event::Delete(object) => current.remove(&key_of(&object)).is_some(),
        watcher::Event::Init => {
            *listing = Some(HashMap::new());
            false
        }
        watcher::Event::InitApply(object) => {
            if let (Some(list), Some(info)) = (listing.as_mut(), view(&object)) {
                list.insert(key_of(&object), info);
            }
            false
        }
        watcher::Event::InitDone => {
            if let Some(list) = listing.take() {
                *current = list;
            }
            *synced = true;
            true
        }
    }
}
