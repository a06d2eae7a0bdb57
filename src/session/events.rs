//! Session lifecycle from keyspace notifications: which flags the server needs, which channels to
//! listen on, and how raw notifications (`expired`, `del`, `evicted`, `expire` of `session:…` keys)
//! become lifecycle events with their user. Pure: the connections live in `watch`.
//!
//! What notifications can and cannot tell:
//! - `expired` fires when Redis actually removes the key (on access, or when its sampler finds it),
//!   a little after the TTL, and the hash is already gone: its user (needed to prune the index) is
//!   known only if this shell saw the session before (its own commands, or an earlier event).
//! - `del` is a logout, or the old half of a renew; a renew also sets a TTL on the new id
//!   (`expire`), and the new session carries the old one's user, login time and ip: that is how the
//!   two are paired. Another client's commands look the same and are reported the same way.
//! - `evicted` needs `e` in the flags and fires when maxmemory pushes a session out.
//! - Pub/sub is fire and forget: nothing sent while redsh is not listening is ever seen.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::session::keys::short;

/// The flag letters every notification class we use needs (`A` stands for all of them).
const NEEDED_CLASSES: [char; 2] = ['g', 'x'];
/// Evictions are reported only with `e`; without it everything else still works.
const EVICTION_CLASS: char = 'e';

/// What the server's `notify-keyspace-events` value means for us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flags {
    /// The value as the server reported it.
    pub current: String,
}

/// How notifications arrive: keyevent channels (`E`: channel names the event, message the key) or
/// keyspace channels (`K`: channel names the key, message the event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscription {
    /// `SUBSCRIBE __keyevent@<db>__:expired …`.
    Keyevent(Vec<String>),
    /// `PSUBSCRIBE __keyspace@<db>__:session:*` (the server filters the keys for us).
    Keyspace(String),
}

impl Subscription {
    /// The command the listening connection sends.
    pub fn command(&self) -> Vec<Vec<u8>> {
        match self {
            Subscription::Keyevent(channels) => std::iter::once("SUBSCRIBE")
                .chain(channels.iter().map(String::as_str))
                .map(|s| s.as_bytes().to_vec())
                .collect(),
            Subscription::Keyspace(pattern) => vec![b"PSUBSCRIBE".to_vec(), pattern.as_bytes().to_vec()],
        }
    }

    /// How many confirmations the server sends for it.
    pub fn confirmations(&self) -> usize {
        match self {
            Subscription::Keyevent(channels) => channels.len(),
            Subscription::Keyspace(_) => 1,
        }
    }
}

/// The notifications that matter for sessions.
pub const EVENTS: [&str; 4] = ["expired", "evicted", "del", "expire"];

impl Flags {
    pub fn new(current: &str) -> Flags {
        Flags { current: current.to_owned() }
    }

    fn has(&self, class: char) -> bool {
        self.current.contains(class) || (self.current.contains('A') && class != 'K' && class != 'E')
    }

    fn channels_on(&self) -> bool {
        self.has('E') || self.has('K')
    }

    /// Whether expiries and deletions are notified (what `events` cannot do without).
    pub fn enough(&self) -> bool {
        self.channels_on() && NEEDED_CLASSES.iter().all(|&c| self.has(c))
    }

    /// Whether evictions are notified too.
    pub fn evictions(&self) -> bool {
        self.channels_on() && self.has(EVICTION_CLASS)
    }

    /// The value that adds what is missing and keeps what others rely on (as Spring Session does):
    /// `Egxe` on a server where notifications are off.
    pub fn merged(&self) -> String {
        let mut out = self.current.clone();
        if !self.channels_on() {
            out.push('E');
        }
        for c in NEEDED_CLASSES.into_iter().chain([EVICTION_CLASS]) {
            if !self.has(c) {
                out.push(c);
            }
        }
        out
    }

    /// The channels to listen on for database `db`: keyevent channels when `E` is on (the usual
    /// setting, Spring's too), else the keyspace pattern of session keys.
    pub fn subscription(&self, db: i64) -> Subscription {
        if self.has('E') {
            Subscription::Keyevent(EVENTS.iter().map(|e| format!("__keyevent@{db}__:{e}")).collect())
        } else {
            Subscription::Keyspace(format!("__keyspace@{db}__:{SESSION_PREFIX}*"))
        }
    }
}

const SESSION_PREFIX: &str = "session:";

/// What happened to a session key, as notified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Expired,
    Evicted,
    Deleted,
    /// A TTL was set: a login, a touch, or the new id of a renew.
    TtlSet,
}

