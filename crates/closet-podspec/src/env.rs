//! A container's environment, resolved the way the kubelet does (`makeEnvironmentVariables`).
//!
//! Order of precedence: `envFrom` sources in order (a later source overrides an earlier one),
//! then `env` entries in order, each `value` expanded against everything defined before it and
//! the service variables; finally the service variables the container did not define itself.
//! The result keeps the order in which names were first defined, so the container sees a stable
//! environment from one restart to the next.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use closet_cri::cri;
use k8s_openapi::api::core::v1::{ConfigMap, Container, EnvVar, Pod, Secret};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::SpecError;
use crate::expansion;
use crate::fieldpath::{self, StatusIps};

/// The ConfigMaps and Secrets a pod reads, by name, so the agent can fetch them up front.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Referenced {
    /// ConfigMap names (environment and volumes).
    pub config_maps: BTreeSet<String>,
    /// Secret names (environment, volumes and `imagePullSecrets`).
    pub secrets: BTreeSet<String>,
}

/// Every ConfigMap and Secret the pod refers to, optional or not, from all its containers
/// (init, regular and ephemeral), its volumes, and its image pull secrets.
pub fn referenced_objects(pod: &Pod) -> Referenced {
    let mut found = Referenced::default();
    let Some(spec) = pod.spec.as_ref() else {
        return found;
    };
    let ephemeral = spec.ephemeral_containers.iter().flatten();
    let envs = spec
        .init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
        .map(|c| (c.env.as_deref(), c.env_from.as_deref()))
        .chain(ephemeral.map(|c| (c.env.as_deref(), c.env_from.as_deref())));
    for (env, env_from) in envs {
        for source in env_from.into_iter().flatten() {
            if let Some(cm) = &source.config_map_ref {
                found.config_maps.insert(cm.name.clone());
            }
            if let Some(secret) = &source.secret_ref {
                found.secrets.insert(secret.name.clone());
            }
        }
        for var in env.into_iter().flatten() {
            let Some(from) = &var.value_from else {
                continue;
            };
            if let Some(cm) = &from.config_map_key_ref {
                found.config_maps.insert(cm.name.clone());
            }
            if let Some(secret) = &from.secret_key_ref {
                found.secrets.insert(secret.name.clone());
            }
        }
    }
    for volume in spec.volumes.iter().flatten() {
        if let Some(cm) = &volume.config_map {
            found.config_maps.insert(cm.name.clone());
        }
        if let Some(name) = volume.secret.as_ref().and_then(|s| s.secret_name.clone()) {
            found.secrets.insert(name);
        }
        let sources = volume
            .projected
            .iter()
            .flat_map(|p| p.sources.iter().flatten());
        for source in sources {
            if let Some(cm) = &source.config_map {
                found.config_maps.insert(cm.name.clone());
            }
            if let Some(secret) = &source.secret {
                found.secrets.insert(secret.name.clone());
            }
        }
    }
    for pull_secret in spec.image_pull_secrets.iter().flatten() {
        found.secrets.insert(pull_secret.name.clone());
    }
    found
}

/// What environment resolution needs besides the pod: objects and facts only the node has.
#[derive(Clone, Copy, Debug)]
pub struct EnvContext<'a> {
    /// The pod's ConfigMaps that exist, by name; a name absent here does not exist.
    pub config_maps: &'a BTreeMap<String, ConfigMap>,
    /// The pod's Secrets that exist, by name; a name absent here does not exist.
    pub secrets: &'a BTreeMap<String, Secret>,
    /// The node's addresses (`status.hostIP` is the first).
    pub host_ips: &'a [IpAddr],
    /// The pod's addresses from the sandbox (`status.podIP` is the first; empty for a
    /// sandbox whose network is not set up yet).
    pub pod_ips: &'a [IpAddr],
    /// The node's `status.allocatable`, standing in for limits a container does not set.
    pub node_allocatable: &'a BTreeMap<String, Quantity>,
    /// Service link variables (see [`crate::service_env::service_env`]).
    pub service_env: &'a BTreeMap<String, String>,
}

