//! `login USER_ID USERNAME ROLE [--ip ADDR] [--id ID] [--ttl SECS]`: the seed's HSET + EXPIRE and
//! SADD to the user's index, as a step machine.
//!
//! One server (and `--key-layout tagged`, where a user's keys share one slot): one MULTI/EXEC —
//! HSET, EXPIRE, SADD, EXPIRE NX, EXPIRE GT (and the audit entry, on one server). Reads come first
//! only when something must be decided: `--id` (WATCH the key, refuse an existing id) and
//! `--max-sessions` (WATCH the index, read each member's login time, evict the oldest or refuse).
//! Those reads also check the index's and the audit stream's types, so a WRONGTYPE is refused
//! before anything is written; without reads, a transaction that fails part-way is undone. A
//! member whose `login_time` cannot be read is never pruned (it counts as live, and as the oldest);
//! one without any is pruned only once EXISTS says its session is gone.
//!
//! A cluster with the plain layout, where the session and its index live in different slots:
//! (a) the session hash is created with a short provisional TTL (MULTI HSET EXPIRE EXEC in its
//! slot); (b) the index entry is added (MULTI SADD EXPIRE NX EXPIRE GT EXEC on the index's node,
//! under the WATCH of the index when a limit is set; if that EXEC aborts, the provisional session
//! is deleted and the login starts over); (c) the session gets its real TTL (EXPIRE). An index
//! entry therefore never precedes its session, so a concurrent `sessions` or login that prunes ids
//! whose hash is gone can never remove a session being created; a crash between steps leaves at
//! worst a session nobody was told about, which dies within [`PROVISIONAL_TTL`] seconds.

use crate::exec::{Args, args};
use crate::redis::reply::Reply;
use crate::session::keys::{TAG_SEPARATOR, session_key_of_stored};
use crate::session::plan::{
    Batch, CurrentChange, Machine, NewSession, Outcome, Step, Tx, create_writes, evict_writes, index_writes,
    prune, session_writes,
};
use crate::session::{Context, audit, events, human};

/// Seconds a new session lives on a cluster until its index entry exists (step (a) to (c)).
pub const PROVISIONAL_TTL: u64 = 10;

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub user_id: String,
    pub username: Vec<u8>,
    pub role: Vec<u8>,
    /// The client's address (the context's default when not given).
    pub ip: Option<Vec<u8>>,
    /// `--id`: the session id to use instead of a random one.
    pub id: Option<String>,
    /// `--ttl`: the idle timeout of this session.
    pub ttl: Option<u64>,
}

/// Where the machine is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Deleting the provisional session of an attempt that was aborted (cluster).
    Cleanup,
    /// WATCH and the reads that decide the login.
    Reads,
    /// The login time of each indexed session (`--max-sessions`).
    Times,
    /// Whether the indexed sessions without a login time are really gone.
    Confirm,
    /// One server: the one transaction.
    Create,
    /// Cluster (a): the session with its provisional TTL.
    Provisional,
    /// Cluster: WATCH of the index and its members.
    IndexReads,
    /// Cluster: evicted sessions deleted, before their index entries go.
    Evict,
    /// Cluster (b): the index entry.
    Index,
    /// Cluster (c): the real TTL.
    Expire,
    /// Audit entries, after the change (the stream lives in another slot).
    Audit,
    /// The provisional session deleted after a refusal: fail with this message.
    Failing,
}

#[derive(Debug, Clone)]
pub struct Login {
    ctx: Context,
    user_id: String,
    username: Vec<u8>,
    role: Vec<u8>,
    ip: Vec<u8>,
    given: bool,
    /// The id the user holds (carries the user in the tagged layout).
    id: String,
    stored: String,
    key: String,
    index: String,
    ttl: u64,
    /// The session and its index live in different slots: steps (a), (b), (c).
    split: bool,
    /// Audit entries are appended after the change (on a cluster), not inside its transaction.
    audit_after: bool,
    phase: Phase,
    /// A provisional session of an aborted attempt, to delete before starting over.
    leftover: bool,
    /// The index's members, while their login times are read.
    members: Vec<String>,
    /// Members with a session, oldest first after [`Login::decide`].
    live: Vec<Live>,
    /// Members whose session is gone (to prune).
    dead: Vec<String>,
    victims: Vec<String>,
    warnings: Vec<String>,
    failure: Option<String>,
}

/// A live member's stored id and login time (0 when it cannot be read: the oldest).
type Live = (String, u64);

impl Login {
    /// A login of `req`; `drawn` is a fresh random id, used unless `--id` names one. `on_cluster`:
    /// the connection is a cluster (audit entries cannot join the transaction).
    pub fn new(req: Request, ctx: Context, drawn: String, on_cluster: bool) -> Result<Login, String> {
        let given = req.id.is_some();
        if ctx.layout.tagged && req.id.as_deref().is_some_and(|id| id.contains(TAG_SEPARATOR)) {
            return Err(
                "with --key-layout tagged, --id may not contain '~' (redsh puts the user id in front)".into(),
            );
        }
        let id = ctx.layout.full_id(&req.user_id, &req.id.unwrap_or(drawn));
        let stored = ctx.layout.stored_id(&id);
        let ttl = req.ttl.unwrap_or(ctx.settings.idle_ttl).min(ctx.settings.absolute_ttl);
        Ok(Login {
            key: session_key_of_stored(&stored),
            index: ctx.layout.index_key(&req.user_id),
            ip: req.ip.unwrap_or_else(|| ctx.ip.clone().into_bytes()),
            split: ctx.settings.cluster && !ctx.layout.tagged,
            audit_after: on_cluster || (ctx.settings.cluster && !ctx.layout.tagged),
            user_id: req.user_id,
            username: req.username,
            role: req.role,
            given,
            id,
            stored,
            ttl,
            ctx,
            phase: Phase::Reads,
            leftover: false,
            members: Vec::new(),
            live: Vec::new(),
            dead: Vec::new(),
            victims: Vec::new(),
            warnings: Vec::new(),
            failure: None,
        })
    }

