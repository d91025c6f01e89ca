//! The relations a flow wants, with their ends interned: a district's million relations are held as packed
//! numbers (relation, from, to) over one table of the ids they use, not as pairs of 36-character strings. The
//! desire interns each object's id once (a class, a person) and adds its relations as numbers; the diff
//! looks the state's relations up by their ids and turns only what changes back into [`Link`]s.

use rosterflow_model::directory::Relation;
use rosterflow_store::directory::Link;
use rustc_hash::FxHashSet;

use crate::roster::IdIndex;

/// A set of relations over interned ids.
#[derive(Debug, Default)]
pub struct Links {
    ids: IdIndex,
    set: FxHashSet<u64>,
}

const OWNERS: u64 = 1 << 63;

/// A relation's packed key (members before owners, as their names sort).
pub fn pack(relation: Relation, from: u32, to: u32) -> u64 {
    let rel = match relation {
        Relation::Owners => OWNERS,
        Relation::Members => 0,
    };
    rel | (u64::from(from) << 32) | u64::from(to)
}

/// The relation and the ends of a packed relation.
pub fn unpack(key: u64) -> (Relation, u32, u32) {
    let relation = if key & OWNERS != 0 { Relation::Owners } else { Relation::Members };
    (relation, ((key & !OWNERS) >> 32) as u32, key as u32)
}

impl Links {
    /// The number standing for a directory id in this set (interned on first use).
    pub fn id(&mut self, id: &str) -> u32 {
        let i = self.ids.intern(id.as_bytes());
        debug_assert!(i < 1 << 31, "ids fit in 31 bits");
        i
    }

    /// The number of an id already interned.
    pub fn find(&self, id: &str) -> Option<u32> {
        self.ids.find(id.as_bytes())
    }

    pub fn str(&self, i: u32) -> &str {
        self.ids.str(i)
    }

    pub fn insert(&mut self, relation: Relation, from: u32, to: u32) {
        self.set.insert(pack(relation, from, to));
    }

    /// The packed key of a relation, when both its ends are interned here.
    pub fn key(&self, relation: Relation, from: &str, to: &str) -> Option<u64> {
        Some(pack(relation, self.find(from)?, self.find(to)?))
    }

    pub fn contains_key(&self, key: u64) -> bool {
        self.set.contains(&key)
    }

    pub fn contains(&self, l: &Link) -> bool {
        self.key(l.relation, &l.from, &l.to).is_some_and(|k| self.contains_key(k))
    }

    /// Packed keys, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = u64> + '_ {
        self.set.iter().copied()
    }

    /// A packed relation as a [`Link`].
    pub fn link(&self, key: u64) -> Link {
        let (relation, from, to) = unpack(key);
        Link { relation, from: self.str(from).to_string(), to: self.str(to).to_string() }
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relations_round_trip_through_their_keys() {
        let mut links = Links::default();
        let (g, u) = (links.id("group-1"), links.id("user-1"));
        links.insert(Relation::Owners, g, u);
        links.insert(Relation::Members, g, u);
        links.insert(Relation::Members, g, u);
        assert_eq!(links.len(), 2);
        let owner = Link { relation: Relation::Owners, from: "group-1".into(), to: "user-1".into() };
        assert!(links.contains(&owner));
        assert!(!links.contains(&Link { from: "user-1".into(), to: "group-1".into(), ..owner.clone() }));
        assert!(!links.contains(&Link { to: "nobody".into(), ..owner.clone() }));
        let mut back: Vec<Link> = links.keys().map(|k| links.link(k)).collect();
        back.sort_by_key(|l| l.relation.as_str());
        assert_eq!(back[1], owner);
        assert_eq!(back[0], Link { relation: Relation::Members, ..owner });
    }
}
