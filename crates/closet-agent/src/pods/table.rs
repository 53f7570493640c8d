//! The agent's table of the pods it runs, by namespace and name, as the node API looks them
//! up (logs, exec, port-forward). Workers refresh their pod's row after every sync.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::RwLock;

use super::runtime_view::{PodRuntime, RunState};

/// One pod's row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodRow {
    /// The pod's uid.
    pub uid: String,
    /// The newest sandbox.
    pub sandbox_id: String,
    /// Per container name: the newest instance and the one before it.
    pub containers: BTreeMap<String, ContainerRow>,
}

/// One container's row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContainerRow {
    /// The newest instance's CRI id.
    pub container_id: String,
    /// Its log file.
    pub log_path: PathBuf,
    /// The previous instance's log file.
    pub previous_log_path: Option<PathBuf>,
    /// Whether the newest instance runs.
    pub running: bool,
    /// Whether it has a TTY.
    pub tty: bool,
}

/// Every pod the agent runs, by `(namespace, name)`.
#[derive(Debug, Default)]
pub struct PodTable {
    rows: RwLock<BTreeMap<(String, String), PodRow>>,
}

impl PodTable {
    /// Replaces a pod's row from the runtime's view of it.
    pub fn update(
        &self,
        namespace: &str,
        name: &str,
        uid: &str,
        runtime: &PodRuntime,
        tty: &BTreeMap<String, bool>,
    ) {
        let mut row = PodRow {
            uid: uid.to_owned(),
            sandbox_id: runtime.sandbox().map(|s| s.id.clone()).unwrap_or_default(),
            containers: BTreeMap::new(),
        };
        for c in &runtime.containers {
            if row.containers.contains_key(&c.name) {
                continue;
            }
            let Some(latest) = runtime.latest(&c.name) else {
                continue;
            };
            row.containers.insert(
                c.name.clone(),
                ContainerRow {
                    container_id: latest.id.clone(),
                    log_path: PathBuf::from(&latest.log_path),
                    previous_log_path: runtime
                        .previous(&c.name)
                        .map(|p| PathBuf::from(&p.log_path))
                        .filter(|p| p.exists()),
                    running: latest.state == RunState::Running,
                    tty: tty.get(&c.name).copied().unwrap_or(false),
                },
            );
        }
        self.rows
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert((namespace.to_owned(), name.to_owned()), row);
    }

    /// Forgets a pod.
    pub fn remove(&self, namespace: &str, name: &str) {
        self.rows
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(namespace.to_owned(), name.to_owned()));
    }

    /// A pod's row.
    pub fn get(&self, namespace: &str, name: &str) -> Option<PodRow> {
        self.rows
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    /// Every row.
    pub fn all(&self) -> Vec<((String, String), PodRow)> {
        self.rows
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}
