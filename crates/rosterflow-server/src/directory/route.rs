//! Directory URLs → what they address, from one table of collections and their navigation properties
//! (`/users`, `/groups/{id}/members/$ref`, `/education/classes/{id}/teachers`, ...). Segments match
//! case-insensitively; keys are `/{key}` or `('{key}')` (a UPN starting with `$` must use the latter); each
//! segment is percent-decoded after splitting.

use percent_encoding::percent_decode_str;
use rosterflow_model::bind::split_key;
use rosterflow_model::directory::{
    ObjectKind, Relation, View, ADMINISTRATIVE_UNIT, DIRECTORY_OBJECT, EDUCATION_CLASS, EDUCATION_SCHOOL,
    EDUCATION_USER, GROUP, TEAM, USER,
};
use rosterflow_model::{DomainError, ErrorKind};

/// A top-level collection.
#[derive(Debug)]
pub struct Collection {
    /// Below `/beta` (`education/classes`).
    pub path: &'static str,
    pub view: &'static View,
    /// The permission table's name for reads and writes of the collection and its items.
    pub perm: &'static str,
    /// The permission name of a list of the collection itself, when it differs (`education/users`).
    pub list_perm: Option<&'static str>,
    /// POST, PATCH and DELETE are served.
    pub writable: bool,
    pub navs: &'static [Nav],
}

/// Which neighbours a navigation reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The item's members / owners.
    Of,
    /// The objects having the item as a member / owner.
    Having,
}

/// A collection-valued navigation property of an item.
#[derive(Debug)]
pub struct Nav {
    pub name: &'static str,
    pub relation: Relation,
    pub direction: Direction,
    /// How the neighbours are shown and filtered; `None`: a `directoryObject` list of mixed kinds, each shown
    /// through its own kind's view, with `@odata.type`.
    pub view: Option<&'static View>,
    /// Only neighbours of this kind (and with the education facet, when `education`).
    pub kind: Option<ObjectKind>,
    pub education: bool,
    pub perm: &'static str,
    /// `$ref` POST and DELETE are served (with the collection's write permission or `write_perm`).
    pub refs: bool,
    pub write_perm: &'static str,
    /// The kinds a `$ref` may add.
    pub accepts: &'static [ObjectKind],
}

const fn nav(name: &'static str, relation: Relation, perm: &'static str) -> Nav {
    Nav {
        name,
        relation,
        direction: Direction::Of,
        view: None,
        kind: None,
        education: false,
        perm,
        refs: false,
        write_perm: perm,
        accepts: &[],
    }
}

const USERS_AND_GROUPS: &[ObjectKind] = &[ObjectKind::User, ObjectKind::Group];
const USERS: &[ObjectKind] = &[ObjectKind::User];
const GROUPS: &[ObjectKind] = &[ObjectKind::Group];

const EDU_USERS: Nav = Nav {
    view: Some(&EDUCATION_USER),
    kind: Some(ObjectKind::User),
    refs: true,
    write_perm: "education/classes",
    accepts: USERS,
    ..nav("members", Relation::Members, "education/classes/members")
};

