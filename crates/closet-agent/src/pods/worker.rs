//! One task per pod: brings what the runtime holds in line with the pod spec, level-
//! triggered. Each pass reads the pod's runtime state from CRI, starts what should run,
//! restarts what exited (with back-off), runs probes, kills what a probe condemned, and
//! writes the status if it changed. Passes run on a pod change, a runtime change seen by
//! the relister, or a timer (the next probe or back-off expiry).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use closet_cri::cri;
use k8s_openapi::api::core::v1::{Container, Pod, PodStatus};
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use tokio::time::Instant;

use super::images::PullBackoff;
use super::probes::{self, Kind, ProbeState};
use super::runtime_view::{ContainerRun, PodRuntime, RunState};
use super::status::{self, ContainerNotes, StatusInputs};
use super::{Shared, spec, terminate};
use crate::AgentError;

/// How often a steady pod is looked at even when nothing signals a change.
const RESYNC: Duration = Duration::from_secs(10);
/// How often configMap, secret and downwardAPI volumes are refreshed.
const VOLUME_REFRESH: Duration = Duration::from_secs(10);
/// How often a pod waiting for its claims to be bound looks again.
const CLAIM_RECHECK: Duration = Duration::from_secs(2);

/// What a pass decided.
#[derive(Debug)]
pub enum Next {
    /// Run again within this long (sooner on a signal).
    After(Duration),
    /// The pod is gone from the API and from the runtime: the worker ends.
    Done,
}

/// A pod's worker state: what is not recorded in the runtime.
pub struct Worker {
    uid: String,
    shared: Arc<Shared>,
    probes: HashMap<(String, Kind), ProbeState>,
    waiting: BTreeMap<String, (String, String)>,
    pulls: PullBackoff,
    last_written: Option<PodStatus>,
    volumes_refreshed: Option<Instant>,
    volumes: Option<closet_podspec::volumes::VolumeMap>,
    /// After a failed sandbox start: when the next attempt may run, and how many failed.
    sandbox_backoff: Option<(Instant, u32)>,
    killed_for: HashMap<String, String>,
}

impl Worker {
    /// A worker for the pod with `uid`.
    pub fn new(uid: String, shared: Arc<Shared>) -> Self {
        Self {
            uid,
            shared,
            probes: HashMap::new(),
            waiting: BTreeMap::new(),
            pulls: PullBackoff::default(),
            last_written: None,
            volumes_refreshed: None,
            volumes: None,
            sandbox_backoff: None,
            killed_for: HashMap::new(),
        }
    }

