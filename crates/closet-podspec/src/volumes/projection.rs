//! The files of configMap, secret, downwardAPI and projected volumes
//! (upstream's `MakePayload` and `CollectData`).

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, DownwardAPIVolumeFile, KeyToPath, Pod, ProjectedVolumeSource,
    SecretVolumeSource, VolumeProjection,
};

use crate::SpecError;
use crate::fieldpath;
use crate::volumes::atomic_writer::{FileProjection, Payload};
use crate::volumes::{DEFAULT_TOKEN_EXPIRATION_SECONDS, TokenKey, VolumeContext};

/// Mode of projected files when the volume sets none (the API's default, 0644).
const DEFAULT_MODE: i32 = 0o644;

fn mode(mode: Option<i32>, default: Option<i32>) -> u32 {
    let chosen = mode.or(default).unwrap_or(DEFAULT_MODE);
    u32::try_from(chosen).map_or(DEFAULT_MODE as u32, |m| m & 0o7777)
}

/// A named set of keys, whichever object kind they come from.
struct KeySource<'a> {
    kind: Kind,
    name: &'a str,
    /// `None` when the object does not exist.
    data: Option<BTreeMap<&'a str, &'a [u8]>>,
}

#[derive(Clone, Copy)]
enum Kind {
    ConfigMap,
    Secret,
}

impl<'a> KeySource<'a> {
    fn config_map(name: &'a str, ctx: &VolumeContext<'a>) -> KeySource<'a> {
        let data = ctx.config_maps.get(name).map(|cm| {
            let text = cm
                .data
                .iter()
                .flatten()
                .map(|(k, v)| (k.as_str(), v.as_bytes()));
            let binary = cm
                .binary_data
                .iter()
                .flatten()
                .map(|(k, v)| (k.as_str(), v.0.as_slice()));
            // A key is in `data` or `binaryData`, never both (the API server checks).
            text.chain(binary).collect()
        });
        KeySource {
            kind: Kind::ConfigMap,
            name,
            data,
        }
    }

    fn secret(name: &'a str, ctx: &VolumeContext<'a>) -> KeySource<'a> {
        let data = ctx.secrets.get(name).map(|secret| {
            secret
                .data
                .iter()
                .flatten()
                .map(|(k, v): (&String, &ByteString)| (k.as_str(), v.0.as_slice()))
                .collect()
        });
        KeySource {
            kind: Kind::Secret,
            name,
            data,
        }
    }

    /// Adds this object's files to `payload`: all keys, or just `items` mapped to their paths.
    fn project(
        &self,
        pod: &Pod,
        items: Option<&[KeyToPath]>,
        optional: bool,
        default_mode: Option<i32>,
        payload: &mut Payload,
    ) -> Result<(), SpecError> {
        let Some(data) = &self.data else {
            return if optional {
                Ok(())
            } else {
                Err(self.not_found())
            };
        };
        let items = items.filter(|items| !items.is_empty());
        let Some(items) = items else {
            for (key, value) in data {
                payload.insert(
                    (*key).to_owned(),
                    FileProjection {
                        data: value.to_vec(),
                        mode: mode(None, default_mode),
                    },
                );
            }
            return Ok(());
        };
        for item in items {
            match data.get(item.key.as_str()) {
                Some(value) => {
                    let file = FileProjection {
                        data: value.to_vec(),
                        mode: mode(item.mode, default_mode),
                    };
                    payload.insert(item.path.clone(), file);
                }
                None if optional => {}
                None => return Err(self.key_not_found(pod, &item.key)),
            }
        }
        Ok(())
    }

    fn not_found(&self) -> SpecError {
        let name = self.name.to_owned();
        match self.kind {
            Kind::ConfigMap => SpecError::ConfigMapNotFound { name },
            Kind::Secret => SpecError::SecretNotFound { name },
        }
    }

    fn key_not_found(&self, pod: &Pod, key: &str) -> SpecError {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let (name, key) = (self.name.to_owned(), key.to_owned());
        match self.kind {
            Kind::ConfigMap => SpecError::ConfigMapKeyNotFound {
                namespace,
                name,
                key,
            },
            Kind::Secret => SpecError::SecretKeyNotFound {
                namespace,
                name,
                key,
            },
        }
    }
}

