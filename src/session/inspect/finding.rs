//! `fsck [--repair]`: checks the store the way the session commands expect it to be, and with
//! `--repair` puts it right, echoing every write.
//!
//! First every index (`user_sessions:*`): members whose session is gone (stale) or belongs to
//! another user (misplaced), an index that is not a set, an index that would expire before its
//! sessions. Then every session (`session:*`): not a hash, missing fields or a login_time that is not
//! a number (malformed), past its absolute deadline (login_time + `--absolute-ttl`), without a TTL,
//! missing from its user's index. Reads are bounded SCANs and pipelined reads, counted rather than
//! echoed (see `scan`). Index members are ids as stored, so with `--hash-ids` fsck never needs a token.
//!
//! Repairs: stale and misplaced entries are removed (`SREM`), a wrong-type index is deleted, an index
//! gets the TTL of its longest session (`EXPIRE … NX`, `EXPIRE … GT`: only ever extended); a malformed session, or one past its deadline, is
//! ended as `logout` ends one (`DEL`, `SREM`), since nothing about it can be trusted; a session
//! without a TTL gets the one `touch` would give it; a session missing from its index is added back
//! (`SADD`, `EXPIRE … NX`, `EXPIRE … GT`, as `login` does).

use crate::exec::{Args, args};
use crate::session::events::{index_of, user_of_stored};
use crate::session::keys::{session_key_of_stored, short};
use crate::session::{human, plan};

/// The session fields, in the seed's order.
pub const FIELDS: [&str; 5] = ["user_id", "username", "role", "login_time", "ip"];

/// What "right" means: now, and the timeouts from the flags.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub now: u64,
    pub idle: u64,
    pub absolute: u64,
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// An index member whose session is gone.
    Stale {
        index: String,
        member: String,
    },
    /// An index member whose session belongs to another user.
    Misplaced {
        index: String,
        member: String,
        owner: String,
    },
    /// An index key that is not a set.
    IndexType {
        index: String,
        kind: String,
    },
    /// An index with no TTL, or one shorter than its longest session's: `needed` is that session's.
    IndexTtl {
        index: String,
        ttl: i64,
        needed: i64,
    },
    /// A session key that is not a hash.
    SessionType {
        stored: String,
        kind: String,
    },
    Malformed {
        stored: String,
        user_id: Option<String>,
        problems: Vec<String>,
    },
    PastDeadline {
        stored: String,
        user_id: String,
        over: u64,
    },
    /// No TTL: `ttl` is what `touch` would set.
    NoTtl {
        stored: String,
        user_id: String,
        ttl: i64,
    },
    NotInIndex {
        stored: String,
        user_id: String,
        ttl: i64,
    },
}

impl Finding {
    /// One line saying what is wrong (without `# `).
    pub fn line(&self) -> String {
        match self {
            Finding::Stale { index, member } => {
                format!("stale index entry: {index} lists {}, whose session is gone", short(member))
            }
            Finding::Misplaced { index, member, owner } => {
                format!("misplaced index entry: {index} lists {}, a session of user {owner}", short(member))
            }
            Finding::IndexType { index, kind } => format!("malformed index: {index} is a {kind}, not a set"),
            Finding::IndexTtl { index, ttl: -1, needed } => {
                format!(
                    "index without TTL: {index} never expires (its longest session has {} left)",
                    human(*needed)
                )
            }
            Finding::IndexTtl { index, ttl, needed } => format!(
                "index expires too soon: {index} in {}, one of its sessions in {}",
                human(*ttl),
                human(*needed)
            ),
            Finding::SessionType { stored, kind } => {
                format!("malformed session: session:{} is a {kind}, not a hash", short(stored))
            }
            Finding::Malformed { stored, problems, .. } => {
                format!("malformed session: {}: {}", short(stored), problems.join("; "))
            }
            Finding::PastDeadline { stored, user_id, over } => format!(
                "past its absolute deadline: session {} of user {user_id}, by {} (login_time + --absolute-ttl)",
                short(stored),
                human(*over as i64)
            ),
            Finding::NoTtl { stored, user_id, .. } => {
                format!("no TTL: session {} of user {user_id} never expires", short(stored))
            }
            Finding::NotInIndex { stored, user_id, .. } => {
                format!(
                    "not in its index: session {} of user {user_id} is missing from its user's index",
                    short(stored)
                )
            }
        }
    }