    /// The id the user holds for the new session.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn limit(&self) -> usize {
        self.ctx.settings.max_sessions as usize
    }

    fn stream(&self) -> Option<&str> {
        self.ctx.settings.audit_stream.as_deref()
    }

    fn session(&self, ttl: u64) -> NewSession<'_> {
        NewSession {
            stored_id: &self.stored,
            user_id: &self.user_id,
            index: &self.index,
            username: &self.username,
            role: &self.role,
            login_time: self.ctx.now,
            ip: &self.ip,
            ttl,
        }
    }

    fn send(&mut self, phase: Phase, batch: Batch) -> Step {
        self.phase = phase;
        Step::Send(batch)
    }

    /// What takes back a transaction that failed part-way: the new session and its index entry.
    fn undo(&self) -> Vec<Args> {
        vec![args(["DEL", &self.key]), args(["SREM", &self.index, &self.stored])]
    }

    /// The reads that decide the login (none for a plain login on one server), or the writes.
    fn begin(&mut self) -> Step {
        let mut watched = Vec::new();
        let mut reads = Vec::new();
        let stream = self.stream().map(|s| args(["TYPE", s]));
        // On a cluster the stream's TYPE goes first, so that the node of the WATCHed key is the
        // one in use when the command ends (where the executor sends UNWATCH).
        if self.split {
            reads.extend(stream.clone());
        }
        if self.given {
            watched.push(self.key.clone());
            reads.push(args(["EXISTS", &self.key]));
        }
        if !self.split {
            if self.limit() > 0 {
                watched.push(self.index.clone());
                reads.push(args(["SMEMBERS", &self.index]));
            } else if self.given {
                reads.push(args(["TYPE", &self.index]));
            }
            if !reads.is_empty() {
                reads.extend(stream);
            }
        }
        if reads.is_empty() {
            return self.create();
        }
        let batch = if watched.is_empty() {
            Batch::of(reads)
        } else {
            let keys: Vec<&str> = watched.iter().map(String::as_str).collect();
            Batch::watching(&keys, reads)
        };
        self.send(Phase::Reads, batch)
    }

    /// The step after the reads: the one transaction, or cluster step (a).
    fn create(&mut self) -> Step {
        if self.split {
            let ttl = PROVISIONAL_TTL.min(self.ttl);
            let batch = Batch {
                undo: vec![args(["DEL", &self.key])],
                ..Batch::transaction(session_writes(&self.session(ttl)))
            };
            return self.send(Phase::Provisional, batch);
        }
        let mut writes = Vec::new();
        if !self.dead.is_empty() {
            writes.push(prune(&self.index, &self.dead));
        }
        writes.extend(evict_writes(&self.index, &self.victims));
        if !self.audit_after {
            writes.extend(self.evict_entries());
        }
        writes.extend(create_writes(&self.session(self.ttl)));
        if !self.audit_after {
            writes.extend(self.login_entry());
        }
        let batch = Batch { undo: self.undo(), ..Batch::transaction(writes) };
        self.send(Phase::Create, batch)
    }

    fn login_entry(&self) -> Option<Args> {
        let fields: [(&str, &[u8]); 3] =
            [("id", self.stored.as_bytes()), ("user", self.user_id.as_bytes()), ("role", &self.role)];
        self.stream().map(|s| audit::entry(s, "login", &fields))
    }

    fn evict_entries(&self) -> Vec<Args> {
        let Some(stream) = self.stream() else { return Vec::new() };
        self.victims
            .iter()
            .map(|v| {
                audit::entry(stream, "evict", &[("id", v.as_bytes()), ("user", self.user_id.as_bytes())])
            })
            .collect()
    }

    /// Checks the reads: the id is free, the index and the stream have the right types.
    fn check_reads(&mut self, replies: &[Reply]) -> Result<Vec<String>, String> {
        let mut replies = replies.iter();
        let mut members = Vec::new();
        let refused = |what: &str| format!("login refused, nothing was written: {what}");
        if self.split
            && let Some(stream) = self.stream()
        {
            check_type(replies.next(), stream, "stream").map_err(|e| refused(&e))?;
        }
        if self.given && replies.next().and_then(Reply::int) == Some(1) {
            return Err(format!("session {} already exists; choose another id or log it out first", self.id));
        }
        if !self.split {
            if self.limit() > 0 {
                members = read_members(replies.next(), &self.index).map_err(|e| refused(&e))?;
            } else if self.given {
                check_type(replies.next(), &self.index, "set").map_err(|e| refused(&e))?;
            }
            if let Some(stream) = self.stream() {
                check_type(replies.next(), stream, "stream").map_err(|e| refused(&e))?;
            }
        }
        Ok(members)
    }

    /// The batch that reads each member's login time.
    fn times(members: &[String]) -> Batch {
        Batch::of(members.iter().map(|m| args(["HGET", &session_key_of_stored(m), "login_time"])).collect())
    }

    /// Sorts members by their login time: live (a time, or one that cannot be read: kept, as the
    /// oldest), or maybe gone (no login_time: confirmed with EXISTS before it is pruned).
    fn read_times(&mut self, members: &[String], replies: &[Reply]) {
        self.live.clear();
        self.dead.clear();
        for (m, r) in members.iter().zip(replies) {
            match (r, r.int()) {
                (Reply::Nil, _) => self.dead.push(m.clone()),
                (_, Some(t)) => self.live.push((m.clone(), u64::try_from(t).unwrap_or(0))),
                (r, None) => {
                    let shown = r
                        .bytes()
                        .map(|b| String::from_utf8_lossy(b).escape_default().to_string())
                        .or_else(|| r.error_text().map(|e| String::from_utf8_lossy(e).into_owned()))
                        .unwrap_or_else(|| format!("{r:?}"));
                    self.malformed(m, &format!("a malformed login_time ({shown})"));
                }
            }
        }
    }

    /// A member that exists but whose age cannot be known: never pruned, counted as the oldest.
    fn malformed(&mut self, member: &str, what: &str) {
        self.warnings.push(format!(
            "warning: session {member} of user {} has {what}: kept, counted as live and as the oldest",
            self.user_id
        ));
        self.live.push((member.to_owned(), 0));
    }

    /// After the login times: confirm that the members without one are gone, or decide.
    fn times_read(&mut self) -> Step {
        if self.dead.is_empty() {
            return self.decide();
        }
        let exists = self.dead.iter().map(|d| args(["EXISTS", &session_key_of_stored(d)])).collect();
        self.send(Phase::Confirm, Batch::of(exists))
    }

    /// At the limit: evict the oldest live sessions (after pruning the dead ids) or refuse.
    fn decide(&mut self) -> Step {
        self.live.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        let limit = self.limit();
        self.victims.clear();
        if self.live.len() >= limit {
            if self.ctx.settings.refuse_at_limit {
                let message = format!(
                    "user {} already has {} live sessions (--max-sessions {limit}): login refused",
                    self.user_id,
                    self.live.len()
                );
                return if self.split {
                    self.fail_after_provisional(message)
                } else {
                    Step::Done(Outcome::failed(message))
                };
            }
            self.victims =
                self.live.iter().take(self.live.len() + 1 - limit).map(|(id, _)| id.clone()).collect();
        }
        if !self.split {
            return self.create();
        }
        if self.victims.is_empty() {
            return self.index_step();
        }
        let dels = self.victims.iter().map(|v| args(["DEL", &session_key_of_stored(v)])).collect();
        self.send(Phase::Evict, Batch::of(dels))
    }

    /// Cluster: refused after step (a): the provisional session goes, then the login fails.
    fn fail_after_provisional(&mut self, message: String) -> Step {
        self.failure = Some(message);
        let batch = Batch::last(vec![args(["DEL", &self.key])]);
        self.send(Phase::Failing, batch)
    }

    /// Cluster step (b).
    fn index_step(&mut self) -> Step {
        let mut writes = Vec::new();
        let mut gone = self.dead.clone();
        gone.extend(self.victims.iter().cloned());
        if !gone.is_empty() {
            writes.push(prune(&self.index, &gone));
        }
        // A second more than the session will get in step (c), written before it: the index must
        // not end a millisecond before its session (as touch does on a cluster).
        writes.extend(index_writes(&self.session(self.ttl.saturating_add(1))));
        let batch = Batch { undo: self.undo(), ..Batch::transaction(writes) };
        self.send(Phase::Index, batch)
    }

    /// After the change: the audit entries when they go after it, else the outcome.
    fn finish(&mut self) -> Step {
        if self.audit_after && self.stream().is_some() {
            let mut entries = self.evict_entries();
            entries.extend(self.login_entry());
            return self.send(Phase::Audit, Batch::last(entries));
        }
        Step::Done(self.success())
    }

    fn success(&self) -> Outcome {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let absolute = i64::try_from(self.ctx.settings.absolute_ttl).unwrap_or(i64::MAX);
        let mut outcome = Outcome::ok(format!(
            "session {} — {} ({}) from {}, expires in {} idle, {} at most",
            self.id,
            text(&self.username),
            text(&self.role),
            text(&self.ip),
            human(i64::try_from(self.ttl).unwrap_or(i64::MAX)),
            human(absolute)
        ));
        outcome.summary.extend(self.warnings.iter().cloned());
        outcome.seen.push(self.id.clone());
        outcome.owners.push((
            self.stored.clone(),
            events::Owner {
                username: Some(text(&self.username)),
                role: Some(text(&self.role)),
                login_time: Some(self.ctx.now),
                ip: Some(text(&self.ip)),
                ..events::Owner::new(&self.user_id)
            },
        ));
        outcome.current = CurrentChange::Set { id: self.id.clone(), username: Some(text(&self.username)) };
        outcome
    }

    /// The outcome of a transaction that did not run cleanly (`None` when it did); `undone` says
    /// what the batch's undo deleted again.
    fn tx_failure(&self, tx: &Tx, undone: &str) -> Option<String> {
        match tx {
            Tx::Ran(_) => tx.failure().map(|e| {
                let evicted = if self.victims.is_empty() {
                    String::new()
                } else {
                    format!("; the {} evicted session(s) stay evicted", self.victims.len())
                };
                format!("login failed: {e}; nothing was left behind ({undone} deleted again){evicted}")
            }),
            Tx::Refused(e) => Some(format!("login failed, nothing was written: {e}")),
            Tx::Aborted => Some("login failed: the transaction was aborted".to_owned()),
        }
    }
}

