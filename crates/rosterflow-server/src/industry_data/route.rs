//! URL → what it addresses. Graph's path rules, in one place: segments match case-insensitively, keys are
//! `/{id}` or `('{id}')`, actions and functions may be namespace-qualified and functions may carry `()`,
//! type-cast segments narrow a collection, and each segment is percent-decoded after splitting.

use percent_encoding::percent_decode_str;
use rosterflow_model::bind::split_key;
use rosterflow_model::schema::{schema, TypeDef, NS};
use rosterflow_model::sets::{self, EntitySet};
use rosterflow_model::DomainError;

/// What a request path addresses.
#[derive(Debug, Clone)]
pub enum Target {
    /// A collection, optionally a contained one (`parent` = the containing item's id) or narrowed by a cast.
    Collection { set: &'static EntitySet, parent: Option<String>, cast: Option<&'static TypeDef> },
    /// `.../$count`.
    Count { set: &'static EntitySet, parent: Option<String>, cast: Option<&'static TypeDef> },
    /// An item; `cast` when a type segment follows its key (the item must be of that type).
    Item { set: &'static EntitySet, parent: Option<String>, id: String, cast: Option<&'static TypeDef> },
    /// A single-valued navigation property addressed as a path (`inboundFlows/{id}/year`), or an operation of the
    /// entity it leads to (`inboundFlows/{id}/dataConnector/validate`).
    Navigation {
        set: &'static EntitySet,
        id: String,
        nav: &'static str,
        target: &'static EntitySet,
        operation: Option<(&'static str, bool)>,
    },
    /// A bound action or function; `id` is `None` when bound to the collection; `cast` is the type the path
    /// bound it to (`.../{id}/microsoft.graph.industryData.azureDataLakeConnector/getUploadSession`).
    Operation {
        set: &'static EntitySet,
        parent: Option<String>,
        id: Option<String>,
        cast: Option<&'static TypeDef>,
        name: &'static str,
        function: bool,
    },
}

impl Target {
    /// The route template, for logs: the path with every id replaced by `{id}`.
    pub fn template(&self) -> String {
        fn collection(set: &EntitySet) -> String {
            match set.parent {
                Some(parent) => format!("{}/{parent}/{{id}}/{}", super::ROOT, set.name),
                None => format!("{}/{}", super::ROOT, set.name),
            }
        }
        let cast_suffix = |cast: &Option<&TypeDef>| cast.map(|c| format!("/{}", c.name)).unwrap_or_default();
        match self {
            Target::Collection { set, cast, .. } => collection(set) + &cast_suffix(cast),
            Target::Count { set, cast, .. } => collection(set) + &cast_suffix(cast) + "/$count",
            Target::Item { set, cast, .. } => collection(set) + "/{id}" + &cast_suffix(cast),
            Target::Navigation { set, nav, operation, .. } => {
                let op = operation.map(|(name, _)| format!("/{name}")).unwrap_or_default();
                format!("{}/{{id}}/{nav}{op}", collection(set))
            }
            Target::Operation { set, id, cast, name, .. } => {
                let item = if id.is_some() { "/{id}" } else { "" };
                format!("{}{item}{}/{name}", collection(set), cast_suffix(cast))
            }
        }
    }

    /// The set whose permissions govern the request.
    pub fn set(&self) -> &'static EntitySet {
        match self {
            Target::Collection { set, .. }
            | Target::Count { set, .. }
            | Target::Item { set, .. }
            | Target::Operation { set, .. } => set,
            Target::Navigation { target, .. } => target,
        }
    }
}

fn not_found(segment: &str) -> DomainError {
    DomainError::new(rosterflow_model::ErrorKind::NotFound, format!("Resource not found for the segment '{segment}'."))
}

/// Resolve the path below `/beta`.
pub fn resolve(path: &str) -> Result<Target, DomainError> {
    // Borrowed unless a segment has escapes to decode.
    let segments: Vec<std::borrow::Cow<str>> =
        path.split('/').filter(|s| !s.is_empty()).map(|s| percent_decode_str(s).decode_utf8_lossy()).collect();
    let mut it = segments.iter().map(|s| &**s);
    for expected in ["external", "industryData"] {
        match it.next() {
            Some(s) if s.eq_ignore_ascii_case(expected) => {}
            Some(s) => return Err(not_found(s)),
            None => return Err(not_found(path)),
        }
    }
    let first = it.next().ok_or_else(|| not_found("industryData"))?;
    let (name, key) = split_key(first).map_or((first, None), |(n, k)| (n, Some(k)));
    let set = sets::by_name(name).filter(|s| s.parent.is_none()).ok_or_else(|| not_found(name))?;
    let mut state = match key {
        Some(id) => Target::Item { set, parent: None, id, cast: None },
        None => Target::Collection { set, parent: None, cast: None },
    };
    for seg in it {
        state = step(state, seg)?;
    }
    Ok(state)
}

