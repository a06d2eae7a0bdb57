//! Session commands as step machines, and the Redis commands each step sends. Pure: no I/O.
//!
//! A session command is a [`Machine`]: given the replies to its last batch it returns the next
//! [`Batch`] of Redis commands or its [`Outcome`]. Only the executor sends a batch, echoes it and
//! prints its replies, so the echo can never differ from what was sent; and because steps are
//! data, the script runner can interleave the steps of many commands in one pipelined window.
//! What every command needs alike is a field of [`Batch`], handled once by the executor: WATCH
//! (its own connection until the command ends), retry after a WATCH abort, undo of a transaction
//! that failed part-way at run time.

use crate::exec::{Args, args};
use crate::redis::reply::Reply;
use crate::session::keys::{session_key_of_member, session_key_of_stored};

/// What a step machine asks for next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send these commands; resume with one reply per command, in order.
    Send(Batch),
    Done(Outcome),
}

/// Commands sent together, in one round trip, on one connection (one node of a cluster: every
/// keyed command of a batch lives in one slot).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    pub cmds: Vec<Args>,
    /// The batch WATCHes keys: the command keeps a connection of its own until it ends, so that no
    /// other command's EXEC clears its WATCH.
    pub watch: bool,
    /// The command sends nothing after this batch (lets later commands on the same keys follow it
    /// on the same connection at once).
    pub last: bool,
    /// When its EXEC comes back nil (a WATCHed key changed, nothing ran), the command starts over.
    pub retry: bool,
    /// When its EXEC ran but a command in it failed, these commands take back what did run.
    pub undo: Vec<Args>,
    /// Bulk reads that are counted rather than echoed (`stats`, `fsck`).
    pub quiet: bool,
    /// A cluster node to send to (`host`, `port`), when not the node of the batch's keys.
    pub node: Option<(String, u16)>,
    /// Reads that a replica may answer under `--read-from-replica` (whoami, sessions, stats).
    pub replica_ok: bool,
    /// Summary lines shown before the batch is sent (`fsck`'s findings, each before its repair).
    pub notes: Vec<String>,
}

impl Batch {
    /// Plain commands.
    pub fn of(cmds: Vec<Args>) -> Batch {
        Batch { cmds, ..Batch::default() }
    }

    /// Commands after which the command is done.
    pub fn last(cmds: Vec<Args>) -> Batch {
        Batch { cmds, last: true, ..Batch::default() }
    }

    /// `WATCH keys…` followed by reads; the replies handed back are the reads' alone.
    pub fn watching(keys: &[&str], reads: Vec<Args>) -> Batch {
        let mut cmds = vec![args(std::iter::once("WATCH").chain(keys.iter().copied()))];
        cmds.extend(reads);
        Batch { cmds, watch: true, ..Batch::default() }
    }

    /// A MULTI … EXEC of `writes`, started over when a WATCHed key changed.
    pub fn transaction(writes: Vec<Args>) -> Batch {
        Batch { cmds: transaction(writes), retry: true, ..Batch::default() }
    }
}

/// How a command changes the shell's current session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CurrentChange {
    #[default]
    Keep,
    /// This session is now the current one.
    Set { id: String, username: Option<String> },
    /// A session ended (or moved, with `to`): when it is the current one, the shell follows.
    Ended { id: String, to: Option<String> },
    /// Several sessions ended (by stored id): the current one is dropped when among them.
    EndedStored(Vec<String>),
}

/// What a session command did, for the shell to show and remember.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Lines shown after the command's transcript, each as `# …`.
    pub summary: Vec<String>,
    /// The command failed: this message, naming the line in scripts; exit status 1.
    pub error: Option<String>,
    pub current: CurrentChange,
    /// Session ids to offer for completion.
    pub seen: Vec<String>,
    /// Who owns each session (by stored id), for `events` to name them when they end.
    pub owners: Vec<(String, crate::session::events::Owner)>,
}

impl Outcome {
    pub fn ok(line: impl Into<String>) -> Outcome {
        Outcome { summary: vec![line.into()], ..Outcome::default() }
    }