/// Checks that `key` (as TYPE answered) is of `kind`, or does not exist.
fn check_type(reply: Option<&Reply>, key: &str, kind: &str) -> Result<(), String> {
    match reply {
        Some(Reply::Error(e)) => Err(format!("TYPE {key} failed: {}", String::from_utf8_lossy(e))),
        Some(r) => match r.text().as_deref() {
            Some("none") => Ok(()),
            Some(t) if t == kind => Ok(()),
            Some(t) => Err(format!("{key} holds a {t}, not a {kind}")),
            None => Err(format!("unexpected TYPE reply for {key}")),
        },
        None => Err(format!("no TYPE reply for {key}")),
    }
}

/// The members of a user's index, sorted; an error when it is not a set.
fn read_members(reply: Option<&Reply>, index: &str) -> Result<Vec<String>, String> {
    match reply {
        Some(Reply::Error(e)) => Err(format!("{index} is not a set ({})", String::from_utf8_lossy(e))),
        Some(r) => {
            let mut members: Vec<String> = r.elements().into_iter().filter_map(Reply::text).collect();
            members.sort();
            Ok(members)
        }
        None => Err(format!("no reply for SMEMBERS {index}")),
    }
}

impl Machine for Login {
    fn start(&mut self) -> Step {
        self.live.clear();
        self.dead.clear();
        self.victims.clear();
        self.warnings.clear();
        if self.leftover {
            // The attempt before was aborted after its step (a): its session goes first.
            self.leftover = false;
            let batch = Batch::of(vec![args(["DEL", &self.key])]);
            return self.send(Phase::Cleanup, batch);
        }
        self.begin()
    }

