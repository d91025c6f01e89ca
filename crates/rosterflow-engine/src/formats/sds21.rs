//! SDS v2.1 CSV (`schoolDataSyncV2Rev1`): one file per kind, headers named as the fields (sds-semantics §2.1).

use super::{FileSpec, Need};
use crate::schema::Kind;

pub(super) fn files() -> Vec<FileSpec> {
    Kind::ALL
        .iter()
        .map(|&kind| {
            let need = match kind {
                Kind::Org | Kind::User | Kind::Role => Need::Required,
                Kind::Class | Kind::Enrollment => Need::ClassManagement,
                _ => Need::Optional,
            };
            let mut spec = FileSpec::canonical(kind, need);
            if matches!(kind, Kind::Role) {
                // Microsoft's own sample writes the singular (sds-semantics §2.1).
                spec.aliases.push(("sessionSourcedId", "sessionSourcedIds"));
            }
            spec
        })
        .collect()
}
