//! The node API's view of the agent's pods: [`PodTable`] rows as `closet_nodeapi` wants them.

use std::sync::Arc;

use closet_nodeapi::{ContainerInfo, PodDirectory, PodInfo};

use crate::pods::table::{PodRow, PodTable};

/// Adapts [`PodTable`] to [`PodDirectory`].
pub(crate) struct Directory(pub(crate) Arc<PodTable>);

fn info(namespace: &str, name: &str, row: &PodRow) -> PodInfo {
    PodInfo {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        uid: row.uid.clone(),
        sandbox_id: row.sandbox_id.clone(),
        containers: row
            .containers
            .iter()
            .map(|(n, c)| (n.clone(), c.container_id.clone()))
            .collect(),
        volumes: row.volumes.clone(),
    }
}

impl PodDirectory for Directory {
    fn container(&self, namespace: &str, pod: &str, container: &str) -> Option<ContainerInfo> {
        let row = self.0.get(namespace, pod)?;
        let c = row.containers.get(container)?;
        Some(ContainerInfo {
            container_id: c.container_id.clone(),
            log_path: c.log_path.clone(),
            previous_log_path: c.previous_log_path.clone(),
            running: c.running,
            tty: c.tty,
        })
    }

    fn pod(&self, namespace: &str, pod: &str) -> Option<PodInfo> {
        self.0
            .get(namespace, pod)
            .map(|row| info(namespace, pod, &row))
    }

    fn pods(&self) -> Vec<PodInfo> {
        self.0
            .all()
            .iter()
            .map(|((ns, name), row)| info(ns, name, row))
            .collect()
    }
}