    /// What `--audit-stream` records of its repair: the kind of finding and the keys it concerns
    /// (ids as stored, as in every entry).
    pub fn audit_fields(&self) -> Vec<(&'static str, &str)> {
        match self {
            Finding::Stale { index, member } => {
                vec![("finding", "stale-entry"), ("index", index), ("id", member)]
            }
            Finding::Misplaced { index, member, owner } => {
                vec![("finding", "misplaced-entry"), ("index", index), ("id", member), ("user", owner)]
            }
            Finding::IndexType { index, .. } => vec![("finding", "malformed-index"), ("index", index)],
            Finding::IndexTtl { index, .. } => vec![("finding", "index-ttl"), ("index", index)],
            Finding::SessionType { stored, .. } | Finding::Malformed { stored, user_id: None, .. } => {
                vec![("finding", "malformed-session"), ("id", stored)]
            }
            Finding::Malformed { stored, user_id: Some(uid), .. } => {
                vec![("finding", "malformed-session"), ("id", stored), ("user", uid)]
            }
            Finding::PastDeadline { stored, user_id, .. } => {
                vec![("finding", "past-deadline"), ("id", stored), ("user", user_id)]
            }
            Finding::NoTtl { stored, user_id, .. } => {
                vec![("finding", "no-ttl"), ("id", stored), ("user", user_id)]
            }
            Finding::NotInIndex { stored, user_id, .. } => {
                vec![("finding", "not-in-index"), ("id", stored), ("user", user_id)]
            }
        }
    }

    /// The writes that fix it; each list is one step (a transaction on one server).
    pub fn repair(&self) -> Vec<Args> {
        match self {
            Finding::Stale { index, member } | Finding::Misplaced { index, member, .. } => {
                vec![args(["SREM", index, member])]
            }
            Finding::IndexType { index, .. } => vec![args(["DEL", index])],
            // Only ever extended: a login racing with the repair may have just made it longer.
            Finding::IndexTtl { index, needed, .. } => {
                let ttl = needed.to_string();
                vec![args(["EXPIRE", index, &ttl, "NX"]), args(["EXPIRE", index, &ttl, "GT"])]
            }
            Finding::SessionType { stored, .. } | Finding::Malformed { stored, user_id: None, .. } => {
                vec![args(["DEL", &session_key_of_stored(stored)])]
            }
            Finding::Malformed { stored, user_id: Some(uid), .. }
            | Finding::PastDeadline { stored, user_id: uid, .. } => {
                plan::logout_writes(stored, &index_of(stored, uid))
            }
            Finding::NoTtl { stored, user_id, ttl } => {
                plan::touch_writes(stored, &index_of(stored, user_id), *ttl)
            }
            Finding::NotInIndex { stored, user_id, ttl } => {
                let index = index_of(stored, user_id);
                let ttl = ttl.to_string();
                vec![
                    args(["SADD", &index, stored]),
                    args(["EXPIRE", &index, &ttl, "NX"]),
                    args(["EXPIRE", &index, &ttl, "GT"]),
                ]
            }
        }
    }
}

/// One index member as read: its session's `user_id` and TTL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub member: String,
    pub owner: Option<String>,
    pub ttl: i64,
}

/// Checks one index (a set) against its members' sessions.
pub fn check_index(
    index: &str,
    user_id: &str,
    index_ttl: i64,
    members: &[Member],
    limits: &Limits,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut needed: Option<i64> = None;
    for m in members {
        match (&m.owner, m.ttl) {
            (_, -2) => out.push(Finding::Stale { index: index.to_owned(), member: m.member.clone() }),
            (Some(owner), _) if owner != user_id => out.push(Finding::Misplaced {
                index: index.to_owned(),
                member: m.member.clone(),
                owner: owner.clone(),
            }),
            // A session without a TTL gets at most the idle timeout when it is repaired.
            (_, ttl) => {
                let ttl = if ttl < 0 { limits.idle as i64 } else { ttl };
                needed = Some(needed.map_or(ttl, |n| n.max(ttl)));
            }
        }
    }
    // A second of slack: the TTLs were read one after the other.
    if let Some(needed) = needed
        && (index_ttl == -1 || index_ttl + 1 < needed)
    {
        out.push(Finding::IndexTtl { index: index.to_owned(), ttl: index_ttl, needed });
    }
    out
}