fn step(state: Target, seg: &str) -> Result<Target, DomainError> {
    match state {
        Target::Collection { set, parent, cast } => {
            if seg == "$count" {
                return Ok(Target::Count { set, parent, cast });
            }
            if let Some(ty) = cast_type(set, seg) {
                return Ok(Target::Collection { set, parent, cast: Some(ty) });
            }
            if let Some((name, function)) = operation(set.collection_operations, seg) {
                return Ok(Target::Operation { set, parent, id: None, cast, name, function });
            }
            Ok(Target::Item { set, parent, id: seg.to_string(), cast })
        }
        Target::Item { set, parent, id, cast } => {
            let (name, key) = split_key(seg).map_or((seg, None), |(n, k)| (n, Some(k)));
            if let Some(child) = sets::child(set, name) {
                return Ok(match key {
                    Some(child_id) => Target::Item { set: child, parent: Some(id), id: child_id, cast: None },
                    None => Target::Collection { set: child, parent: Some(id), cast: None },
                });
            }
            if let Some((nav, target)) = sets::navigation_alias(set, seg).filter(|_| parent.is_none()) {
                return Ok(Target::Navigation { set, id, nav, target, operation: None });
            }
            if let Some((name, function)) = operation(set.operations, seg) {
                return Ok(Target::Operation { set, parent, id: Some(id), cast, name, function });
            }
            match cast_type(set, seg) {
                Some(ty) if cast.is_none() => Ok(Target::Item { set, parent, id, cast: Some(ty) }),
                _ => Err(not_found(seg)),
            }
        }
        Target::Navigation { set, id, nav, target, operation: None } => match operation(target.operations, seg) {
            Some(op) => Ok(Target::Navigation { set, id, nav, target, operation: Some(op) }),
            None => Err(not_found(seg)),
        },
        Target::Navigation { .. } => Err(not_found(seg)),
        Target::Count { .. } | Target::Operation { .. } => Err(not_found(seg)),
    }
}

/// `microsoft.graph.industryData.userProvisioningFlow` → that type, when it belongs to the set.
fn cast_type(set: &EntitySet, seg: &str) -> Option<&'static TypeDef> {
    if !seg.contains('.') {
        return None;
    }
    let s = schema();
    s.ty(seg).filter(|t| s.derives_from(&t.name, &set.item_type_name()))
}

