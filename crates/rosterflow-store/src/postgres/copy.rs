//! Rows streamed into `COPY ... FROM STDIN` in its text format: the bulk paths (a snapshot's records, a first
//! run's objects and relations) encode rows into a buffer and send it about a MiB at a time, so a large copy
//! is sent while it is being encoded and never held whole.

use sqlx::postgres::PgCopyIn;
use sqlx::PgConnection;

use crate::{backend, Result};

/// How much encoded text is sent at once.
const CHUNK: usize = 1 << 20;

/// A copy in progress; [`end`] finishes it.
pub(crate) type Copy<'c> = PgCopyIn<&'c mut PgConnection>;

/// A buffer for a copy's rows.
pub(crate) fn buffer() -> String {
    String::with_capacity(CHUNK)
}

/// A value as `COPY`'s text format wants it: its few special characters escaped.
pub(crate) fn text(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// Sends the rows `buf` holds once they reach a chunk.
pub(crate) async fn send_full(copy: &mut Copy<'_>, buf: &mut String) -> Result<()> {
    if buf.len() >= CHUNK {
        copy.send(buf.as_bytes()).await.map_err(backend)?;
        buf.clear();
    }
    Ok(())
}

/// Sends the rest of the rows and ends the copy.
pub(crate) async fn end(mut copy: Copy<'_>, buf: String) -> Result<()> {
    copy.send(buf.as_bytes()).await.map_err(backend)?;
    copy.finish().await.map_err(backend)?;
    Ok(())
}
