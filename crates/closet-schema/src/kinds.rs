//! The built-in group-versions and the Rust types of their kinds. A flat table on purpose: one
//! line per kind, the same kinds the apiserver's registry serves (its tests check that).

use std::borrow::Cow;

use k8s_openapi::api::{
    admissionregistration, apps, authentication, authorization, autoscaling, batch, coordination,
    core, discovery, events, networking, policy, rbac, scheduling, storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions;
use k8s_openapi::apimachinery::pkg::apis::meta;
use schemars::{JsonSchema, Schema, SchemaGenerator};

use crate::list;

/// One kind whose schema a group-version document carries.
pub(crate) struct Kind {
    /// The kind's own group (differs from the document's for e.g. `autoscaling/v1` Scale in
    /// `apps/v1`).
    pub(crate) group: &'static str,
    /// The kind's own version.
    pub(crate) version: &'static str,
    /// The kind, e.g. `Deployment`.
    pub(crate) kind: &'static str,
    /// Adds the kind's schema (and everything it references) to a generator.
    pub(crate) schema: fn(&mut SchemaGenerator) -> Schema,
    /// The definition name, e.g. `io.k8s.api.apps.v1.Deployment`, without generating anything.
    pub(crate) name: fn() -> Cow<'static, str>,
    /// Whether the schema is tagged with `x-kubernetes-group-version-kind`. Helper types such as
    /// `Status` are carried untagged.
    pub(crate) tagged: bool,
}

/// One group-version document.
pub(crate) struct GroupVersion {
    /// API group; empty for the core group.
    pub(crate) group: &'static str,
    /// API version.
    pub(crate) version: &'static str,
    /// Every kind the document carries.
    pub(crate) kinds: &'static [Kind],
}

fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// Kinds of the group-version `$g/$v`, each followed by its list kind, all tagged.
macro_rules! kinds {
    ($g:literal, $v:literal, $($kind:ident => $ty:ty;)*) => {
        &[$(
            Kind { group: $g, version: $v, kind: stringify!($kind), schema: schema::<$ty>, name: <$ty as JsonSchema>::schema_name, tagged: true },
            Kind { group: $g, version: $v, kind: concat!(stringify!($kind), "List"), schema: list::schema::<$ty>, name: list::name::<$ty>, tagged: true },
        )*]
    };
}

/// Review kinds of the group-version `$g/$v`: created and answered, never stored or listed,
/// so they have no list kind.
macro_rules! reviews {
    ($g:literal, $v:literal, $($kind:ident => $ty:ty;)*) => {
        &[$(
            Kind { group: $g, version: $v, kind: stringify!($kind), schema: schema::<$ty>, name: <$ty as JsonSchema>::schema_name, tagged: true },
        )*]
    };
}

/// An untagged helper schema (request and response bodies that are not kinds of the document).
macro_rules! helper {
    ($g:literal, $v:literal, $kind:ident => $ty:ty) => {
        Kind {
            group: $g,
            version: $v,
            kind: stringify!($kind),
            schema: schema::<$ty>,
            name: <$ty as JsonSchema>::schema_name,
            tagged: false,
        }
    };
}

/// `Status` and `DeleteOptions`, which every document's operations reference.
const META: &[Kind] = &[
    helper!("", "v1", Status => meta::v1::Status),
    helper!("", "v1", DeleteOptions => meta::v1::DeleteOptions),
];

#[rustfmt::skip]
pub(crate) const GROUP_VERSIONS: &[GroupVersion] = &[
    GroupVersion { group: "", version: "v1", kinds: kinds!("", "v1",
        Namespace => core::v1::Namespace;
        Pod => core::v1::Pod;
        Service => core::v1::Service;
        Endpoints => core::v1::Endpoints;
        ConfigMap => core::v1::ConfigMap;
        Secret => core::v1::Secret;
        ServiceAccount => core::v1::ServiceAccount;
        Event => core::v1::Event;
        Node => core::v1::Node;
        PersistentVolume => core::v1::PersistentVolume;
        PersistentVolumeClaim => core::v1::PersistentVolumeClaim;
        LimitRange => core::v1::LimitRange;
        ResourceQuota => core::v1::ResourceQuota;
    ) },
    GroupVersion { group: "apps", version: "v1", kinds: kinds!("apps", "v1",
        Deployment => apps::v1::Deployment;
        ReplicaSet => apps::v1::ReplicaSet;
        StatefulSet => apps::v1::StatefulSet;
        DaemonSet => apps::v1::DaemonSet;
        ControllerRevision => apps::v1::ControllerRevision;
    ) },
    GroupVersion { group: "batch", version: "v1", kinds: kinds!("batch", "v1",
        Job => batch::v1::Job;
        CronJob => batch::v1::CronJob;
    ) },
    GroupVersion { group: "autoscaling", version: "v2", kinds: kinds!("autoscaling", "v2",
        HorizontalPodAutoscaler => autoscaling::v2::HorizontalPodAutoscaler;
    ) },
    GroupVersion { group: "networking.k8s.io", version: "v1", kinds: kinds!("networking.k8s.io", "v1",
        Ingress => networking::v1::Ingress;
        IngressClass => networking::v1::IngressClass;
        NetworkPolicy => networking::v1::NetworkPolicy;
    ) },
    GroupVersion { group: "discovery.k8s.io", version: "v1", kinds: kinds!("discovery.k8s.io", "v1",
        EndpointSlice => discovery::v1::EndpointSlice;
    ) },
    GroupVersion { group: "events.k8s.io", version: "v1", kinds: kinds!("events.k8s.io", "v1",
        Event => events::v1::Event;
    ) },
    GroupVersion { group: "coordination.k8s.io", version: "v1", kinds: kinds!("coordination.k8s.io", "v1",
        Lease => coordination::v1::Lease;
    ) },
    GroupVersion { group: "scheduling.k8s.io", version: "v1", kinds: kinds!("scheduling.k8s.io", "v1",
        PriorityClass => scheduling::v1::PriorityClass;
    ) },
    GroupVersion { group: "policy", version: "v1", kinds: kinds!("policy", "v1",
        PodDisruptionBudget => policy::v1::PodDisruptionBudget;
    ) },
    GroupVersion { group: "rbac.authorization.k8s.io", version: "v1", kinds: kinds!("rbac.authorization.k8s.io", "v1",
        Role => rbac::v1::Role;
        RoleBinding => rbac::v1::RoleBinding;
        ClusterRole => rbac::v1::ClusterRole;
        ClusterRoleBinding => rbac::v1::ClusterRoleBinding;
    ) },
    GroupVersion { group: "storage.k8s.io", version: "v1", kinds: kinds!("storage.k8s.io", "v1",
        StorageClass => storage::v1::StorageClass;
    ) },
    GroupVersion { group: "apiextensions.k8s.io", version: "v1", kinds: kinds!("apiextensions.k8s.io", "v1",
        CustomResourceDefinition => apiextensions::v1::CustomResourceDefinition;
    ) },
    GroupVersion { group: "admissionregistration.k8s.io", version: "v1", kinds: kinds!("admissionregistration.k8s.io", "v1",
        MutatingWebhookConfiguration => admissionregistration::v1::MutatingWebhookConfiguration;
        ValidatingWebhookConfiguration => admissionregistration::v1::ValidatingWebhookConfiguration;
    ) },
    GroupVersion { group: "authentication.k8s.io", version: "v1", kinds: reviews!("authentication.k8s.io", "v1",
        SelfSubjectReview => authentication::v1::SelfSubjectReview;
        TokenReview => authentication::v1::TokenReview;
    ) },
    // Served for kubectl 1.27, which asks for v1beta1; the v1 type has the same shape.
    GroupVersion { group: "authentication.k8s.io", version: "v1beta1", kinds: reviews!("authentication.k8s.io", "v1beta1",
        SelfSubjectReview => authentication::v1::SelfSubjectReview;
    ) },
    GroupVersion { group: "authorization.k8s.io", version: "v1", kinds: reviews!("authorization.k8s.io", "v1",
        SelfSubjectAccessReview => authorization::v1::SelfSubjectAccessReview;
        SelfSubjectRulesReview => authorization::v1::SelfSubjectRulesReview;
    ) },
];

/// Kinds of other group-versions that a document's operations use: the `scale` subresource of
/// apps/v1 speaks `autoscaling/v1` Scale, as upstream's apps/v1 document shows.
#[rustfmt::skip]
const EXTRA: &[(&str, &str, &[Kind])] = &[
    ("apps", "v1", &[Kind { group: "autoscaling", version: "v1", kind: "Scale", schema: schema::<autoscaling::v1::Scale>, name: <autoscaling::v1::Scale as JsonSchema>::schema_name, tagged: true }]),
];

/// The index of a group-version in [`GROUP_VERSIONS`].
pub(crate) fn index_of(group: &str, version: &str) -> Option<usize> {
    GROUP_VERSIONS
        .iter()
        .position(|gv| gv.group == group && gv.version == version)
}

/// Every kind the document of `gv` carries: its own, the extra ones, then the helpers.
pub(crate) fn document_kinds(gv: &GroupVersion) -> impl Iterator<Item = &'static Kind> + '_ {
    let extra = EXTRA
        .iter()
        .filter(move |(g, v, _)| *g == gv.group && *v == gv.version)
        .flat_map(|(_, _, kinds)| kinds.iter());
    gv.kinds.iter().chain(extra).chain(META.iter())
}

/// The document (its index in [`GROUP_VERSIONS`]) and the tagged kind for a group-version-kind,
/// looking first in the group-version's own document and then in the documents that carry it
/// as an extra kind.
pub(crate) fn find(group: &str, version: &str, kind: &str) -> Option<(usize, &'static Kind)> {
    let matches =
        |k: &&Kind| k.tagged && k.group == group && k.version == version && k.kind == kind;
    let own = index_of(group, version)
        .and_then(|i| GROUP_VERSIONS[i].kinds.iter().find(matches).map(|k| (i, k)));
    own.or_else(|| {
        GROUP_VERSIONS
            .iter()
            .enumerate()
            .find_map(|(i, gv)| document_kinds(gv).find(matches).map(|k| (i, k)))
    })
}