/// One notification about a session key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub kind: Kind,
    /// The id as stored (the key without `session:`).
    pub stored: String,
}

/// Reads a pub/sub message: a keyevent channel with the key as message, or a keyspace channel
/// with the event as message. `None` for anything that is not about a session key.
pub fn parse_notification(channel: &[u8], message: &[u8]) -> Option<Notification> {
    let channel = std::str::from_utf8(channel).ok()?;
    let message = std::str::from_utf8(message).ok()?;
    let (_, rest) = channel.split_once("__:")?;
    let (event, key) = if channel.starts_with("__keyevent@") {
        (rest, message)
    } else if channel.starts_with("__keyspace@") {
        (message, rest)
    } else {
        return None;
    };
    let kind = match event {
        "expired" => Kind::Expired,
        "evicted" => Kind::Evicted,
        "del" => Kind::Deleted,
        "expire" => Kind::TtlSet,
        _ => return None,
    };
    let stored = key.strip_prefix(SESSION_PREFIX)?;
    (!stored.is_empty()).then(|| Notification { kind, stored: stored.to_owned() })
}

/// Who a session belongs to, as far as this shell knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Owner {
    pub user_id: String,
    pub username: Option<String>,
    pub role: Option<String>,
    pub login_time: Option<u64>,
    pub ip: Option<String>,
}

impl Owner {
    pub fn new(user_id: &str) -> Owner {
        Owner { user_id: user_id.to_owned(), ..Owner::default() }
    }

    /// From a session's fields (HMGET/HGETALL): `None` without a user id.
    pub fn from_fields(get: impl Fn(&str) -> Option<Vec<u8>>) -> Option<Owner> {
        let text = |f: &str| get(f).map(|v| String::from_utf8_lossy(&v).into_owned());
        Some(Owner {
            user_id: text("user_id")?,
            username: text("username"),
            role: text("role"),
            login_time: text("login_time").and_then(|t| t.parse().ok()),
            ip: text("ip"),
        })
    }

    /// `of user 101 (suhel, teacher)`.
    fn describe(&self) -> String {
        let details: Vec<&str> =
            [&self.username, &self.role].into_iter().flatten().map(String::as_str).collect();
        if details.is_empty() {
            format!("of user {}", self.user_id)
        } else {
            format!("of user {} ({})", self.user_id, details.join(", "))
        }
    }

    /// A renewed session keeps its fields: same user, login time and ip means the same session.
    fn same_session(&self, other: &Owner) -> bool {
        self.user_id == other.user_id
            && self.login_time.is_some()
            && self.login_time == other.login_time
            && self.ip == other.ip
    }

    /// Fills what this one lacks from another view of the same session.
    fn merge(&mut self, other: Owner) {
        if self.user_id != other.user_id {
            *self = other;
            return;
        }
        self.username = other.username.or(self.username.take());
        self.role = other.role.or(self.role.take());
        self.login_time = other.login_time.or(self.login_time);
        self.ip = other.ip.or(self.ip.take());
    }
}

/// How many sessions the cache remembers (the most recently learned).
pub const CACHE_MAX: usize = 10_000;

/// Session id (as stored) → owner, learned from this shell's own commands and from lookups.
#[derive(Debug, Default)]
pub struct Cache {
    owners: HashMap<String, Owner>,
    order: VecDeque<String>,
}

impl Cache {
    pub fn learn(&mut self, stored: &str, owner: Owner) {
        match self.owners.get_mut(stored) {
            Some(known) => known.merge(owner),
            None => {
                self.owners.insert(stored.to_owned(), owner);
                self.order.push_back(stored.to_owned());
            }
        }
        while self.owners.len() > CACHE_MAX {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.owners.remove(&oldest);
                }
                None => break,
            }
        }
        // Forgotten entries leave names behind in `order`; drop them before they pile up.
        if self.order.len() > 2 * CACHE_MAX {
            let owners = &self.owners;
            self.order.retain(|s| owners.contains_key(s));
        }
    }

    pub fn get(&self, stored: &str) -> Option<&Owner> {
        self.owners.get(stored)
    }

    pub fn forget(&mut self, stored: &str) -> Option<Owner> {
        self.owners.remove(stored)
    }

    pub fn len(&self) -> usize {
        self.owners.len()
    }

    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }
}

/// A session lifecycle event, ready to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lifecycle {
    Expired { stored: String, owner: Option<Owner> },
    Evicted { stored: String, owner: Option<Owner> },
    Deleted { stored: String, owner: Option<Owner> },
    Renewed { old: String, new: String, owner: Owner },
}

