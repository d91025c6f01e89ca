//! Credentials at rest. The secrets a configuration carries (OAuth client secrets, the default password of
//! provisioned accounts) are sealed before they are stored, with XChaCha20-Poly1305 under a key kept outside
//! the database (`--secrets-key-file`, by default `secrets.key` in the data directory, created on first start),
//! so that a copy of the database alone (a backup, a dump, a replica's disk) discloses none of them. Each is
//! sealed to its tenant: a sealed value moved into another tenant's rows does not open there.
//!
//! The API never returns secrets in either form (`render.rs` drops or masks them); the run engine will open
//! them when it connects to a source or provisions an account. The server's own keys kept in the database
//! (the upload sessions' signing key, `files`) are sealed the same way, to [`SERVER`].
//!
//! Here, in the store, so that the server and the engine both reach it.

use std::path::Path;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use rosterflow_model::document;
use rosterflow_model::schema::TypeDef;
use rosterflow_model::TenantId;
use serde_json::{Map, Value};

/// The default key file's name in the data directory.
pub const KEY_FILE: &str = "secrets.key";
/// What a sealed value starts with; the version names the cipher and layout (nonce, then ciphertext and tag).
const SEALED: &str = "rfsealed:v1:";
const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;

/// The pseudo-tenant that the server's own keys are sealed to (no tenant id contains a colon).
pub const SERVER: &str = "rosterflow:server";

/// A key file that can't be created or read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyFileError(String);

pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

/// A sealed value that does not open: another key, another tenant, or tampered with.
#[derive(Debug, thiserror::Error)]
#[error("a stored secret could not be opened (another key or tenant, or a damaged value)")]
pub struct OpenError;

impl Sealer {
    /// The key in `path` (32 bytes, base64), created with a random key, readable by its owner only, when the
    /// file does not exist yet.
    pub fn from_key_file(path: &Path) -> Result<Sealer, KeyFileError> {
        let failed = |what: &str, e: std::io::Error| KeyFileError(format!("{what} {}: {e}", path.display()));
        if !path.exists() {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| failed("creating the directory of", e))?;
            }
            let mut key = [0u8; KEY_BYTES];
            rand::rngs::OsRng.fill_bytes(&mut key);
            // `false`: another process created it meanwhile; theirs is read below.
            write_private(path, format!("{}\n", STANDARD.encode(key)).as_bytes()).map_err(|e| failed("creating", e))?;
        }
        let text = std::fs::read_to_string(path).map_err(|e| failed("reading", e))?;
        let key =
            STANDARD.decode(text.trim()).ok().filter(|k| k.len() == KEY_BYTES).ok_or_else(|| {
                KeyFileError(format!("{} must hold a {KEY_BYTES}-byte key in base64", path.display()))
            })?;
        Ok(Sealer { cipher: XChaCha20Poly1305::new_from_slice(&key).expect("the key has the cipher's length") })
    }

    /// `plaintext` sealed to `tenant`.
    pub fn seal(&self, tenant: &TenantId, plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = Payload { msg: plaintext.as_bytes(), aad: tenant.as_str().as_bytes() };
        let sealed = self.cipher.encrypt(&XNonce::from(nonce), payload).expect("sealing a string can't fail");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{SEALED}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The plaintext of a stored secret. A value stored before secrets were sealed comes back as it is.
    pub fn open(&self, tenant: &TenantId, stored: &str) -> Result<String, OpenError> {
        let Some(encoded) = stored.strip_prefix(SEALED) else { return Ok(stored.to_string()) };
        let bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| OpenError)?;
        let (nonce, sealed) = bytes.split_at_checked(NONCE_BYTES).ok_or(OpenError)?;
        let nonce = XNonce::from(<[u8; NONCE_BYTES]>::try_from(nonce).map_err(|_| OpenError)?);
        let payload = Payload { msg: sealed, aad: tenant.as_str().as_bytes() };
        let plain = self.cipher.decrypt(&nonce, payload).map_err(|_| OpenError)?;
        String::from_utf8(plain).map_err(|_| OpenError)
    }

    /// Seal every secret in `props`, the checked properties of a request body of type `ty` (so every value here
    /// is one a client sent: stored values are sealed already and never pass through again).
    pub fn seal_document(&self, tenant: &TenantId, ty: &TypeDef, props: &mut Map<String, Value>) {
        document::secrets_mut(ty, props, &mut |secret| *secret = self.seal(tenant, secret));
    }
}

/// Create `path` readable by its owner only, atomically (written aside, then linked into place);
/// `false` when it already existed.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    use std::io::Write;
    let aside = path.with_extension(format!("{}.tmp", uuid::Uuid::new_v4()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(&aside)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    let linked = std::fs::hard_link(&aside, path);
    let _ = std::fs::remove_file(&aside);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(name: &str) -> TenantId {
        TenantId(name.to_string())
    }

    #[test]
    fn a_sealed_secret_opens_with_its_key_and_tenant_only() {
        let dir = std::env::temp_dir().join(format!("rosterflow-secrets-{}", uuid::Uuid::new_v4()));
        let path = dir.join(KEY_FILE);
        let sealer = Sealer::from_key_file(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let a = tenant("contoso");
        let sealed = sealer.seal(&a, "Secret-123");
        assert!(sealed.starts_with(SEALED) && !sealed.contains("Secret-123"), "{sealed}");
        assert_ne!(sealed, sealer.seal(&a, "Secret-123"), "a fresh nonce each time");
        assert_eq!(sealer.open(&a, &sealed).unwrap(), "Secret-123");
        // The same key file again (a restart): the same key.
        assert_eq!(Sealer::from_key_file(&path).unwrap().open(&a, &sealed).unwrap(), "Secret-123");
        assert!(sealer.open(&tenant("fabrikam"), &sealed).is_err(), "sealed to its tenant");
        let mut damaged = sealed.clone();
        damaged.pop();
        damaged.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(sealer.open(&a, &damaged).is_err());
        assert!(sealer.open(&a, "rfsealed:v1:").is_err());
        assert_eq!(sealer.open(&a, "stored-before-sealing").unwrap(), "stored-before-sealing");
        std::fs::remove_file(&path).unwrap();
        let other = Sealer::from_key_file(&path).unwrap();
        assert!(other.open(&a, &sealed).is_err(), "another key");
        std::fs::write(&path, "too short").unwrap();
        assert!(Sealer::from_key_file(&path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
