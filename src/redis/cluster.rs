//! Redis Cluster: which slot a key hashes to, which node serves a slot, and redirect errors.
//! Pure functions; `exec` uses them to route and to follow `MOVED`/`ASK` as redis-cli `-c` does.

use crate::redis::reply::Reply;

use crate::exec::conn::Address;

/// Number of hash slots in a Redis Cluster.
pub const SLOTS: u16 = 16384;

/// CRC16-CCITT (XMODEM), the checksum Redis Cluster hashes keys with.
fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc
}

/// The slot of a key: only the part inside the first non-empty `{…}` is hashed (a hash tag).
/// The slot every key of a command hashes to, when it names its keys and they all hash to one.
pub fn command_slot(cmd: &[Vec<u8>]) -> Option<u16> {
    let crate::redis::commands::Keys::Known(keys) = crate::redis::commands::keys(cmd) else { return None };
    let mut slots = keys.iter().map(|k| slot(k));
    let first = slots.next()?;
    slots.all(|s| s == first).then_some(first)
}

pub fn slot(key: &[u8]) -> u16 {
    let hashed = match key.iter().position(|&b| b == b'{') {
        Some(open) => match key[open + 1..].iter().position(|&b| b == b'}') {
            Some(len) if len > 0 => &key[open + 1..open + 1 + len],
            _ => key,
        },
        None => key,
    };
    crc16(hashed) % SLOTS
}

/// The slot a batch of commands goes to: that of its first keyed command.
pub fn batch_slot(cmds: &[Vec<Vec<u8>>]) -> Option<u16> {
    cmds.iter().find_map(|c| crate::redis::commands::first_key(c)).map(slot)
}

/// A `MOVED`/`ASK` error: where the slot is served now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub ask: bool,
    pub slot: u16,
    /// `None` when the server left the host empty (keep the current host).
    pub host: Option<String>,
    pub port: u16,
}

impl Redirect {
    /// The node it points to; an empty host is the host of `current` (the node that answered).
    pub fn node(&self, current: &Address) -> Address {
        let host = match (&self.host, current) {
            (Some(h), _) => h.clone(),
            (None, Address::Tcp { host, .. }) => host.clone(),
            (None, Address::Unix(_)) => "127.0.0.1".to_owned(),
        };
        Address::Tcp { host, port: self.port }
    }
}

/// The redirect a reply asks for, if it is a `MOVED` or `ASK` error.
pub fn redirect_of(reply: &Reply) -> Option<Redirect> {
    redirect(&String::from_utf8_lossy(reply.error_text()?))
}

/// Parses `MOVED 3999 127.0.0.1:6381` / `ASK 3999 :6381`.
pub fn redirect(error_text: &str) -> Option<Redirect> {
    let mut words = error_text.split(' ');
    let ask = match words.next()? {
        "MOVED" => false,
        "ASK" => true,
        _ => return None,
    };
    let slot = words.next()?.parse().ok()?;
    let (host, port) = words.next()?.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some(Redirect { ask, slot, host: (!host.is_empty()).then(|| host.to_owned()), port: port.parse().ok()? })
}

/// Which node serves each slot, from `CLUSTER SLOTS`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlotMap {
    ranges: Vec<(u16, u16, Address)>,
    /// Nodes seen in earlier maps (replicas included), to ask when the map must be rebuilt.
    known: Vec<Address>,
}

impl SlotMap {
    /// Reads a `CLUSTER SLOTS` reply: `[[start, end, [host, port, id…], replicas…], …]`.
    pub fn from_reply(reply: &Reply, default_host: &str) -> SlotMap {
        let mut ranges = Vec::new();
        let mut known = Vec::new();
        let Reply::Array(entries) = reply else { return SlotMap::default() };
        for entry in entries {
            let Reply::Array(parts) = entry else { continue };
            let (Some(Reply::Int(start)), Some(Reply::Int(end)), Some(Reply::Array(master))) =
                (parts.first(), parts.get(1), parts.get(2))
            else {
                continue;
            };
            let host = match master.first() {
                Some(Reply::Bulk(h)) if !h.is_empty() && h.as_slice() != b"?" => {
                    String::from_utf8_lossy(h).into_owned()
                }
                _ => default_host.to_owned(),
            };
            let Some(Reply::Int(port)) = master.get(1) else { continue };
            let (Ok(start), Ok(end), Ok(port)) =
                (u16::try_from(*start), u16::try_from(*end), u16::try_from(*port))
            else {
                continue;
            };
            ranges.push((start, end, Address::Tcp { host, port }));
            // Replicas: the nodes to ask for a new map if this master goes away.
            for replica in &parts[3..] {
                if let Reply::Array(r) = replica
                    && let (Some(Reply::Int(port)), Some(host)) = (r.get(1), r.first().and_then(Reply::text))
                    && let Ok(port) = u16::try_from(*port)
                {
                    let host = if host.is_empty() || host == "?" { default_host.to_owned() } else { host };
                    let node = Address::Tcp { host, port };
                    if !known.contains(&node) {
                        known.push(node);
                    }
                }
            }
        }
        ranges.sort_by_key(|r| r.0);
        SlotMap { ranges, known }
    }

