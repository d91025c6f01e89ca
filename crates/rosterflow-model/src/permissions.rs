//! Least privilege, as the docs' permission pages state it (`shared/reference/graph-docs/permissions/`,
//! summarised in `industrydata-model.md` §2). This table is the only place that maps an operation to the
//! permissions that grant it; a token passes when it holds any one of them, delegated (`scp`) or
//! application (`roles`) alike.

/// What an operation does to a set, for authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// GET of a collection, an item, `$count` or a function.
    Read,
    /// POST, PATCH, DELETE and actions that change configuration.
    Write,
    /// `getUploadSession` and `validate` on data connectors.
    Upload,
    /// `runs/start`.
    Start,
}

const P: &str = "IndustryData-";

/// The access a bound operation needs.
pub fn operation_access(name: &str) -> Access {
    match name {
        "validate" | "getUploadSession" => Access::Upload,
        "start" => Access::Start,
        "getStatistics" => Access::Read,
        _ => Access::Write,
    }
}

/// The permissions any one of which grants `access` on the entity set named `set`.
pub fn granting(set: &str, access: Access) -> &'static [&'static str] {
    use Access::*;
    match (set, access) {
        ("outboundProvisioningFlowSets" | "provisioningFlows", Read) => {
            &["IndustryData-OutboundFlow.Read.All", "IndustryData-OutboundFlow.ReadWrite.All"]
        }
        ("outboundProvisioningFlowSets" | "provisioningFlows", Write) => &["IndustryData-OutboundFlow.ReadWrite.All"],
        ("dataConnectors", Read) => {
            &["IndustryData-DataConnector.Read.All", "IndustryData-DataConnector.ReadWrite.All"]
        }
        ("dataConnectors", Write) => &["IndustryData-DataConnector.ReadWrite.All"],
        ("dataConnectors", Upload) => {
            &["IndustryData-DataConnector.Upload", "IndustryData-DataConnector.ReadWrite.All"]
        }
        ("inboundFlows", Read) => &["IndustryData-InboundFlow.Read.All", "IndustryData-InboundFlow.ReadWrite.All"],
        ("inboundFlows", Write) => &["IndustryData-InboundFlow.ReadWrite.All"],
        ("sourceSystems", Read) => &["IndustryData-SourceSystem.Read.All", "IndustryData-SourceSystem.ReadWrite.All"],
        ("sourceSystems", Write) => &["IndustryData-SourceSystem.ReadWrite.All"],
        ("years", Read) => &["IndustryData-TimePeriod.Read.All", "IndustryData-TimePeriod.ReadWrite.All"],
        ("years", Write) => &["IndustryData-TimePeriod.ReadWrite.All"],
        // The list page names ReadBasic.All as least privileged; the get page names ReferenceDefinition.Read.All.
        // Both grant reads of the whole set here, so a list's items can always be fetched one by one.
        ("referenceDefinitions" | "roleGroups", Read) => &[
            "IndustryData.ReadBasic.All",
            "IndustryData-ReferenceDefinition.Read.All",
            "IndustryData-ReferenceDefinition.ReadWrite.All",
        ],
        ("referenceDefinitions", Write) => &["IndustryData-ReferenceDefinition.ReadWrite.All"],
        ("operations", Read) => &["IndustryData.ReadBasic.All"],
        ("runs" | "activities", Read) => &["IndustryData-Run.Read.All", "IndustryData-Run.Start"],
        ("runs", Start) => &["IndustryData-Run.Start"],
        _ => &[],
    }
}

/// Every permission name this server knows, for the dev-mode token command's help and checks.
pub fn all() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = crate::sets::SETS
        .iter()
        .flat_map(|s| [Access::Read, Access::Write, Access::Upload, Access::Start].map(|a| granting(s.name, a)))
        .flatten()
        .copied()
        .collect();
    out.sort_unstable();
    out.dedup();
    debug_assert!(out.iter().all(|p| p.starts_with(P) || p.starts_with("IndustryData.")));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readwrite_grants_read_but_read_does_not_grant_write() {
        let read = granting("provisioningFlows", Access::Read);
        let write = granting("provisioningFlows", Access::Write);
        assert!(read.contains(&"IndustryData-OutboundFlow.ReadWrite.All"));
        assert!(!write.contains(&"IndustryData-OutboundFlow.Read.All"));
        assert!(granting("roleGroups", Access::Write).is_empty());
        assert!(all().contains(&"IndustryData-Run.Start"));
    }
}