/// `reset`, `microsoft.graph.industryData.reset`, `getStatistics()` → (canonical name, is_function).
fn operation(ops: &'static [(&'static str, bool)], seg: &str) -> Option<(&'static str, bool)> {
    let bare = seg.split_once('(').map_or(seg, |(n, _)| n);
    let bare = match (bare.get(..NS.len()), bare.get(NS.len()..)) {
        (Some(ns), Some(rest)) if ns.eq_ignore_ascii_case(NS) && rest.starts_with('.') => &rest[1..],
        _ => bare,
    };
    ops.iter().find(|(name, _)| name.eq_ignore_ascii_case(bare)).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(path: &str) -> (String, Option<String>, String) {
        match resolve(path).unwrap() {
            Target::Item { set, parent, id, .. } => (set.name.to_string(), parent, id),
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn paths_match_case_insensitively_with_either_key_syntax() {
        let expect = ("provisioningFlows".to_string(), Some("s1".to_string()), "f1".to_string());
        assert_eq!(item("/external/industryData/OutboundProvisioningFlowSets/s1/provisioningFlows/f1"), expect);
        assert_eq!(item("/EXTERNAL/industrydata/outboundProvisioningFlowSets('s1')/ProvisioningFlows('f1')"), expect);
        assert_eq!(item("/external/industryData/outboundProvisioningFlowSets/s1/provisioningFlows/f%31"), expect);
        for op in ["reset", "microsoft.graph.industryData.reset", "Microsoft.Graph.IndustryData.Reset"] {
            let path = format!("/external/industryData/outboundProvisioningFlowSets/s/provisioningFlows/f/{op}");
            assert!(matches!(resolve(&path).unwrap(), Target::Operation { name: "reset", .. }), "{op}");
        }
        assert!(matches!(
            resolve("/external/industryData/runs/microsoft.graph.industryData.getStatistics()").unwrap(),
            Target::Operation { id: None, function: true, .. }
        ));
        assert!(matches!(
            resolve("/external/industryData/inboundFlows/x/year").unwrap(),
            Target::Navigation { nav: "year", .. }
        ));
        assert!(resolve("/external/industryData/nope").is_err());
        assert_eq!(
            resolve("/external/industryData/outboundProvisioningFlowSets('s')/provisioningFlows/f/reset")
                .unwrap()
                .template(),
            "/beta/external/industryData/outboundProvisioningFlowSets/{id}/provisioningFlows/{id}/reset"
        );
        assert!(resolve("/external/industryData/outboundProvisioningFlowSets/s/bogus").is_err());
    }
}

/// Property tests of the path resolver over arbitrary paths; run longer with
/// `PROPTEST_CASES=10000 cargo test -p rosterflow-server --lib properties`.
#[cfg(test)]
pub(crate) mod properties {
    use proptest::prelude::*;
    use proptest::test_runner::Config;
    use rosterflow_model::sets::SETS;

    use super::*;

    /// `cases` unless `PROPTEST_CASES` says otherwise; no failure files (each bug found is kept as a plain
    /// unit test). Shared by the server's property tests.
    pub(crate) fn config(cases: u32) -> Config {
        let mut c = Config { failure_persistence: None, ..Config::default() };
        if std::env::var_os("PROPTEST_CASES").is_none() {
            c.cases = cases;
        }
        c
    }

    /// Every id in a generated path starts with this, which no set, type or operation name contains, so a
    /// template that leaked an id would contain it.
    const ID_MARK: &str = "zq";

    fn random_case(s: String) -> impl Strategy<Value = String> {
        prop::collection::vec(any::<bool>(), s.chars().count()).prop_map(move |upper| {
            s.chars().zip(upper).map(|(c, u)| if u { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() }).collect()
        })
    }

    fn names() -> Vec<String> {
        let s = schema();
        let mut out: Vec<String> = SETS.iter().map(|s| s.name.to_string()).collect();
        for set in SETS {
            for (op, _) in set.operations.iter().chain(set.collection_operations) {
                out.extend([op.to_string(), format!("{NS}.{op}"), format!("{op}()")]);
            }
            out.extend(s.concrete_types_of(&set.item_type_name()).iter().map(|t| t.name.clone()));
        }
        out.extend(["year", "dataConnector", "sourceSystem", "external", "industryData", "$count"].map(String::from));
        out
    }

    fn id() -> impl Strategy<Value = String> {
        prop_oneof!["[a-zA-Z0-9_-]{0,6}", "[a-zA-Z0-9'%()/$.]{0,6}", any::<String>()]
            .prop_map(|s| format!("{ID_MARK}{}", s.replace('/', "")))
    }

    fn segment() -> impl Strategy<Value = String> {
        prop_oneof![
            6 => proptest::sample::select(names()).prop_flat_map(random_case),
            3 => id(),
            2 => (proptest::sample::select(names()), id(), any::<bool>()).prop_map(|(n, id, quoted)| {
                if quoted { format!("{n}('{}')", id.replace('\'', "''")) } else { format!("{n}({id})") }
            }),
            1 => Just(String::new()),
            1 => "[%0-9A-Fa-f()'$.]{0,8}",
            1 => any::<String>().prop_map(|s| s.replace('/', "")),
        ]
    }

    /// Mostly `/external/industryData/{set}...` (in any case, the set keyed or not), so that many paths
    /// resolve; sometimes anything.
    fn path() -> impl Strategy<Value = String> {
        let sets: Vec<String> = SETS.iter().map(|s| s.name.to_string()).collect();
        let first = prop_oneof![
            3 => proptest::sample::select(sets.clone()).prop_flat_map(random_case),
            1 => (proptest::sample::select(sets), id()).prop_map(|(s, id)| format!("{s}('{}')", id.replace('\'', "''"))),
            1 => segment(),
        ];
        let root = prop_oneof![
            6 => random_case("/external/industryData/".to_string()),
            1 => Just("/".to_string()),
            1 => Just("//external//industryData//".to_string()),
        ];
        (root, first, prop::collection::vec(segment(), 0..4))
            .prop_map(|(root, first, rest)| format!("{root}{first}/{}", rest.join("/")))
    }

    proptest! {
        #![proptest_config(config(512))]

        /// Any path resolves to a target or is a 404; a target's template never panics and holds no id.
        #[test]
        fn any_path_resolves_or_is_not_found(path in path()) {
            match resolve(&path) {
                Ok(target) => {
                    let template = target.template();
                    prop_assert!(template.starts_with(super::super::ROOT), "{}", template);
                    prop_assert!(!template.to_ascii_lowercase().contains(ID_MARK), "{} from {}", template, path);
                    let _ = target.set();
                }
                Err(e) => prop_assert_eq!(e.kind, rosterflow_model::ErrorKind::NotFound, "{}", e),
            }
        }
    }
}
