#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::json;

fn pod(container: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "shop", "uid": "u-1"},
        "spec": {"terminationGracePeriodSeconds": 30, "containers": [container]}
    }))
    .unwrap()
}

fn kv(key: &str, value: &str) -> cri::KeyValue {
    cri::KeyValue {
        key: key.into(),
        value: value.into(),
    }
}

fn ctx() -> ContainerContext {
    ContainerContext {
        attempt: 4,
        log_path: container_log_path("app", 4),
        env: vec![kv("GREETING", "hello"), kv("NAME", "world")],
        mounts: vec![cri::Mount {
            container_path: "/data".into(),
            host_path: "/var/lib/closet/pods/u-1/volumes/kubernetes.io~empty-dir/data".into(),
            ..Default::default()
        }],
        image_ref: "sha256:abc".into(),
        termination_log: Some(PathBuf::from("/var/lib/closet/pods/u-1/containers/app/4")),
        memory_capacity: 4 << 30,
    }
}

fn config(container: serde_json::Value) -> Result<cri::ContainerConfig, SpecError> {
    let pod = pod(container);
    container_config(&pod, &pod.spec.as_ref().unwrap().containers[0], &ctx())
}

#[test]
fn full_config() {
    let config = config(json!({
        "name": "app", "image": "registry.local:5000/app:v1",
        "command": ["/bin/sh", "-c"],
        "args": ["echo $(GREETING) $(NAME) $$(NAME) $(MISSING)"],
        "workingDir": "/srv",
        "stdin": true, "stdinOnce": true, "tty": true,
        "terminationMessagePath": "/dev/termination-log",
        "resources": {"limits": {"cpu": "1", "memory": "256Mi"}}
    }))
    .unwrap();
    let meta = config.metadata.unwrap();
    assert_eq!((meta.name.as_str(), meta.attempt), ("app", 4));
    let image = config.image.unwrap();
    assert_eq!(image.image, "sha256:abc");
    assert_eq!(image.user_specified_image, "registry.local:5000/app:v1");
    assert_eq!(config.command, ["/bin/sh", "-c"]);
    assert_eq!(config.args, ["echo hello world $(NAME) $(MISSING)"]);
    assert_eq!(config.working_dir, "/srv");
    assert_eq!(config.envs, [kv("GREETING", "hello"), kv("NAME", "world")]);
    assert_eq!(config.log_path, "app/4.log");
    assert!(config.stdin && config.stdin_once && config.tty);
    assert_eq!(config.mounts.len(), 2);
    let termination = &config.mounts[1];
    assert_eq!(termination.container_path, "/dev/termination-log");
    assert_eq!(
        termination.host_path,
        "/var/lib/closet/pods/u-1/containers/app/4"
    );
    assert!(!termination.readonly);
    assert_eq!(config.labels[labels::CONTAINER_NAME], "app");
    assert_eq!(config.annotations[labels::CONTAINER_RESTART_COUNT], "4");
    assert_eq!(
        config.annotations[labels::POD_TERMINATION_GRACE_PERIOD],
        "30"
    );
    let linux = config.linux.unwrap();
    let resources = linux.resources.unwrap();
    assert_eq!(resources.cpu_quota, 100_000);
    assert_eq!(resources.cpu_shares, 1024);
    assert_eq!(resources.memory_limit_in_bytes, 256 << 20);
    assert!(linux.security_context.is_some());
}

#[test]
fn no_command_keeps_the_image_entrypoint() {
    let config = config(json!({"name": "app", "image": "nginx"})).unwrap();
    assert!(config.command.is_empty());
    assert!(config.args.is_empty());
    // No terminationMessagePath: nothing mounted for it.
    assert_eq!(config.mounts.len(), 1);
}

#[test]
fn args_alone_override_only_the_cmd() {
    let config =
        config(json!({"name": "app", "image": "nginx", "args": ["-g", "daemon off;"]})).unwrap();
    assert!(config.command.is_empty());
    assert_eq!(config.args, ["-g", "daemon off;"]);
}

#[test]
fn refusals() {
    let err = config(json!({"name": "app", "image": "Bad Image"})).unwrap_err();
    assert_eq!(err.reason(), "InvalidImageName");
    let err = config(json!({"name": "app"})).unwrap_err();
    assert_eq!(err.reason(), "InvalidImageName");
    let err = config(json!({
        "name": "app", "image": "nginx",
        "securityContext": {"runAsNonRoot": true, "runAsUser": 0}
    }))
    .unwrap_err();
    assert!(err.to_string().contains("container: app"), "{err}");
    assert_eq!(err.reason(), "CreateContainerConfigError");
}
