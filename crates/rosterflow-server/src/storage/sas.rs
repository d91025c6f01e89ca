//! The shared access signatures of upload sessions: a container SAS in Azure's own query form
//! (`sv=…&se=…&sr=c&sp=racwdl&sig=…`), so that Azure's SDKs accept it as it is; no other parameter, since the
//! SDKs drop unknown ones (and the Data Lake SDK, given the query as its credential, takes one extra key for an
//! account key and then sends no signature at all).
//!
//! `sig` is an HMAC-SHA256, under a key the server keeps sealed in the database (`Files::signing_key`), of
//! the permissions, the expiry, the container and its tenant, the version and the resource type: unguessable,
//! scoped to one container of one tenant, and verified alike by every replica. A signature says nothing about
//! the container's state: the caller checks that it is still open (validation and reset end a session early).
//!
//! Parsing is bounded (query length, parameter count, value lengths) and never panics (property-tested).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::Sha256;

/// The signed version written into new signatures.
pub const VERSION: &str = "2025-01-05";
/// The permissions an upload session grants: read, add, create, write, delete, list.
pub const PERMISSIONS: &str = "racwdl";
/// Longest query string read.
pub const MAX_QUERY: usize = 8 * 1024;
/// Most parameters in a query.
const MAX_PARAMS: usize = 64;
/// Longest SAS parameter value.
const MAX_VALUE: usize = 256;

/// What a query value escapes: all but RFC 3986's unreserved characters (so `+`, `/`, `=` and `:` are escaped).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The SAS parameters Azure defines; any of them besides ours makes a signature one this server didn't issue.
const SAS_KEYS: &[&str] = &[
    "sv", "ss", "srt", "sp", "se", "st", "spr", "sip", "si", "sr", "sig", "rscc", "rscd", "rsce", "rscl", "rsct",
    "skoid", "sktid", "skt", "ske", "sks", "skv", "saoid", "suoid", "scid", "sdd", "ses", "skdutid", "sduoid",
];

/// An operation's permission letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Read,
    Write,
    Delete,
    List,
}

/// A parsed, not yet verified, signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sas {
    pub version: String,
    pub expiry: String,
    pub resource: String,
    pub permissions: String,
    pub signature: String,
}

/// Why a request's signature is refused; the message goes to `AuthenticationErrorDetail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SasError {
    /// Refused before any key was used: missing, malformed, not ours.
    Malformed(String),
    /// Well-formed but wrong, expired, or for something else.
    Refused(String),
    /// Valid, but without the permission the operation needs.
    Permission,
}

/// The query's parameters, percent-decoded (a `+` stays a `+`: signatures are base64), bounded.
pub fn query_pairs(query: &str) -> Result<Vec<(String, String)>, SasError> {
    if query.len() > MAX_QUERY {
        return Err(SasError::Malformed(format!("The query string is longer than {MAX_QUERY} characters.")));
    }
    let mut pairs = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        if pairs.len() == MAX_PARAMS {
            return Err(SasError::Malformed(format!("The query has more than {MAX_PARAMS} parameters.")));
        }
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let decode = |s: &str| {
            percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| SasError::Malformed("A query parameter is not valid UTF-8 once decoded.".into()))
        };
        pairs.push((decode(k)?, decode(v)?));
    }
    Ok(pairs)
}

/// The signature in a request's query; `Ok(None)` when it carries none.
pub fn parse(pairs: &[(String, String)]) -> Result<Option<Sas>, SasError> {
    let mut found: [Option<&str>; 5] = [None; 5];
    const OURS: [&str; 5] = ["sv", "se", "sr", "sp", "sig"];
    let mut any = false;
    for (k, v) in pairs {
        if !SAS_KEYS.contains(&k.as_str()) {
            continue; // an operation's own parameter (comp, restype, blockid, ...)
        }
        any = true;
        let Some(i) = OURS.iter().position(|o| o == k) else {
            return Err(SasError::Refused(format!("The signature parameter '{k}' is not one this server issues.")));
        };
        if v.len() > MAX_VALUE {
            return Err(SasError::Malformed(format!("The signature parameter '{k}' is too long.")));
        }
        if found[i].replace(v).is_some() {
            return Err(SasError::Malformed(format!("The signature parameter '{k}' appears twice.")));
        }
    }
    if !any {
        return Ok(None);
    }
    let get = |i: usize| {
        found[i].map(str::to_string).ok_or_else(|| SasError::Malformed(format!("The signature lacks '{}'.", OURS[i])))
    };
    Ok(Some(Sas { version: get(0)?, expiry: get(1)?, resource: get(2)?, permissions: get(3)?, signature: get(4)? }))
}

