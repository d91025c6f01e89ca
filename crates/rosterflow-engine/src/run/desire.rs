//! What each provisioning flow wants the directory to hold, from the rosters and its configuration: the
//! objects it creates or manages (with the properties it manages on them) and the relations it keeps. Pure:
//! no store, no clock (the run's time comes in), no randomness (ids are derived from what objects stand for,
//! so a reset or a retried run reaches the same objects instead of duplicating them).

use rosterflow_model::directory::{ObjectKind, Relation};
use rosterflow_store::directory::{Object, Rendered};
use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::{json, Map, Value};

use super::config::{ClassFlow, FlowKind, FlowSet, RoleGroup, UserFlow};
use super::links::Links;
use super::matching::{Identity, Person};
use super::PublicError;
use crate::roster::{Roster, Val};
use crate::schema::{class, course, enrollment, org, session, user, Kind};

/// One inbound flow's roster, with its people matched.
pub struct Source {
    /// The inbound flow's id.
    pub inbound: String,
    pub roster: Roster,
    pub people: Vec<Person>,
    pub identities: Vec<Identity>,
}

/// What every flow's desire is computed from.
pub struct Input<'a> {
    pub tenant: &'a str,
    /// The run's start (created objects' `createdDateTime`).
    pub now: &'a str,
    pub groups: &'a [RoleGroup],
    pub sources: &'a [Source],
    /// Seals a password for a created user's `passwordProfile`.
    pub seal: &'a (dyn Fn(&str) -> String + Sync),
    /// Render created objects as they are built ([`Creation::Rendered`]): for a run with no state (a first run,
    /// or after a reset), which creates every one of them and would otherwise hold them all as documents. A
    /// plan against a state creates few, and renders only those ([`Creation::render`]).
    pub render: bool,
}

/// An object a flow creates, as built or already rendered as the store writes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Creation {
    Document(Object),
    Rendered(Rendered),
}

impl Creation {
    pub fn render(self) -> Rendered {
        match self {
            Creation::Document(o) => o.render(),
            Creation::Rendered(r) => r,
        }
    }

    /// Its display name (plan samples).
    pub fn display_name(&self) -> Option<Value> {
        match self {
            Creation::Document(o) => o.doc.get("displayName").cloned(),
            Creation::Rendered(r) => r.doc().remove("displayName"),
        }
    }
}

/// An object a flow wants.
#[derive(Debug, Clone, PartialEq)]
pub struct Want {
    /// What it stands for (`user:{sourcedId}`, `class:{inbound}:{sourcedId}`, `school:{sourcedId}`, ...).
    pub key: String,
    pub id: String,
    /// The whole object, when the flow creates it: written only when the flow's state does not have the key.
    /// Rendered as the store writes it as soon as it is built when [`Input::render`] says so: a first run
    /// holds 130k of them until its commit, and as documents (maps) they were most of its peak memory.
    pub create: Option<Creation>,
    /// The properties the flow manages on it (a JSON object, as the state keeps it); `@team` stands for the
    /// team facet.
    pub managed: String,
    /// How a warning names it.
    pub label: String,
}

/// Everything one flow wants.
#[derive(Debug, Default)]
pub struct Desired {
    pub objects: Vec<Want>,
    pub links: Links,
    pub warnings: Vec<PublicError>,
    /// People the flow would provision but can't: unmatched (and not created) or ambiguous.
    pub skipped: u32,
    /// How warnings name the groups whose relations it lists, when it lists no objects (an incremental plan's
    /// desire: [`class_relations`]); a full desire names them by its objects' labels.
    pub labels: FxHashMap<String, String>,
}

/// A GUID derived from the tenant and what the object stands for (xxh3-128, RFC 9562 version 8 layout).
pub fn object_id(tenant: &str, key: &str) -> String {
    let mut bytes = Vec::with_capacity(tenant.len() + key.len() + 1);
    bytes.extend_from_slice(tenant.as_bytes());
    bytes.push(0x1f);
    bytes.extend_from_slice(key.as_bytes());
    let mut h = xxhash_rust::xxh3::xxh3_128(&bytes).to_be_bytes();
    h[6] = (h[6] & 0x0f) | 0x80;
    h[8] = (h[8] & 0x3f) | 0x80;
    // Hex digits pushed one by one: a run derives hundreds of thousands of ids, and formatting each byte as a
    // string of its own made that a measurable share of planning.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(36);
    for (i, b) in h.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 0xf)] as char);
    }
    s
}