    /// One pass. `pod` is the API's current object, `None` once it is gone.
    pub async fn sync(&mut self, pod: Option<Arc<Pod>>) -> Result<Next, AgentError> {
        let runtime = PodRuntime::read(self.shared.runtime.as_ref(), &self.uid).await?;
        let Some(pod) = pod else {
            terminate::remove_everything(&self.shared, &self.uid, &runtime).await?;
            return Ok(Next::Done);
        };
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();

        if pod.metadata.deletion_timestamp.is_some() {
            let grace = pod.metadata.deletion_grace_period_seconds.unwrap_or(30);
            terminate::kill_pod(&self.shared, &pod, &runtime, grace).await?;
            let runtime = PodRuntime::read(self.shared.runtime.as_ref(), &self.uid).await?;
            self.update_table(&pod, &runtime);
            self.write_status(&pod, &runtime).await;
            // Everything stopped: let the API remove the object (grace 0, this uid only).
            let api: Api<Pod> = Api::namespaced(self.shared.client.clone(), &namespace);
            let params = DeleteParams {
                grace_period_seconds: Some(0),
                preconditions: Some(Preconditions {
                    uid: Some(self.uid.clone()),
                    resource_version: None,
                }),
                ..Default::default()
            };
            if let Err(err) = api.delete(&name, &params).await {
                tracing::debug!(pod = %format!("{namespace}/{name}"), "final delete: {err}");
            }
            return Ok(Next::After(Duration::from_secs(1)));
        }

        let computed = self.compute(&pod, &runtime);
        let phase = computed.phase.clone().unwrap_or_default();
        if phase == "Succeeded" || phase == "Failed" {
            terminate::stop_sandboxes(&self.shared, &runtime).await;
            self.update_table(&pod, &runtime);
            self.write_status(&pod, &runtime).await;
            return Ok(Next::After(RESYNC * 6));
        }

        let mut wake = RESYNC;
        // A sandbox that failed to start is retried with back-off: every attempt costs a
        // network namespace and a CNI round, and the status write it causes wakes this
        // worker again at once.
        if let Some((next, _)) = self.sandbox_backoff
            && runtime.sandbox().is_none_or(|s| !s.ready)
            && Instant::now() < next
        {
            self.write_status(&pod, &runtime).await;
            return Ok(Next::After(next.saturating_duration_since(Instant::now())));
        }
        let sandbox = match self.ensure_sandbox(&pod, &runtime).await {
            Ok(sandbox) => {
                self.sandbox_backoff = None;
                sandbox
            }
            Err(failure) => {
                let failures = self.sandbox_backoff.map_or(1, |(_, n)| n + 1);
                let delay = if failure.waiting {
                    CLAIM_RECHECK
                } else {
                    Duration::from_secs(1)
                        .saturating_mul(1u32 << failures.min(6))
                        .min(Duration::from_secs(60))
                };
                self.sandbox_backoff = Some((Instant::now() + delay, failures));
                if failure.waiting {
                    tracing::info!(pod = %format!("{namespace}/{name}"), "{}", failure.message);
                } else {
                    tracing::warn!(pod = %format!("{namespace}/{name}"), "{}", failure.message);
                }
                for c in all_containers(&pod) {
                    self.waiting.insert(
                        c.name.clone(),
                        (failure.reason.clone(), failure.message.clone()),
                    );
                }
                self.write_status(&pod, &runtime).await;
                return Ok(Next::After(delay));
            }
        };
        // A new sandbox changes the view; read it again.
        let runtime = PodRuntime::read(self.shared.runtime.as_ref(), &self.uid).await?;
        self.refresh_volumes(&pod).await;

        if let Some(until) = self.run_init_containers(&pod, &runtime, &sandbox).await {
            wake = wake.min(until);
        } else {
            for container in &pod.spec.clone().unwrap_or_default().containers {
                let until = self
                    .run_container(&pod, container, &runtime, &sandbox)
                    .await;
                wake = wake.min(until);
            }
        }
        let runtime = PodRuntime::read(self.shared.runtime.as_ref(), &self.uid).await?;
        for run in runtime
            .containers
            .iter()
            .filter(|c| c.state == RunState::Running && !c.log_path.is_empty())
        {
            super::log_rotation::rotate_if_needed(
                self.shared.runtime.as_ref(),
                &run.id,
                std::path::Path::new(&run.log_path),
                super::log_rotation::MAX_SIZE,
                super::log_rotation::MAX_FILES,
            )
            .await;
        }
        wake = wake.min(self.run_probes(&pod, &runtime, &sandbox).await);
        self.update_table(&pod, &runtime);
        self.write_status(&pod, &runtime).await;
        Ok(Next::After(wake.max(Duration::from_millis(100))))
    }

    fn compute(&self, pod: &Pod, runtime: &PodRuntime) -> PodStatus {
        let mut notes = BTreeMap::new();
        for c in all_containers(pod) {
            let latest = runtime.latest(&c.name);
            let running_id = latest
                .filter(|r| r.state == RunState::Running)
                .map(|r| r.id.clone());
            let verdict = |kind| {
                running_id.as_ref().and_then(|id| {
                    self.probes
                        .get(&(c.name.clone(), kind))
                        .filter(|p| &p.container_id == id)
                        .and_then(|p| p.verdict)
                })
            };
            let started = c.startup_probe.is_none() || verdict(Kind::Startup) == Some(true);
            let ready =
                started && (c.readiness_probe.is_none() || verdict(Kind::Readiness) == Some(true));
            notes.insert(
                c.name.clone(),
                ContainerNotes {
                    waiting: self.waiting.get(&c.name).cloned(),
                    ready,
                    started,
                },
            );
        }
        status::compute(
            pod,
            runtime,
            &StatusInputs {
                notes,
                host_ip: self.shared.host_ip.clone(),
                pod_ip: self.sandbox_ip(),
                now: None,
            },
        )
    }

