//! Service account tokens against the real router, in-process: TokenRequest, bearer
//! authentication, revocation by deleting the account or the bound pod, TokenReview, and
//! the ServiceAccount admission of pods.

#![allow(clippy::unwrap_used, reason = "tests")]

use closet_apiserver::serviceaccount::TokenAuthority;
use closet_apiserver::{ApiServer, Config, auth::User};
use closet_pki::ServiceAccountKey;
use closet_store::sqlite::{Options, SqliteStore};
use k8s_openapi::api::authentication::v1::{
    BoundObjectReference, SelfSubjectReview, TokenRequest, TokenRequestSpec, TokenReview,
    TokenReviewSpec,
};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, ServiceAccount};
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};
use serde_json::json;

struct Server {
    _dir: tempfile::TempDir,
    api: ApiServer,
    admin: kube::Client,
}

async fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("state.db"), Options::default()).unwrap();
    let key = ServiceAccountKey::generate().unwrap().0;
    let api =
        ApiServer::new(store, Config::default()).with_token_authority(TokenAuthority::new(key));
    api.bootstrap().await.unwrap();
    let admin = User {
        name: "test-admin".into(),
        groups: vec!["system:masters".into()],
    };
    let admin = kube::Client::new(api.router_as(admin), "default");
    Server {
        _dir: dir,
        api,
        admin,
    }
}

impl Server {
    /// A client that presents `token` as `Authorization: Bearer` and nothing else.
    fn with_token(&self, token: &str) -> kube::Client {
        let value = http::HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
        let service = tower::ServiceBuilder::new()
            .map_request(move |mut req: http::Request<kube::client::Body>| {
                req.headers_mut()
                    .insert(http::header::AUTHORIZATION, value.clone());
                req
            })
            .service(self.api.router());
        kube::Client::new(service, "default")
    }

    async fn namespace(&self, name: &str) {
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            ..Default::default()
        };
        Api::<Namespace>::all(self.admin.clone())
            .create(&PostParams::default(), &ns)
            .await
            .unwrap();
    }

    async fn request_token(
        &self,
        ns: &str,
        account: &str,
        spec: TokenRequestSpec,
    ) -> Result<TokenRequest, kube::Error> {
        let request = TokenRequest {
            spec,
            ..Default::default()
        };
        Api::<ServiceAccount>::namespaced(self.admin.clone(), ns)
            .create_subresource("token", account, &PostParams::default(), &request)
            .await
    }
}

async fn whoami(client: kube::Client) -> Result<(String, Vec<String>), kube::Error> {
    let review = Api::<SelfSubjectReview>::all(client)
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await?;
    let info = review.status.unwrap().user_info.unwrap();
    Ok((info.username.unwrap(), info.groups.unwrap_or_default()))
}

fn code(err: &kube::Error) -> u16 {
    match err {
        kube::Error::Api(s) => s.code,
        other => panic!("not an API error: {other:?}"),
    }
}

fn pod(name: &str, extra: serde_json::Value) -> Pod {
    let mut value = json!({
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    });
    if let Some(spec) = extra.as_object() {
        for (k, v) in spec {
            value["spec"][k] = v.clone();
        }
    }
    serde_json::from_value(value).unwrap()
}