fn string_to_sign(
    sas_permissions: &str,
    expiry: &str,
    tenant: &str,
    container: &str,
    version: &str,
    resource: &str,
) -> String {
    format!("{sas_permissions}\n\n{expiry}\n/blob/rosterflow/{tenant}/{container}\n{version}\n{resource}")
}

fn mac(key: &[u8; 32], text: &str) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(text.as_bytes());
    m
}

/// `se`'s form: seconds, UTC.
pub fn format_expiry(micros: i64) -> String {
    let t = DateTime::<Utc>::from_timestamp_micros(micros).unwrap_or_default();
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The query string of a session's signature (values percent-encoded).
pub fn sign(key: &[u8; 32], tenant: &str, container: &str, expiry_micros: i64) -> String {
    let se = format_expiry(expiry_micros);
    let sig = STANDARD
        .encode(mac(key, &string_to_sign(PERMISSIONS, &se, tenant, container, VERSION, "c")).finalize().into_bytes());
    let enc = |s: &str| utf8_percent_encode(s, QUERY_VALUE).to_string();
    format!("sv={VERSION}&se={}&sr=c&sp={PERMISSIONS}&sig={}", enc(&se), enc(&sig))
}

/// Accepted forms of `se`: Azure's ISO 8601 UTC forms.
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%dT%H:%MZ", "%Y-%m-%d"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc());
        }
        if let Ok(d) = chrono::NaiveDate::parse_from_str(s, f) {
            return Some(d.and_hms_opt(0, 0, 0)?.and_utc());
        }
    }
    None
}

