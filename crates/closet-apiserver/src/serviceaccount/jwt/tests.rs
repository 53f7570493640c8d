use super::*;

const ISS: &str = "https://kubernetes.default.svc.cluster.local";

fn claims(now: i64) -> Claims {
    Claims {
        iss: ISS.into(),
        sub: "system:serviceaccount:shop:default".into(),
        aud: vec![ISS.into()],
        exp: now + 3600,
        iat: now,
        nbf: now,
        jti: "a-jti".into(),
        kubernetes: KubernetesClaim {
            namespace: "shop".into(),
            serviceaccount: ObjectRef {
                name: "default".into(),
                uid: "sa-uid".into(),
            },
            pod: Some(ObjectRef {
                name: "web".into(),
                uid: "pod-uid".into(),
            }),
            node: None,
            secret: None,
        },
    }
}

fn key() -> ServiceAccountKey {
    ServiceAccountKey::generate().unwrap().0
}

fn audiences() -> Vec<String> {
    vec![ISS.to_owned()]
}

#[test]
fn a_token_round_trips_with_its_claims() {
    let key = key();
    let now = 1_800_000_000;
    let token = encode(&claims(now), &key).unwrap();
    assert_eq!(token.split('.').count(), 3);
    let got = verify(&token, &key, ISS, &audiences(), now + 10).unwrap();
    assert_eq!(got, claims(now));
}

#[test]
fn the_payload_carries_the_upstream_claim_names() {
    let key = key();
    let token = encode(&claims(100), &key).unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(json["kubernetes.io"]["serviceaccount"]["uid"], "sa-uid");
    assert_eq!(json["kubernetes.io"]["pod"]["name"], "web");
    assert!(json["kubernetes.io"].get("node").is_none());
    for claim in ["iss", "sub", "aud", "exp", "iat", "nbf", "jti"] {
        assert!(json.get(claim).is_some(), "{claim} missing");
    }
    let header = token.split('.').next().unwrap();
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], key.key_id());
}

#[test]
fn another_key_or_a_changed_payload_fails_the_signature() {
    let key = key();
    let token = encode(&claims(100), &key).unwrap();
    assert_eq!(
        verify(&token, &self::key(), ISS, &audiences(), 100),
        Err(JwtError::BadSignature)
    );
    let mut forged = claims(100);
    forged.sub = "system:serviceaccount:shop:admin".into();
    let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
    let parts: Vec<&str> = token.split('.').collect();
    let tampered = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
    assert_eq!(
        verify(&tampered, &key, ISS, &audiences(), 100),
        Err(JwtError::BadSignature)
    );
}

#[test]
fn expiry_and_not_before_allow_a_minute_of_skew() {
    let key = key();
    let now = 1_000_000;
    let token = encode(&claims(now), &key).unwrap();
    let exp = now + 3600;
    assert!(verify(&token, &key, ISS, &audiences(), exp + LEEWAY_SECONDS).is_ok());
    assert_eq!(
        verify(&token, &key, ISS, &audiences(), exp + LEEWAY_SECONDS + 1),
        Err(JwtError::Expired)
    );
    assert!(verify(&token, &key, ISS, &audiences(), now - LEEWAY_SECONDS).is_ok());
    assert_eq!(
        verify(&token, &key, ISS, &audiences(), now - LEEWAY_SECONDS - 1),
        Err(JwtError::NotYetValid)
    );
}

#[test]
fn audiences_must_intersect_and_the_issuer_must_match() {
    let key = key();
    let mut c = claims(100);
    c.aud = vec!["vault".into(), "other".into()];
    let token = encode(&c, &key).unwrap();
    assert_eq!(
        verify(&token, &key, ISS, &audiences(), 100),
        Err(JwtError::WrongAudience)
    );
    let both = vec![ISS.to_owned(), "vault".to_owned()];
    assert!(verify(&token, &key, ISS, &both, 100).is_ok());
    assert_eq!(
        verify(&token, &key, "https://elsewhere", &both, 100),
        Err(JwtError::WrongIssuer)
    );
}

#[test]
fn garbage_is_malformed_not_a_panic() {
    let key = key();
    let long = "x".repeat(20_000);
    for token in ["", "a.b", "a.b.c", "a.b.c.d", "!!.??.%%", long.as_str()] {
        assert_eq!(
            verify(token, &key, ISS, &audiences(), 0),
            Err(JwtError::Malformed),
            "{token:.20}"
        );
    }
    let none_alg = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(0)).unwrap())
    );
    assert_eq!(
        verify(&none_alg, &key, ISS, &audiences(), 0),
        Err(JwtError::Malformed)
    );
}
