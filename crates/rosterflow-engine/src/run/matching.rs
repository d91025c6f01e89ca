//! Who the roster's people are in the directory: each person's role groups (from `roles.csv`) and their match
//! per the source system's `userMatchingSettings`: in priority order, the first setting whose role group the
//! person is in compares the person's source identifier (with the setting's domain appended) to the match
//! target of every directory user. One directory user is a match; several are an ambiguity, reported and
//! never guessed; so is a directory user that two people would match.

use rosterflow_model::directory::fold;
use rosterflow_store::directory::UserKeys;
use rustc_hash::FxHashMap;

use super::config::{MatchRule, RoleGroup, SourceId, Target};
use crate::roster::Roster;
use crate::schema::{role, user, Kind};

/// One person (a user record) as the run sees them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    /// Bit `i`: the person has a role in role group `i`.
    pub groups: u32,
    /// The role group the person is provisioned as: the one whose matching setting applied, else the first
    /// the person is in.
    pub role_group: Option<usize>,
    /// Rows of the orgs the person has a role at.
    pub orgs: Vec<u32>,
    /// The grade of the person's first role that has one.
    pub grade: Option<String>,
    /// The domain of the matching setting that applied (a created user's UPN domain).
    pub domain: Option<String>,
}

/// A person's directory user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Unmatched,
    /// Several directory users match, or another person matched the same one.
    Ambiguous,
    Matched(String),
    /// Created by a user flow (this run or an earlier one).
    Created(String),
}

impl Identity {
    /// The directory user's id, for a matched or created person.
    pub fn id(&self) -> Option<&str> {
        match self {
            Identity::Matched(id) | Identity::Created(id) => Some(id),
            _ => None,
        }
    }
}

/// Every person of a roster, by user row.
pub fn people(roster: &Roster, groups: &[RoleGroup]) -> Vec<Person> {
    let mut out = vec![Person::default(); roster.len(Kind::User)];
    for r in 0..roster.len(Kind::Role) as u32 {
        let (Some(u), Some(code)) =
            (roster.reference(Kind::Role, r, role::USER), roster.str(Kind::Role, r, role::ROLE))
        else {
            continue;
        };
        let p = &mut out[u as usize];
        for (i, g) in groups.iter().enumerate() {
            if g.roles.iter().any(|c| c.eq_ignore_ascii_case(code)) {
                p.groups |= 1 << i;
            }
        }
        if let Some(org) = roster.reference(Kind::Role, r, role::ORG) {
            if !p.orgs.contains(&org) {
                p.orgs.push(org);
            }
        }
        if p.grade.is_none() {
            p.grade = roster.str(Kind::Role, r, role::GRADE).map(str::to_string);
        }
    }
    out
}

/// The directory's users by folded match target (borrowed from the keys the run read: a district's 200k
/// users' keys are not copied).
#[derive(Debug, Default)]
pub struct DirectoryIndex<'a> {
    ids: Vec<&'a str>,
    upn: FxHashMap<&'a str, Vec<u32>>,
    mail: FxHashMap<&'a str, Vec<u32>>,
    employee_id: FxHashMap<&'a str, Vec<u32>>,
}

impl<'a> DirectoryIndex<'a> {
    pub fn new(keys: &'a [UserKeys]) -> DirectoryIndex<'a> {
        let mut ix = DirectoryIndex::default();
        for (i, k) in keys.iter().enumerate() {
            let i = i as u32;
            for (map, v) in
                [(&mut ix.upn, &k.user_principal_name), (&mut ix.mail, &k.mail), (&mut ix.employee_id, &k.employee_id)]
            {
                if let Some(v) = v {
                    map.entry(v.as_str()).or_default().push(i);
                }
            }
            ix.ids.push(&k.id);
        }
        ix
    }

    fn find(&self, target: Target, value: &str) -> &[u32] {
        let map = match target {
            Target::UserPrincipalName => &self.upn,
            Target::Mail => &self.mail,
            Target::EmployeeId => &self.employee_id,
        };
        map.get(fold(value).as_str()).map_or(&[], Vec::as_slice)
    }

    /// The user whose UPN this is, if any (a created user's UPN must be free).
    pub fn upn_owner(&self, upn: &str) -> Option<&str> {
        self.upn.get(fold(upn).as_str()).and_then(|v| v.first()).map(|&i| self.ids[i as usize])
    }
}

fn source_value(roster: &Roster, row: u32, source: SourceId) -> Option<&str> {
    let field = match source {
        SourceId::SourcedId => return Some(roster.id(Kind::User, row)),
        SourceId::Username => user::USERNAME,
        SourceId::Email => user::EMAIL,
        SourceId::Identifier => user::USER_NUMBER,
        SourceId::ActiveDirectoryMatchId => user::AD_MATCH_ID,
    };
    roster.str(Kind::User, row, field).filter(|v| !v.is_empty())
}

/// Match every person (see the module docs); sets each person's `role_group`.
pub fn match_people(
    roster: &Roster,
    people: &mut [Person],
    rules: &[MatchRule],
    directory: &DirectoryIndex,
) -> Vec<Identity> {
    let mut out = Vec::with_capacity(people.len());
    // Directory user → how many people matched it: one that two people match belongs to neither.
    let mut claims: FxHashMap<u32, u32> = FxHashMap::default();
    for (row, p) in people.iter_mut().enumerate() {
        let applicable: Vec<&MatchRule> = rules.iter().filter(|r| p.groups & (1 << r.role_group) != 0).collect();
        p.role_group = applicable
            .first()
            .map(|r| r.role_group)
            .or_else(|| (p.groups != 0).then(|| p.groups.trailing_zeros() as usize));
        p.domain = applicable.first().and_then(|r| r.domain.clone());
        let mut found: Result<Option<u32>, ()> = Ok(None);
        for r in applicable {
            let Some(v) = source_value(roster, row as u32, r.source) else { continue };
            let value = match &r.domain {
                Some(d) if !v.contains('@') => format!("{v}@{d}"),
                _ => v.to_string(),
            };
            match directory.find(r.target, &value) {
                [] => continue,
                [one] => found = Ok(Some(*one)),
                _ => found = Err(()),
            }
            break;
        }
        if let Ok(Some(i)) = found {
            *claims.entry(i).or_default() += 1;
        }
        out.push(found);
    }
    out.into_iter()
        .map(|found| match found {
            Err(()) => Identity::Ambiguous,
            Ok(None) => Identity::Unmatched,
            Ok(Some(i)) if claims[&i] > 1 => Identity::Ambiguous,
            Ok(Some(i)) => Identity::Matched(directory.ids[i as usize].to_string()),
        })
        .collect()
}