/// A `mailNickname` from a prefix and an id: the characters Graph forbids (``@()\[]";:.<>,`` and space) and
/// anything not ASCII become `_`; at most 64 characters.
pub fn nickname(prefix: &str, id: &str) -> String {
    let mut s: String = format!("{prefix}{id}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    '-' | '_'
                        | '!'
                        | '#'
                        | '$'
                        | '%'
                        | '&'
                        | '\''
                        | '*'
                        | '+'
                        | '/'
                        | '='
                        | '?'
                        | '^'
                        | '`'
                        | '{'
                        | '|'
                        | '}'
                        | '~'
                )
            {
                c
            } else {
                '_'
            }
        })
        .collect();
    s.truncate(64);
    s
}

/// Created objects waiting to be rendered ([`Object::render`]: the document and its folded values as JSON),
/// a batch at a time on two threads. Rendering costs about as much as building the documents did, and
/// planning otherwise keeps one core busy; a batch bounds how many documents are held as maps at once.
/// Without [`Input::render`], objects are kept as documents at once.
struct Pending {
    render: bool,
    objects: Vec<(usize, Object)>,
}

impl Pending {
    const BATCH: usize = 1024;

    fn new(input: &Input) -> Pending {
        Pending { render: input.render, objects: Vec::new() }
    }

    /// `object` is the creation of the last want pushed onto `d`.
    fn push(&mut self, d: &mut Desired, object: Object) {
        let want = d.objects.len() - 1;
        if !self.render {
            d.objects[want].create = Some(Creation::Document(object));
            return;
        }
        self.objects.push((want, object));
        if self.objects.len() >= Self::BATCH {
            self.flush(d);
        }
    }

    fn flush(&mut self, d: &mut Desired) {
        let batch = std::mem::take(&mut self.objects);
        let render = |objects: &[(usize, Object)]| objects.iter().map(|(_, o)| o.render()).collect::<Vec<_>>();
        let rendered = if batch.len() < 64 {
            render(&batch)
        } else {
            let (mine, theirs) = batch.split_at(batch.len() / 2);
            std::thread::scope(|scope| {
                let other = scope.spawn(|| render(theirs));
                let mut rendered = render(mine);
                rendered.extend(other.join().expect("rendering an object does not panic"));
                rendered
            })
        };
        for ((want, _), r) in batch.iter().zip(rendered) {
            d.objects[*want].create = Some(Creation::Rendered(r));
        }
    }
}

/// A flow's managed properties as the state keeps them (and as plans compare them).
fn managed_text(managed: &Map<String, Value>) -> String {
    serde_json::to_string(managed).expect("JSON values serialise")
}

fn mail_domain(tenant: &str) -> String {
    format!("{tenant}.onmicrosoft.com")
}

/// Whether a person falls under a flow set's filter (a role at one of its orgs).
fn in_scope(set: &FlowSet, roster: &Roster, p: &Person) -> bool {
    set.orgs.is_none() || p.orgs.iter().any(|&o| set.includes_org(roster.id(Kind::Org, o)))
}

fn text(roster: &Roster, kind: Kind, row: u32, field: usize) -> Option<String> {
    roster.str(kind, row, field).filter(|s| !s.is_empty()).map(str::to_string)
}

/// The flow's desire, by type.
pub fn desire(input: &Input, set: &FlowSet, flow_id: &str, kind: &FlowKind) -> Desired {
    let mut d = Desired::default();
    match kind {
        FlowKind::User(f) => users(input, set, f, &mut d),
        FlowKind::SecurityGroup { by_role_group, by_org_role_group } => {
            groups_of_people(input, set, flow_id, *by_role_group, *by_org_role_group, false, &mut d)
        }
        FlowKind::AdministrativeUnit { by_org, by_org_role_group } => {
            groups_of_people(input, set, flow_id, *by_org, *by_org_role_group, true, &mut d)
        }
        FlowKind::ClassGroup(f) => classes(input, set, f, None, &mut d),
    }
    let mut seen = FxHashSet::default();
    d.objects.retain(|w| seen.insert(w.key.clone()));
    d
}

// ---- users ---------------------------------------------------------------------------------------------