#[tokio::test]
async fn a_requested_token_authenticates_as_the_service_account() {
    let s = server().await;
    s.namespace("app").await;
    let issued = s
        .request_token("app", "default", TokenRequestSpec::default())
        .await
        .unwrap();
    let status = issued.status.unwrap();
    assert_eq!(issued.spec.expiration_seconds, Some(3600));
    assert_eq!(
        issued.spec.audiences,
        vec!["https://kubernetes.default.svc.cluster.local".to_owned()]
    );
    let left = status.expiration_timestamp.0.as_second() - jiff::Timestamp::now().as_second();
    assert!((3500..=3600).contains(&left), "{left}");

    let client = s.with_token(&status.token);
    let (user, groups) = whoami(client.clone()).await.unwrap();
    assert_eq!(user, "system:serviceaccount:app:default");
    for group in [
        "system:serviceaccounts",
        "system:serviceaccounts:app",
        "system:authenticated",
    ] {
        assert!(groups.contains(&group.to_owned()), "{groups:?}");
    }
    // The token is good for ordinary requests too.
    Api::<ConfigMap>::namespaced(client, "app")
        .list(&Default::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn bad_tokens_and_foreign_audiences_get_401() {
    let s = server().await;
    s.namespace("app").await;
    let err = whoami(s.with_token("not.a.jwt")).await.unwrap_err();
    assert_eq!(code(&err), 401);

    let vault = s
        .request_token(
            "app",
            "default",
            TokenRequestSpec {
                audiences: vec!["vault".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let token = vault.status.unwrap().token;
    assert_eq!(code(&whoami(s.with_token(&token)).await.unwrap_err()), 401);

    // Another server's key signs tokens this one does not accept.
    let other = server().await;
    other.namespace("app").await;
    let foreign = other
        .request_token("app", "default", TokenRequestSpec::default())
        .await
        .unwrap()
        .status
        .unwrap()
        .token;
    assert_eq!(
        code(&whoami(s.with_token(&foreign)).await.unwrap_err()),
        401
    );

    // TokenReview with the audience asked for accepts it.
    let review = TokenReview {
        spec: TokenReviewSpec {
            token: Some(token),
            audiences: Some(vec!["vault".into()]),
        },
        ..Default::default()
    };
    let reviewed = Api::<TokenReview>::all(s.admin.clone())
        .create(&PostParams::default(), &review)
        .await
        .unwrap()
        .status
        .unwrap();
    assert_eq!(reviewed.authenticated, Some(true));
    assert_eq!(
        reviewed.user.unwrap().username.as_deref(),
        Some("system:serviceaccount:app:default")
    );
}

#[tokio::test]
async fn deleting_the_service_account_revokes_its_tokens() {
    let s = server().await;
    s.namespace("app").await;
    let accounts: Api<ServiceAccount> = Api::namespaced(s.admin.clone(), "app");
    let robot: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "robot"}})).unwrap();
    accounts
        .create(&PostParams::default(), &robot)
        .await
        .unwrap();
    let token = s
        .request_token("app", "robot", TokenRequestSpec::default())
        .await
        .unwrap()
        .status
        .unwrap()
        .token;
    assert_eq!(
        whoami(s.with_token(&token)).await.unwrap().0,
        "system:serviceaccount:app:robot"
    );
    accounts
        .delete("robot", &DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(code(&whoami(s.with_token(&token)).await.unwrap_err()), 401);
    // A new account of the same name is another identity: the old token stays dead.
    accounts
        .create(&PostParams::default(), &robot)
        .await
        .unwrap();
    assert_eq!(code(&whoami(s.with_token(&token)).await.unwrap_err()), 401);
}

#[tokio::test]
async fn a_pod_bound_token_dies_with_the_pod() {
    let s = server().await;
    s.namespace("app").await;
    let pods: Api<Pod> = Api::namespaced(s.admin.clone(), "app");
    let created = pods
        .create(&PostParams::default(), &pod("web", json!({})))
        .await
        .unwrap();
    let uid = created.metadata.uid.clone().unwrap();
    let bound = TokenRequestSpec {
        bound_object_ref: Some(BoundObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: Some("web".into()),
            uid: Some(uid),
        }),
        expiration_seconds: Some(3607),
        ..Default::default()
    };
    let issued = s.request_token("app", "default", bound).await.unwrap();
    let token = issued.status.unwrap().token;
    let payload = token.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["kubernetes.io"]["pod"]["name"], "web");
    assert_eq!(claims["sub"], "system:serviceaccount:app:default");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3607
    );
    assert_eq!(
        whoami(s.with_token(&token)).await.unwrap().0,
        "system:serviceaccount:app:default"
    );

    pods.delete("web", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    assert!(pods.get_opt("web").await.unwrap().is_none());
    assert_eq!(code(&whoami(s.with_token(&token)).await.unwrap_err()), 401);
}