impl Lifecycle {
    /// The summary line (without the `# `).
    pub fn line(&self) -> String {
        let of = |o: &Option<Owner>| o.as_ref().map(|o| format!(" {}", o.describe()));
        match self {
            Lifecycle::Expired { stored, owner } => match of(owner) {
                Some(who) => format!("expired: session {}{who}", short(stored)),
                None => format!(
                    "expired: session {} (not seen by this shell: its user, and so its index entry, \
                     are unknown; `sessions <user>` or `fsck --repair` prune it later)",
                    short(stored)
                ),
            },
            Lifecycle::Evicted { stored, owner } => format!(
                "evicted: session {}{} (the server reached maxmemory)",
                short(stored),
                of(owner).unwrap_or_else(|| " (user unknown)".into())
            ),
            Lifecycle::Deleted { stored, owner } => {
                format!("deleted: session {}{}", short(stored), of(owner).unwrap_or_default())
            }
            Lifecycle::Renewed { old, new, owner } => {
                format!("renewed: session {} is now {} {}", short(old), short(new), owner.describe())
            }
        }
    }

    /// The index entry left behind by a session that ended on its own (expired, evicted):
    /// `(index key, member)`, when its user is known.
    pub fn stale_entry(&self) -> Option<(String, String)> {
        match self {
            Lifecycle::Expired { stored, owner: Some(o) } | Lifecycle::Evicted { stored, owner: Some(o) } => {
                Some((index_of(stored, &o.user_id), stored.clone()))
            }
            _ => None,
        }
    }
}

/// In the tagged layout the stored id names its user (`{101}:abc`): known without any cache.
pub fn user_of_stored(stored: &str) -> Option<&str> {
    let rest = stored.strip_prefix('{')?;
    let (user, _) = rest.split_once("}:")?;
    (!user.is_empty()).then_some(user)
}

/// The index a stored id belongs in: `user_sessions:{101}` for a tagged id (`{101}:abc`), else
/// `user_sessions:101`. Each key says its own layout, so a store written with another
/// `--key-layout` is still read right.
pub fn index_of(stored: &str, user_id: &str) -> String {
    if user_of_stored(stored).is_some() {
        format!("user_sessions:{{{user_id}}}")
    } else {
        crate::session::keys::index_key(user_id)
    }
}

/// Turns notifications into lifecycle events.
///
/// Renews are recognised by pairing a deleted session with a new TTL on a session of the same
/// user, login time and ip. On one server (or with tagged keys) a renew is one transaction whose
/// notifications arrive new-first, so deletions can be reported at once. On a cluster with the plain
/// layout the old id is deleted first, on its own node, so a deletion is held for `hold` in case its
/// new id follows.
#[derive(Debug)]
pub struct Tracker {
    hold: Duration,
    /// Deletions waiting to see whether they were the old half of a renew.
    held: Vec<(Instant, String, Owner)>,
    /// Sessions that just got a TTL: possibly the new half of a renew.
    fresh: VecDeque<(Instant, String, Owner)>,
}

/// How long a new TTL is remembered as a possible renew, and a deletion held on a cluster.
pub const PAIRING_WINDOW: Duration = Duration::from_secs(1);

impl Tracker {
    pub fn new(hold_deletions: bool) -> Tracker {
        Tracker {
            hold: if hold_deletions { PAIRING_WINDOW } else { Duration::ZERO },
            held: Vec::new(),
            fresh: VecDeque::new(),
        }
    }

    /// Whether a notification is worth a lookup of the session's fields (a TTL set on a session
    /// the cache does not know: it still exists, so its user can be read now).
    pub fn wants_lookup(n: &Notification, cache: &Cache) -> bool {
        n.kind == Kind::TtlSet && cache.get(&n.stored).is_none()
    }

