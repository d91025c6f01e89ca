//! Parsed documents shared by their stored text: a page or a GET that reads a body the process has parsed
//! before gets the same `Arc` back instead of parsing it again. Keyed by the whole text (compared, not only
//! hashed), so a hit is the same document whatever row, version or tenant it came from; documents are
//! immutable once shared (`Arc::make_mut` copies), so sharing them is safe. The same `Arc` for the same text is
//! also what lets a reader cache what it derives from a document by the document's identity (the
//! industryData wire cache).

use std::sync::{Arc, Mutex, OnceLock};

use rustc_hash::FxHashMap;
use serde_json::{Map, Value};

/// Bounds: about a page's worth of hot documents per tenant for many tenants, in a few MiB; when either is
/// exceeded the memory starts again empty (cheaper than tracking use, and rare).
const MAX_DOCS: usize = 20_000;
const MAX_BYTES: usize = 32 << 20;

#[derive(Default)]
struct Memory {
    docs: FxHashMap<Arc<str>, Arc<Map<String, Value>>>,
    bytes: usize,
}

fn memory() -> &'static Mutex<Memory> {
    static MEMORY: OnceLock<Mutex<Memory>> = OnceLock::new();
    MEMORY.get_or_init(Mutex::default)
}

/// The document `body` holds: the one parsed before when there is one.
pub(crate) fn document(body: &str) -> serde_json::Result<Arc<Map<String, Value>>> {
    if let Some(doc) = memory().lock().expect("memory lock").docs.get(body) {
        return Ok(doc.clone());
    }
    let doc: Arc<Map<String, Value>> = Arc::new(serde_json::from_str(body)?);
    let mut m = memory().lock().expect("memory lock");
    if m.docs.len() >= MAX_DOCS || m.bytes + body.len() > MAX_BYTES {
        *m = Memory::default();
    }
    m.bytes += body.len();
    Ok(m.docs.entry(body.into()).or_insert(doc).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_text_is_the_same_document() {
        let a = document(r#"{"id":"parsed-a","n":1}"#).unwrap();
        let b = document(r#"{"id":"parsed-a","n":1}"#).unwrap();
        let c = document(r#"{"id":"parsed-a","n":2}"#).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(c["n"], 2);
        assert!(document("{").is_err());
    }
}