/// Check `sas` for `container` of `tenant` at `now_micros`, for an operation needing `needs`.
pub fn verify(
    key: &[u8; 32],
    sas: &Sas,
    tenant: &str,
    container: &str,
    now_micros: i64,
    needs: Permission,
) -> Result<(), SasError> {
    if sas.resource != "c" {
        return Err(SasError::Refused(format!("The signed resource '{}' is not a container ('c').", sas.resource)));
    }
    let sig = STANDARD
        .decode(&sas.signature)
        .ok()
        .filter(|s| s.len() == 32)
        .ok_or_else(|| SasError::Malformed("The signature is not a base64-encoded HMAC-SHA256.".into()))?;
    let text = string_to_sign(&sas.permissions, &sas.expiry, tenant, container, &sas.version, &sas.resource);
    mac(key, &text).verify_slice(&sig).map_err(|_| {
        SasError::Refused(
            "Signature did not match: it is not a signature this server issued for this container.".into(),
        )
    })?;
    let expiry = parse_time(&sas.expiry)
        .ok_or_else(|| SasError::Refused(format!("The signed expiry '{}' is not a time.", sas.expiry)))?;
    if now_micros > expiry.timestamp_micros() {
        return Err(SasError::Refused(format!(
            "Signed expiry time [{}] must be after the current time: the upload session has expired; call getUploadSession for a new one.",
            sas.expiry
        )));
    }
    let letter = match needs {
        Permission::Read => 'r',
        Permission::Write => 'w',
        Permission::Delete => 'd',
        Permission::List => 'l',
    };
    let granted = sas.permissions.contains(letter)
        || (needs == Permission::Write && (sas.permissions.contains('c') || sas.permissions.contains('a')));
    if !granted {
        return Err(SasError::Permission);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: [u8; 32] = [7; 32];
    const NOW: i64 = 1_700_000_000_000_000;
    const LATER: i64 = NOW + 3_600_000_000;

    fn parsed(query: &str) -> Result<Option<Sas>, SasError> {
        parse(&query_pairs(query)?)
    }

    #[test]
    fn a_signature_verifies_for_its_container_and_tenant_only() {
        let q = sign(&KEY, "contoso", "c1", LATER);
        assert!(q.starts_with("sv=2025-01-05&se=") && q.contains("&sr=c&sp=racwdl&sig="), "{q}");
        let sas = parsed(&format!("comp=list&restype=container&{q}")).unwrap().unwrap();
        assert_eq!(verify(&KEY, &sas, "contoso", "c1", NOW, Permission::List), Ok(()));
        assert!(matches!(verify(&KEY, &sas, "contoso", "c2", NOW, Permission::List), Err(SasError::Refused(_))));
        assert!(matches!(verify(&KEY, &sas, "fabrikam", "c1", NOW, Permission::List), Err(SasError::Refused(_))));
        assert!(matches!(verify(&[8; 32], &sas, "contoso", "c1", NOW, Permission::List), Err(SasError::Refused(_))));
        assert!(matches!(
            verify(&KEY, &sas, "contoso", "c1", LATER + 1_000_000, Permission::List),
            Err(SasError::Refused(_))
        ));
        // The SDKs re-encode values (quote(v, safe='')): still the same signature.
        let requoted = q.replace("%3A", ":");
        let again = parsed(&requoted).unwrap().unwrap();
        assert_eq!(again, sas);
        // A signature for fewer permissions, with our key: refused for the others.
        let narrow = Sas { permissions: "r".into(), ..sas.clone() };
        let text = string_to_sign("r", &sas.expiry, "contoso", "c1", &sas.version, "c");
        let narrow = Sas { signature: STANDARD.encode(mac(&KEY, &text).finalize().into_bytes()), ..narrow };
        assert_eq!(verify(&KEY, &narrow, "contoso", "c1", NOW, Permission::Read), Ok(()));
        assert_eq!(verify(&KEY, &narrow, "contoso", "c1", NOW, Permission::Write), Err(SasError::Permission));
        // Extended or tampered: refused.
        let widened = Sas { expiry: format_expiry(LATER + 86_400_000_000), ..sas.clone() };
        assert!(matches!(verify(&KEY, &widened, "contoso", "c1", NOW, Permission::List), Err(SasError::Refused(_))));
    }

    #[test]
    fn malformed_and_foreign_signatures_are_refused() {
        assert_eq!(parsed("comp=list&restype=container"), Ok(None));
        assert!(matches!(parsed("sv=1&se=2&sr=c&sp=r"), Err(SasError::Malformed(_))), "no sig");
        assert!(matches!(parsed("sv=1&se=2&sr=c&sp=r&sig=a&sig=b"), Err(SasError::Malformed(_))));
        assert!(matches!(parsed("sv=1&se=2&sr=c&sp=r&sig=a&skoid=x"), Err(SasError::Refused(_))));
        assert!(matches!(parsed("sig=%FF"), Err(SasError::Malformed(_))));
        assert!(matches!(parsed(&"a=b&".repeat(100)), Err(SasError::Malformed(_))));
        let sas = parsed("sv=1&se=2030-01-01&sr=b&sp=r&sig=AAAA").unwrap().unwrap();
        assert!(matches!(verify(&KEY, &sas, "t", "c", NOW, Permission::Read), Err(SasError::Refused(_))));
        let truncated = sign(&KEY, "t", "c", LATER);
        let truncated = &truncated[..truncated.len() - 6];
        let sas = parsed(truncated).unwrap().unwrap();
        assert!(verify(&KEY, &sas, "t", "c", NOW, Permission::Read).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any query parses or is refused without panicking, and nothing but our own signature verifies.
        #[test]
        fn arbitrary_queries_never_panic_or_verify(query in ".{0,300}", tail in "[a-z]{0,3}=[^&]{0,20}") {
            let q = format!("{query}&{tail}");
            if let Ok(Some(sas)) = parse(&query_pairs(&q).unwrap_or_default()) {
                prop_assert!(verify(&KEY, &sas, "t", "c", NOW, Permission::Read).is_err());
            }
        }

        /// Any change to a valid signature's values is refused.
        #[test]
        fn tampering_is_refused(field in 0usize..5, junk in "[A-Za-z0-9:+/=-]{1,12}") {
            let q = sign(&KEY, "t", "c", LATER);
            let sas = parse(&query_pairs(&q).unwrap()).unwrap().unwrap();
            let mut t = sas.clone();
            let slot = [&mut t.version, &mut t.expiry, &mut t.resource, &mut t.permissions, &mut t.signature];
            slot.into_iter().nth(field).unwrap().push_str(&junk);
            prop_assert!(verify(&KEY, &t, "t", "c", NOW, Permission::Read).is_err());
        }
    }
}
