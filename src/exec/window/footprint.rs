//! What a command of a window may touch, so that a line waits only for the earlier lines that
//! could change what it sees.

use crate::redis::commands::{self, Keys};

/// What a command may touch, for ordering it against the commands before it in a window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Footprint {
    pub keys: Vec<Vec<u8>>,
    /// Any key at all (unknown keys, or the whole keyspace).
    pub any_key: bool,
    /// Some session's key not known beforehand (`session:*`).
    pub any_session: bool,
    /// Some user's index not known beforehand (`user_sessions:*`).
    pub any_index: bool,
    /// Changes the connection (SELECT, MULTI, AUTH…).
    pub state: bool,
    pub reads_current: bool,
    pub writes_current: bool,
    /// WATCHes keys: runs on a connection of its own.
    pub own_lane: bool,
}

impl Footprint {
    /// A plain command's footprint, from the command table.
    pub fn raw(cmd: &[Vec<u8>]) -> Footprint {
        let mut f = Footprint { state: commands::changes_state(cmd), ..Footprint::default() };
        match commands::keys(cmd) {
            Keys::Known(keys) => f.keys = keys.into_iter().map(<[u8]>::to_vec).collect(),
            Keys::Any => f.any_key = true,
        }
        f
    }

    fn is_session_key(k: &[u8]) -> bool {
        k.starts_with(b"session:")
    }

    fn is_index_key(k: &[u8]) -> bool {
        k.starts_with(b"user_sessions:")
    }

    /// Whether `later` must wait for `self` (an earlier command) to be done.
    pub fn conflicts(&self, later: &Footprint) -> bool {
        let (a, b) = (self, later);
        if a.state || b.state || a.any_key || b.any_key {
            return true;
        }
        if a.keys.iter().any(|k| b.keys.contains(k)) {
            return true;
        }
        // A line that may touch some session (or index) not known beforehand waits for a line that
        // names one. Two such lines do not wait for each other: the sessions a line may touch
        // unnamed are those of the users it names (their indexes are among its keys), and what two
        // lines do to an index without naming it (EXPIRE … GT, SREM of their own id) commutes.
        let unnamed = |x: &Footprint, y: &Footprint| {
            (x.any_session && y.keys.iter().any(|k| Footprint::is_session_key(k)))
                || (x.any_index && y.keys.iter().any(|k| Footprint::is_index_key(k)))
        };
        unnamed(a, b) || unnamed(b, a)
    }
}

/// The footprints of several lines together: whether a line conflicts with any of them is the
/// union of what it would conflict with in each (see [`Footprint::conflicts`]).
#[derive(Default)]
pub(super) struct Gathered {
    /// The keys' hashes: a collision only makes a line wait, never run early.
    keys: std::collections::HashSet<u64>,
    session_keys: bool,
    index_keys: bool,
    any_session: bool,
    any_index: bool,
    /// Some line changes the connection or touches any key.
    everything: bool,
    /// Some line changes the connection.
    pub(super) state: bool,
    lines: usize,
}

impl Gathered {
    pub(super) fn add(&mut self, f: &Footprint) {
        self.lines += 1;
        for k in &f.keys {
            self.session_keys |= Footprint::is_session_key(k);
            self.index_keys |= Footprint::is_index_key(k);
            self.keys.insert(key_hash(k));
        }
        self.any_session |= f.any_session;
        self.any_index |= f.any_index;
        self.everything |= f.state || f.any_key;
        self.state |= f.state;
    }

    pub(super) fn conflicts(&self, f: &Footprint) -> bool {
        if self.lines == 0 {
            return false;
        }
        self.everything
            || f.state
            || f.any_key
            || f.keys.iter().any(|k| self.keys.contains(&key_hash(k)))
            || (f.any_session && self.session_keys)
            || (f.any_index && self.index_keys)
            || (self.any_session && f.keys.iter().any(|k| Footprint::is_session_key(k)))
            || (self.any_index && f.keys.iter().any(|k| Footprint::is_index_key(k)))
    }
}

fn key_hash(k: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    k.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(line: &str) -> Vec<Vec<u8>> {
        line.split(' ').map(|w| w.as_bytes().to_vec()).collect()
    }

    #[test]
    fn footprints_order_what_must_be_ordered() {
        let set = Footprint::raw(&a("SET k v"));
        let get = Footprint::raw(&a("GET k"));
        let other = Footprint::raw(&a("GET j"));
        assert!(set.conflicts(&get));
        assert!(!set.conflicts(&other));
        assert!(Footprint::raw(&a("SELECT 1")).conflicts(&other));
        assert!(Footprint::raw(&a("DBSIZE")).conflicts(&other));
        assert!(!Footprint::raw(&a("PING")).conflicts(&other));
        let touch = Footprint { keys: vec![b"session:x".to_vec()], any_index: true, ..Footprint::default() };
        assert!(touch.conflicts(&Footprint::raw(&a("TTL user_sessions:1"))));
        assert!(!touch.conflicts(&Footprint::raw(&a("GET plain"))));
        let whoami = Footprint { reads_current: true, any_session: true, ..Footprint::default() };
        assert!(whoami.conflicts(&Footprint::raw(&a("GET session:x"))));
        assert!(!whoami.conflicts(&Footprint::raw(&a("GET plain"))));
    }
}