    pub fn failed(message: impl Into<String>) -> Outcome {
        Outcome { error: Some(message.into()), ..Outcome::default() }
    }
}

/// A session command, as pure code: it never touches a connection.
pub trait Machine {
    /// The first step (called again to start over after a WATCH abort).
    fn start(&mut self) -> Step;
    /// The next step, given one reply per command of the last batch (for a [`Batch::watching`]
    /// batch, the replies to its reads only).
    fn resume(&mut self, replies: Vec<Reply>) -> Step;
    /// What a long-running command has done so far (`stats`: keys scanned), for a progress line.
    fn progress(&self) -> Option<(&'static str, u64)> {
        None
    }
}

/// A machine lent to the executor for one run.
impl<M: Machine + ?Sized> Machine for &mut M {
    fn start(&mut self) -> Step {
        (**self).start()
    }

    fn resume(&mut self, replies: Vec<Reply>) -> Step {
        (**self).resume(replies)
    }

    fn progress(&self) -> Option<(&'static str, u64)> {
        (**self).progress()
    }
}

/// The result of a MULTI … EXEC, from the replies to its batch (the last one is EXEC's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tx {
    /// Each queued command's reply.
    Ran(Vec<Reply>),
    /// A WATCHed key changed: nothing ran.
    Aborted,
    /// EXECABORT (a command was refused when queued, e.g. OOM): nothing ran.
    Refused(String),
}

impl Tx {
    pub fn of(replies: &[Reply]) -> Tx {
        match replies.last() {
            Some(Reply::Array(items)) => Tx::Ran(items.clone()),
            // EXECABORT only says "previous errors": the queued command's refusal says which.
            Some(Reply::Error(e)) => {
                let mut why = String::from_utf8_lossy(e).into_owned();
                let queued = &replies[..replies.len() - 1];
                if let Some(q) = queued.iter().find_map(Reply::error_text) {
                    why.push_str(&format!(" ({})", String::from_utf8_lossy(q)));
                }
                Tx::Refused(why)
            }
            Some(Reply::Nil) | None => Tx::Aborted,
            Some(other) => Tx::Refused(format!("unexpected EXEC reply {other:?}")),
        }
    }

    /// The first error among the replies of a transaction that ran.
    pub fn failure(&self) -> Option<String> {
        match self {
            Tx::Ran(items) => {
                items.iter().find_map(|r| r.error_text()).map(|e| String::from_utf8_lossy(e).into_owned())
            }
            Tx::Refused(e) => Some(e.clone()),
            Tx::Aborted => None,
        }
    }

    /// Whether a transaction was refused because the server is out of memory.
    pub fn out_of_memory(&self) -> bool {
        matches!(self, Tx::Refused(e) if e.contains("OOM"))
    }
}

/// The fields of a new session, in the seed's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession<'a> {
    /// The id as stored (hashed under `--hash-ids`).
    pub stored_id: &'a str,
    pub user_id: &'a str,
    /// The user's index key (`user_sessions:<user_id>`, or its hash-tagged form).
    pub index: &'a str,
    pub username: &'a [u8],
    pub role: &'a [u8],
    pub login_time: u64,
    pub ip: &'a [u8],
    /// Seconds until the session expires if untouched.
    pub ttl: u64,
}

/// The writes that create a session: hash, its TTL, the index entry and the index's TTL.
/// The index gets the session's TTL when it has none (NX) and is only ever extended (GT), so it
/// lives exactly as long as its longest-lived session.
pub fn create_writes(s: &NewSession<'_>) -> Vec<Args> {
    let mut writes = session_writes(s);
    writes.extend(index_writes(s));
    writes
}

/// The session hash and its TTL (one slot).
pub fn session_writes(s: &NewSession<'_>) -> Vec<Args> {
    let key = session_key_of_stored(s.stored_id);
    vec![
        args([
            b"HSET".as_slice(),
            key.as_bytes(),
            b"user_id",
            s.user_id.as_bytes(),
            b"username",
            s.username,
            b"role",
            s.role,
            b"login_time",
            s.login_time.to_string().as_bytes(),
            b"ip",
            s.ip,
        ]),
        args(["EXPIRE", &key, &s.ttl.to_string()]),
    ]
}

