//! Bearer-token authentication: RS256 JWTs verified against a JWKS, exactly as Microsoft Entra ID issues them
//! for Graph (`tid` = tenant, `scp` = delegated permissions, `roles` = application permissions).
//!
//! Production mode reads the JWKS from a file or URL (refreshed when a token names an unknown `kid`). Dev mode
//! keeps an RSA key in the data directory: `rosterflow token` signs with it and `rosterflow serve` trusts it,
//! through the very same verification path.
//!
//! Verifying RS256 costs tens of microseconds, so a verified token's principal is cached (keyed by a SHA-256 of
//! the token, never the token itself) until the token expires.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rosterflow_model::TenantId;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Graph's audiences: the resource URI and the app id of Microsoft Graph.
pub const GRAPH_AUDIENCES: &[&str] = &["https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000"];
/// The issuer of dev-mode tokens.
pub const DEV_ISSUER: &str = "https://rosterflow.local/dev";
const DEV_KEY_FILE: &str = "dev-signing-key.pem";
const DEV_KID: &str = "rosterflow-dev";

/// Who is calling: the tenant, the permissions the token carries, and on whose behalf.
#[derive(Debug, Clone)]
pub struct Principal {
    pub tenant: TenantId,
    pub permissions: Vec<String>,
    /// The calling application (`appid` in v1 tokens, `azp` in v2), when the token names one.
    pub app_id: Option<String>,
    /// The signed-in user (`oid`) of a delegated token.
    pub user_id: Option<String>,
    /// A delegated token (it carries `scp`): the app acts for a user. Otherwise an application token (`roles`).
    pub delegated: bool,
}

impl Principal {
    /// Whether the token holds any one of `permissions`.
    pub fn holds_any(&self, permissions: &[&str]) -> bool {
        self.permissions.iter().any(|p| permissions.iter().any(|g| g.eq_ignore_ascii_case(p)))
    }

    /// 403 unless the token holds one of `granting` (the permission table's entry for what is asked).
    pub fn require_any(&self, granting: &[&str]) -> crate::error::ApiResult<()> {
        if self.holds_any(granting) {
            return Ok(());
        }
        Err(crate::error::ApiError::new(
            rosterflow_model::ErrorKind::Forbidden,
            format!("Insufficient privileges to complete the operation. Requires one of: {}.", granting.join(", ")),
        ))
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    tid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scp: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    roles: Vec<String>,
    exp: u64,
    #[serde(default)]
    nbf: Option<u64>,
    #[serde(default)]
    iat: Option<u64>,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    aud: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    appid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    azp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    oid: Option<String>,
}

/// Where signing keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A JWKS document on disk.
    File(PathBuf),
    /// A JWKS URL (Entra: `https://login.microsoftonline.com/common/discovery/v2.0/keys`).
    Url(String),
    /// The dev key kept in the data directory.
    Dev(PathBuf),
}

/// Why a token was refused; the message is safe to show (it never echoes the token).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(pub String);

pub struct Authenticator {
    source: KeySource,
    keys: RwLock<HashMap<String, Arc<DecodingKey>>>,
    last_refresh: RwLock<Option<Instant>>,
    validation: Validation,
    /// Least time between two reads of the key set triggered by unknown `kid`s (they are attacker-chosen).
    min_refresh: Duration,
    cache: moka::sync::Cache<[u8; 32], (Arc<Principal>, u64)>,
    http: reqwest::Client,
}