    fn sandbox_ip(&self) -> Option<String> {
        self.shared
            .sandbox_ips
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&self.uid)
            .cloned()
    }

    async fn write_status(&mut self, pod: &Pod, runtime: &PodRuntime) {
        let computed = self.compute(pod, runtime);
        let current = self.last_written.as_ref().or(pod.status.as_ref());
        if current == Some(&computed) {
            return;
        }
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let mut updated = pod.clone();
        updated.status = Some(computed.clone());
        let api: Api<Pod> = Api::namespaced(self.shared.client.clone(), &namespace);
        match api
            .replace_status(&name, &PostParams::default(), &updated)
            .await
        {
            Ok(_) => self.last_written = Some(computed),
            // A conflict means a newer object is on its way through the watch; the next pass
            // writes against it.
            Err(err) => {
                tracing::debug!(pod = %format!("{namespace}/{name}"), "status write: {err}")
            }
        }
    }

    fn update_table(&self, pod: &Pod, runtime: &PodRuntime) {
        let tty: BTreeMap<String, bool> = all_containers(pod)
            .map(|c| (c.name.clone(), c.tty.unwrap_or(false)))
            .collect();
        self.shared.table.update(
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            pod.metadata.name.as_deref().unwrap_or_default(),
            &self.uid,
            runtime,
            &tty,
            super::table::measurable_volumes(pod, self.volumes.as_ref()),
        );
    }
    /// The ready sandbox to run containers in, creating one if there is none.
    async fn ensure_sandbox(
        &mut self,
        pod: &Pod,
        runtime: &PodRuntime,
    ) -> Result<Sandbox, spec::SpecFailure> {
        if let Some(existing) = runtime.sandbox().filter(|s| s.ready) {
            let config = spec::sandbox_config(&self.shared, pod, existing.attempt)?;
            if self.sandbox_ip().is_none() {
                self.learn_ip(&existing.id).await;
            }
            return Ok(Sandbox {
                id: existing.id.clone(),
                config,
            });
        }
        // A sandbox that died (a reboot, its pause process killed) is replaced; its
        // containers went with it and are restarted in the new one.
        terminate::stop_sandboxes(&self.shared, runtime).await;
        self.volumes = Some(spec::prepare_volumes(&self.shared, pod).await?);
        self.volumes_refreshed = Some(Instant::now());
        let attempt = runtime.sandbox().map_or(0, |s| s.attempt + 1);
        let config = spec::sandbox_config(&self.shared, pod, attempt)?;
        let id = self
            .shared
            .runtime
            .run_pod_sandbox(cri::RunPodSandboxRequest {
                config: Some(config.clone()),
                runtime_handler: String::new(),
            })
            .await
            .map_err(|e| spec::SpecFailure::new("CreatePodSandboxError", crate::error_text(&e)))?
            .pod_sandbox_id;
        tracing::info!(
            pod = %format!("{}/{}", pod.metadata.namespace.as_deref().unwrap_or_default(), pod.metadata.name.as_deref().unwrap_or_default()),
            sandbox = %short(&id),
            "sandbox started"
        );
        self.learn_ip(&id).await;
        // Dead sandboxes of this pod go, except the newest, whose containers' logs
        // `kubectl logs --previous` may still want.
        let dead: Vec<&super::runtime_view::SandboxRun> =
            runtime.sandboxes.iter().filter(|s| !s.ready).collect();
        for old in dead.iter().rev().skip(1) {
            let _ = self
                .shared
                .runtime
                .remove_pod_sandbox(cri::RemovePodSandboxRequest {
                    pod_sandbox_id: old.id.clone(),
                })
                .await;
        }
        Ok(Sandbox { id, config })
    }

    async fn learn_ip(&self, sandbox_id: &str) {
        let status = self
            .shared
            .runtime
            .pod_sandbox_status(cri::PodSandboxStatusRequest {
                pod_sandbox_id: sandbox_id.to_owned(),
                verbose: false,
            })
            .await;
        let ip = status
            .ok()
            .and_then(|r| r.status)
            .and_then(|s| s.network)
            .map(|n| n.ip)
            .filter(|ip| !ip.is_empty())
            .unwrap_or_else(|| self.shared.host_ip.clone());
        self.shared
            .sandbox_ips
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(self.uid.clone(), ip);
    }

    async fn refresh_volumes(&mut self, pod: &Pod) {
        let due = self
            .volumes_refreshed
            .is_none_or(|t| t.elapsed() >= VOLUME_REFRESH);
        if !due {
            return;
        }
        self.volumes_refreshed = Some(Instant::now());
        match spec::prepare_volumes(&self.shared, pod).await {
            Ok(volumes) => self.volumes = Some(volumes),
            Err(failure) => {
                tracing::warn!(pod = %pod.metadata.name.as_deref().unwrap_or_default(), "refreshing volumes: {}", failure.message)
            }
        }
    }

    /// Runs init containers in order. `Some(wake)` while they are not all done.
    async fn run_init_containers(
        &mut self,
        pod: &Pod,
        runtime: &PodRuntime,
        sandbox: &Sandbox,
    ) -> Option<Duration> {
        let spec_ = pod.spec.clone().unwrap_or_default();
        let policy = spec_
            .restart_policy
            .clone()
            .unwrap_or_else(|| "Always".to_owned());
        for container in spec_.init_containers.iter().flatten() {
            let latest = runtime.latest(&container.name);
            let in_this_sandbox = latest.filter(|r| r.sandbox_id == sandbox.id);
            match in_this_sandbox {
                Some(run) if run.state == RunState::Exited && run.exit_code == 0 => continue,
                Some(run) if run.state == RunState::Running => return Some(Duration::from_secs(1)),
                Some(run) if run.state == RunState::Created => {
                    self.start_existing(run).await;
                    return Some(Duration::from_millis(500));
                }
                Some(run) if run.state == RunState::Exited => {
                    if policy == "Never" {
                        return Some(RESYNC);
                    }
                    return Some(
                        self.restart_after_backoff(pod, container, run, sandbox)
                            .await,
                    );
                }
                _ => {
                    let attempt = latest.map_or(0, |r| r.attempt + 1);
                    self.start(pod, container, attempt, sandbox).await;
                    return Some(Duration::from_millis(500));
                }
            }
        }
        None
    }

    async fn run_container(
        &mut self,
        pod: &Pod,
        container: &Container,
        runtime: &PodRuntime,
        sandbox: &Sandbox,
    ) -> Duration {
        let policy = pod
            .spec
            .as_ref()
            .and_then(|s| s.restart_policy.clone())
            .unwrap_or_else(|| "Always".to_owned());
        let latest = runtime.latest(&container.name);
        match latest {
            None => {
                self.start(pod, container, 0, sandbox).await;
                Duration::from_millis(500)
            }
            Some(run) if run.sandbox_id != sandbox.id && run.state != RunState::Exited => {
                // Left over from a dead sandbox: stop it; the next pass starts a new one.
                terminate::stop_container(&self.shared, &run.id, 0).await;
                Duration::from_millis(200)
            }
            Some(run) => match run.state {
                RunState::Running | RunState::Unknown => {
                    self.waiting.remove(&container.name);
                    RESYNC
                }
                RunState::Created => {
                    self.start_existing(run).await;
                    Duration::from_millis(500)
                }
                RunState::Exited => {
                    let restart = match policy.as_str() {
                        "Never" => false,
                        "OnFailure" => run.exit_code != 0,
                        _ => true,
                    };
                    if !restart {
                        self.waiting.remove(&container.name);
                        return RESYNC;
                    }
                    self.restart_after_backoff(pod, container, run, sandbox)
                        .await
                }
            },
        }
    }

    async fn restart_after_backoff(
        &mut self,
        pod: &Pod,
        container: &Container,
        exited: &ContainerRun,
        sandbox: &Sandbox,
    ) -> Duration {
        let now = jiff::Timestamp::now().as_nanosecond();
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        // A container that exited with a sandbox that has since been replaced died with it
        // (a power cut, a killed runtime), not by crashing: restart it at once, as a kubelet
        // whose in-memory back-off starts empty after a reboot would.
        let remaining = if exited.sandbox_id == sandbox.id {
            super::backoff::remaining(exited, now)
        } else {
            Duration::ZERO
        };
        if !remaining.is_zero() {
            let delay = super::backoff::delay(exited);
            self.waiting.insert(
                container.name.clone(),
                (
                    "CrashLoopBackOff".to_owned(),
                    format!(
                        "back-off {}s restarting failed container={} pod={}_{}({})",
                        delay.as_secs(),
                        container.name,
                        pod.metadata.name.as_deref().unwrap_or_default(),
                        pod.metadata.namespace.as_deref().unwrap_or_default(),
                        self.uid
                    ),
                ),
            );
            return remaining;
        }
        self.start(pod, container, exited.attempt + 1, sandbox)
            .await;
        // Keep the newest exited instance for `logs --previous`; older ones go.
        self.prune(container, exited).await;
        Duration::from_millis(500)
    }

    async fn prune(&self, container: &Container, keep: &ContainerRun) {
        let Ok(runtime) = PodRuntime::read(self.shared.runtime.as_ref(), &self.uid).await else {
            return;
        };
        for old in runtime.containers.iter().filter(|c| {
            c.name == container.name && c.attempt < keep.attempt && c.state == RunState::Exited
        }) {
            let _ = self
                .shared
                .runtime
                .remove_container(cri::RemoveContainerRequest {
                    container_id: old.id.clone(),
                })
                .await;
        }
    }

    async fn start_existing(&self, run: &ContainerRun) {
        if let Err(err) = self
            .shared
            .runtime
            .start_container(cri::StartContainerRequest {
                container_id: run.id.clone(),
            })
            .await
        {
            tracing::warn!(container = %short(&run.id), "starting: {}", crate::error_text(&err));
        }
    }

    /// Pulls, creates and starts one instance; failures become the container's waiting
    /// reason.
    async fn start(&mut self, pod: &Pod, container: &Container, attempt: u32, sandbox: &Sandbox) {
        let env = match spec::fetch_environment(&self.shared, pod).await {
            Ok(env) => env,
            Err(failure) => {
                self.waiting
                    .insert(container.name.clone(), (failure.reason, failure.message));
                return;
            }
        };
        let image_ref = match super::images::ensure(
            self.shared.runtime.as_ref(),
            container,
            &env.pull_secrets,
            &sandbox.config,
            &mut self.pulls,
        )
        .await
        {
            Ok(image) => image,
            Err(failure) => {
                self.waiting.insert(
                    container.name.clone(),
                    (failure.reason.to_owned(), failure.message),
                );
                return;
            }
        };
        // runAsNonRoot against the image's own user, which only the pulled image tells.
        let image_user = self
            .shared
            .runtime
            .image_status(cri::ImageStatusRequest {
                image: Some(cri::ImageSpec {
                    image: image_ref.clone(),
                    ..Default::default()
                }),
                verbose: false,
            })
            .await
            .ok()
            .and_then(|r| r.image)
            .map(|image| match image.uid {
                Some(uid) => uid.value.to_string(),
                None => image.username,
            });
        if let Err(err) =
            closet_podspec::container::check_non_root(pod, container, image_user.as_deref())
        {
            let failure = spec::SpecFailure::from(err);
            self.waiting
                .insert(container.name.clone(), (failure.reason, failure.message));
            return;
        }
        if self.volumes.is_none() {
            match spec::prepare_volumes(&self.shared, pod).await {
                Ok(volumes) => self.volumes = Some(volumes),
                Err(failure) => {
                    self.waiting
                        .insert(container.name.clone(), (failure.reason, failure.message));
                    return;
                }
            }
        }
        let volumes = self.volumes.clone().unwrap_or_default();
        let config = match spec::container_config(
            &self.shared,
            pod,
            container,
            attempt,
            &env,
            &volumes,
            &image_ref,
            self.sandbox_ip(),
        ) {
            Ok(config) => config,
            Err(failure) => {
                self.waiting
                    .insert(container.name.clone(), (failure.reason, failure.message));
                return;
            }
        };
        // containerd creates the log file but not its directory.
        let _ = std::fs::create_dir_all(spec::log_dir(&self.shared, pod).join(&container.name));
        let created = self
            .shared
            .runtime
            .create_container(cri::CreateContainerRequest {
                pod_sandbox_id: sandbox.id.clone(),
                config: Some(config),
                sandbox_config: Some(sandbox.config.clone()),
            })
            .await;
        let id = match created {
            Ok(r) => r.container_id,
            Err(err) => {
                self.waiting.insert(
                    container.name.clone(),
                    ("CreateContainerError".to_owned(), crate::error_text(&err)),
                );
                return;
            }
        };
        if let Err(err) = self
            .shared
            .runtime
            .start_container(cri::StartContainerRequest {
                container_id: id.clone(),
            })
            .await
        {
            self.waiting.insert(
                container.name.clone(),
                ("RunContainerError".to_owned(), crate::error_text(&err)),
            );
            return;
        }
        self.waiting.remove(&container.name);
        tracing::info!(
            pod = %format!("{}/{}", pod.metadata.namespace.as_deref().unwrap_or_default(), pod.metadata.name.as_deref().unwrap_or_default()),
            container = %container.name,
            attempt,
            "container started"
        );
    }

    /// Runs the probes that are due; returns when the next one is.
    async fn run_probes(&mut self, pod: &Pod, runtime: &PodRuntime, sandbox: &Sandbox) -> Duration {
        let mut next = RESYNC;
        let now = Instant::now();
        let pod_ip = self.sandbox_ip();
        for container in &pod.spec.clone().unwrap_or_default().containers {
            let Some(run) = runtime
                .latest(&container.name)
                .filter(|r| r.state == RunState::Running && r.sandbox_id == sandbox.id)
            else {
                continue;
            };
            let started_at = started_instant(run);
            let startup_done = container.startup_probe.is_none()
                || self
                    .probes
                    .get(&(container.name.clone(), Kind::Startup))
                    .is_some_and(|p| p.container_id == run.id && p.verdict == Some(true));
            let kinds: Vec<(Kind, &k8s_openapi::api::core::v1::Probe)> = [
                (Kind::Startup, container.startup_probe.as_ref()),
                (
                    Kind::Liveness,
                    container.liveness_probe.as_ref().filter(|_| startup_done),
                ),
                (
                    Kind::Readiness,
                    container.readiness_probe.as_ref().filter(|_| startup_done),
                ),
            ]
            .into_iter()
            .filter_map(|(k, p)| p.map(|p| (k, p)))
            .filter(|(k, _)| *k != Kind::Startup || !startup_done)
            .collect();
            for (kind, probe) in kinds {
                let key = (container.name.clone(), kind);
                let state = self
                    .probes
                    .entry(key.clone())
                    .and_modify(|s| {
                        if s.container_id != run.id {
                            *s = ProbeState::new(&run.id, probe, started_at);
                        }
                    })
                    .or_insert_with(|| ProbeState::new(&run.id, probe, started_at));
                if state.next > now {
                    next = next.min(state.next - now);
                    continue;
                }
                let result = probes::run(
                    probe,
                    container,
                    &run.id,
                    pod_ip.as_deref(),
                    self.shared.runtime.as_ref(),
                )
                .await;
                let state = self
                    .probes
                    .entry(key)
                    .or_insert_with(|| ProbeState::new(&run.id, probe, started_at));
                let ok = result.is_ok();
                state.record(probe, ok, result.err().unwrap_or_default(), Instant::now());
                next = next.min(state.next.saturating_duration_since(Instant::now()));
                let condemned =
                    matches!(kind, Kind::Liveness | Kind::Startup) && state.verdict == Some(false);
                if condemned && self.killed_for.get(&container.name) != Some(&run.id) {
                    tracing::info!(
                        pod = %pod.metadata.name.as_deref().unwrap_or_default(),
                        container = %container.name,
                        "{kind:?} probe failed ({}); restarting the container",
                        state.last_failure
                    );
                    self.killed_for
                        .insert(container.name.clone(), run.id.clone());
                    let grace = probe
                        .termination_grace_period_seconds
                        .or(pod
                            .spec
                            .as_ref()
                            .and_then(|s| s.termination_grace_period_seconds))
                        .unwrap_or(30);
                    terminate::kill_container(&self.shared, pod, container, &run.id, grace).await;
                    next = Duration::from_millis(200);
                }
            }
        }
        next
    }
}

/// A sandbox ready for containers.
pub struct Sandbox {
    /// Its CRI id.
    pub id: String,
    /// The config it was created from (CreateContainer and PullImage want it).
    pub config: cri::PodSandboxConfig,
}

fn all_containers(pod: &Pod) -> impl Iterator<Item = &Container> {
    let spec = pod.spec.as_ref();
    spec.into_iter().flat_map(|s| {
        s.init_containers
            .iter()
            .flatten()
            .chain(s.containers.iter())
    })
}

/// The instant a container started, from its CRI start time.
fn started_instant(run: &ContainerRun) -> Instant {
    let now_ns = i64::try_from(jiff::Timestamp::now().as_nanosecond()).unwrap_or(i64::MAX);
    let ago =
        Duration::from_nanos(u64::try_from(now_ns.saturating_sub(run.started_at)).unwrap_or(0));
    Instant::now().checked_sub(ago).unwrap_or_else(Instant::now)
}

/// The first 12 characters of an id, as logs show them.
pub fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}
