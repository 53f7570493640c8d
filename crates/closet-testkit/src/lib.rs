//! What the in-process integration tests of several crates share: a real apiserver on a
//! fresh SQLite store, bootstrapped, and reached through `kube::Client` with no socket (the
//! router as a tower Service), as the controllers reach it inside `closet server`.
//!
//! A dev-dependency only; it panics with a message where a test could not go on.

use std::path::Path;
use std::sync::Arc;

use closet_apiserver::{ApiServer, auth::User};
use closet_store::sqlite::{Options, SqliteStore};

pub use closet_apiserver::Config;

/// A fresh store in `dir` (its `state.db`).
pub fn store(dir: &Path) -> Arc<SqliteStore> {
    SqliteStore::open(&dir.join("state.db"), Options::default())
        .expect("open a SQLite store in the test's temp dir")
}

/// An apiserver with `config` on a fresh store in `dir`, bootstrapped (system namespaces,
/// default ServiceAccounts, the `kubernetes` Service).
pub async fn apiserver(dir: &Path, config: Config) -> ApiServer {
    let api = ApiServer::new(store(dir), config);
    api.bootstrap().await.expect("bootstrap the apiserver");
    api
}

/// A client of `api` as a cluster admin (group `system:masters`).
pub fn admin_client(api: &ApiServer) -> kube::Client {
    let admin = User {
        name: "test".into(),
        groups: vec!["system:masters".into()],
    };
    kube::Client::new(api.router_as(admin), "default")
}

/// An admin client of a fresh apiserver with the default config, its store in `dir`.
pub async fn client(dir: &Path) -> kube::Client {
    admin_client(&apiserver(dir, Config::default()).await)
}
