#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::json;

fn pod(spec: serde_json::Value) -> Pod {
    let mut value = json!({"metadata": {"name": "web", "namespace": "shop"}, "spec": spec});
    if value["spec"]["containers"].is_null() {
        value["spec"]["containers"] = json!([{"name": "app", "image": "app"}]);
    }
    serde_json::from_value(value).unwrap()
}

fn first(pod: &Pod) -> &Container {
    &pod.spec.as_ref().unwrap().containers[0]
}

#[test]
fn container_settings_override_the_pod() {
    let pod = pod(json!({
        "securityContext": {
            "runAsUser": 1000, "runAsGroup": 3000, "runAsNonRoot": true,
            "fsGroup": 2000, "supplementalGroups": [4000, 5000],
            "seccompProfile": {"type": "RuntimeDefault"}
        },
        "containers": [{
            "name": "app", "image": "app",
            "securityContext": {
                "runAsUser": 1001,
                "readOnlyRootFilesystem": true,
                "allowPrivilegeEscalation": false,
                "capabilities": {"add": ["NET_ADMIN", "cap_sys_time"], "drop": ["ALL"]}
            }
        }]
    }));
    let sc = container_security_context(&pod, first(&pod)).unwrap();
    assert_eq!(sc.run_as_user.unwrap().value, 1001);
    assert_eq!(sc.run_as_group.unwrap().value, 3000);
    assert_eq!(sc.supplemental_groups, [2000, 4000, 5000]);
    assert!(sc.readonly_rootfs);
    assert!(sc.no_new_privs);
    assert!(!sc.privileged);
    let caps = sc.capabilities.unwrap();
    assert_eq!(caps.add_capabilities, ["NET_ADMIN", "SYS_TIME"]);
    assert_eq!(caps.drop_capabilities, ["ALL"]);
    assert_eq!(
        sc.seccomp.unwrap().profile_type,
        ProfileType::RuntimeDefault as i32
    );
    assert!(sc.masked_paths.contains(&"/proc/kcore".to_owned()));
    assert!(sc.readonly_paths.contains(&"/proc/sys".to_owned()));
    let ns = sc.namespace_options.unwrap();
    assert_eq!(ns.pid, cri::NamespaceMode::Container as i32);
    assert_eq!(ns.network, cri::NamespaceMode::Pod as i32);
}

#[test]
fn defaults_are_unconfined_seccomp_and_privilege_escalation_allowed() {
    let pod = pod(json!({}));
    let sc = container_security_context(&pod, first(&pod)).unwrap();
    assert_eq!(
        sc.seccomp.unwrap().profile_type,
        ProfileType::Unconfined as i32
    );
    assert!(sc.apparmor.is_none());
    assert!(!sc.no_new_privs);
    assert!(sc.run_as_user.is_none());
    assert!(sc.capabilities.is_none());
}

#[test]
fn unmasked_proc_mount_drops_the_masks() {
    let pod = pod(json!({"containers": [{
        "name": "app", "image": "app", "securityContext": {"procMount": "Unmasked"}
    }]}));
    let sc = container_security_context(&pod, first(&pod)).unwrap();
    assert!(sc.masked_paths.is_empty());
    assert!(sc.readonly_paths.is_empty());
}

#[test]
fn host_namespaces() {
    let pod = pod(json!({"hostNetwork": true, "hostPID": true, "hostIPC": true}));
    let ns = namespace_options(&pod);
    assert_eq!(ns.network, cri::NamespaceMode::Node as i32);
    assert_eq!(ns.pid, cri::NamespaceMode::Node as i32);
    assert_eq!(ns.ipc, cri::NamespaceMode::Node as i32);
    let shared = namespace_options(&self::pod(json!({"shareProcessNamespace": true})));
    assert_eq!(shared.pid, cri::NamespaceMode::Pod as i32);
}

#[test]
fn localhost_seccomp_is_refused_plainly() {
    let pod = pod(json!({"securityContext": {
        "seccompProfile": {"type": "Localhost", "localhostProfile": "my.json"}
    }}));
    let err = container_security_context(&pod, first(&pod)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a Localhost seccomp profile is not supported"
    );
}

#[test]
fn capability_names_lose_the_prefix() {
    assert_eq!(capability_name("CAP_NET_RAW"), "NET_RAW");
    assert_eq!(capability_name("cap_chown"), "CHOWN");
    assert_eq!(capability_name("net_bind_service"), "NET_BIND_SERVICE");
    assert_eq!(capability_name("ALL"), "ALL");
}

#[test]
fn run_as_non_root_against_explicit_users() {
    let root = pod(json!({"securityContext": {"runAsNonRoot": true, "runAsUser": 0}}));
    let err = check_explicit_non_root(&root, first(&root)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "container's runAsUser breaks non-root policy (pod: \"shop/web\", container: app)"
    );
    assert_eq!(err.reason(), "CreateContainerConfigError");
    let ok = pod(json!({"securityContext": {"runAsNonRoot": true, "runAsUser": 10}}));
    check_explicit_non_root(&ok, first(&ok)).unwrap();
    check_non_root(&ok, first(&ok), None).unwrap();
}

#[test]
fn run_as_non_root_against_the_image_user() {
    let pod = pod(json!({"securityContext": {"runAsNonRoot": true}}));
    let c = first(&pod);
    check_explicit_non_root(&pod, c).unwrap();
    assert!(check_non_root(&pod, c, None).is_err());
    assert!(check_non_root(&pod, c, Some("")).is_err());
    assert!(check_non_root(&pod, c, Some("0:0")).is_err());
    assert!(check_non_root(&pod, c, Some("root")).is_err());
    check_non_root(&pod, c, Some("1000")).unwrap();
    check_non_root(&pod, c, Some("65534:65534")).unwrap();
    let named = check_non_root(&pod, c, Some("app")).unwrap_err();
    assert!(
        named.to_string().contains("non-numeric user (app)"),
        "{named}"
    );
    let unset = self::pod(json!({}));
    check_non_root(&unset, first(&unset), None).unwrap();
}