/// The UPN a created user gets: the username when it is one, else `username@domain` (the matching setting's
/// domain, or the tenant's initial domain).
pub fn created_upn(tenant: &str, username: &str, domain: Option<&str>) -> String {
    if username.contains('@') {
        username.to_string()
    } else {
        format!("{username}@{}", domain.map_or_else(|| mail_domain(tenant), str::to_string))
    }
}

fn users(input: &Input, set: &FlowSet, f: &UserFlow, d: &mut Desired) {
    let mut pending = Pending::new(input);
    for s in input.sources {
        let r = &s.roster;
        for (row, p) in s.people.iter().enumerate() {
            let Some(group) = p.role_group else { continue };
            if !in_scope(set, r, p) {
                continue;
            }
            let row = row as u32;
            let Some(id) = s.identities[row as usize].id() else {
                d.skipped += 1;
                continue;
            };
            let sourced_id = r.id(Kind::User, row);
            let student = input.groups[group].id.eq_ignore_ascii_case("students");
            let mut facet = Map::new();
            facet.insert("externalId".into(), json!(sourced_id));
            if f.number {
                if let Some(n) = text(r, Kind::User, row, user::USER_NUMBER) {
                    facet.insert(if student { "studentNumber" } else { "teacherNumber" }.into(), json!(n));
                }
            }
            if f.grade && student {
                if let Some(g) = &p.grade {
                    facet.insert("grade".into(), json!(g));
                }
            }
            let mut managed = Map::new();
            managed.insert("primaryRole".into(), json!(if student { "student" } else { "teacher" }));
            managed.insert("externalSource".into(), json!("sis"));
            managed.insert(if student { "student" } else { "teacher" }.into(), Value::Object(facet));
            if let (true, Some(age)) = (student, f.age_group) {
                managed.insert("ageGroup".into(), json!(age));
            }
            let creation = f.creations.iter().find(|c| c.role_group == group);
            let create = match (&s.identities[row as usize], f.create_unmatched, creation) {
                (Identity::Created(_), true, Some(c)) => {
                    let username = r.str(Kind::User, row, user::USERNAME).unwrap_or(sourced_id);
                    let upn = created_upn(input.tenant, username, p.domain.as_deref());
                    let given = text(r, Kind::User, row, user::GIVEN_NAME);
                    let family = text(r, Kind::User, row, user::FAMILY_NAME);
                    let display = match (&given, &family) {
                        (Some(g), Some(f)) => format!("{g} {f}"),
                        (Some(n), None) | (None, Some(n)) => n.clone(),
                        (None, None) => username.to_string(),
                    };
                    let mut doc = Map::new();
                    doc.insert("accountEnabled".into(), json!(true));
                    doc.insert("displayName".into(), json!(display));
                    if let Some(g) = given {
                        doc.insert("givenName".into(), json!(g));
                    }
                    if let Some(f) = family {
                        doc.insert("surname".into(), json!(f));
                    }
                    if let Some(m) = text(r, Kind::User, row, user::MIDDLE_NAME) {
                        doc.insert("middleName".into(), json!(m));
                    }
                    doc.insert("mailNickname".into(), json!(nickname("", upn.split('@').next().unwrap_or(&upn))));
                    doc.insert("userPrincipalName".into(), json!(upn));
                    doc.insert("createdDateTime".into(), json!(input.now));
                    // The roster's own initial password wins over the flow's default (SDS v2.1 users.csv).
                    let sealed = text(r, Kind::User, row, user::PASSWORD)
                        .map(|pw| (input.seal)(&pw))
                        .or_else(|| c.password.clone());
                    if let Some(pw) = sealed {
                        doc.insert(
                            "passwordProfile".into(),
                            json!({"password": pw, "forceChangePasswordNextSignIn": true}),
                        );
                    }
                    let licenses: Vec<Value> =
                        c.licenses.iter().map(|s| json!({"skuId": s, "disabledPlans": []})).collect();
                    doc.insert("assignedLicenses".into(), Value::Array(licenses));
                    doc.extend(managed.clone());
                    Some(Object::new(id.to_string(), ObjectKind::User, doc))
                }
                _ => None,
            };
            d.objects.push(Want {
                key: format!("user:{sourced_id}"),
                id: id.to_string(),
                create: None,
                managed: managed_text(&managed),
                label: sourced_id.to_string(),
            });
            if let Some(object) = create {
                pending.push(d, object);
            }
        }
    }
    pending.flush(d);
}