    pub fn node(&self, slot: u16) -> Option<&Address> {
        self.ranges.iter().find(|(s, e, _)| (*s..=*e).contains(&slot)).map(|(_, _, a)| a)
    }

    /// Every master, once.
    pub fn masters(&self) -> Vec<Address> {
        let mut out: Vec<Address> = Vec::new();
        for (_, _, a) in &self.ranges {
            if !out.contains(a) {
                out.push(a.clone());
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Every node the map names, masters and those to ask when they fail alike.
    pub fn nodes(&self) -> Vec<Address> {
        let mut out = self.masters();
        for n in &self.known {
            if !out.contains(n) {
                out.push(n.clone());
            }
        }
        out
    }

    /// Drops the slot ranges (the next command refreshes them) but remembers every node seen, so
    /// the refresh can ask another one when the node in use is gone.
    pub fn forget_nodes_only(&mut self) {
        for (_, _, a) in std::mem::take(&mut self.ranges) {
            if !self.known.contains(&a) {
                self.known.push(a);
            }
        }
    }

    /// Records what a MOVED told us, until the next full refresh.
    pub fn learn(&mut self, slot: u16, address: Address) {
        self.ranges.retain(|(s, e, _)| !(*s..=*e).contains(&slot) || s != e);
        if let Some(i) = self.ranges.iter().position(|(s, e, _)| (*s..=*e).contains(&slot)) {
            let (s, e, old) = self.ranges.remove(i);
            if s < slot {
                self.ranges.push((s, slot - 1, old.clone()));
            }
            if slot < e {
                self.ranges.push((slot + 1, e, old));
            }
        }
        self.ranges.push((slot, slot, address));
        self.ranges.sort_by_key(|r| r.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis() {
        // Values from CLUSTER KEYSLOT.
        assert_eq!(slot(b"a"), 15495);
        assert_eq!(slot(b"b"), 3300);
        assert_eq!(slot(b"c"), 7365);
        assert_eq!(slot(b"123456789"), 12739);
        assert_eq!(slot(b"user_sessions:{42}"), slot(b"42"));
        assert_eq!(slot(b"x{}y"), crc16(b"x{}y") % SLOTS, "an empty tag hashes the whole key");
        assert_eq!(slot(b"{a}{b}"), slot(b"a"), "only the first tag counts");
    }

    #[test]
    fn batch_slots() {
        let a = |s: &str| s.split(' ').map(|w| w.as_bytes().to_vec()).collect::<Vec<_>>();
        assert_eq!(batch_slot(&[a("MULTI"), a("SET a 1"), a("EXEC")]), Some(15495));
    }

    #[test]
    fn redirects() {
        assert_eq!(
            redirect("MOVED 15495 127.0.0.1:17002"),
            Some(Redirect { ask: false, slot: 15495, host: Some("127.0.0.1".into()), port: 17002 })
        );
        assert_eq!(redirect("ASK 3 :7000"), Some(Redirect { ask: true, slot: 3, host: None, port: 7000 }));
        assert_eq!(redirect("ERR nope"), None);
    }

    #[test]
    fn slot_map_from_reply_and_learning() {
        let node = |p: i64| Reply::Array(vec![Reply::Bulk(b"127.0.0.1".to_vec()), Reply::Int(p)]);
        let reply = Reply::Array(vec![
            Reply::Array(vec![Reply::Int(0), Reply::Int(5460), node(7000)]),
            Reply::Array(vec![Reply::Int(5461), Reply::Int(16383), node(7001)]),
        ]);
        let mut map = SlotMap::from_reply(&reply, "127.0.0.1");
        let at = |p: u16| Address::Tcp { host: "127.0.0.1".into(), port: p };
        assert_eq!(map.node(0), Some(&at(7000)));
        assert_eq!(map.node(9000), Some(&at(7001)));
        assert_eq!(map.masters(), [at(7000), at(7001)]);
        map.learn(9000, at(7000));
        assert_eq!(map.node(9000), Some(&at(7000)));
        assert_eq!(map.node(8999), Some(&at(7001)));
        assert_eq!(map.node(9001), Some(&at(7001)));
    }
}
