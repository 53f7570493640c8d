//! Informer caches and the work queue the controllers run on.
//!
//! Upstream controllers read from shared informer caches and enqueue keys from watch events;
//! this is the same with kube-runtime's pieces: every watched kind keeps a reflector
//! [`Store`], its events are mapped to the keys of the objects to reconcile, and kube-runtime's
//! `applier` runs reconciles with one in flight per key. A key arrives only after the cache
//! has the change that caused it, so a reconcile always sees at least that change.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{BoxStream, StreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::Resource;
use kube::api::Api;
use kube::runtime::controller::{self, Action, applier};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;

/// What one watch event touched.
pub enum Touched<K> {
    /// This object was added, changed or deleted (the cache already reflects it).
    One(Arc<K>),
    /// The cache was (re)filled from a list: anything may have changed.
    All,
}

/// A stream of keys to reconcile.
pub type Queue<P> = BoxStream<'static, Result<ObjectRef<P>, watcher::Error>>;

/// Starts caching `api` and returns the cache and the stream of what each event touched.
/// The stream must be polled (it is, once it is part of a [`Queue`]) for the cache to fill.
pub fn informer<K>(
    api: Api<K>,
    config: watcher::Config,
) -> (
    Store<K>,
    BoxStream<'static, Result<Touched<K>, watcher::Error>>,
)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (store, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher(api, config).default_backoff())
        .filter_map(|event| async move {
            match event {
                Ok(watcher::Event::Apply(obj) | watcher::Event::Delete(obj)) => {
                    Some(Ok(Touched::One(Arc::new(obj))))
                }
                Ok(watcher::Event::InitDone) => Some(Ok(Touched::All)),
                // Objects of a (re)list reach the cache only at InitDone.
                Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => None,
                Err(err) => Some(Err(err)),
            }
        })
        .boxed();
    (store, stream)
}

/// Maps what a watch touched to the parents to reconcile: `map` for one object, every parent
/// in `parents` after a relist.
pub fn map_to<K, P>(
    stream: BoxStream<'static, Result<Touched<K>, watcher::Error>>,
    parents: Store<P>,
    map: impl Fn(&K, &Store<P>) -> Vec<ObjectRef<P>> + Send + Sync + 'static,
) -> Queue<P>
where
    K: Send + Sync + 'static,
    P: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    stream
        .flat_map(move |touched| {
            let keys: Vec<Result<ObjectRef<P>, watcher::Error>> = match touched {
                Ok(Touched::One(obj)) => map(&obj, &parents).into_iter().map(Ok).collect(),
                Ok(Touched::All) => parents
                    .state()
                    .iter()
                    .map(|p| Ok(ObjectRef::from_obj(p.as_ref())))
                    .collect(),
                Err(err) => vec![Err(err)],
            };
            futures::stream::iter(keys)
        })
        .boxed()
}

/// The key of an object's own events.
pub fn own<P>(
    stream: BoxStream<'static, Result<Touched<P>, watcher::Error>>,
    parents: Store<P>,
) -> Queue<P>
where
    P: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    map_to(stream, parents, |obj: &P, _| vec![ObjectRef::from_obj(obj)])
}

/// The parent named by a child's controller reference, if it is of kind `kind`.
pub fn controller_key<K, P>(child: &K, kind: &str) -> Option<ObjectRef<P>>
where
    K: Resource,
    P: Resource<DynamicType = ()>,
{
    let owner = super::ownership::controller_of(child.meta())?;
    (owner.kind == kind).then(|| {
        ObjectRef::new(&owner.name).within(child.meta().namespace.as_deref().unwrap_or_default())
    })
}

/// The parents a child's event concerns: its controller if it has one (and only if that is
/// of kind `kind`), else, for an orphan, every parent in its namespace whose non-empty
/// selector matches its labels (they may adopt it).
pub fn owners_of<K, P>(
    child: &K,
    parents: &Store<P>,
    kind: &str,
    selector: impl Fn(&P) -> Option<&LabelSelector>,
) -> Vec<ObjectRef<P>>
where
    K: Resource,
    P: Resource<DynamicType = ()> + Clone,
{
    if super::ownership::controller_of(child.meta()).is_some() {
        return controller_key(child, kind).into_iter().collect();
    }
    let labels = child.meta().labels.clone().unwrap_or_default();
    parents
        .state()
        .iter()
        .filter(|p| p.meta().namespace == child.meta().namespace)
        .filter(|p| {
            selector(p).is_some_and(|s| {
                !super::selector::is_empty(s) && super::selector::matches(s, &labels)
            })
        })
        .map(|p| ObjectRef::from_obj(p.as_ref()))
        .collect()
}

/// `namespace/name` of an object, for logs and expectations.
pub fn key<K: Resource>(obj: &K) -> String {
    format!(
        "{}/{}",
        obj.meta().namespace.as_deref().unwrap_or_default(),
        obj.meta().name.as_deref().unwrap_or_default()
    )
}

/// Runs reconciles for the keys of `queue` until `shutdown` resolves, with the objects from
/// `store`. `name` labels the log lines.
pub async fn drive<K, Ctx, E, F, Fut>(
    name: &'static str,
    store: Store<K>,
    queue: Queue<K>,
    reconcile: F,
    error_policy: impl Fn(Arc<K>, &E, Arc<Ctx>) -> Action,
    ctx: Arc<Ctx>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    K: Resource<DynamicType = ()> + Clone + Debug + Send + Sync + 'static,
    Ctx: Send + Sync + 'static,
    E: std::error::Error + Send + 'static,
    F: Fn(Arc<K>, Arc<Ctx>) -> Fut,
    Fut: Future<Output = Result<Action, E>> + Send + 'static,
{
    let queue = queue.take_until(shutdown);
    applier(
        |obj, ctx| Box::pin(reconcile(obj, ctx)),
        error_policy,
        ctx,
        store,
        queue,
        controller::Config::default().concurrency(4),
    )
    .for_each(|result| async move {
        if let Err(err) = result {
            tracing::debug!(controller = name, error = %super::error_chain(&err), "queue");
        }
    })
    .await;
}

/// Waits (bounded) until every cache in `stores` holds a full list; false if one did not.
pub async fn caches_ready(stores: &[&dyn Ready]) -> bool {
    for store in stores {
        if !store.ready(Duration::from_secs(30)).await {
            return false;
        }
    }
    true
}

/// A cache that can report having been filled.
pub trait Ready: Sync {
    /// Waits up to `within` for the cache's first full list.
    fn ready(&self, within: Duration) -> futures::future::BoxFuture<'_, bool>;
}

impl<K> Ready for Store<K>
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    fn ready(&self, within: Duration) -> futures::future::BoxFuture<'_, bool> {
        Box::pin(async move {
            tokio::time::timeout(within, self.wait_until_ready())
                .await
                .is_ok_and(|r| r.is_ok())
        })
    }
}
