//! Service accounts end to end with the real binary and kubectl: every namespace has its
//! `default` account and `kube-root-ca.crt`, `kubectl create token` issues tokens that
//! authenticate, and (with the node agent) a pod's mounted token is real and dies with it.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::time::Duration;

use closet_e2e::{Cluster, TestNs, node, test_ns};
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use kube::api::{Api, PostParams};

/// The cluster CA the server created, as the pods and ConfigMaps should carry it.
fn cluster_ca(cluster: &Cluster) -> String {
    std::fs::read_to_string(cluster.data_dir().join("server/tls/ca.crt")).unwrap()
}

/// A kubeconfig that trusts the cluster CA and authenticates only with `token`.
fn token_kubeconfig(ns: &TestNs<'_>, file: &str, token: &str) -> String {
    let cluster = ns.cluster();
    let ca = cluster.data_dir().join("server/tls/ca.crt");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: closet\n  cluster:\n    server: {url}\n    certificate-authority: {ca}\nusers:\n- name: robot\n  user:\n    token: {token}\ncontexts:\n- name: closet\n  context:\n    cluster: closet\n    user: robot\n    namespace: {ns}\ncurrent-context: closet\n",
        url = cluster.url(),
        ca = ca.display(),
        ns = ns.name(),
    );
    ns.write(file, &text)
}

/// `kubectl auth whoami` as the holder of `token`: the user name, or kubectl's error.
fn whoami_with(ns: &TestNs<'_>, token: &str) -> Result<String, String> {
    let kubeconfig = token_kubeconfig(ns, "token-kubeconfig.yaml", token);
    let out = ns.cluster().kubectl_env(
        &[
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}",
        ],
        &[("KUBECONFIG", kubeconfig.as_str())],
    );
    if out.success() {
        Ok(out.stdout)
    } else {
        Err(out.stderr)
    }
}

/// The user a kube-rs client presenting `token` (and no certificate) is.
async fn kube_whoami(cluster: &Cluster, token: &str) -> Result<(String, Vec<String>), String> {
    let mut config = cluster.client_config().await;
    config.auth_info = kube::config::AuthInfo {
        token: Some(token.to_owned().into()),
        ..Default::default()
    };
    let client = kube::Client::try_from(config).map_err(|e| e.to_string())?;
    let review = Api::<SelfSubjectReview>::all(client)
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .map_err(|e| e.to_string())?;
    let info = review.status.and_then(|s| s.user_info).unwrap_or_default();
    Ok((
        info.username.unwrap_or_default(),
        info.groups.unwrap_or_default(),
    ))
}

#[test]
fn new_namespaces_get_the_default_account_and_root_ca() {
    closet_e2e::require_kubectl!();
    let cluster = Cluster::shared();
    let ns = test_ns!(cluster);
    ns.eventually(Duration::from_secs(30), || {
        let out = ns.kubectl(&["get", "serviceaccount", "default", "-o", "name"]);
        if out.success() {
            Ok(())
        } else {
            Err(out.describe())
        }
    });
    let ca = cluster_ca(cluster);
    ns.eventually(Duration::from_secs(30), || {
        let out = ns.kubectl(&[
            "get",
            "configmap",
            "kube-root-ca.crt",
            "-o",
            "jsonpath={.data.ca\\.crt}",
        ]);
        if out.success() && out.stdout.trim() == ca.trim() {
            Ok(())
        } else {
            Err(out.describe())
        }
    });
    // Deleted, it comes back.
    ns.kubectl_ok(&["delete", "configmap", "kube-root-ca.crt"]);
    ns.eventually(Duration::from_secs(30), || {
        let out = ns.kubectl(&["get", "configmap", "kube-root-ca.crt", "-o", "name"]);
        if out.success() {
            Ok(())
        } else {
            Err(out.describe())
        }
    });
}