// ---- security groups and administrative units -----------------------------------------------------------

/// Security groups (`administrative: false`) or administrative units (`true`): one per role group (security
/// groups) or per org (administrative units, as education schools) when `per_one` is set, and one per org and
/// role group when `per_org_group` is set; members are the provisioned people they cover (and a school's
/// classes, when the flow set provisions classes).
fn groups_of_people(
    input: &Input,
    set: &FlowSet,
    flow_id: &str,
    per_one: bool,
    per_org_group: bool,
    administrative: bool,
    d: &mut Desired,
) {
    let with_classes = administrative && set.flows.iter().any(|f| matches!(f.kind, FlowKind::ClassGroup(_)));
    let tenant = input.tenant;
    let own_id = |key: &str| object_id(tenant, &format!("{flow_id}/{key}"));
    for s in input.sources {
        let r = &s.roster;
        let mut objects: FxHashMap<String, Want> = FxHashMap::default();
        let mut want = |key: String, id: String, name: String, school: Option<u32>| {
            objects.entry(key.clone()).or_insert_with(|| {
                let mut doc = Map::new();
                let mut managed = Map::new();
                managed.insert("displayName".into(), json!(name));
                let (kind, education) = if administrative {
                    doc.insert("visibility".into(), json!("Public"));
                    if let Some(o) = school {
                        managed.insert("externalId".into(), json!(r.id(Kind::Org, o)));
                        managed.insert("externalSource".into(), json!("sis"));
                    }
                    (ObjectKind::AdministrativeUnit, school.is_some())
                } else {
                    doc.insert("mailNickname".into(), json!(nickname("sg_", &id[..8])));
                    doc.insert("mailEnabled".into(), json!(false));
                    doc.insert("securityEnabled".into(), json!(true));
                    doc.insert("groupTypes".into(), json!([]));
                    (ObjectKind::Group, false)
                };
                doc.insert("createdDateTime".into(), json!(input.now));
                doc.extend(managed.clone());
                let mut object = Object::new(id.clone(), kind, doc);
                object.education = education;
                Want { key, id, create: Some(Creation::Document(object)), managed: managed_text(&managed), label: name }
            });
        };
        let group_name = |g: usize| input.groups[g].display_name.clone();
        for o in 0..r.len(Kind::Org) as u32 {
            if !set.includes_org(r.id(Kind::Org, o)) {
                continue;
            }
            let org_id = r.id(Kind::Org, o);
            let org_name = r.str(Kind::Org, o, org::NAME).unwrap_or(org_id).to_string();
            if administrative && per_one {
                let key = format!("school:{org_id}");
                want(key.clone(), object_id(tenant, &key), org_name.clone(), Some(o));
            }
        }
        // Each group's id is derived and interned once, not once per person it covers.
        let schools: Vec<Option<u32>> = (0..r.len(Kind::Org) as u32)
            .map(|o| {
                let org_id = r.id(Kind::Org, o);
                (administrative && per_one && set.includes_org(org_id))
                    .then(|| d.links.id(&object_id(tenant, &format!("school:{org_id}"))))
            })
            .collect();
        let mut by_group: FxHashMap<usize, u32> = FxHashMap::default();
        let mut by_org_group: FxHashMap<(u32, usize), u32> = FxHashMap::default();
        let mut targets: Vec<u32> = Vec::new();
        for (row, p) in s.people.iter().enumerate() {
            let Some(g) = p.role_group else { continue };
            if !in_scope(set, r, p) {
                continue;
            }
            let Some(user_id) = s.identities[row].id() else {
                d.skipped += 1;
                continue;
            };
            targets.clear();
            if per_one && !administrative {
                let t = *by_group.entry(g).or_insert_with(|| {
                    let key = format!("sg:{}", input.groups[g].id);
                    let id = own_id(&key);
                    want(key, id.clone(), format!("{} ({})", group_name(g), set.display_name), None);
                    d.links.id(&id)
                });
                targets.push(t);
            }
            for &o in &p.orgs {
                let org_id = r.id(Kind::Org, o);
                if !set.includes_org(org_id) {
                    continue;
                }
                if let Some(school) = schools[o as usize] {
                    targets.push(school);
                }
                if per_org_group {
                    let t = *by_org_group.entry((o, g)).or_insert_with(|| {
                        let prefix = if administrative { "au" } else { "sg" };
                        let key = format!("{prefix}:{org_id}:{}", input.groups[g].id);
                        let id = own_id(&key);
                        let org_name = r.str(Kind::Org, o, org::NAME).unwrap_or(org_id);
                        want(key, id.clone(), format!("{org_name} {}", group_name(g)), None);
                        d.links.id(&id)
                    });
                    targets.push(t);
                }
            }
            let user = d.links.id(user_id);
            for &t in &targets {
                d.links.insert(Relation::Members, t, user);
            }
        }
        if with_classes && per_one {
            for c in 0..r.len(Kind::Class) as u32 {
                let Some(o) = r.reference(Kind::Class, c, class::ORG) else { continue };
                if let Some(school) = schools[o as usize] {
                    let class = d.links.id(&object_id(tenant, &class_key(&s.inbound, r.id(Kind::Class, c))));
                    d.links.insert(Relation::Members, school, class);
                }
            }
        }
        let mut objects: Vec<Want> = objects.into_values().collect();
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        d.objects.extend(objects);
    }
}

