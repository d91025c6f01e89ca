//! Items on the wire, rendered once per document: a GET or a page of unchanged items copies their JSON text
//! instead of rebuilding each through the schema (`render::entity`) and serialising it again (most of a page's
//! CPU). Keyed by the document's identity: the store hands out the same `Arc` for the same stored text
//! (`rosterflow_store`'s parsed memory), and a document changed on its way here (`readinessStatus`, an
//! operation settled) is a new `Arc` and a new entry. An entry holds its document, so no other document can
//! take its address while the entry lives.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rosterflow_model::render;
use rosterflow_model::schema::TypeDef;
use serde_json::{Map, Value};

/// When there are more entries, the cache starts again empty.
const MAX_ENTRIES: usize = 20_000;

type Key = (usize, usize, bool);

struct Entry {
    _doc: Arc<Map<String, Value>>,
    text: Arc<str>,
}

fn cache() -> &'static Mutex<HashMap<Key, Entry>> {
    static CACHE: OnceLock<Mutex<HashMap<Key, Entry>>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// `render::entity(ty, doc, typed)` as JSON text.
pub(super) fn entity(ty: &'static TypeDef, doc: &Arc<Map<String, Value>>, typed: bool) -> Arc<str> {
    let rendered = || -> Arc<str> { Value::Object(render::entity(ty, doc, typed)).to_string().into() };
    if Arc::strong_count(doc) == 1 {
        // Nobody else holds this document (a copy changed on its way here, e.g. its `readinessStatus`): no later
        // request can bring the same `Arc` back, so an entry would only take room until the cache is cleared.
        return rendered();
    }
    let key = (Arc::as_ptr(doc) as usize, ty as *const TypeDef as usize, typed);
    if let Some(e) = cache().lock().expect("cache lock").get(&key) {
        return e.text.clone();
    }
    let text = rendered();
    let mut c = cache().lock().expect("cache lock");
    if c.len() >= MAX_ENTRIES {
        c.clear();
    }
    c.entry(key).or_insert(Entry { _doc: doc.clone(), text }).text.clone()
}
