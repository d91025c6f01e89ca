//! The `validate` action's work, off the request path: validate an upload's files, and load what passed as the
//! inbound flow's next snapshot. The server's handler (`POST dataConnectors/{id}/validate`, 202 + `Location`
//! to a `fileValidateOperation`) creates the operation as `notStarted`, spawns [`validate_and_load`], marks
//! it `running` when the first [`Progress`] call arrives (or at once), and stores
//! [`render::operation_json`](crate::render::operation_json) with `succeeded` when it returns (`failed` on
//! `Err`: the source or the store broke, not the files).
//!
//! The files come through a [`FileSource`]; for an upload container, an adapter over the store's files
//! interface (its async byte streams read here through `tokio_util::io::SyncIoBridge`, on the blocking
//! thread this runs on).

use std::sync::Arc;

use rosterflow_store::roster::{RosterStore, SnapshotInfo, SnapshotMeta};
use rosterflow_store::{StoreError, TenantId};

use crate::source::FileSource;
use crate::validate::{validate, Options, Outcome, Progress};

/// What went wrong that is no finding.
#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    #[error("the files could not be listed: {0}")]
    Source(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("validation stopped: {0}")]
    Aborted(String),
}

/// The outcome of a validate action.
#[derive(Debug)]
pub struct Validated {
    /// The findings (`outcome.roster` is taken: the records are in the store).
    pub outcome: Outcome,
    /// The snapshots loaded, per flow given, unless the upload was refused.
    pub snapshots: Vec<(String, SnapshotInfo)>,
}

impl Validated {
    /// The snapshot loaded into `flow`, if any.
    pub fn snapshot(&self, flow: &str) -> Option<&SnapshotInfo> {
        self.snapshots.iter().find(|(f, _)| f == flow).map(|(_, s)| s)
    }
}

/// Validate `source` and, unless something refused the upload, load its records as the next snapshot of each
/// of `flows` (none: validate only). The flows' previous snapshots name the files they had (a file left out
/// now is warned: `PreviouslyUploadedFileNotFound`). CPU work runs on tokio's blocking pool; progress goes to
/// `progress` from there.
pub async fn validate_and_load(
    store: Arc<dyn RosterStore>,
    tenant: TenantId,
    flows: Vec<String>,
    mut source: Box<dyn FileSource + Send>,
    mut opts: Options,
    progress: Arc<dyn Progress + Send + Sync>,
) -> Result<Validated, InboundError> {
    for flow in &flows {
        if let Some(previous) = store.latest_snapshot(&tenant, flow).await? {
            for f in previous.files {
                if !opts.previous_files.contains(&f) {
                    opts.previous_files.push(f);
                }
            }
        }
    }
    opts.keep_records = !flows.is_empty();
    let (mut outcome, rows) = tokio::task::spawn_blocking(move || {
        let outcome = validate(source.as_mut(), &opts, progress.as_ref())?;
        let rows = outcome.roster.as_ref().filter(|_| opts.keep_records).map(crate::snapshot::rows);
        Ok::<_, std::io::Error>((outcome, rows))
    })
    .await
    .map_err(|e| InboundError::Aborted(e.to_string()))??;
    outcome.roster = None;
    let mut snapshots = Vec::new();
    if let Some(rows) = rows {
        let meta =
            SnapshotMeta { format: outcome.format.code().to_string(), files: outcome.report.validated_files.clone() };
        let last = flows.len().saturating_sub(1);
        let mut rows = Some(rows);
        for (i, flow) in flows.into_iter().enumerate() {
            // Each flow keeps a snapshot of its own (its own first-seen and removals); the last one takes the rows.
            let batch = if i == last { rows.take().unwrap_or_default() } else { rows.clone().unwrap_or_default() };
            let info = store.load_snapshot(&tenant, &flow, meta.clone(), batch).await?;
            snapshots.push((flow, info));
        }
    }
    Ok(Validated { outcome, snapshots })
}