/// The index entry and the index's TTL (the user's slot).
pub fn index_writes(s: &NewSession<'_>) -> Vec<Args> {
    let index = s.index;
    let ttl = s.ttl.to_string();
    vec![
        args(["SADD", index, s.stored_id]),
        args(["EXPIRE", index, &ttl, "NX"]),
        args(["EXPIRE", index, &ttl, "GT"]),
    ]
}

/// Wraps writes in MULTI … EXEC.
pub fn transaction(mut writes: Vec<Args>) -> Vec<Args> {
    writes.insert(0, args(["MULTI"]));
    writes.push(args(["EXEC"]));
    writes
}

/// Seconds a touch may give a session: the idle timeout, capped by the absolute deadline.
/// Zero or less means the deadline has passed.
pub fn touch_ttl(now: u64, login_time: u64, idle: u64, absolute: u64) -> i64 {
    let left = i128::from(login_time) + i128::from(absolute) - i128::from(now);
    let ttl = i128::from(idle).min(left);
    ttl.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// A session's absolute deadline as unix milliseconds (login_time + absolute), saturating: a huge
/// `--absolute-ttl` means "far away", never a wrapped-around past.
pub fn deadline_ms(login_time: u64, absolute: u64) -> i64 {
    let ms = (i128::from(login_time) + i128::from(absolute)) * 1000;
    ms.min(i128::from(i64::MAX)) as i64
}

/// Sliding expiry enforced with the server's clock: the index extended to the idle timeout (never
/// shortened), the session given the idle timeout, then held to its absolute deadline (`LT`: a
/// deadline already past deletes it at once). No client delay or clock skew can extend it.
/// `index_idle` is the idle timeout, or a second more where the index is written in a step of its
/// own (a cluster), before the session: it must not end a millisecond before it.
pub fn slide_writes(stored_id: &str, index: &str, idle: u64, index_idle: u64, deadline_ms: i64) -> Vec<Args> {
    let key = session_key_of_stored(stored_id);
    let idle = idle.to_string();
    vec![
        args(["EXPIRE", index, &index_idle.to_string(), "GT"]),
        args(["EXPIRE", &key, &idle]),
        args(["PEXPIREAT", &key, &deadline_ms.to_string(), "LT"]),
    ]
}

// The write lists below are in the order that is safe when each command runs on its own (a
// cluster, where the session and its index live in different slots): a failure part-way can only
// leave an index entry without a session, or an index that lives longer — never a live session
// missing from its index. On one server they run inside MULTI/EXEC and are atomic anyway.

/// Sliding expiry: the index extended to match (never shortened), then the session's TTL.
pub fn touch_writes(stored_id: &str, index: &str, ttl: i64) -> Vec<Args> {
    let ttl = ttl.to_string();
    vec![args(["EXPIRE", index, &ttl, "GT"]), args(["EXPIRE", &session_key_of_stored(stored_id), &ttl])]
}

/// Destroys one session, then its index entry.
pub fn logout_writes(stored_id: &str, index: &str) -> Vec<Args> {
    vec![args(["DEL", &session_key_of_stored(stored_id)]), args(["SREM", index, stored_id])]
}

/// The reads that describe a session: the seed's validation steps.
pub fn whoami_reads(stored_id: &str) -> Vec<Args> {
    let key = session_key_of_stored(stored_id);
    vec![args(["EXISTS", &key]), args(["HGETALL", &key]), args(["TTL", &key])]
}

/// Per listed index member: its session's login time and ip, and its TTL. Members are bytes as the
/// server gave them: one that is not UTF-8 (written by another client) still names its own key.
pub fn describe_reads(members: &[Vec<u8>]) -> Vec<Args> {
    members
        .iter()
        .flat_map(|m| {
            let key = session_key_of_member(m);
            [args([b"HMGET".as_slice(), &key, b"login_time", b"ip"]), args([b"TTL".as_slice(), &key])]
        })
        .collect()
}

/// Removes ids whose session is gone from a user's index.
pub fn prune(index: &str, dead: &[String]) -> Args {
    let mut cmd = args(["SREM", index]);
    cmd.extend(dead.iter().map(|d| d.as_bytes().to_vec()));
    cmd
}

/// Deletes every listed session (index members, as bytes) and the index itself, in one DEL.
pub fn logout_all_writes(index: &str, members: &[Vec<u8>]) -> Vec<Args> {
    let mut del = delete_all(members);
    del.push(index.as_bytes().to_vec());
    vec![del]
}

/// Deletes every listed session in one DEL (one server, or one slot).
pub fn delete_all(members: &[Vec<u8>]) -> Args {
    let mut del = args(["DEL"]);
    del.extend(members.iter().map(|m| session_key_of_member(m)));
    del
}

/// On a cluster, where those keys live in different slots: one DEL per session.
pub fn delete_sessions(members: &[Vec<u8>]) -> Vec<Args> {
    members.iter().map(|m| vec![b"DEL".to_vec(), session_key_of_member(m)]).collect()
}

/// Removes listed members (as bytes) from an index.
pub fn forget(index: &str, members: &[Vec<u8>]) -> Args {
    let mut cmd = args(["SREM", index]);
    cmd.extend(members.iter().cloned());
    cmd
}

/// When a session copied under a new id expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// At the old session's own expiry (unix ms, from PEXPIRETIME): never later than it was.
    AtMs(i64),
    /// The old one had no TTL (damaged by hand): after the idle timeout (seconds).
    After(u64),
}