#[test]
fn kubectl_create_token_authenticates_as_the_account() {
    closet_e2e::require_kubectl!();
    let cluster = Cluster::shared();
    let ns = test_ns!(cluster);
    ns.eventually(Duration::from_secs(30), || {
        let out = ns.kubectl(&["get", "serviceaccount", "default", "-o", "name"]);
        if out.success() {
            Ok(())
        } else {
            Err(out.describe())
        }
    });
    let token = ns
        .kubectl_ok(&["create", "token", "default", "--duration=15m"])
        .trim()
        .to_owned();
    let expected = format!("system:serviceaccount:{}:default", ns.name());
    assert_eq!(whoami_with(&ns, &token).as_deref(), Ok(expected.as_str()));

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (user, groups) = runtime
        .block_on(kube_whoami(cluster, &token))
        .unwrap_or_else(|e| cluster.fail(e));
    assert_eq!(user, expected);
    for group in [
        "system:serviceaccounts".to_owned(),
        format!("system:serviceaccounts:{}", ns.name()),
        "system:authenticated".to_owned(),
    ] {
        assert!(groups.contains(&group), "{groups:?}");
    }

    // A token whose signature does not verify is refused with 401.
    let mut forged = token.clone();
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    let err = whoami_with(&ns, &forged).unwrap_err();
    assert!(err.contains("Unauthorized"), "{err}");
    // So are tokens of an account that is gone.
    ns.kubectl_ok(&["create", "serviceaccount", "robot"]);
    let robot = ns
        .kubectl_ok(&["create", "token", "robot"])
        .trim()
        .to_owned();
    assert!(whoami_with(&ns, &robot).is_ok());
    ns.kubectl_ok(&["delete", "serviceaccount", "robot"]);
    let err = whoami_with(&ns, &robot).unwrap_err();
    assert!(err.contains("Unauthorized"), "{err}");
}

#[test]
fn a_pods_mounted_token_is_real_and_dies_with_the_pod() {
    closet_e2e::require_kubectl!();
    if let Some(reason) = node::cannot_run_pods() {
        eprintln!("skipping: {reason}");
        return;
    }
    let cluster = Cluster::with_agent();
    node::import_busybox(&cluster);
    let ns = test_ns!(&cluster);
    ns.eventually(Duration::from_secs(60), || {
        let out = ns.kubectl(&["get", "configmap", "kube-root-ca.crt", "-o", "name"]);
        if out.success() {
            Ok(())
        } else {
            Err(out.describe())
        }
    });
    let manifest = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: holder\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n    image: {image}\n    imagePullPolicy: Never\n    command: [\"sleep\", \"3600\"]\n",
        image = node::BUSYBOX
    );
    ns.kubectl_ok(&["apply", "-f", &ns.write("holder.yaml", &manifest)]);
    let out = ns.kubectl(&[
        "wait",
        "--for=condition=Ready",
        "pod/holder",
        "--timeout=120s",
    ]);
    if !out.success() {
        let yaml = ns.kubectl(&["get", "pod", "holder", "-o", "yaml"]).stdout;
        cluster.fail(format!(
            "holder never became Ready: {}\n{yaml}",
            out.describe()
        ));
    }
    let dir = "/var/run/secrets/kubernetes.io/serviceaccount";
    let read =
        |file: &str| ns.kubectl_ok(&["exec", "holder", "--", "cat", &format!("{dir}/{file}")]);
    assert_eq!(read("namespace"), ns.name());
    assert_eq!(read("ca.crt").trim(), cluster_ca(&cluster).trim());
    let token = read("token").trim().to_owned();
    assert!(!token.is_empty(), "the token file is empty");
    let expected = format!("system:serviceaccount:{}:default", ns.name());
    assert_eq!(whoami_with(&ns, &token).as_deref(), Ok(expected.as_str()));

    ns.kubectl_ok(&["delete", "pod", "holder", "--wait=true", "--timeout=120s"]);
    let err = ns.eventually(Duration::from_secs(120), || {
        match whoami_with(&ns, &token) {
            Err(err) => Ok(err),
            Ok(user) => Err(format!(
                "the deleted pod's token still authenticates as {user}"
            )),
        }
    });
    assert!(err.contains("Unauthorized"), "{err}");
}
