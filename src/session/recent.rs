//! The session ids a shell has seen, for TAB completion: each id once, newest first, at most a
//! fixed number. A script of thousands of commands remembers every id it meets, so remembering one
//! costs O(1) (amortised), not a walk over all the others.

use std::collections::{HashMap, VecDeque};

#[derive(Debug, Default)]
pub struct Recent {
    /// Ids in the order they were seen, each with the stamp it was seen with; an id seen again
    /// leaves its older entries behind, stale (its stamp in `latest` is newer).
    order: VecDeque<(u64, String)>,
    latest: HashMap<String, u64>,
    stamp: u64,
    limit: usize,
}

impl Recent {
    pub fn with_limit(limit: usize) -> Recent {
        Recent { limit, ..Recent::default() }
    }

    /// `id` is now the newest; the oldest is forgotten beyond the limit.
    pub fn add(&mut self, id: &str) {
        self.stamp += 1;
        match self.latest.get_mut(id) {
            Some(stamp) => *stamp = self.stamp,
            None => {
                self.latest.insert(id.to_owned(), self.stamp);
            }
        }
        self.order.push_back((self.stamp, id.to_owned()));
        while self.latest.len() > self.limit {
            let Some((stamp, old)) = self.order.pop_front() else { break };
            if self.latest.get(&old) == Some(&stamp) {
                self.latest.remove(&old);
            }
        }
        // Stale entries are dropped once they outnumber the live ones: each is dropped once.
        if self.order.len() > 2 * self.limit.max(1) {
            let latest = &self.latest;
            self.order.retain(|(stamp, id)| latest.get(id) == Some(stamp));
        }
    }

    /// The ids, newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &str> {
        self.order
            .iter()
            .rev()
            .filter(|(stamp, id)| self.latest.get(id) == Some(stamp))
            .map(|(_, id)| id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(r: &Recent) -> Vec<&str> {
        r.newest_first().collect()
    }

    #[test]
    fn each_id_once_newest_first() {
        let mut r = Recent::with_limit(3);
        for id in ["a", "b", "a", "c"] {
            r.add(id);
        }
        assert_eq!(ids(&r), ["c", "a", "b"]);
        r.add("d");
        assert_eq!(ids(&r), ["d", "c", "a"], "the oldest, b, is forgotten");
    }

    #[test]
    fn the_same_id_over_and_over_keeps_memory_bounded() {
        let mut r = Recent::with_limit(3);
        for i in 0..10_000 {
            r.add(if i % 2 == 0 { "x" } else { "y" });
        }
        assert_eq!(ids(&r), ["y", "x"]);
        assert!(r.order.len() <= 6, "{}", r.order.len());
    }
}