    /// Feeds one notification; returns what can be reported now.
    pub fn observe(&mut self, n: Notification, cache: &mut Cache, now: Instant) -> Vec<Lifecycle> {
        let mut out = self.tick(now);
        let owner_or_tag =
            |o: Option<Owner>, stored: &str| o.or_else(|| user_of_stored(stored).map(Owner::new));
        match n.kind {
            Kind::TtlSet => {
                let Some(owner) = cache.get(&n.stored).cloned() else { return out };
                if let Some(i) =
                    self.held.iter().position(|(_, old, o)| *old != n.stored && o.same_session(&owner))
                {
                    let (_, old, _) = self.held.remove(i);
                    out.push(Lifecycle::Renewed { old, new: n.stored, owner });
                } else {
                    self.fresh.retain(|(_, s, _)| *s != n.stored);
                    self.fresh.push_back((now, n.stored, owner));
                }
            }
            Kind::Deleted => match cache.forget(&n.stored) {
                Some(owner) => {
                    let pair =
                        self.fresh.iter().position(|(_, new, o)| *new != n.stored && o.same_session(&owner));
                    if let Some((_, new, _)) = pair.and_then(|i| self.fresh.remove(i)) {
                        out.push(Lifecycle::Renewed { old: n.stored, new, owner });
                    } else if self.hold.is_zero() {
                        out.push(Lifecycle::Deleted { stored: n.stored, owner: Some(owner) });
                    } else {
                        self.held.push((now, n.stored, owner));
                    }
                }
                None => {
                    let owner = owner_or_tag(None, &n.stored);
                    out.push(Lifecycle::Deleted { stored: n.stored, owner });
                }
            },
            Kind::Expired => {
                let owner = owner_or_tag(cache.forget(&n.stored), &n.stored);
                out.push(Lifecycle::Expired { stored: n.stored, owner });
            }
            Kind::Evicted => {
                let owner = owner_or_tag(cache.forget(&n.stored), &n.stored);
                out.push(Lifecycle::Evicted { stored: n.stored, owner });
            }
        }
        out
    }

    /// Reports held deletions whose window has passed.
    pub fn tick(&mut self, now: Instant) -> Vec<Lifecycle> {
        while self.fresh.front().is_some_and(|(t, _, _)| now.saturating_duration_since(*t) > PAIRING_WINDOW) {
            self.fresh.pop_front();
        }
        let (due, kept): (Vec<_>, Vec<_>) =
            self.held.drain(..).partition(|(t, _, _)| now.saturating_duration_since(*t) >= self.hold);
        self.held = kept;
        due.into_iter().map(|(_, stored, owner)| Lifecycle::Deleted { stored, owner: Some(owner) }).collect()
    }