/// What the session check leaves to do: whether the session must be in an index (and with what TTL
/// the index should then live).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCheck {
    pub findings: Vec<Finding>,
    /// `(user_id, ttl)` when the session is sound enough to belong in its user's index.
    pub indexed_as: Option<(String, i64)>,
}

/// Checks one session hash from its fields (in `FIELDS` order) and TTL.
pub fn check_session(stored: &str, fields: &[Option<String>], ttl: i64, limits: &Limits) -> SessionCheck {
    let get = |i: usize| fields.get(i).cloned().flatten();
    let user_id = get(0);
    let mut problems = Vec::new();
    let missing: Vec<&str> =
        FIELDS.iter().enumerate().filter(|(i, _)| get(*i).is_none()).map(|(_, f)| *f).collect();
    if !missing.is_empty() {
        problems.push(format!("missing {}", missing.join(", ")));
    }
    let login_time = get(3).map(|t| t.parse::<u64>().map_err(|_| t));
    if let Some(Err(t)) = &login_time {
        problems.push(format!("login_time is not a number ('{}')", t.escape_default()));
    }
    if let (Some(tag), Some(uid)) = (user_of_stored(stored), &user_id)
        && tag != uid
    {
        problems.push(format!("its key names user {tag} but user_id is {uid}"));
    }
    let (Some(uid), Some(Ok(login_time)), true) = (user_id.clone(), login_time, problems.is_empty()) else {
        return SessionCheck {
            findings: vec![Finding::Malformed { stored: stored.to_owned(), user_id, problems }],
            indexed_as: None,
        };
    };
    let deadline = login_time.saturating_add(limits.absolute);
    if deadline <= limits.now {
        return SessionCheck {
            findings: vec![Finding::PastDeadline {
                stored: stored.to_owned(),
                user_id: uid,
                over: limits.now - deadline,
            }],
            indexed_as: None,
        };
    }
    if ttl == -1 {
        let ttl = plan::touch_ttl(limits.now, login_time, limits.idle, limits.absolute);
        return SessionCheck {
            findings: vec![Finding::NoTtl { stored: stored.to_owned(), user_id: uid.clone(), ttl }],
            indexed_as: Some((uid, ttl)),
        };
    }
    SessionCheck { findings: Vec::new(), indexed_as: Some((uid, ttl)) }
}