pub static COLLECTIONS: &[Collection] = &[
    Collection { path: "users", view: &USER, perm: "users", list_perm: None, writable: true, navs: &[] },
    Collection {
        path: "groups",
        view: &GROUP,
        perm: "groups",
        list_perm: None,
        writable: true,
        navs: &[
            Nav { refs: true, accepts: USERS_AND_GROUPS, ..nav("members", Relation::Members, "groups/members") },
            Nav { refs: true, accepts: USERS, ..nav("owners", Relation::Owners, "groups/members") },
        ],
    },
    Collection {
        path: "administrativeUnits",
        view: &ADMINISTRATIVE_UNIT,
        perm: "administrativeUnits",
        list_perm: None,
        writable: true,
        navs: &[Nav {
            refs: true,
            accepts: USERS_AND_GROUPS,
            write_perm: "administrativeUnits",
            ..nav("members", Relation::Members, "administrativeUnits")
        }],
    },
    Collection {
        path: "education/classes",
        view: &EDUCATION_CLASS,
        perm: "education/classes",
        list_perm: None,
        writable: true,
        navs: &[
            EDU_USERS,
            Nav { name: "teachers", relation: Relation::Owners, ..EDU_USERS },
            Nav {
                direction: Direction::Having,
                view: Some(&EDUCATION_SCHOOL),
                kind: Some(ObjectKind::AdministrativeUnit),
                education: true,
                ..nav("schools", Relation::Members, "education/classes")
            },
        ],
    },
    Collection {
        path: "education/schools",
        view: &EDUCATION_SCHOOL,
        perm: "education/schools",
        list_perm: None,
        writable: true,
        navs: &[
            Nav {
                view: Some(&EDUCATION_CLASS),
                kind: Some(ObjectKind::Group),
                education: true,
                refs: true,
                write_perm: "education/schools",
                accepts: GROUPS,
                ..nav("classes", Relation::Members, "education/schools")
            },
            Nav {
                view: Some(&EDUCATION_USER),
                kind: Some(ObjectKind::User),
                refs: true,
                write_perm: "education/schools",
                accepts: USERS,
                ..nav("users", Relation::Members, "education/schools/users")
            },
        ],
    },
    Collection {
        path: "education/users",
        view: &EDUCATION_USER,
        perm: "education/user",
        list_perm: Some("education/users"),
        writable: true,
        navs: &[
            Nav {
                direction: Direction::Having,
                view: Some(&EDUCATION_CLASS),
                kind: Some(ObjectKind::Group),
                education: true,
                ..nav("classes", Relation::Members, "education/user")
            },
            Nav {
                direction: Direction::Having,
                view: Some(&EDUCATION_SCHOOL),
                kind: Some(ObjectKind::AdministrativeUnit),
                education: true,
                ..nav("schools", Relation::Members, "education/user")
            },
        ],
    },
    Collection { path: "teams", view: &TEAM, perm: "teams", list_perm: None, writable: false, navs: &[] },
    // Items only (directoryobject-get.md): any user, group or administrative unit by id, through its own type.
    Collection {
        path: "directoryObjects",
        view: &DIRECTORY_OBJECT,
        perm: "directoryObjects",
        list_perm: None,
        writable: false,
        navs: &[],
    },
];

/// A single-valued navigation that shows the item itself through another view (same id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alias {
    /// `/education/classes/{id}/group`.
    ClassGroup,
    /// `/groups/{id}/team`.
    GroupTeam,
}

/// What a path addresses.
#[derive(Debug, Clone)]
pub enum Target {
    Collection {
        coll: &'static Collection,
    },
    Count {
        coll: &'static Collection,
    },
    Item {
        coll: &'static Collection,
        key: String,
    },
    Related {
        coll: &'static Collection,
        id: String,
        nav: &'static Nav,
        cast: Option<ObjectKind>,
        count: bool,
    },
    /// `.../{nav}/$ref` (POST) or `.../{nav}/{member}/$ref` (DELETE).
    Ref {
        coll: &'static Collection,
        id: String,
        nav: &'static Nav,
        member: Option<String>,
    },
    Alias {
        coll: &'static Collection,
        id: String,
        alias: Alias,
    },
}

impl Target {
    /// The route template for logs.
    pub fn template(&self) -> String {
        match self {
            Target::Collection { coll } => format!("/beta/{}", coll.path),
            Target::Count { coll } => format!("/beta/{}/$count", coll.path),
            Target::Item { coll, .. } => format!("/beta/{}/{{id}}", coll.path),
            Target::Related { coll, nav, cast, count, .. } => {
                let cast = cast.map(|k| format!("/microsoft.graph.{}", k.as_str())).unwrap_or_default();
                let count = if *count { "/$count" } else { "" };
                format!("/beta/{}/{{id}}/{}{cast}{count}", coll.path, nav.name)
            }
            Target::Ref { coll, nav, member, .. } => {
                let member = if member.is_some() { "/{id}" } else { "" };
                format!("/beta/{}/{{id}}/{}{member}/$ref", coll.path, nav.name)
            }
            Target::Alias { coll, alias, .. } => {
                format!("/beta/{}/{{id}}/{}", coll.path, if *alias == Alias::ClassGroup { "group" } else { "team" })
            }
        }
    }
}

fn not_found(segment: &str) -> DomainError {
    DomainError::new(ErrorKind::NotFound, format!("Resource not found for the segment '{segment}'."))
}

