//! Credentials at rest: sealing lives in the store (`rosterflow_store::secrets`), where the server and the
//! engine both reach it; this re-export keeps the server's paths.

pub use rosterflow_store::secrets::{KeyFileError, OpenError, Sealer, KEY_FILE};