/// The user of an index key: `user_sessions:101` or `user_sessions:{101}`.
pub fn user_of_index(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("user_sessions:")?;
    let user = rest.strip_prefix('{').and_then(|r| r.strip_suffix('}')).unwrap_or(rest);
    (!user.is_empty()).then_some(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { now: 100_000, idle: 1800, absolute: 28_800 };

    fn some(v: &[&str]) -> Vec<Option<String>> {
        v.iter().map(|s| (!s.is_empty()).then(|| (*s).to_owned())).collect()
    }

    fn member(m: &str, owner: Option<&str>, ttl: i64) -> Member {
        Member { member: m.into(), owner: owner.map(str::to_owned), ttl }
    }

    #[test]
    fn sound_sessions_need_only_their_index() {
        let c = check_session("abc", &some(&["101", "suhel", "teacher", "99000", "1.2.3.4"]), 600, &LIMITS);
        assert_eq!(c, SessionCheck { findings: vec![], indexed_as: Some(("101".into(), 600)) });
    }

    #[test]
    fn session_problems() {
        let c = check_session("abc", &some(&["101", "", "teacher", "99000", ""]), 600, &LIMITS);
        assert_eq!(c.findings[0].line(), "malformed session: abc: missing username, ip");
        assert_eq!(c.indexed_as, None);
        let c = check_session("abc", &some(&["101", "s", "t", "soon", "ip"]), 600, &LIMITS);
        assert_eq!(c.findings[0].line(), "malformed session: abc: login_time is not a number ('soon')");
        let c = check_session("{7}:abc", &some(&["8", "s", "t", "99000", "ip"]), 600, &LIMITS);
        assert!(c.findings[0].line().ends_with("its key names user 7 but user_id is 8"));
        let c = check_session("old", &some(&["101", "s", "t", "60000", "ip"]), 600, &LIMITS);
        assert_eq!(
            c.findings,
            [Finding::PastDeadline { stored: "old".into(), user_id: "101".into(), over: 100_000 - 88_800 }]
        );
        assert_eq!(c.indexed_as, None);
        // No TTL: the one touch would give (the idle timeout, capped by the deadline).
        let c = check_session("n", &some(&["101", "s", "t", "99000", "ip"]), -1, &LIMITS);
        assert_eq!(c.findings, [Finding::NoTtl { stored: "n".into(), user_id: "101".into(), ttl: 1800 }]);
        assert_eq!(c.indexed_as, Some(("101".into(), 1800)));
        let c = check_session("n", &some(&["101", "s", "t", "71500", "ip"]), -1, &LIMITS);
        assert_eq!(c.indexed_as, Some(("101".into(), 300)));
    }

    #[test]
    fn index_problems() {
        let members = [
            member("a", Some("101"), 500),
            member("gone", None, -2),
            member("b", Some("102"), 900),
            member("c", None, 100),
        ];
        let f = check_index("user_sessions:101", "101", 400, &members, &LIMITS);
        assert_eq!(
            f,
            [
                Finding::Stale { index: "user_sessions:101".into(), member: "gone".into() },
                Finding::Misplaced {
                    index: "user_sessions:101".into(),
                    member: "b".into(),
                    owner: "102".into()
                },
                Finding::IndexTtl { index: "user_sessions:101".into(), ttl: 400, needed: 500 },
            ]
        );
        assert_eq!(f[0].line(), "stale index entry: user_sessions:101 lists gone, whose session is gone");
        assert_eq!(
            f[2].line(),
            "index expires too soon: user_sessions:101 in 6m40s, one of its sessions in 8m20s"
        );
        assert!(check_index("user_sessions:101", "101", 500, &members[..1], &LIMITS).is_empty());
        assert!(
            check_index("user_sessions:101", "101", 499, &members[..1], &LIMITS).is_empty(),
            "a second of slack"
        );
        let f = check_index("i", "101", -1, &[member("x", Some("101"), -1)], &LIMITS);
        assert_eq!(f, [Finding::IndexTtl { index: "i".into(), ttl: -1, needed: 1800 }]);
        assert!(
            check_index("i", "101", -1, &[member("x", None, -2)], &LIMITS).len() == 1,
            "emptied: no TTL finding"
        );
    }

    #[test]
    fn repairs() {
        let line = |cmds: Vec<Args>| -> Vec<String> {
            cmds.iter().map(|c| String::from_utf8(crate::redis::split::join_args(c)).unwrap()).collect()
        };
        let f = Finding::NotInIndex { stored: "abc".into(), user_id: "101".into(), ttl: 60 };
        assert_eq!(
            line(f.repair()),
            [
                "SADD user_sessions:101 abc",
                "EXPIRE user_sessions:101 60 NX",
                "EXPIRE user_sessions:101 60 GT"
            ]
        );
        let f = Finding::PastDeadline { stored: "{7}:x".into(), user_id: "7".into(), over: 1 };
        assert_eq!(line(f.repair()), ["DEL session:{7}:x", "SREM user_sessions:{7} {7}:x"]);
        let f = Finding::NoTtl { stored: "abc".into(), user_id: "101".into(), ttl: 1800 };
        assert_eq!(line(f.repair()), ["EXPIRE user_sessions:101 1800 GT", "EXPIRE session:abc 1800"]);
        let f = Finding::Malformed { stored: "abc".into(), user_id: None, problems: vec![] };
        assert_eq!(line(f.repair()), ["DEL session:abc"]);
        let f = Finding::IndexTtl { index: "i".into(), ttl: -1, needed: 5 };
        assert_eq!(line(f.repair()), ["EXPIRE i 5 NX", "EXPIRE i 5 GT"], "never shortened");
    }

    #[test]
    fn index_keys_name_their_user() {
        assert_eq!(user_of_index("user_sessions:101"), Some("101"));
        assert_eq!(user_of_index("user_sessions:{101}"), Some("101"));
        assert_eq!(user_of_index("user_sessions:"), None);
        assert_eq!(user_of_index("other"), None);
    }
}