/// Moves a session to a new id: same fields (in their order), same expiry, index updated (and
/// extended to cover the new id, never shortened), old id gone. Not yet in a transaction.
pub fn renew_writes(
    old: &str,
    new: &str,
    index: &str,
    fields: &[(Vec<u8>, Vec<u8>)],
    expiry: Expiry,
) -> Vec<Args> {
    let mut writes = copy_writes(new, fields, expiry);
    writes.extend(announce_writes(new, index, expiry));
    writes.extend([args(["SREM", index, old]), args(["DEL", &session_key_of_stored(old)])]);
    writes
}

/// The new id in its index, the index made to live at least as long as it (NX, then GT).
pub fn announce_writes(new: &str, index: &str, expiry: Expiry) -> Vec<Args> {
    let mut writes = vec![args(["SADD", index, new])];
    match expiry {
        Expiry::AtMs(ms) => {
            let ms = ms.to_string();
            writes.push(args(["PEXPIREAT", index, &ms, "NX"]));
            writes.push(args(["PEXPIREAT", index, &ms, "GT"]));
        }
        Expiry::After(secs) => {
            let secs = secs.to_string();
            writes.push(args(["EXPIRE", index, &secs, "NX"]));
            writes.push(args(["EXPIRE", index, &secs, "GT"]));
        }
    }
    writes
}

/// Takes back a renew whose transaction failed part-way: the old session restored exactly as it
/// was read (fields, expiry) and back in its index, then the new one removed.
pub fn renew_undo(
    old: &str,
    new: &str,
    index: &str,
    fields: &[(Vec<u8>, Vec<u8>)],
    old_expiry: Option<i64>,
) -> Vec<Args> {
    let old_key = session_key_of_stored(old);
    let mut hset = args(["HSET", &old_key]);
    for (f, v) in fields {
        hset.push(f.clone());
        hset.push(v.clone());
    }
    let mut undo = vec![hset];
    if let Some(ms) = old_expiry {
        undo.push(args(["PEXPIREAT", &old_key, &ms.to_string()]));
    }
    undo.extend([
        args(["SADD", index, old]),
        args(["DEL", &session_key_of_stored(new)]),
        args(["SREM", index, new]),
    ]);
    undo
}

/// A session's fields (in their order) under a new id, with its expiry.
pub fn copy_writes(new: &str, fields: &[(Vec<u8>, Vec<u8>)], expiry: Expiry) -> Vec<Args> {
    let new_key = session_key_of_stored(new);
    let mut hset = args(["HSET", &new_key]);
    for (f, v) in fields {
        hset.push(f.clone());
        hset.push(v.clone());
    }
    let expire = match expiry {
        Expiry::AtMs(ms) => args(["PEXPIREAT", &new_key, &ms.to_string()]),
        Expiry::After(secs) => args(["EXPIRE", &new_key, &secs.to_string()]),
    };
    vec![hset, expire]
}