// ---- classes -------------------------------------------------------------------------------------------

pub fn class_key(inbound: &str, sourced_id: &str) -> String {
    format!("class:{inbound}:{sourced_id}")
}

/// The class's properties an `additionalAttributes` selection fills (directory-output.md §3).
fn class_attributes(r: &Roster, c: u32, f: &ClassFlow, managed: &mut Map<String, Value>) {
    if f.has("classCode") {
        if let Some(code) = text(r, Kind::Class, c, class::CODE) {
            managed.insert("classCode".into(), json!(code));
        }
    }
    if let Some(co) = r.reference(Kind::Class, c, class::COURSE) {
        let mut course_doc = Map::new();
        for (attr, prop, field) in [
            ("courseTitle", "displayName", course::TITLE),
            ("courseCode", "courseNumber", course::CODE),
            ("courseSubject", "subject", course::SUBJECT),
        ] {
            if f.has(attr) {
                if let Some(v) = text(r, Kind::Course, co, field) {
                    course_doc.insert(prop.into(), json!(v));
                }
            }
        }
        if f.has("courseExternalId") {
            course_doc.insert("externalId".into(), json!(r.id(Kind::Course, co)));
        }
        if !course_doc.is_empty() {
            managed.insert("course".into(), Value::Object(course_doc));
        }
        if f.has("courseGradeLevel") {
            if let Some(g) = text(r, Kind::Course, co, course::GRADE) {
                managed.insert("grade".into(), json!(g));
            }
        }
    }
    let first_session = match r.get(Kind::Class, c, class::SESSIONS) {
        Val::Rows(_, rows) => rows.first().copied(),
        _ => None,
    };
    if let Some(sess) = first_session {
        let mut term = Map::new();
        if f.has("academicSessionTitle") {
            if let Some(t) = text(r, Kind::AcademicSession, sess, session::TITLE) {
                term.insert("displayName".into(), json!(t));
            }
        }
        if f.has("academicSessionExternalId") {
            term.insert("externalId".into(), json!(r.id(Kind::AcademicSession, sess)));
        }
        if !term.is_empty() {
            for (prop, field) in [("startDate", session::START), ("endDate", session::END)] {
                if let Some(v) = text(r, Kind::AcademicSession, sess, field) {
                    term.insert(prop.into(), json!(v.get(..10).unwrap_or(&v)));
                }
            }
            managed.insert("term".into(), Value::Object(term));
        }
    }
}

/// A class flow's relations for the classes `touched` marks (per source, per class row) and nothing else: no
/// objects (an incremental plan leaves them alone), the touched classes' labels, and `skipped` counted over
/// every class as [`desire`] counts it. The relations of a touched class are exactly those [`desire`] gives it.
pub fn class_relations(input: &Input, set: &FlowSet, f: &ClassFlow, touched: &[Vec<bool>]) -> Desired {
    let mut d = Desired::default();
    classes(input, set, f, Some(touched), &mut d);
    d
}

