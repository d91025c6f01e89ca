//! `GET /beta/$metadata`: the industryData CSDL (`csdl/industryData.csdl.xml`, Microsoft's own) with the
//! directory's types added to its `microsoft.graph` schema, generated from the views' descriptors: one
//! entity type per view, the complex types their properties use, and the entity sets and the `education`
//! singleton that reach them. Enumerated strings are declared `Edm.String`, as the wire carries them.

use std::fmt::Write;
use std::sync::OnceLock;

use super::{Access, Kind, Prop, View, VIEWS};

const CSDL: &str = include_str!("../../csdl/industryData.csdl.xml");

/// The whole document, built once.
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(build)
}

fn build() -> String {
    // Microsoft's excerpt, without the comment that describes where it was cut from.
    let body = match (CSDL.find("<!--"), CSDL.find("-->")) {
        (Some(a), Some(b)) if a < b => format!("{}{}", &CSDL[..a], CSDL[b + 3..].trim_start()),
        _ => CSDL.to_string(),
    };
    let mut types = String::new();
    types.push_str(
        "      <EntityType Name=\"directoryObject\" BaseType=\"graph.entity\" OpenType=\"true\">\n        \
         <Property Name=\"deletedDateTime\" Type=\"Edm.DateTimeOffset\" />\n      </EntityType>\n",
    );
    let mut complex: Vec<(&str, &[Prop])> = Vec::new();
    for view in VIEWS {
        let base = if view.directory_object { "graph.directoryObject" } else { "graph.entity" };
        let _ = writeln!(types, "      <EntityType Name=\"{}\" BaseType=\"{base}\" OpenType=\"true\">", view.name);
        for prop in view.props.iter().filter(|p| p.name != "id") {
            property(&mut types, prop, &mut complex);
        }
        for (nav, target) in navigations(view) {
            let _ = writeln!(types, "        <NavigationProperty Name=\"{nav}\" Type=\"{target}\" />");
        }
        types.push_str("      </EntityType>\n");
    }
    let mut i = 0;
    while i < complex.len() {
        let (name, members) = complex[i];
        let _ = writeln!(types, "      <ComplexType Name=\"{}\">", short(name));
        for m in members {
            property(&mut types, m, &mut complex);
        }
        types.push_str("      </ComplexType>\n");
        i += 1;
    }
    types.push_str(
        "      <EntityType Name=\"educationRoot\">\n        \
         <NavigationProperty Name=\"classes\" Type=\"Collection(graph.educationClass)\" ContainsTarget=\"true\" />\n        \
         <NavigationProperty Name=\"schools\" Type=\"Collection(graph.educationSchool)\" ContainsTarget=\"true\" />\n        \
         <NavigationProperty Name=\"users\" Type=\"Collection(graph.educationUser)\" ContainsTarget=\"true\" />\n      \
         </EntityType>\n",
    );
    let sets = "        <EntitySet Name=\"users\" EntityType=\"graph.user\" />\n        \
                <EntitySet Name=\"groups\" EntityType=\"graph.group\" />\n        \
                <EntitySet Name=\"administrativeUnits\" EntityType=\"graph.administrativeUnit\" />\n        \
                <EntitySet Name=\"directoryObjects\" EntityType=\"graph.directoryObject\" />\n        \
                <EntitySet Name=\"teams\" EntityType=\"graph.team\" />\n        \
                <Singleton Name=\"education\" Type=\"graph.educationRoot\" />\n";
    let container = "      <EntityContainer Name=\"GraphService\">\n";
    let at = body.find(container).expect("the CSDL has the GraphService container");
    let mut out = String::with_capacity(body.len() + types.len() + sets.len());
    out.push_str(&body[..at]);
    out.push_str(&types);
    out.push_str(container);
    out.push_str(sets);
    out.push_str(&body[at + container.len()..]);
    out
}

fn property(out: &mut String, prop: &Prop, complex: &mut Vec<(&'static str, &'static [Prop])>) {
    let ty = match prop.kind {
        Kind::Str | Kind::Guid | Kind::Enum(_) => "Edm.String".to_string(),
        Kind::Bool => "Edm.Boolean".into(),
        Kind::Int => "Edm.Int32".into(),
        Kind::DateTime => "Edm.DateTimeOffset".into(),
        Kind::Date => "Edm.Date".into(),
        Kind::Strings => "Collection(Edm.String)".into(),
        Kind::Object(name, members) | Kind::Objects(name, members) => {
            if !complex.iter().any(|(n, _)| *n == name) {
                complex.push((name, members));
            }
            if prop.kind.is_collection() {
                format!("Collection(graph.{})", short(name))
            } else {
                format!("graph.{}", short(name))
            }
        }
    };
    let nullable = if prop.kind.is_collection() || prop.access == Access::ReadOnly && prop.name == "id" {
        " Nullable=\"false\""
    } else {
        ""
    };
    let _ = writeln!(out, "        <Property Name=\"{}\" Type=\"{ty}\"{nullable} />", prop.name);
}

fn navigations(view: &View) -> &'static [(&'static str, &'static str)] {
    match view.name {
        "group" => &[
            ("members", "Collection(graph.directoryObject)"),
            ("owners", "Collection(graph.directoryObject)"),
            ("team", "graph.team"),
        ],
        "administrativeUnit" => &[("members", "Collection(graph.directoryObject)")],
        "educationClass" => &[
            ("members", "Collection(graph.educationUser)"),
            ("teachers", "Collection(graph.educationUser)"),
            ("schools", "Collection(graph.educationSchool)"),
            ("group", "graph.group"),
        ],
        "educationSchool" => {
            &[("classes", "Collection(graph.educationClass)"), ("users", "Collection(graph.educationUser)")]
        }
        "educationUser" => {
            &[("classes", "Collection(graph.educationClass)"), ("schools", "Collection(graph.educationSchool)")]
        }
        _ => &[],
    }
}

fn short(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_is_well_formed_and_declares_both_areas() {
        let doc = super::document();
        let parsed = roxmltree::Document::parse(doc).expect("well-formed XML");
        let names: Vec<&str> = parsed.descendants().filter_map(|n| n.attribute("Name")).collect();
        for name in [
            "user",
            "educationClass",
            "passwordProfile",
            "educationCourse",
            "users",
            "education",
            "outboundProvisioningFlowSet",
        ] {
            assert!(names.contains(&name), "{name}");
        }
        let complex = parsed.descendants().filter(|n| n.tag_name().name() == "ComplexType");
        let mut seen: Vec<&str> = complex.filter_map(|n| n.attribute("Name")).collect();
        let n = seen.len();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(n, seen.len(), "each complex type once");
    }
}