/// The container's environment, in the order the names were first defined, service variables
/// last. `spec.nodeName` and `spec.serviceAccountName` come from the pod object itself.
pub fn resolve_env(
    pod: &Pod,
    container: &Container,
    ctx: &EnvContext<'_>,
) -> Result<Vec<cri::KeyValue>, SpecError> {
    let mut env = OrderedEnv::default();
    for source in container.env_from.iter().flatten() {
        let prefix = source.prefix.as_deref().unwrap_or_default();
        let mut skipped = Vec::new();
        if let Some(reference) = &source.config_map_ref {
            let optional = reference.optional.unwrap_or(false);
            match ctx.config_maps.get(&reference.name) {
                Some(cm) => {
                    for (key, value) in cm.data.iter().flatten() {
                        env.set_checked(format!("{prefix}{key}"), value.clone(), &mut skipped);
                    }
                }
                None if optional => {}
                None => {
                    return Err(SpecError::ConfigMapNotFound {
                        name: reference.name.clone(),
                    });
                }
            }
        }
        if let Some(reference) = &source.secret_ref {
            let optional = reference.optional.unwrap_or(false);
            match ctx.secrets.get(&reference.name) {
                Some(secret) => {
                    for (key, value) in secret.data.iter().flatten() {
                        let value = String::from_utf8_lossy(&value.0).into_owned();
                        env.set_checked(format!("{prefix}{key}"), value, &mut skipped);
                    }
                }
                None if optional => {}
                None => {
                    return Err(SpecError::SecretNotFound {
                        name: reference.name.clone(),
                    });
                }
            }
        }
        if !skipped.is_empty() {
            tracing::warn!(
                pod = pod.metadata.name.as_deref().unwrap_or_default(),
                container = container.name,
                keys = ?skipped,
                "envFrom keys skipped: they are not valid environment variable names"
            );
        }
    }
    for var in container.env.iter().flatten() {
        if let Some(value) = var_value(pod, container, var, ctx, &env)? {
            env.set(var.name.clone(), value);
        }
    }
    let mut result: Vec<cri::KeyValue> = env
        .pairs
        .into_iter()
        .map(|(key, value)| cri::KeyValue { key, value })
        .collect();
    let defined: BTreeSet<&str> = result.iter().map(|kv| kv.key.as_str()).collect();
    let services: Vec<cri::KeyValue> = ctx
        .service_env
        .iter()
        .filter(|(key, _)| !defined.contains(key.as_str()))
        .map(|(key, value)| cri::KeyValue {
            key: key.clone(),
            value: value.clone(),
        })
        .collect();
    result.extend(services);
    Ok(result)
}

/// One `env` entry's value; `None` when an optional source is missing and the variable is
/// left out entirely.
fn var_value(
    pod: &Pod,
    container: &Container,
    var: &EnvVar,
    ctx: &EnvContext<'_>,
    env: &OrderedEnv,
) -> Result<Option<String>, SpecError> {
    let literal = var.value.as_deref().unwrap_or_default();
    let Some(from) = var.value_from.as_ref().filter(|_| literal.is_empty()) else {
        let expanded = expansion::expand_with(literal, |name| {
            env.get(name)
                .or_else(|| ctx.service_env.get(name).map(String::as_str))
        });
        return Ok(Some(expanded));
    };
    let namespace = || pod.metadata.namespace.clone().unwrap_or_default();
    if let Some(selector) = &from.field_ref {
        let ips = StatusIps {
            host_ips: ctx.host_ips,
            pod_ips: ctx.pod_ips,
        };
        return fieldpath::pod_field(pod, selector, Some(ips)).map(Some);
    }
    if let Some(selector) = &from.resource_field_ref {
        return fieldpath::resource_field(pod, Some(container), selector, ctx.node_allocatable)
            .map(Some);
    }
    if let Some(selector) = &from.config_map_key_ref {
        let optional = selector.optional.unwrap_or(false);
        let Some(cm) = ctx.config_maps.get(&selector.name) else {
            return if optional {
                Ok(None)
            } else {
                Err(SpecError::ConfigMapNotFound {
                    name: selector.name.clone(),
                })
            };
        };
        return match cm.data.as_ref().and_then(|data| data.get(&selector.key)) {
            Some(value) => Ok(Some(value.clone())),
            None if optional => Ok(None),
            None => Err(SpecError::ConfigMapKeyNotFound {
                namespace: namespace(),
                name: selector.name.clone(),
                key: selector.key.clone(),
            }),
        };
    }
    if let Some(selector) = &from.secret_key_ref {
        let optional = selector.optional.unwrap_or(false);
        let Some(secret) = ctx.secrets.get(&selector.name) else {
            return if optional {
                Ok(None)
            } else {
                Err(SpecError::SecretNotFound {
                    name: selector.name.clone(),
                })
            };
        };
        return match secret
            .data
            .as_ref()
            .and_then(|data| data.get(&selector.key))
        {
            Some(value) => Ok(Some(String::from_utf8_lossy(&value.0).into_owned())),
            None if optional => Ok(None),
            None => Err(SpecError::SecretKeyNotFound {
                namespace: namespace(),
                name: selector.name.clone(),
                key: selector.key.clone(),
            }),
        };
    }
    if from.file_key_ref.is_some() {
        return Err(SpecError::Unsupported(format!(
            "fileKeyRef (env {:?})",
            var.name
        )));
    }
    Ok(Some(String::new()))
}

/// Name → value keeping first-definition order; redefining a name replaces its value in place.
#[derive(Default)]
struct OrderedEnv {
    pairs: Vec<(String, String)>,
    index: HashMap<String, usize>,
}

impl OrderedEnv {
    fn set(&mut self, name: String, value: String) {
        match self.index.get(&name) {
            Some(&at) => self.pairs[at].1 = value,
            None => {
                self.index.insert(name.clone(), self.pairs.len());
                self.pairs.push((name, value));
            }
        }
    }

    /// Sets a name taken from a ConfigMap or Secret key, skipping names no process could see.
    fn set_checked(&mut self, name: String, value: String, skipped: &mut Vec<String>) {
        if is_env_var_name(&name) {
            self.set(name, value);
        } else {
            skipped.push(name);
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.index.get(name).map(|&at| self.pairs[at].1.as_str())
    }
}

/// Kubernetes 1.35's rule for variable names (the relaxed one, GA since 1.34): non-empty,
/// printable ASCII, no `=`.
fn is_env_var_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'=')
}

#[cfg(test)]
mod tests;