pub(crate) fn config_map_payload(
    pod: &Pod,
    source: &ConfigMapVolumeSource,
    ctx: &VolumeContext<'_>,
) -> Result<Payload, SpecError> {
    let mut payload = Payload::new();
    KeySource::config_map(&source.name, ctx).project(
        pod,
        source.items.as_deref(),
        source.optional.unwrap_or(false),
        source.default_mode,
        &mut payload,
    )?;
    Ok(payload)
}

pub(crate) fn secret_payload(
    pod: &Pod,
    source: &SecretVolumeSource,
    ctx: &VolumeContext<'_>,
) -> Result<Payload, SpecError> {
    let name = source.secret_name.as_deref().unwrap_or_default();
    let mut payload = Payload::new();
    KeySource::secret(name, ctx).project(
        pod,
        source.items.as_deref(),
        source.optional.unwrap_or(false),
        source.default_mode,
        &mut payload,
    )?;
    Ok(payload)
}

pub(crate) fn downward_api_payload(
    pod: &Pod,
    items: &[DownwardAPIVolumeFile],
    default_mode: Option<i32>,
    ctx: &VolumeContext<'_>,
    payload: &mut Payload,
) -> Result<(), SpecError> {
    for item in items {
        let data = if let Some(selector) = &item.field_ref {
            sort_lines(&fieldpath::pod_field(pod, selector, None)?)
        } else if let Some(selector) = &item.resource_field_ref {
            fieldpath::resource_field(pod, None, selector, ctx.node_allocatable)?
        } else {
            String::new()
        };
        payload.insert(
            item.path.clone(),
            FileProjection {
                data: data.into_bytes(),
                mode: mode(item.mode, default_mode),
            },
        );
    }
    Ok(())
}

/// Upstream sorts the lines of a downward API file as whole strings (so `a.b="2"` comes
/// before `a="1"`); the same bytes keep files identical to what pods see elsewhere.
fn sort_lines(value: &str) -> String {
    let mut lines: Vec<&str> = value.split('\n').collect();
    lines.sort_unstable();
    lines.join("\n")
}

pub(crate) fn projected_payload(
    pod: &Pod,
    source: &ProjectedVolumeSource,
    ctx: &VolumeContext<'_>,
) -> Result<Payload, SpecError> {
    let mut payload = Payload::new();
    let default_mode = source.default_mode;
    for projection in source.sources.iter().flatten() {
        project_source(pod, projection, default_mode, ctx, &mut payload)?;
    }
    Ok(payload)
}

fn project_source(
    pod: &Pod,
    projection: &VolumeProjection,
    default_mode: Option<i32>,
    ctx: &VolumeContext<'_>,
    payload: &mut Payload,
) -> Result<(), SpecError> {
    if let Some(cm) = &projection.config_map {
        let optional = cm.optional.unwrap_or(false);
        KeySource::config_map(&cm.name, ctx).project(
            pod,
            cm.items.as_deref(),
            optional,
            default_mode,
            payload,
        )?;
    }
    if let Some(secret) = &projection.secret {
        let optional = secret.optional.unwrap_or(false);
        KeySource::secret(&secret.name, ctx).project(
            pod,
            secret.items.as_deref(),
            optional,
            default_mode,
            payload,
        )?;
    }
    if let Some(downward) = &projection.downward_api {
        downward_api_payload(
            pod,
            downward.items.as_deref().unwrap_or_default(),
            default_mode,
            ctx,
            payload,
        )?;
    }
    if let Some(token) = &projection.service_account_token {
        let key = TokenKey {
            audience: token.audience.clone().unwrap_or_default(),
            expiration_seconds: token
                .expiration_seconds
                .unwrap_or(DEFAULT_TOKEN_EXPIRATION_SECONDS),
        };
        let issued =
            ctx.service_account_tokens
                .get(&key)
                .ok_or_else(|| SpecError::ServiceAccountToken {
                    audience: key.audience.clone(),
                })?;
        payload.insert(
            token.path.clone(),
            FileProjection {
                data: issued.as_bytes().to_vec(),
                mode: mode(None, default_mode),
            },
        );
    }
    if projection.cluster_trust_bundle.is_some() {
        return Err(SpecError::Unsupported(
            "a clusterTrustBundle projection".into(),
        ));
    }
    if projection.pod_certificate.is_some() {
        return Err(SpecError::Unsupported("a podCertificate projection".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
