//! Production mode: tokens as Microsoft Entra ID issues them, verified against a JWKS file with the
//! configured issuers and audience; unknown signing keys trigger a refresh of the key set.

use std::time::Duration;

use crate::common::*;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use rosterflow_server::auth::{dev_key, public_jwk};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::{json, Value};

const ISSUER: &str = "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0";

struct Signer {
    key: rsa::RsaPrivateKey,
    kid: String,
}

impl Signer {
    fn new(kid: &str) -> Signer {
        Signer { key: dev_key(&temp_dir()).unwrap(), kid: kid.into() }
    }

    fn sign(&self, claims: Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        let pem = self.key.to_pkcs8_pem(LineEnding::LF).unwrap();
        encode(&header, &claims, &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()).unwrap()
    }
}

fn write_jwks(path: &std::path::Path, signers: &[&Signer]) {
    let keys: Vec<Value> = signers.iter().map(|s| public_jwk(&s.key, &s.kid)).collect();
    std::fs::write(path, json!({ "keys": keys }).to_string()).unwrap();
}

fn claims(tenant: &str, exp_offset: i64) -> Value {
    let now = jsonwebtoken::get_current_timestamp() as i64;
    json!({
        "aud": "https://graph.microsoft.com", "iss": ISSUER, "tid": tenant,
        "iat": now, "nbf": now - 10, "exp": now + exp_offset,
        "roles": [OUTBOUND_RW], "appid": "0f3c7c9a-0000-0000-0000-000000000000"
    })
}

#[tokio::test]
async fn entra_style_tokens_are_verified_against_the_jwks() {
    let dir = temp_dir();
    let jwks = dir.join("jwks.json");
    let first = Signer::new("key-1");
    write_jwks(&jwks, &[&first]);
    let mut args = serve_args(&dir).await;
    args.jwks_file = Some(jwks.clone());
    args.issuers = vec![ISSUER.into()];
    let tenant = format!("tenant-{}", uuid::Uuid::new_v4());
    let server = TestServer::start_with(args, &tenant).await;
    let with = |t: String| Client { token: Some(t), ..server.anonymous() };

    with(first.sign(claims(&tenant, 600))).get("outboundProvisioningFlowSets").await.expect(200);

    let mut wrong_issuer = claims(&tenant, 600);
    wrong_issuer["iss"] = json!("https://sts.windows.net/evil/");
    with(first.sign(wrong_issuer)).get("outboundProvisioningFlowSets").await.error(401);
    let mut wrong_audience = claims(&tenant, 600);
    wrong_audience["aud"] = json!("api://something-else");
    with(first.sign(wrong_audience)).get("outboundProvisioningFlowSets").await.error(401);
    let r = with(first.sign(claims(&tenant, -3600))).get("outboundProvisioningFlowSets").await;
    assert!(r.error(401)["message"].as_str().unwrap().contains("expired"));
    let mut not_yet = claims(&tenant, 7200);
    not_yet["nbf"] = json!(jsonwebtoken::get_current_timestamp() + 3600);
    with(first.sign(not_yet)).get("outboundProvisioningFlowSets").await.error(401);
    // Dev tokens are not accepted in production mode.
    with(token(&dir, &tenant, OUTBOUND_RW)).get("outboundProvisioningFlowSets").await.error(401);
    // Delegated tokens carry `scp`.
    let mut delegated = claims(&tenant, 600);
    delegated.as_object_mut().unwrap().remove("roles");
    delegated["scp"] = json!(format!("User.Read {OUTBOUND_R}"));
    let reader = with(first.sign(delegated));
    reader.get("outboundProvisioningFlowSets").await.expect(200);
    reader.post("outboundProvisioningFlowSets", flow_set_body()).await.error(403);

    // Key rotation: a token signed by a key published after start is accepted once the set is re-read.
    let second = Signer::new("key-2");
    let rotated = with(second.sign(claims(&tenant, 600)));
    write_jwks(&jwks, &[&first, &second]);
    tokio::time::sleep(Duration::from_millis(10)).await;
    rotated.get("outboundProvisioningFlowSets").await.expect(200);
    // A key nobody published stays refused.
    with(Signer::new("key-3").sign(claims(&tenant, 600))).get("outboundProvisioningFlowSets").await.error(401);
}

#[tokio::test]
async fn the_key_set_can_come_from_a_url() {
    let signer = Signer::new("url-key");
    let jwks = json!({ "keys": [public_jwk(&signer.key, &signer.kid)] });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route("/keys", axum::routing::get(move || async move { axum::Json(jwks) }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = temp_dir();
    let mut args = serve_args(&dir).await;
    args.jwks_url = Some(format!("http://{addr}/keys"));
    args.issuers = vec![ISSUER.into()];
    args.audience = Some("api://rosterflow".into());
    let tenant = format!("tenant-{}", uuid::Uuid::new_v4());
    let server = TestServer::start_with(args, &tenant).await;
    let mut ok = claims(&tenant, 600);
    ok["aud"] = json!("api://rosterflow");
    let c = Client { token: Some(signer.sign(ok)), ..server.anonymous() };
    c.get("outboundProvisioningFlowSets").await.expect(200);
    let graph_audience = Client { token: Some(signer.sign(claims(&tenant, 600))), ..server.anonymous() };
    graph_audience.get("outboundProvisioningFlowSets").await.error(401);
}