impl Authenticator {
    pub async fn new(
        source: KeySource,
        issuers: &[String],
        audiences: &[String],
        min_refresh: Duration,
    ) -> anyhow::Result<Authenticator> {
        let mut validation = Validation::new(Algorithm::RS256);
        let (issuers, audiences): (Vec<String>, Vec<String>) = match &source {
            KeySource::Dev(_) => (vec![DEV_ISSUER.into()], GRAPH_AUDIENCES.iter().map(|s| s.to_string()).collect()),
            _ => (issuers.to_vec(), audiences.to_vec()),
        };
        if issuers.is_empty() {
            anyhow::bail!("--issuer is required with --jwks-file or --jwks-url");
        }
        validation.set_issuer(&issuers);
        validation.set_audience(&audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = 60;
        let auth = Authenticator {
            source,
            keys: RwLock::new(HashMap::new()),
            last_refresh: RwLock::new(None),
            validation,
            min_refresh,
            cache: moka::sync::Cache::builder().max_capacity(100_000).time_to_live(Duration::from_secs(600)).build(),
            http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?,
        };
        auth.refresh().await?;
        Ok(auth)
    }

    /// The principal of an `Authorization` header value.
    pub async fn authenticate(&self, header: Option<&str>) -> Result<Arc<Principal>, AuthError> {
        let token = header
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| AuthError("Access token is empty.".into()))?;
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = jsonwebtoken::get_current_timestamp();
        if let Some((principal, exp)) = self.cache.get(&digest) {
            if exp > now {
                return Ok(principal);
            }
            self.cache.invalidate(&digest);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError("Invalid JWT token.".into()))?;
        let kid = header.kid.unwrap_or_default();
        let key = match self.key(&kid) {
            Some(k) => k,
            None => {
                self.refresh_for_unknown_kid().await;
                self.key(&kid).ok_or_else(|| AuthError("The token's signing key is not trusted.".into()))?
            }
        };
        let data = jsonwebtoken::decode::<Claims>(token, &key, &self.validation)
            .map_err(|e| AuthError(format!("Access token validation failure: {}.", describe(&e))))?;
        let claims = data.claims;
        let delegated = claims.scp.is_some();
        let mut permissions: Vec<String> =
            claims.scp.as_deref().unwrap_or_default().split_whitespace().map(str::to_string).collect();
        permissions.extend(claims.roles);
        let principal = Arc::new(Principal {
            tenant: TenantId(claims.tid),
            permissions,
            app_id: claims.appid.or(claims.azp),
            user_id: claims.oid.filter(|_| delegated),
            delegated,
        });
        self.cache.insert(digest, (principal.clone(), claims.exp));
        Ok(principal)
    }

    fn key(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        self.keys.read().expect("keys lock").get(kid).cloned()
    }

    /// Re-read the key set when a token names a key we don't know, at most once a minute.
    async fn refresh_for_unknown_kid(&self) {
        let recent = self.last_refresh.read().expect("refresh lock").is_some_and(|t| t.elapsed() < self.min_refresh);
        if !recent {
            if let Err(e) = self.refresh().await {
                tracing::warn!(error = %e, "could not refresh the signing keys");
            }
        }
    }

    async fn refresh(&self) -> anyhow::Result<()> {
        *self.last_refresh.write().expect("refresh lock") = Some(Instant::now());
        let set: JwkSet = match &self.source {
            KeySource::File(path) => serde_json::from_slice(
                &std::fs::read(path).with_context(|| format!("reading the JWKS file {}", path.display()))?,
            )?,
            KeySource::Url(url) => self.http.get(url).send().await?.error_for_status()?.json().await?,
            KeySource::Dev(dir) => dev_jwks(&dev_key(dir)?),
        };
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            if let (Some(kid), Ok(key)) = (jwk.common.key_id.clone(), DecodingKey::from_jwk(jwk)) {
                keys.insert(kid, Arc::new(key));
            }
        }
        if keys.is_empty() {
            anyhow::bail!("the key set holds no usable signing key");
        }
        *self.keys.write().expect("keys lock") = keys;
        Ok(())
    }
}

/// The authenticated caller of a request: the extractor every Graph route takes. It verifies the bearer token
/// (once per request: the principal is kept in the request's extensions), records the tenant for the request's
/// log line and applies the throttle ([`crate::throttle`]). A missing or invalid token is a 401 in Graph's
/// envelope; a throttled caller gets 429 with `Retry-After`.
#[derive(Debug, Clone)]
pub struct Caller(pub Arc<Principal>);

impl std::ops::Deref for Caller {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.0
    }
}

impl Caller {
    /// The request's verified principal, its tenant recorded for the log line, but not throttled: what
    /// `$batch` needs of its own request, whose requests are each throttled as themselves ([`crate::batch`]).
    pub async fn verify(
        parts: &axum::http::request::Parts,
        app: &crate::AppState,
    ) -> Result<Arc<Principal>, axum::response::Response> {
        let header = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let principal = app.auth.authenticate(header).await.map_err(|e| {
            use axum::response::IntoResponse;
            crate::error::ApiError::new(rosterflow_model::ErrorKind::Unauthenticated, e.0).into_response()
        })?;
        crate::request::record_tenant(&principal.tenant);
        Ok(principal)
    }
}

impl axum::extract::FromRequestParts<Arc<crate::AppState>> for Caller {
    /// An error response: 401, or 429 with its `Retry-After` header.
    type Rejection = axum::response::Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        app: &Arc<crate::AppState>,
    ) -> Result<Self, Self::Rejection> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let principal = Caller::verify(parts, app).await?;
        app.throttle.admit(&principal).map_err(axum::response::IntoResponse::into_response)?;
        let caller = Caller(principal);
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

fn describe(e: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind::*;
    match e.kind() {
        ExpiredSignature => "the token is expired",
        ImmatureSignature => "the token is not yet valid",
        InvalidIssuer => "invalid issuer",
        InvalidAudience => "invalid audience",
        InvalidSignature => "invalid signature",
        MissingRequiredClaim(_) => "a required claim is missing",
        _ => "the token is malformed",
    }
}