    /// At the end: every held deletion is reported as one.
    pub fn finish(&mut self) -> Vec<Lifecycle> {
        self.fresh.clear();
        self.held
            .drain(..)
            .map(|(_, stored, owner)| Lifecycle::Deleted { stored, owner: Some(owner) })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(uid: &str, login: u64) -> Owner {
        Owner {
            user_id: uid.into(),
            username: Some("suhel".into()),
            role: Some("teacher".into()),
            login_time: Some(login),
            ip: Some("10.0.0.1".into()),
        }
    }

    fn n(kind: Kind, stored: &str) -> Notification {
        Notification { kind, stored: stored.into() }
    }

    #[test]
    fn flags_needed_and_merged() {
        assert!(!Flags::new("").enough());
        assert_eq!(Flags::new("").merged(), "Egxe");
        assert!(Flags::new("gxE").enough());
        assert!(!Flags::new("gxE").evictions());
        assert_eq!(Flags::new("gxE").merged(), "gxEe");
        assert!(Flags::new("AKE").enough() && Flags::new("AKE").evictions());
        assert_eq!(Flags::new("AKE").merged(), "AKE");
        assert!(!Flags::new("A").enough(), "A without K or E publishes nothing");
        assert_eq!(Flags::new("A").merged(), "AE");
        assert_eq!(Flags::new("xK").merged(), "xKge");
        assert!(!Flags::new("Eg").enough());
    }

    #[test]
    fn channels_follow_the_flags() {
        assert_eq!(
            Flags::new("gxeE").subscription(2).command(),
            [
                "SUBSCRIBE",
                "__keyevent@2__:expired",
                "__keyevent@2__:evicted",
                "__keyevent@2__:del",
                "__keyevent@2__:expire"
            ]
            .map(|s| s.as_bytes().to_vec())
        );
        let k = Flags::new("gxK").subscription(0);
        assert_eq!(k, Subscription::Keyspace("__keyspace@0__:session:*".into()));
        assert_eq!(k.confirmations(), 1);
    }

    #[test]
    fn notifications_about_session_keys_only() {
        assert_eq!(
            parse_notification(b"__keyevent@0__:expired", b"session:abc"),
            Some(n(Kind::Expired, "abc"))
        );
        assert_eq!(
            parse_notification(b"__keyspace@0__:session:{7}:x", b"del"),
            Some(n(Kind::Deleted, "{7}:x"))
        );
        assert_eq!(parse_notification(b"__keyevent@0__:expire", b"user_sessions:1"), None);
        assert_eq!(parse_notification(b"__keyevent@0__:hset", b"session:abc"), None);
        assert_eq!(parse_notification(b"news", b"session:abc"), None);
        assert_eq!(parse_notification(b"__keyevent@0__:del", b"session:"), None);
    }

    #[test]
    fn expiry_is_reported_with_its_user_and_stale_entry() {
        let mut cache = Cache::default();
        cache.learn("abc", owner("101", 5));
        let mut t = Tracker::new(false);
        let now = Instant::now();
        let out = t.observe(n(Kind::Expired, "abc"), &mut cache, now);
        assert_eq!(out, [Lifecycle::Expired { stored: "abc".into(), owner: Some(owner("101", 5)) }]);
        assert_eq!(out[0].line(), "expired: session abc of user 101 (suhel, teacher)");
        assert_eq!(out[0].stale_entry(), Some(("user_sessions:101".into(), "abc".into())));
        assert!(cache.is_empty());
        let unknown = t.observe(n(Kind::Expired, "zzz"), &mut cache, now);
        assert!(unknown[0].line().starts_with("expired: session zzz (not seen by this shell"));
        assert_eq!(unknown[0].stale_entry(), None);
        // Tagged ids carry their user.
        let out = t.observe(n(Kind::Evicted, "{7}:q"), &mut cache, now);
        assert_eq!(out[0].stale_entry(), Some(("user_sessions:{7}".into(), "{7}:q".into())));
        assert_eq!(out[0].line(), "evicted: session {7}:q of user 7 (the server reached maxmemory)");
    }

    #[test]
    fn a_renew_on_one_server_pairs_the_new_ttl_with_the_deletion() {
        let mut cache = Cache::default();
        cache.learn("old", owner("101", 5));
        cache.learn("new", owner("101", 5));
        cache.learn("other", owner("101", 6));
        let mut t = Tracker::new(false);
        let now = Instant::now();
        assert!(t.observe(n(Kind::TtlSet, "other"), &mut cache, now).is_empty());
        assert!(t.observe(n(Kind::TtlSet, "new"), &mut cache, now).is_empty());
        let out = t.observe(n(Kind::Deleted, "old"), &mut cache, now);
        assert_eq!(
            out,
            [Lifecycle::Renewed { old: "old".into(), new: "new".into(), owner: owner("101", 5) }]
        );
        assert_eq!(out[0].line(), "renewed: session old is now new of user 101 (suhel, teacher)");
        // A logout: nothing new of that session.
        let out = t.observe(n(Kind::Deleted, "other"), &mut cache, now);
        assert_eq!(out, [Lifecycle::Deleted { stored: "other".into(), owner: Some(owner("101", 6)) }]);
        assert_eq!(out[0].line(), "deleted: session other of user 101 (suhel, teacher)");
    }

    #[test]
    fn on_a_cluster_deletions_wait_for_their_new_id() {
        let mut cache = Cache::default();
        cache.learn("old", owner("101", 5));
        cache.learn("gone", owner("102", 5));
        let mut t = Tracker::new(true);
        let t0 = Instant::now();
        assert!(t.observe(n(Kind::Deleted, "old"), &mut cache, t0).is_empty());
        assert!(t.observe(n(Kind::Deleted, "gone"), &mut cache, t0).is_empty());
        assert!(Tracker::wants_lookup(&n(Kind::TtlSet, "new"), &cache));
        cache.learn("new", owner("101", 5));
        let out = t.observe(n(Kind::TtlSet, "new"), &mut cache, t0 + Duration::from_millis(5));
        assert_eq!(
            out,
            [Lifecycle::Renewed { old: "old".into(), new: "new".into(), owner: owner("101", 5) }]
        );
        assert!(t.tick(t0 + Duration::from_millis(500)).is_empty());
        let out = t.tick(t0 + PAIRING_WINDOW);
        assert_eq!(out, [Lifecycle::Deleted { stored: "gone".into(), owner: Some(owner("102", 5)) }]);
        cache.learn("x", owner("103", 1));
        assert!(t.observe(n(Kind::Deleted, "x"), &mut cache, t0).is_empty());
        assert_eq!(t.finish().len(), 1);
    }

    #[test]
    fn the_cache_is_bounded_and_merges() {
        let mut cache = Cache::default();
        for i in 0..CACHE_MAX + 5 {
            cache.learn(&i.to_string(), Owner::new("1"));
        }
        assert_eq!(cache.len(), CACHE_MAX);
        assert!(cache.get("0").is_none() && cache.get(&(CACHE_MAX + 4).to_string()).is_some());
        let mut c = Cache::default();
        c.learn("a", owner("1", 5));
        c.learn("a", Owner { login_time: Some(5), ..Owner::new("1") });
        assert_eq!(c.get("a"), Some(&owner("1", 5)), "a partial view keeps what was known");
    }
}