    fn resume(&mut self, replies: Vec<Reply>) -> Step {
        match self.phase {
            Phase::Cleanup => self.begin(),
            Phase::Reads => match self.check_reads(&replies) {
                Err(message) => Step::Done(Outcome::failed(message)),
                Ok(members) if members.is_empty() => self.create(),
                Ok(members) => {
                    let batch = Login::times(&members);
                    self.members = members;
                    self.send(Phase::Times, batch)
                }
            },
            Phase::Times => {
                let members = std::mem::take(&mut self.members);
                self.read_times(&members, &replies);
                self.times_read()
            }
            Phase::Confirm => {
                let maybe = std::mem::take(&mut self.dead);
                for (m, r) in maybe.into_iter().zip(&replies) {
                    if r.int() == Some(0) {
                        self.dead.push(m);
                    } else {
                        self.malformed(&m, "no login_time");
                    }
                }
                self.decide()
            }
            Phase::Create => {
                let tx = Tx::of(&replies);
                match self.tx_failure(&tx, "the new session was") {
                    Some(message) => Step::Done(Outcome::failed(message)),
                    None => self.finish(),
                }
            }
            Phase::Provisional => {
                let tx = Tx::of(&replies);
                if let Some(message) = self.tx_failure(&tx, "the new session was") {
                    return Step::Done(Outcome::failed(message));
                }
                self.leftover = true;
                if self.limit() == 0 {
                    return self.index_step();
                }
                let batch = Batch::watching(&[&self.index], vec![args(["SMEMBERS", &self.index])]);
                self.send(Phase::IndexReads, batch)
            }
            Phase::IndexReads => match read_members(replies.first(), &self.index) {
                Err(e) => self.fail_after_provisional(format!(
                    "login refused: {e}; the provisional session was deleted, nothing was left"
                )),
                Ok(members) if members.is_empty() => self.index_step(),
                Ok(members) => {
                    let batch = Login::times(&members);
                    self.members = members;
                    self.send(Phase::Times, batch)
                }
            },
            Phase::Evict => self.index_step(),
            Phase::Index => {
                let tx = Tx::of(&replies);
                match tx {
                    Tx::Ran(_) if tx.failure().is_none() => {
                        self.leftover = false;
                        let batch = Batch::of(vec![args(["EXPIRE", &self.key, &self.ttl.to_string()])]);
                        let batch =
                            if self.stream().is_some() { batch } else { Batch { last: true, ..batch } };
                        self.send(Phase::Expire, batch)
                    }
                    Tx::Ran(_) => {
                        self.leftover = false;
                        let message = self.tx_failure(&tx, "the new session and its index entry were");
                        Step::Done(Outcome::failed(message.unwrap_or_default()))
                    }
                    Tx::Refused(e) => {
                        self.leftover = false;
                        self.fail_after_provisional(format!(
                            "login failed: {e}; the provisional session was deleted, nothing was left"
                        ))
                    }
                    Tx::Aborted => Step::Done(Outcome::failed("login failed: the transaction was aborted")),
                }
            }
            Phase::Expire => {
                if replies.first().and_then(Reply::int) == Some(1) {
                    return self.finish();
                }
                Step::Done(Outcome::failed(format!(
                    "login failed: session {} was ended by a concurrent command (evicted at the limit, or logout-all) before the login finished",
                    self.id
                )))
            }
            Phase::Audit => {
                let mut outcome = self.success();
                if let Some(e) = replies.iter().find_map(Reply::error_text) {
                    outcome.error = Some(format!(
                        "session {} was created, but its audit entry was not written: {}",
                        self.id,
                        String::from_utf8_lossy(e)
                    ));
                }
                Step::Done(outcome)
            }
            Phase::Failing => {
                Step::Done(Outcome::failed(self.failure.take().unwrap_or_else(|| "login failed".to_owned())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Settings;
    use crate::session::plan::testing::{bulk, ctx_with, lines, ok, queued, run, tx};

    const NOW: u64 = 1_700_000_000;

    fn req(id: Option<&str>) -> Request {
        Request {
            user_id: "101".into(),
            username: b"suhel".to_vec(),
            role: b"teacher".to_vec(),
            ip: Some(b"192.168.1.10".to_vec()),
            id: id.map(str::to_owned),
            ttl: None,
        }
    }

    fn login(id: Option<&str>, settings: Settings) -> Login {
        Login::new(req(id), ctx_with(NOW, settings), "r4nd0m".into(), false).unwrap()
    }

    fn limited(max: u32, refuse: bool) -> Settings {
        Settings { max_sessions: max, refuse_at_limit: refuse, ..Settings::default() }
    }

    fn on_cluster(settings: Settings) -> Settings {
        Settings { cluster: true, ..settings }
    }

    fn hset(id: &str) -> String {
        format!("HSET session:{id} user_id 101 username suhel role teacher login_time {NOW} ip 192.168.1.10")
    }

    fn int(n: i64) -> Reply {
        Reply::Int(n)
    }

    fn err(e: &str) -> Reply {
        Reply::Error(e.as_bytes().to_vec())
    }

    /// The five writes of a login, all fine.
    fn created() -> Vec<Reply> {
        tx(vec![int(5), int(1), int(1), int(1), int(0)])
    }

    #[test]
    fn a_plain_login_is_one_transaction() {
        let (sent, outcome) = run(login(None, Settings::default()), vec![created()]);
        assert_eq!(
            lines(&sent),
            [
                "MULTI".to_owned(),
                hset("r4nd0m"),
                "EXPIRE session:r4nd0m 1800".into(),
                "SADD user_sessions:101 r4nd0m".into(),
                "EXPIRE user_sessions:101 1800 NX".into(),
                "EXPIRE user_sessions:101 1800 GT".into(),
                "EXEC".into(),
            ]
        );
        assert_eq!(outcome.error, None);
        assert_eq!(
            outcome.summary,
            ["session r4nd0m — suhel (teacher) from 192.168.1.10, expires in 30m idle, 8h at most"]
        );
        assert_eq!(
            outcome.current,
            CurrentChange::Set { id: "r4nd0m".into(), username: Some("suhel".into()) }
        );
        assert_eq!(outcome.seen, ["r4nd0m"]);
        assert_eq!(outcome.owners[0].0, "r4nd0m");
        assert_eq!(outcome.owners[0].1.login_time, Some(NOW));
    }

    #[test]
    fn the_default_ip_ttl_and_hashed_tagged_ids() {
        let mut r = req(None);
        r.ip = None;
        r.ttl = Some(60);
        let settings = Settings { hash_ids: true, tagged: true, ..Settings::default() };
        let m = Login::new(r, ctx_with(NOW, settings.clone()), "x".into(), false).unwrap();
        assert_eq!(m.id(), "101~x");
        let stored = format!("{{101}}:{}", crate::session::keys::sha256_hex(b"101~x"));
        let (sent, outcome) = run(m, vec![created()]);
        let sent = lines(&sent);
        assert!(sent[1].starts_with(&format!("HSET session:{stored} ")) && sent[1].ends_with(" ip 10.0.0.1"));
        assert_eq!(sent[2], format!("EXPIRE session:{stored} 60"));
        assert_eq!(sent[3], format!("SADD user_sessions:{{101}} {stored}"));
        assert!(
            outcome.summary[0]
                .starts_with("session 101~x — suhel (teacher) from 10.0.0.1, expires in 1m idle")
        );
        let tilde = Login::new(req(Some("a~b")), ctx_with(NOW, settings), "x".into(), false);
        assert!(tilde.unwrap_err().contains("may not contain '~'"));
    }

    #[test]
    fn a_given_id_is_watched_and_refused_when_it_exists() {
        let (sent, outcome) = run(
            login(Some("abc123"), Settings::default()),
            vec![vec![int(1), Reply::Status(b"set".to_vec())]],
        );
        assert_eq!(lines(&sent), ["WATCH session:abc123", "EXISTS session:abc123", "TYPE user_sessions:101"]);
        assert_eq!(
            outcome.error.as_deref(),
            Some("session abc123 already exists; choose another id or log it out first")
        );
        let (sent, outcome) = run(
            login(Some("abc123"), Settings::default()),
            vec![vec![int(0), Reply::Status(b"none".to_vec())], created()],
        );
        assert_eq!(lines(&sent)[3..5], ["MULTI".to_owned(), hset("abc123")]);
        assert_eq!(outcome.error, None);
    }

    #[test]
    fn a_wrong_type_found_by_the_reads_is_refused_before_writing() {
        let (sent, outcome) = run(
            login(Some("abc123"), Settings::default()),
            vec![vec![int(0), Reply::Status(b"string".to_vec())]],
        );
        assert_eq!(sent.len(), 3, "nothing written");
        assert_eq!(
            outcome.error.as_deref(),
            Some("login refused, nothing was written: user_sessions:101 holds a string, not a set")
        );
        let wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
        let (_, outcome) = run(login(None, limited(2, false)), vec![vec![err(wrongtype)]]);
        assert_eq!(
            outcome.error.unwrap(),
            format!("login refused, nothing was written: user_sessions:101 is not a set ({wrongtype})")
        );
        let audited = Settings { audit_stream: Some("events".into()), ..limited(2, false) };
        let (sent, outcome) = run(
            login(Some("abc123"), audited),
            vec![vec![int(0), Reply::Array(vec![]), Reply::Status(b"hash".to_vec())]],
        );
        assert_eq!(
            lines(&sent),
            [
                "WATCH session:abc123 user_sessions:101",
                "EXISTS session:abc123",
                "SMEMBERS user_sessions:101",
                "TYPE events"
            ]
        );
        assert_eq!(
            outcome.error.unwrap(),
            "login refused, nothing was written: events holds a hash, not a stream"
        );
    }

    #[test]
    fn at_the_limit_the_oldest_is_evicted_and_dead_ids_pruned() {
        let members = Reply::Set(vec![bulk("old"), bulk("ghost"), bulk("young")]);
        let settings = Settings { audit_stream: Some("ev".into()), ..limited(2, false) };
        let (sent, outcome) = run(
            login(None, settings),
            vec![
                vec![members, Reply::Status(b"stream".to_vec())],
                vec![Reply::Nil, bulk("1000"), bulk("2000")],
                vec![int(0)],
                tx(vec![
                    int(1),
                    int(1),
                    int(1),
                    bulk("1-0"),
                    int(5),
                    int(1),
                    int(1),
                    int(1),
                    int(0),
                    bulk("1-1"),
                ]),
            ],
        );
        assert_eq!(
            lines(&sent),
            [
                "WATCH user_sessions:101".to_owned(),
                "SMEMBERS user_sessions:101".into(),
                "TYPE ev".into(),
                "HGET session:ghost login_time".into(),
                "HGET session:old login_time".into(),
                "HGET session:young login_time".into(),
                "EXISTS session:ghost".into(),
                "MULTI".into(),
                "SREM user_sessions:101 ghost".into(),
                "DEL session:old".into(),
                "SREM user_sessions:101 old".into(),
                "XADD ev MAXLEN ~ 10000 * event evict id old user 101".into(),
                hset("r4nd0m"),
                "EXPIRE session:r4nd0m 1800".into(),
                "SADD user_sessions:101 r4nd0m".into(),
                "EXPIRE user_sessions:101 1800 NX".into(),
                "EXPIRE user_sessions:101 1800 GT".into(),
                "XADD ev MAXLEN ~ 10000 * event login id r4nd0m user 101 role teacher".into(),
                "EXEC".into(),
            ]
        );
        assert_eq!(outcome.error, None);
    }

    #[test]
    fn at_the_limit_the_refuse_policy_refuses() {
        let (sent, outcome) = run(
            login(None, limited(2, true)),
            vec![vec![Reply::Array(vec![bulk("a"), bulk("b")])], vec![bulk("1"), bulk("2")]],
        );
        assert_eq!(sent.len(), 4, "no write: {:?}", lines(&sent));
        assert_eq!(
            outcome.error.unwrap(),
            "user 101 already has 2 live sessions (--max-sessions 2): login refused"
        );
    }

    #[test]
    fn a_malformed_login_time_is_live_and_the_oldest_never_pruned() {
        // Limit 3: the malformed one counts, nothing is pruned, nothing evicted.
        let (sent, outcome) = run(
            login(None, limited(3, false)),
            vec![
                vec![Reply::Array(vec![bulk("odd"), bulk("new")])],
                vec![bulk("2000"), bulk("1.7e9")],
                created(),
            ],
        );
        let sent = lines(&sent);
        assert!(!sent.iter().any(|c| c.starts_with("SREM") || c.starts_with("DEL")), "{sent:?}");
        assert_eq!(
            outcome.summary[1],
            "warning: session odd of user 101 has a malformed login_time (1.7e9): kept, counted as live and as the oldest"
        );
        // Limit 2: it is the oldest, so it is the one evicted (and its entry goes with it).
        let (sent, _) = run(
            login(None, limited(2, false)),
            vec![
                vec![Reply::Array(vec![bulk("new"), bulk("odd")])],
                vec![bulk("2000"), bulk("1.7e9")],
                tx(vec![int(1); 7]),
            ],
        );
        let sent = lines(&sent);
        assert_eq!(sent[5..7], ["DEL session:odd", "SREM user_sessions:101 odd"]);
        // A negative login time is the oldest too, and a session that is no hash counts as live.
        let (sent, _) = run(
            login(None, limited(2, false)),
            vec![
                vec![Reply::Array(vec![bulk("a"), bulk("b")])],
                vec![err("WRONGTYPE Operation against a key holding the wrong kind of value"), bulk("-5")],
                tx(vec![int(1); 7]),
            ],
        );
        assert_eq!(lines(&sent)[5..7], ["DEL session:a", "SREM user_sessions:101 a"]);
    }

    #[test]
    fn a_member_without_login_time_is_pruned_only_when_it_is_gone() {
        let (sent, outcome) = run(
            login(None, limited(3, false)),
            vec![
                vec![Reply::Array(vec![bulk("bare"), bulk("gone"), bulk("ok")])],
                vec![Reply::Nil, Reply::Nil, bulk("2000")],
                vec![int(1), int(0)],
                tx(vec![int(1), int(5), int(1), int(1), int(1), int(0)]),
            ],
        );
        let sent = lines(&sent);
        assert_eq!(sent[5..7], ["EXISTS session:bare", "EXISTS session:gone"]);
        assert_eq!(sent[8], "SREM user_sessions:101 gone", "only the one that is gone");
        assert!(!sent.iter().any(|c| c.starts_with("DEL")), "3 live with this one: no eviction: {sent:?}");
        assert_eq!(
            outcome.summary[1],
            "warning: session bare of user 101 has no login_time: kept, counted as live and as the oldest"
        );
    }

    #[test]
    fn an_aborted_watch_starts_over() {
        let mut m = login(Some("abc123"), limited(2, false));
        let first = m.start();
        let Step::Send(reads) = first.clone() else { panic!() };
        assert!(reads.watch);
        let Step::Send(write) = m.resume(vec![int(0), Reply::Array(vec![])]) else { panic!() };
        assert!(write.retry, "the executor starts it over when EXEC is nil");
        let mut aborted = vec![ok()];
        aborted.extend((0..5).map(|_| queued()));
        aborted.push(Reply::Nil);
        assert_eq!(Tx::of(&aborted), Tx::Aborted);
        // Started over: the same reads again, then it goes through.
        assert_eq!(m.start(), first);
        let Step::Send(_) = m.resume(vec![int(0), Reply::Array(vec![])]) else { panic!() };
        let Step::Done(outcome) = m.resume(created()) else { panic!() };
        assert_eq!(outcome.error, None);
    }

    #[test]
    fn a_failure_inside_exec_is_undone() {
        let mut m = login(None, Settings::default());
        let Step::Send(batch) = m.start() else { panic!() };
        assert_eq!(lines(&batch.undo), ["DEL session:r4nd0m", "SREM user_sessions:101 r4nd0m"]);
        let wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
        let Step::Done(outcome) = m.resume(tx(vec![int(5), int(1), err(wrongtype), int(1), int(0)])) else {
            panic!()
        };
        assert_eq!(
            outcome.error.unwrap(),
            format!("login failed: {wrongtype}; nothing was left behind (the new session was deleted again)")
        );
        assert_eq!(outcome.current, CurrentChange::Keep);
    }

    #[test]
    fn a_refused_transaction_wrote_nothing() {
        let oom = "EXECABORT Transaction discarded because of previous errors.";
        let mut replies = vec![ok(), err("OOM command not allowed when used memory > 'maxmemory'.")];
        replies.extend((0..4).map(|_| queued()));
        replies.push(err(oom));
        let (_, outcome) = run(login(None, Settings::default()), vec![replies]);
        // The refused command's own error says why the transaction was discarded.
        assert_eq!(
            outcome.error.unwrap(),
            format!(
                "login failed, nothing was written: {oom} (OOM command not allowed when used memory > 'maxmemory'.)"
            )
        );
    }

    #[test]
    fn a_huge_absolute_timeout_does_not_overflow() {
        let settings = Settings { absolute_ttl: u64::MAX, ..Settings::default() };
        let (_, outcome) = run(login(None, settings), vec![created()]);
        assert!(outcome.summary[0].ends_with(&format!("expires in 30m idle, {} at most", human(i64::MAX))));
    }

    #[test]
    fn on_a_cluster_the_session_comes_before_its_index_entry() {
        let (sent, outcome) = run(
            login(None, on_cluster(Settings::default())),
            vec![tx(vec![int(5), int(1)]), tx(vec![int(1), int(1), int(0)]), vec![int(1)]],
        );
        assert_eq!(
            lines(&sent),
            [
                "MULTI".to_owned(),
                hset("r4nd0m"),
                format!("EXPIRE session:r4nd0m {PROVISIONAL_TTL}"),
                "EXEC".into(),
                "MULTI".into(),
                "SADD user_sessions:101 r4nd0m".into(),
                "EXPIRE user_sessions:101 1801 NX".into(),
                "EXPIRE user_sessions:101 1801 GT".into(),
                "EXEC".into(),
                "EXPIRE session:r4nd0m 1800".into(),
            ]
        );
        assert_eq!(outcome.error, None);
        // A session that vanished before its real TTL is reported.
        let (_, outcome) = run(
            login(None, on_cluster(Settings::default())),
            vec![tx(vec![int(5), int(1)]), tx(vec![int(1), int(1), int(0)]), vec![int(0)]],
        );
        assert!(outcome.error.unwrap().contains("was ended by a concurrent command"));
    }

    #[test]
    fn on_a_cluster_the_limit_is_decided_under_the_index_watch() {
        let settings = Settings { audit_stream: Some("ev".into()), ..on_cluster(limited(1, false)) };
        let (sent, outcome) = run(
            login(Some("abc123"), settings),
            vec![
                vec![Reply::Status(b"stream".to_vec()), int(0)],
                tx(vec![int(5), int(1)]),
                vec![Reply::Array(vec![bulk("old"), bulk("gone")])],
                vec![Reply::Nil, bulk("1000")],
                vec![int(0)],
                vec![int(1)],
                tx(vec![int(2), int(1), int(1), int(0)]),
                vec![int(1)],
                vec![bulk("1-1"), bulk("1-2")],
            ],
        );
        assert_eq!(
            lines(&sent),
            [
                "WATCH session:abc123".to_owned(),
                "TYPE ev".into(),
                "EXISTS session:abc123".into(),
                "MULTI".into(),
                hset("abc123"),
                format!("EXPIRE session:abc123 {PROVISIONAL_TTL}"),
                "EXEC".into(),
                "WATCH user_sessions:101".into(),
                "SMEMBERS user_sessions:101".into(),
                "HGET session:gone login_time".into(),
                "HGET session:old login_time".into(),
                "EXISTS session:gone".into(),
                "DEL session:old".into(),
                "MULTI".into(),
                "SREM user_sessions:101 gone old".into(),
                "SADD user_sessions:101 abc123".into(),
                "EXPIRE user_sessions:101 1801 NX".into(),
                "EXPIRE user_sessions:101 1801 GT".into(),
                "EXEC".into(),
                "EXPIRE session:abc123 1800".into(),
                "XADD ev MAXLEN ~ 10000 * event evict id old user 101".into(),
                "XADD ev MAXLEN ~ 10000 * event login id abc123 user 101 role teacher".into(),
            ]
        );
        assert_eq!(outcome.error, None);
    }

    #[test]
    fn on_a_cluster_an_aborted_index_write_deletes_the_provisional_session_and_starts_over() {
        let mut m = login(None, on_cluster(limited(2, false)));
        let Step::Send(_) = m.start() else { panic!() };
        let Step::Send(watch) = m.resume(tx(vec![int(5), int(1)])) else { panic!() };
        assert_eq!(lines(&watch.cmds), ["WATCH user_sessions:101", "SMEMBERS user_sessions:101"]);
        let Step::Send(index) = m.resume(vec![Reply::Array(vec![])]) else { panic!() };
        assert!(index.retry);
        assert_eq!(lines(&index.undo), ["DEL session:r4nd0m", "SREM user_sessions:101 r4nd0m"]);
        // EXEC came back nil: the executor starts the machine over.
        let Step::Send(cleanup) = m.start() else { panic!() };
        assert_eq!(lines(&cleanup.cmds), ["DEL session:r4nd0m"]);
        let Step::Send(again) = m.resume(vec![int(1)]) else { panic!() };
        assert_eq!(lines(&again.cmds)[1], hset("r4nd0m"));
        // A second start over right away has nothing to clean up.
        let Step::Send(fresh) = m.start() else { panic!() };
        assert_eq!(lines(&fresh.cmds)[0], "MULTI");
    }

    #[test]
    fn on_a_cluster_refusals_after_the_first_step_delete_the_provisional_session() {
        let (sent, outcome) = run(
            login(None, on_cluster(limited(1, true))),
            vec![
                tx(vec![int(5), int(1)]),
                vec![Reply::Array(vec![bulk("a")])],
                vec![bulk("5")],
                vec![int(1)],
            ],
        );
        assert_eq!(lines(&sent).last().unwrap(), "DEL session:r4nd0m");
        assert_eq!(
            outcome.error.unwrap(),
            "user 101 already has 1 live sessions (--max-sessions 1): login refused"
        );
        let wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
        let mut m = login(None, on_cluster(Settings::default()));
        let Step::Send(_) = m.start() else { panic!() };
        let Step::Send(index) = m.resume(tx(vec![int(5), int(1)])) else { panic!() };
        assert_eq!(lines(&index.undo), ["DEL session:r4nd0m", "SREM user_sessions:101 r4nd0m"]);
        let Step::Done(outcome) = m.resume(tx(vec![err(wrongtype), int(0), int(0)])) else { panic!() };
        assert_eq!(
            outcome.error.unwrap(),
            format!(
                "login failed: {wrongtype}; nothing was left behind (the new session and its index entry were deleted again)"
            )
        );
        // Refused when queued (OOM): the provisional session is deleted by hand.
        let mut m = login(None, on_cluster(Settings::default()));
        let Step::Send(_) = m.start() else { panic!() };
        let Step::Send(_) = m.resume(tx(vec![int(5), int(1)])) else { panic!() };
        let Step::Send(del) = m.resume(vec![ok(), err("OOM"), queued(), queued(), err("EXECABORT x")]) else {
            panic!()
        };
        assert_eq!(lines(&del.cmds), ["DEL session:r4nd0m"]);
        assert!(del.last);
        let Step::Done(outcome) = m.resume(vec![int(1)]) else { panic!() };
        assert!(outcome.error.unwrap().contains("the provisional session was deleted, nothing was left"));
    }

    #[test]
    fn on_a_cluster_the_audit_entry_follows_and_its_failure_is_told() {
        let settings = Settings { audit_stream: Some("ev".into()), ..on_cluster(Settings::default()) };
        let m = Login::new(req(None), ctx_with(NOW, settings), "r4nd0m".into(), true).unwrap();
        let (sent, outcome) = run(
            m,
            vec![
                vec![Reply::Status(b"none".to_vec())],
                tx(vec![int(5), int(1)]),
                tx(vec![int(1), int(1), int(0)]),
                vec![int(1)],
                vec![err("WRONGTYPE x")],
            ],
        );
        assert_eq!(lines(&sent)[0], "TYPE ev");
        assert!(outcome.summary[0].starts_with("session r4nd0m — "));
        assert_eq!(
            outcome.error.unwrap(),
            "session r4nd0m was created, but its audit entry was not written: WRONGTYPE x"
        );
        // The tagged layout on a cluster: one transaction, the entry after it.
        let tagged = Settings { tagged: true, audit_stream: Some("ev".into()), ..Settings::default() };
        let m = Login::new(req(None), ctx_with(NOW, tagged), "r".into(), true).unwrap();
        let (sent, outcome) = run(m, vec![created(), vec![bulk("1-1")]]);
        let sent = lines(&sent);
        assert_eq!(sent[6], "EXEC");
        assert_eq!(sent[7], "XADD ev MAXLEN ~ 10000 * event login id {101}:r user 101 role teacher");
        assert_eq!(outcome.error, None);
    }
}