#[tokio::test]
async fn token_requests_are_validated() {
    let s = server().await;
    s.namespace("app").await;
    let missing = s
        .request_token("app", "nobody", TokenRequestSpec::default())
        .await
        .unwrap_err();
    assert_eq!(code(&missing), 404);

    let short = TokenRequestSpec {
        expiration_seconds: Some(100),
        ..Default::default()
    };
    assert_eq!(
        code(&s.request_token("app", "default", short).await.unwrap_err()),
        422
    );

    let reference = |kind: &str, name: &str| TokenRequestSpec {
        bound_object_ref: Some(BoundObjectReference {
            api_version: Some("v1".into()),
            kind: Some(kind.into()),
            name: Some(name.into()),
            uid: None,
        }),
        ..Default::default()
    };
    let bad_kind = s
        .request_token("app", "default", reference("ConfigMap", "x"))
        .await
        .unwrap_err();
    assert_eq!(code(&bad_kind), 400);
    let no_pod = s
        .request_token("app", "default", reference("Pod", "ghost"))
        .await
        .unwrap_err();
    assert_eq!(code(&no_pod), 404);

    // A pod running as another account cannot hold this account's token.
    let accounts: Api<ServiceAccount> = Api::namespaced(s.admin.clone(), "app");
    let robot: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "robot"}})).unwrap();
    accounts
        .create(&PostParams::default(), &robot)
        .await
        .unwrap();
    Api::<Pod>::namespaced(s.admin.clone(), "app")
        .create(
            &PostParams::default(),
            &pod("r", json!({"serviceAccountName": "robot"})),
        )
        .await
        .unwrap();
    let other = s
        .request_token("app", "default", reference("Pod", "r"))
        .await
        .unwrap_err();
    assert_eq!(code(&other), 400);
}

#[tokio::test]
async fn pods_get_the_token_volume_unless_automount_is_off() {
    let s = server().await;
    s.namespace("app").await;
    let pods: Api<Pod> = Api::namespaced(s.admin.clone(), "app");
    let web = pods
        .create(
            &PostParams::default(),
            &pod(
                "web",
                json!({"initContainers": [{"name": "init", "image": "busybox"}]}),
            ),
        )
        .await
        .unwrap();
    let spec = web.spec.unwrap();
    assert_eq!(spec.service_account_name.as_deref(), Some("default"));
    let volume = spec
        .volumes
        .unwrap()
        .into_iter()
        .find(|v| v.name.starts_with("kube-api-access-"))
        .unwrap();
    assert_eq!(volume.name.len(), "kube-api-access-".len() + 5);
    let sources = volume.projected.unwrap().sources.unwrap();
    let token = sources[0].service_account_token.as_ref().unwrap();
    assert_eq!(token.expiration_seconds, Some(3607));
    assert_eq!(token.path, "token");
    assert_eq!(
        sources[1].config_map.as_ref().unwrap().name,
        "kube-root-ca.crt"
    );
    assert!(sources[2].downward_api.is_some());
    for container in spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
    {
        let mount = &container.volume_mounts.as_ref().unwrap()[0];
        assert_eq!(mount.name, volume.name);
        assert_eq!(
            mount.mount_path,
            "/var/run/secrets/kubernetes.io/serviceaccount"
        );
        assert_eq!(mount.read_only, Some(true));
    }

    let quiet = pods
        .create(
            &PostParams::default(),
            &pod("quiet", json!({"automountServiceAccountToken": false})),
        )
        .await
        .unwrap();
    assert!(quiet.spec.unwrap().volumes.unwrap_or_default().is_empty());

    let accounts: Api<ServiceAccount> = Api::namespaced(s.admin.clone(), "app");
    let shy: ServiceAccount = serde_json::from_value(
        json!({"metadata": {"name": "shy"}, "automountServiceAccountToken": false}),
    )
    .unwrap();
    accounts.create(&PostParams::default(), &shy).await.unwrap();
    let as_shy = pods
        .create(
            &PostParams::default(),
            &pod("as-shy", json!({"serviceAccountName": "shy"})),
        )
        .await
        .unwrap();
    assert!(as_shy.spec.unwrap().volumes.unwrap_or_default().is_empty());

    let orphan = pods
        .create(
            &PostParams::default(),
            &pod("orphan", json!({"serviceAccountName": "missing"})),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&orphan), 403);
}
