//! Natural keys of up to three values (references and codes), for the uniqueness of records that have no id of
//! their own: an enrollment's (class, user, role), a role's (user, org, role), ...
//!
//! Five million enrollments make five million keys, and a hash set of them costs a cache miss per insert: it
//! was 40 % of validation's CPU. But roster files come grouped by their key's first value (an SIS writes a
//! class's enrollments together and a user's roles together; Microsoft's samples and `rosterflow generate` do
//! too). So the keys of the group being read are checked in a small set that stays in cache, and a group that
//! ends is kept as a sorted slice of one vector written in order. A group that comes back after another one
//! (a file that is not grouped) moves to a hash set of whole keys, and so does everything of it that follows:
//! any order is judged the same, grouped files are fast.

use rustc_hash::FxHashSet;

/// Whether a group was seen, and where its keys are, in 8 bytes (one per possible first value: 1.7 million
/// users' worth for roles, demographics, flags and relationships).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Group {
    /// `closed[start..end]`, sorted; `end == 0`: unseen; `start == SCATTERED`: its keys are in `scattered`.
    start: u32,
    end: u32,
}

const SCATTERED: u32 = u32::MAX;

impl Group {
    fn closed(&self) -> Option<std::ops::Range<usize>> {
        (self.end > 0 && self.start != SCATTERED).then_some(self.start as usize..self.end as usize)
    }

    fn is_scattered(&self) -> bool {
        self.start == SCATTERED
    }
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Keys {
    /// The group being read (its first value) and the rest of its keys so far.
    current: Option<u32>,
    run: FxHashSet<u64>,
    /// The ended groups' keys, group after group, each group's sorted.
    closed: Vec<u64>,
    /// By first value (a reference's dense index, so a vector).
    groups: Vec<Group>,
    scattered: FxHashSet<[u32; 3]>,
}

/// The key without its first value.
fn rest(k: [u32; 3]) -> u64 {
    (u64::from(k[1]) << 32) | u64::from(k[2])
}

impl Keys {
    /// Whether the key was new.
    pub(crate) fn insert(&mut self, k: [u32; 3]) -> bool {
        if self.current != Some(k[0]) {
            self.close();
            self.open(k[0]);
        }
        if self.group(k[0]).is_scattered() {
            self.scattered.insert(k)
        } else {
            self.run.insert(rest(k))
        }
    }

    fn group(&self, first: u32) -> Group {
        self.groups.get(first as usize).copied().unwrap_or_default()
    }

    fn open(&mut self, first: u32) {
        self.current = Some(first);
        if let Some(range) = self.group(first).closed() {
            // Back after another group: from now on this group's keys are looked up by hashing.
            self.scattered.extend(self.closed[range].iter().map(|&r| [first, (r >> 32) as u32, r as u32]));
            self.groups[first as usize] = Group { start: SCATTERED, end: 1 };
        }
    }

    /// Ends the group being read: its keys join `closed`, sorted.
    fn close(&mut self) {
        let Some(first) = self.current.take() else { return };
        if self.group(first).is_scattered() {
            return;
        }
        let start = self.closed.len();
        self.closed.extend(self.run.drain());
        self.closed[start..].sort_unstable();
        let i = first as usize;
        if self.groups.len() <= i {
            self.groups.resize(i + 1, Group::default());
        }
        self.groups[i] = match (u32::try_from(start), u32::try_from(self.closed.len())) {
            (Ok(start), Ok(end)) if start != SCATTERED => Group { start, end },
            // Past 4 billion keys (never in practice): the group goes to the hash set.
            _ => {
                let keys = self.closed.drain(start..).map(|r| [first, (r >> 32) as u32, r as u32]);
                self.scattered.extend(keys);
                Group { start: SCATTERED, end: 1 }
            }
        };
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.current.is_none() && self.closed.is_empty() && self.scattered.is_empty()
    }

    /// Room for about `n` keys.
    pub(crate) fn reserve(&mut self, n: usize) {
        self.closed.reserve(n);
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.run.capacity() * 9
            + self.closed.capacity() * 8
            + self.groups.capacity() * std::mem::size_of::<Group>()
            + self.scattered.capacity() * 13
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn grouped_and_scattered_duplicates_are_found() {
        let mut keys = Keys::default();
        assert!(keys.is_empty());
        assert!(keys.insert([1, 10, 0]));
        assert!(keys.insert([1, 11, 0]));
        assert!(!keys.insert([1, 10, 0]), "a duplicate inside the group");
        assert!(keys.insert([2, 10, 0]));
        assert!(!keys.insert([1, 11, 0]), "a duplicate of an ended group");
        assert!(keys.insert([1, 12, 0]), "a returning group takes new keys");
        assert!(!keys.insert([1, 12, 0]));
        assert!(keys.insert([2, 11, 1]));
        assert!(!keys.insert([2, 10, 0]), "the second group came back too");
        assert!(keys.insert([u32::MAX, u32::MAX, u32::MAX]));
        assert!(!keys.insert([u32::MAX, u32::MAX, u32::MAX]));
        assert!(!keys.is_empty());
    }

    proptest! {
        /// Whatever the order, the answer is a set's: grouped runs, interleaved groups, repeats.
        #[test]
        fn answers_as_a_set_would(
            rows in proptest::collection::vec((0u32..6, 0u32..5, 0u32..3, 1usize..4), 0..200),
        ) {
            let mut keys = Keys::default();
            let mut oracle = std::collections::HashSet::new();
            for (a, b, c, times) in rows {
                for _ in 0..times {
                    let k = [a, b, c];
                    prop_assert_eq!(keys.insert(k), oracle.insert(k), "key {:?}", k);
                }
            }
        }
    }
}