/// Evicts the oldest sessions of a user (at the concurrent-session limit) inside a login transaction.
pub fn evict_writes(index: &str, victims: &[String]) -> Vec<Args> {
    if victims.is_empty() {
        return vec![];
    }
    let mut del = args(["DEL"]);
    del.extend(victims.iter().map(|v| session_key_of_stored(v).into_bytes()));
    vec![del, prune(index, victims)]
}

/// Drives step machines with canned replies, for unit tests without a server.
#[cfg(test)]
pub mod testing {
    use super::*;
    use crate::redis::split::join_args;
    use crate::session::keys::Layout;
    use crate::session::{Context, Settings};

    pub fn bulk(s: &str) -> Reply {
        Reply::Bulk(s.as_bytes().to_vec())
    }

    pub fn ok() -> Reply {
        Reply::Status(b"OK".to_vec())
    }

    pub fn queued() -> Reply {
        Reply::Status(b"QUEUED".to_vec())
    }

    /// The replies to a MULTI … EXEC of `n` commands that ran with these results.
    pub fn tx(results: Vec<Reply>) -> Vec<Reply> {
        let mut replies = vec![ok()];
        replies.extend(results.iter().map(|_| queued()));
        replies.push(Reply::Array(results));
        replies
    }

    /// A context at unix time `now`, with the default settings and no current session.
    pub fn ctx(now: u64) -> Context {
        ctx_with(now, Settings::default())
    }

    pub fn ctx_with(now: u64, settings: Settings) -> Context {
        let layout = Layout { hash_ids: settings.hash_ids, tagged: settings.tagged };
        let cluster = settings.cluster;
        Context { settings, layout, now, current: None, ip: "10.0.0.1".into(), cluster }
    }

    /// Echo lines as redis-cli would show them (without prompt).
    pub fn lines(cmds: &[Args]) -> Vec<String> {
        cmds.iter().map(|c| String::from_utf8(join_args(c)).unwrap()).collect()
    }

    /// Runs `m` to its outcome, answering its batches in turn with `answers` (for a WATCHing
    /// batch, the replies to its reads only, as the executor hands them over). Returns every
    /// command sent, in order. Panics when the machine asks for more batches than answered.
    pub fn run(m: impl Machine, answers: Vec<Vec<Reply>>) -> (Vec<Args>, Outcome) {
        let (batches, outcome) = run_batches(m, answers);
        (batches.into_iter().flat_map(|b| b.cmds).collect(), outcome)
    }