/// Resolve a path below `/beta`.
pub fn resolve(path: &str) -> Result<Target, DomainError> {
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let mut it = segments.iter().map(String::as_str).peekable();
    let first = it.next().ok_or_else(|| not_found(path))?;
    let (first, mut key) = split_key(first).map_or((first.to_string(), None), |(n, k)| (n.to_string(), Some(k)));
    let mut name = first;
    if name.eq_ignore_ascii_case("education") {
        let second = it.next().ok_or_else(|| not_found("education"))?;
        let (n, k) = split_key(second).map_or((second.to_string(), None), |(n, k)| (n.to_string(), Some(k)));
        name = format!("education/{n}");
        key = k;
    }
    let coll = COLLECTIONS.iter().find(|c| c.path.eq_ignore_ascii_case(&name)).ok_or_else(|| not_found(&name))?;
    let key = match key {
        Some(k) => k,
        None => match it.next() {
            None => return Ok(Target::Collection { coll }),
            Some("$count") if it.peek().is_none() => return Ok(Target::Count { coll }),
            // `('{key}')` as a segment of its own: `request::canonical_path` splits `users('x')` so.
            Some(k) if k.starts_with('(') => split_key(k).map(|(_, k)| k).ok_or_else(|| not_found(k))?,
            Some(k) => k.to_string(),
        },
    };
    let Some(seg) = it.next() else { return Ok(Target::Item { coll, key }) };
    if coll.path == "education/classes" && seg.eq_ignore_ascii_case("group") && it.peek().is_none() {
        return Ok(Target::Alias { coll, id: key, alias: Alias::ClassGroup });
    }
    if coll.path == "groups" && seg.eq_ignore_ascii_case("team") && it.peek().is_none() {
        return Ok(Target::Alias { coll, id: key, alias: Alias::GroupTeam });
    }
    let nav = coll.navs.iter().find(|n| n.name.eq_ignore_ascii_case(seg)).ok_or_else(|| not_found(seg))?;
    let mut cast = None;
    let mut count = false;
    let mut member = None;
    while let Some(seg) = it.next() {
        let last = it.peek().is_none();
        if seg == "$count" && last && member.is_none() {
            count = true;
        } else if seg == "$ref" && last {
            return Ok(Target::Ref { coll, id: key, nav, member });
        } else if let (None, Some(kind)) = (cast, cast_kind(seg)) {
            cast = Some(kind);
        } else if member.is_none() && cast.is_none() && !count {
            member = Some(seg.to_string());
        } else {
            return Err(not_found(seg));
        }
    }
    if member.is_some() {
        return Err(not_found("$ref"));
    }
    Ok(Target::Related { coll, id: key, nav, cast, count })
}

/// `microsoft.graph.user` → the user kind (cast segments of `directoryObject` lists).
fn cast_kind(seg: &str) -> Option<ObjectKind> {
    let name = seg
        .strip_prefix("microsoft.graph.")
        .or_else(|| seg.get(..16).filter(|p| p.eq_ignore_ascii_case("microsoft.graph.")).map(|_| &seg[16..]))?;
    [ObjectKind::User, ObjectKind::Group, ObjectKind::AdministrativeUnit]
        .into_iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_case_insensitively() {
        assert!(matches!(resolve("/users").unwrap(), Target::Collection { coll } if coll.path == "users"));
        assert!(matches!(resolve("/users/$count").unwrap(), Target::Count { .. }));
        assert!(matches!(resolve("/users('$x@y.com')").unwrap(), Target::Item { key, .. } if key == "$x@y.com"));
        assert!(matches!(resolve("/users/('$x@y.com')").unwrap(), Target::Item { key, .. } if key == "$x@y.com"));
        assert!(matches!(resolve("/users/a%40b.com").unwrap(), Target::Item { key, .. } if key == "a@b.com"));
        assert!(matches!(resolve("/Education/Classes/c1/Members").unwrap(),
            Target::Related { nav, id, .. } if nav.name == "members" && id == "c1"));
        assert!(matches!(
            resolve("/groups/g/members/microsoft.graph.user/$count").unwrap(),
            Target::Related { cast: Some(ObjectKind::User), count: true, .. }
        ));
        assert!(matches!(resolve("/groups/g/owners/$ref").unwrap(), Target::Ref { member: None, .. }));
        assert!(
            matches!(resolve("/groups/g/members/u/$ref").unwrap(), Target::Ref { member: Some(m), .. } if m == "u")
        );
        assert!(matches!(
            resolve("/education/classes/c/group").unwrap(),
            Target::Alias { alias: Alias::ClassGroup, .. }
        ));
        assert_eq!(resolve("/groups/g/members/u/$ref").unwrap().template(), "/beta/groups/{id}/members/{id}/$ref");
        for bad in ["/nope", "/groups/g/nope", "/groups/g/members/u", "/education", "/education/nope", "/users/x/y"] {
            assert!(resolve(bad).is_err(), "{bad}");
        }
    }
}
