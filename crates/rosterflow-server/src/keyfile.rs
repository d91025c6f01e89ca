//! Key files the server creates for itself (the dev signing key, the secrets key): one helper, kept with the
//! sealing code in the store.

pub(crate) use rosterflow_store::secrets::write_private;