    /// [`run`], keeping every batch whole (where it goes, whether it is quiet, its notes).
    pub fn run_batches(mut m: impl Machine, answers: Vec<Vec<Reply>>) -> (Vec<Batch>, Outcome) {
        let mut sent = Vec::new();
        let mut answers = answers.into_iter();
        let mut step = m.start();
        loop {
            match step {
                Step::Done(outcome) => {
                    assert!(answers.next().is_none(), "the machine finished with answers left over");
                    return (sent, outcome);
                }
                Step::Send(batch) => {
                    let replies =
                        answers.next().unwrap_or_else(|| panic!("no answer for {:?}", lines(&batch.cmds)));
                    let expected = batch.cmds.len() - usize::from(batch.watch);
                    assert_eq!(replies.len(), expected, "answer size for {:?}", lines(&batch.cmds));
                    sent.push(batch);
                    step = m.resume(replies);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis::split::join_args;

    fn lines(cmds: &[Args]) -> Vec<String> {
        cmds.iter().map(|c| String::from_utf8(join_args(c)).unwrap()).collect()
    }

    #[test]
    fn login_is_the_seeds_commands_in_one_transaction() {
        let s = NewSession {
            stored_id: "abc123",
            user_id: "101",
            index: "user_sessions:101",
            username: b"suhel",
            role: b"teacher",
            login_time: 1707390000,
            ip: b"192.168.1.10",
            ttl: 1800,
        };
        assert_eq!(
            lines(&transaction(create_writes(&s))),
            [
                "MULTI",
                "HSET session:abc123 user_id 101 username suhel role teacher login_time 1707390000 ip 192.168.1.10",
                "EXPIRE session:abc123 1800",
                "SADD user_sessions:101 abc123",
                "EXPIRE user_sessions:101 1800 NX",
                "EXPIRE user_sessions:101 1800 GT",
                "EXEC",
            ]
        );
    }

    #[test]
    fn touch_is_capped_by_the_absolute_deadline() {
        assert_eq!(touch_ttl(1000, 1000, 1800, 28800), 1800);
        assert_eq!(touch_ttl(1000 + 28000, 1000, 1800, 28800), 800);
        assert_eq!(touch_ttl(1000 + 28800, 1000, 1800, 28800), 0);
        assert_eq!(touch_ttl(1000 + 30000, 1000, 1800, 28800), -1200);
        assert_eq!(touch_ttl(1000, 1000, 1800, i64::MAX as u64), 1800, "a huge deadline is no deadline");
        assert_eq!(touch_ttl(1000, 1000, 1800, u64::MAX), 1800);
        assert_eq!(
            lines(&touch_writes("abc123", "user_sessions:101", 1800)),
            ["EXPIRE user_sessions:101 1800 GT", "EXPIRE session:abc123 1800"]
        );
    }

    #[test]
    fn logout_and_logout_all() {
        assert_eq!(
            lines(&logout_writes("abc123", "user_sessions:101")),
            ["DEL session:abc123", "SREM user_sessions:101 abc123"]
        );
        assert_eq!(
            lines(&logout_all_writes("user_sessions:101", &[b"a".to_vec(), b"b".to_vec()])),
            ["DEL session:a session:b user_sessions:101"]
        );
        assert_eq!(lines(&delete_sessions(&[b"a".to_vec()])), ["DEL session:a"]);
        assert_eq!(lines(&[forget("user_sessions:101", &[b"a".to_vec()])]), ["SREM user_sessions:101 a"]);
        assert_eq!(
            lines(&describe_reads(&[b"a".to_vec()])),
            ["HMGET session:a login_time ip", "TTL session:a"]
        );
    }

    #[test]
    fn renew_keeps_fields_and_the_absolute_expiry() {
        let fields = vec![(b"user_id".to_vec(), b"101".to_vec()), (b"username".to_vec(), b"a b".to_vec())];
        assert_eq!(
            lines(&renew_writes("old", "new", "user_sessions:101", &fields, Expiry::AtMs(1234))),
            [
                "HSET session:new user_id 101 username \"a b\"",
                "PEXPIREAT session:new 1234",
                "SADD user_sessions:101 new",
                "PEXPIREAT user_sessions:101 1234 NX",
                "PEXPIREAT user_sessions:101 1234 GT",
                "SREM user_sessions:101 old",
                "DEL session:old",
            ]
        );
        assert_eq!(
            lines(&renew_undo("old", "new", "user_sessions:101", &fields, Some(1234))),
            [
                "HSET session:old user_id 101 username \"a b\"",
                "PEXPIREAT session:old 1234",
                "SADD user_sessions:101 old",
                "DEL session:new",
                "SREM user_sessions:101 new",
            ]
        );
        assert_eq!(
            lines(&copy_writes("new", &fields[..1], Expiry::After(1800))),
            ["HSET session:new user_id 101", "EXPIRE session:new 1800"]
        );
    }

    #[test]
    fn touch_holds_the_deadline_with_the_servers_clock() {
        assert_eq!(
            lines(&slide_writes("abc", "user_sessions:1", 1800, 1800, deadline_ms(1000, 28800))),
            [
                "EXPIRE user_sessions:1 1800 GT",
                "EXPIRE session:abc 1800",
                "PEXPIREAT session:abc 29800000 LT"
            ]
        );
        assert_eq!(deadline_ms(1_700_000_000, i64::MAX as u64), i64::MAX, "saturates");
        assert_eq!(touch_ttl(1_700_000_000, 1_700_000_000, 1800, i64::MAX as u64), 1800, "no wrap-around");
        assert_eq!(touch_ttl(0, u64::MAX, u64::MAX, u64::MAX), i64::MAX);
    }

    #[test]
    fn reads_and_pruning() {
        assert_eq!(
            lines(&whoami_reads("abc123")),
            ["EXISTS session:abc123", "HGETALL session:abc123", "TTL session:abc123"]
        );
        assert_eq!(
            lines(&[prune("user_sessions:101", &["x".into(), "y".into()])]),
            ["SREM user_sessions:101 x y"]
        );
        assert!(evict_writes("user_sessions:101", &[]).is_empty());
    }

    mod props {
        use super::super::*;
        use crate::redis::split::{join_args, split_args};
        use proptest::prelude::*;

        fn id() -> impl Strategy<Value = String> {
            "[A-Za-z0-9._~-]{1,24}"
        }

        fn field() -> impl Strategy<Value = Vec<u8>> {
            proptest::collection::vec(any::<u8>(), 1..24)
        }

        /// Every command survives the echo: the printed line splits back into the very same bytes.
        fn well_formed(cmds: &[Args]) -> Result<(), TestCaseError> {
            for c in cmds {
                prop_assert!(!c.is_empty());
                prop_assert_eq!(&split_args(&join_args(c)).unwrap(), c);
            }
            let multi = cmds.iter().filter(|c| c[0] == b"MULTI").count();
            let exec = cmds.iter().filter(|c| c[0] == b"EXEC").count();
            prop_assert_eq!(multi, exec);
            Ok(())
        }

        proptest! {
            #[test]
            fn login_plans_are_well_formed(sid in id(), uid in id(), name in field(), role in field(), ip in field(),
                                           t in any::<u32>(), ttl in 1u64..1_000_000) {
                let index = crate::session::keys::index_key(&uid);
                let s = NewSession { stored_id: &sid, user_id: &uid, index: &index, username: &name, role: &role,
                                     login_time: u64::from(t), ip: &ip, ttl };
                let cmds = transaction(create_writes(&s));
                well_formed(&cmds)?;
                prop_assert_eq!(cmds.len(), 7);
                prop_assert_eq!(&cmds[1][1], &format!("session:{sid}").into_bytes());
                prop_assert_eq!(cmds[1].len(), 12, "HSET key and five field/value pairs");
            }

            #[test]
            fn other_plans_are_well_formed(a in id(), b in id(), uid in id(), ttl in -10i64..100_000,
                                           fields in proptest::collection::vec((field(), field()), 1..6)) {
                let index = crate::session::keys::index_key(&uid);
                well_formed(&touch_writes(&a, &index, ttl))?;
                well_formed(&logout_writes(&a, &index))?;
                well_formed(&logout_all_writes(&index, &[a.clone().into_bytes(), b.clone().into_bytes()]))?;
                well_formed(&transaction(renew_writes(&a, &b, &index, &fields, Expiry::AtMs(ttl))))?;
                well_formed(&renew_undo(&a, &b, &index, &fields, Some(ttl)))?;
                well_formed(&slide_writes(&a, &index, 1800, 1801, ttl))?;
                well_formed(&whoami_reads(&a))?;
                well_formed(&evict_writes(&index, std::slice::from_ref(&a)))?;
            }

            #[test]
            fn touch_never_extends_past_the_deadline(now in 0u64..u64::from(u32::MAX), login in 0u64..u64::from(u32::MAX),
                                                     idle in 1u64..100_000, absolute in 1u64..100_000) {
                let ttl = touch_ttl(now, login, idle, absolute);
                prop_assert!(ttl <= idle as i64);
                prop_assert!(now as i64 + ttl <= (login + absolute) as i64);
            }

            #[test]
            fn deadlines_never_wrap(login in any::<u64>(), absolute in any::<u64>(), now in any::<u64>(), idle in any::<u64>()) {
                prop_assert!(deadline_ms(login, absolute) >= 0);
                let ttl = touch_ttl(now, login, idle, absolute);
                prop_assert!(i128::from(ttl) <= i128::from(idle));
                prop_assert!(i128::from(ttl) <= i128::from(login) + i128::from(absolute) - i128::from(now) || ttl == i64::MIN);
            }
        }
    }
}
