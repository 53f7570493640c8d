//! Workload controllers: ReplicaSet, Deployment, StatefulSet, DaemonSet, Job and CronJob.