fn classes(input: &Input, set: &FlowSet, f: &ClassFlow, touched: Option<&[Vec<bool>]>, d: &mut Desired) {
    let domain = mail_domain(input.tenant);
    let mut pending = Pending::new(input);
    for (n, s) in input.sources.iter().enumerate() {
        let r = &s.roster;
        let touched = touched.map(|t| t[n].as_slice());
        // Classes of the filtered orgs; those whose relations are planned also have their interned id.
        let mut in_scope: Vec<bool> = vec![false; r.len(Kind::Class)];
        let mut ids: Vec<Option<u32>> = vec![None; r.len(Kind::Class)];
        // Each person's id interned once, on their first enrollment.
        let mut users: Vec<Option<u32>> = vec![None; r.len(Kind::User)];
        for c in 0..r.len(Kind::Class) as u32 {
            let Some(o) = r.reference(Kind::Class, c, class::ORG) else { continue };
            if !set.includes_org(r.id(Kind::Org, o)) {
                continue;
            }
            in_scope[c as usize] = true;
            let sourced_id = r.id(Kind::Class, c);
            if let Some(touched) = touched {
                if touched[c as usize] {
                    let id = object_id(input.tenant, &class_key(&s.inbound, sourced_id));
                    ids[c as usize] = Some(d.links.id(&id));
                    d.labels.insert(id, r.str(Kind::Class, c, class::TITLE).unwrap_or(sourced_id).to_string());
                }
                continue;
            }
            let key = class_key(&s.inbound, sourced_id);
            let id = object_id(input.tenant, &key);
            let title = r.str(Kind::Class, c, class::TITLE).unwrap_or(sourced_id).to_string();
            let mut managed = Map::new();
            if !f.display_name_on_create_only {
                managed.insert("displayName".into(), json!(title));
            }
            managed.insert("externalName".into(), json!(title));
            class_attributes(r, c, f, &mut managed);
            if f.create_team {
                managed.insert("resourceProvisioningOptions".into(), json!(["Team"]));
                managed.insert("@team".into(), json!(true));
            }
            let nick = nickname("Section_", sourced_id);
            let mail = format!("{nick}@{domain}");
            let mut doc = Map::new();
            for (k, v) in [
                ("displayName", json!(title)),
                ("mailNickname", json!(nick)),
                ("mailEnabled", json!(true)),
                ("securityEnabled", json!(false)),
                ("groupTypes", json!(["Unified"])),
                ("creationOptions", json!(["classAssignments"])),
                ("visibility", json!("HiddenMembership")),
                ("mail", json!(mail)),
                ("proxyAddresses", json!([format!("SMTP:{mail}")])),
                ("createdDateTime", json!(input.now)),
                ("externalId", json!(sourced_id)),
                ("externalSource", json!("sis")),
            ] {
                doc.insert(k.into(), v);
            }
            if f.create_team {
                // The class team as SDS makes it: owners in at once, students pending activation.
                doc.insert("isArchived".into(), json!(false));
                doc.insert("isMembershipLimitedToOwners".into(), json!(true));
                doc.insert("specialization".into(), json!("educationClass"));
            }
            for (k, v) in &managed {
                if k != "@team" {
                    doc.insert(k.clone(), v.clone());
                }
            }
            let mut object = Object::new(id.clone(), ObjectKind::Group, doc);
            object.education = true;
            object.team = f.create_team;
            ids[c as usize] = Some(d.links.id(&id));
            d.objects.push(Want { key, id, create: None, managed: managed_text(&managed), label: title });
            pending.push(d, object);
        }
        for e in 0..r.len(Kind::Enrollment) as u32 {
            let (Some(c), Some(u), Some(role)) = (
                r.reference(Kind::Enrollment, e, enrollment::CLASS),
                r.reference(Kind::Enrollment, e, enrollment::USER),
                r.str(Kind::Enrollment, e, enrollment::ROLE),
            ) else {
                continue;
            };
            if !in_scope[c as usize] {
                continue;
            }
            let owner = f.owners.iter().any(|x| x.eq_ignore_ascii_case(role));
            let member = f.members.iter().any(|x| x.eq_ignore_ascii_case(role));
            if !owner && !member {
                continue;
            }
            let user = match users[u as usize] {
                Some(user) => user,
                None => {
                    let Some(user_id) = s.identities[u as usize].id() else {
                        d.skipped += 1;
                        continue;
                    };
                    *users[u as usize].insert(d.links.id(user_id))
                }
            };
            // Not planned: an incremental plan's class whose enrollments did not change.
            let Some(class) = ids[c as usize] else { continue };
            for (yes, relation) in [(owner, Relation::Owners), (member, Relation::Members)] {
                if yes {
                    d.links.insert(relation, class, user);
                }
            }
        }
    }
    pending.flush(d);
}