/// The dev signing key in `dir`, created on first use.
pub fn dev_key(dir: &Path) -> anyhow::Result<RsaPrivateKey> {
    let path = dir.join(DEV_KEY_FILE);
    if let Ok(pem) = std::fs::read_to_string(&path) {
        return RsaPrivateKey::from_pkcs8_pem(&pem).context("reading the dev signing key");
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048)?;
    let pem = key.to_pkcs8_pem(LineEnding::LF)?;
    if crate::keyfile::write_private(&path, pem.as_bytes())? {
        Ok(key)
    } else {
        // Another process (a `token` racing a first `serve`) created it first: use theirs.
        RsaPrivateKey::from_pkcs8_pem(&std::fs::read_to_string(&path)?).context("reading the dev signing key")
    }
}

fn dev_jwks(key: &RsaPrivateKey) -> JwkSet {
    serde_json::from_value(serde_json::json!({ "keys": [public_jwk(key, DEV_KID)] })).expect("a well-formed JWK")
}

/// The public half of `key` as a JWK (what a JWKS document lists).
pub fn public_jwk(key: &RsaPrivateKey, kid: &str) -> serde_json::Value {
    let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
    let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
    serde_json::json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e})
}

/// What a dev-mode token says: delegated `scopes` (a user's token) and/or application `roles`.
#[derive(Debug, Clone)]
pub struct TokenSpec {
    pub tenant: String,
    pub scopes: Vec<String>,
    pub roles: Vec<String>,
    /// `appid`: the calling application (throttling counts per tenant and application).
    pub app_id: Option<String>,
    /// `oid`: the signed-in user of a delegated token.
    pub user_id: Option<String>,
    pub lifetime: Duration,
}

impl TokenSpec {
    /// A delegated token for `tenant` with `scopes`, valid for an hour.
    pub fn delegated(tenant: &str, scopes: &[String]) -> TokenSpec {
        TokenSpec {
            tenant: tenant.into(),
            scopes: scopes.to_vec(),
            roles: Vec::new(),
            app_id: None,
            user_id: None,
            lifetime: Duration::from_secs(3600),
        }
    }

    /// An application token for `tenant` with `roles`, valid for an hour.
    pub fn application(tenant: &str, roles: &[String]) -> TokenSpec {
        TokenSpec { roles: roles.to_vec(), ..TokenSpec::delegated(tenant, &[]) }
    }
}

/// A dev-mode token signed with the key in `dir`.
pub fn dev_token(dir: &Path, spec: &TokenSpec) -> anyhow::Result<String> {
    let key = dev_key(dir)?;
    let pem = key.to_pkcs8_pem(LineEnding::LF)?;
    let now = jsonwebtoken::get_current_timestamp();
    let claims = Claims {
        tid: spec.tenant.clone(),
        scp: (!spec.scopes.is_empty()).then(|| spec.scopes.join(" ")),
        roles: spec.roles.clone(),
        exp: now + spec.lifetime.as_secs(),
        nbf: Some(now),
        iat: Some(now),
        iss: Some(DEV_ISSUER.into()),
        aud: Some(GRAPH_AUDIENCES[0].into()),
        appid: spec.app_id.clone(),
        azp: None,
        oid: spec.user_id.clone(),
    };
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(DEV_KID.into());
    Ok(jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_pem(pem.as_bytes())?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dev_tokens_verify_and_carry_tenant_and_permissions() {
        let dir = std::env::temp_dir().join(format!("rf-auth-{}", uuid::Uuid::new_v4()));
        let spec = TokenSpec {
            roles: vec!["B.Write".into()],
            app_id: Some("app-1".into()),
            user_id: Some("user-1".into()),
            ..TokenSpec::delegated("contoso", &["A.Read".into()])
        };
        let token = dev_token(&dir, &spec).unwrap();
        let auth = Authenticator::new(KeySource::Dev(dir.clone()), &[], &[], Duration::from_secs(60)).await.unwrap();
        let p = auth.authenticate(Some(&format!("Bearer {token}"))).await.unwrap();
        assert_eq!(p.tenant.as_str(), "contoso");
        assert!(p.holds_any(&["B.Write"]) && p.holds_any(&["a.read"]) && !p.holds_any(&["C"]));
        assert!(p.delegated);
        assert_eq!((p.app_id.as_deref(), p.user_id.as_deref()), (Some("app-1"), Some("user-1")));
        assert!(auth.authenticate(Some("Bearer x.y.z")).await.is_err());
        assert!(auth.authenticate(None).await.is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
