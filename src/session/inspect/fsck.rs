//! `fsck [--repair]` as a step machine ([`Fsck`]): what it looks for and how each problem is
//! repaired is in `finding`. SCAN batches go to each master in turn, the reads of each SCAN's keys
//! are quiet batches routed by key, and each finding is shown just before the echoed batch that
//! repairs it.

use std::collections::VecDeque;

use crate::exec::{Args, args};
use crate::redis::reply::Reply;
use crate::session::events::index_of;
use crate::session::inspect::finding::{
    FIELDS, Finding, Limits, Member, check_index, check_session, user_of_index,
};
use crate::session::inspect::scan::{self, Scan, Sent};
use crate::session::keys::session_key_of_stored;
use crate::session::plan::{Batch, Machine, Outcome, Step, Tx};
use crate::session::{Context, audit, elements, int, plan, text};

/// Totals of a run.
#[derive(Debug, Default)]
struct Tally {
    indexes: u64,
    sessions: u64,
    found: u64,
    repaired: u64,
}

/// Work left to do, in order.
#[derive(Debug, Clone)]
enum Task {
    /// `TYPE` and `TTL` of index keys.
    IndexTypes(Vec<String>),
    /// `SMEMBERS` of the indexes that are sets, with their TTLs.
    IndexMembers(Vec<(String, i64)>),
    /// `HGET user_id` and `TTL` of an index's members, then the index's check.
    IndexCheck { index: String, uid: String, ttl: i64, members: Vec<String> },
    /// `HMGET` of every field and `TTL` of session keys.
    SessionFields(Vec<String>),
    /// `TYPE` of session keys that are not hashes (stored ids).
    SessionTypes(Vec<String>),
    /// `SISMEMBER` of sound sessions in their index: (stored id, user id, TTL).
    SessionIndexed(Vec<(String, String, i64)>),
    /// Show findings and, when repairing, run the writes that fix them all.
    Fix { found: Vec<Finding>, writes: Vec<Args> },
}

/// How a repair's writes are being sent.
#[derive(Debug, Clone)]
enum How {
    /// One command, alone.
    Single,
    /// One MULTI … EXEC.
    Tx,
    /// One command at a time (a cluster, where they live in different slots): those left, and the
    /// replies so far.
    Each { left: VecDeque<Args>, items: Vec<Reply> },
    /// The audit entries, after the change (on a cluster).
    Audit,
}

/// A repair under way.
#[derive(Debug, Clone)]
struct Repair {
    /// Findings it repairs.
    findings: u64,
    how: How,
    /// Audit entries to write after it, once it succeeded.
    after: VecDeque<Args>,
}

/// What the last batch was.
#[derive(Debug, Clone)]
enum Waiting {
    Scan,
    Read(Task),
    Repair(Repair),
}

/// `fsck [--repair]` as a step machine: the indexes first, then the sessions.
#[derive(Debug)]
pub struct Fsck {
    limits: Limits,
    repair: bool,
    /// `--audit-stream`: a `repair` entry per finding repaired.
    stream: Option<String>,
    /// Writes of keys in different slots go one at a time, in their safe order (`-c`).
    split: bool,
    /// The connection is a cluster: audit entries follow a change instead of joining it.
    audit_after: bool,
    masters: Vec<(String, u16)>,
    scan: Scan,
    /// Scanning sessions (after the indexes).
    sessions: bool,
    sent: Sent,
    tally: Tally,
    todo: VecDeque<Task>,
    waiting: Waiting,
    /// Finding lines not shown yet: before the next batch, else at the top of the summary.
    notes: Vec<String>,
}

impl Fsck {
    /// `fsck` (`repair`: `fsck --repair`) over `masters` (a cluster's, from the executor; empty on
    /// one server).
    pub fn new(ctx: &Context, repair: bool, masters: Vec<(String, u16)>) -> Fsck {
        let settings = &ctx.settings;
        Fsck {
            limits: Limits { now: ctx.now, idle: settings.idle_ttl, absolute: settings.absolute_ttl },
            repair,
            stream: settings.audit_stream.clone(),
            split: settings.cluster,
            audit_after: ctx.cluster,
            scan: Scan::new("user_sessions:*", &masters),
            masters,
            sessions: false,
            sent: Sent::default(),
            tally: Tally::default(),
            todo: VecDeque::new(),
            waiting: Waiting::Scan,
            notes: Vec::new(),
        }
    }

    /// Sends a batch, with the finding lines waiting to be shown before it.
    fn send(&mut self, waiting: Waiting, mut batch: Batch) -> Step {
        batch.notes = std::mem::take(&mut self.notes);
        self.waiting = waiting;
        Step::Send(batch)
    }

    /// The next batch: the next task that sends one, else the next SCAN, else the verdict.
    fn advance(&mut self) -> Step {
        loop {
            if let Some(task) = self.todo.pop_front() {
                if let Some(step) = self.start_task(task) {
                    return step;
                }
                continue;
            }
            if let Some(batch) = self.scan.next() {
                return self.send(Waiting::Scan, batch);
            }
            if self.sessions {
                return self.verdict();
            }
            self.sessions = true;
            self.scan = Scan::new("session:*", &self.masters);
        }
    }

    /// Queues tasks ahead of what was left, in their order.
    fn first(&mut self, tasks: Vec<Task>) {
        for t in tasks.into_iter().rev() {
            self.todo.push_front(t);
        }
    }

    /// A task's batch; `None` when it needs none (nothing to read, nothing to repair).
    fn start_task(&mut self, task: Task) -> Option<Step> {
        let batch = match &task {
            Task::Fix { found, writes } => return self.fix(found, writes.clone()),
            Task::IndexTypes(keys) => scan::reads(
                &mut self.sent,
                keys.iter().flat_map(|k| [args(["TYPE", k]), args(["TTL", k])]).collect(),
                &["TYPE user_sessions:<uid>", "TTL user_sessions:<uid>"],
            ),
            Task::IndexMembers(sets) => scan::reads(
                &mut self.sent,
                sets.iter().map(|(k, _)| args(["SMEMBERS", k])).collect(),
                &["SMEMBERS user_sessions:<uid>"],
            ),
            Task::IndexCheck { members, .. } => scan::reads(
                &mut self.sent,
                members
                    .iter()
                    .flat_map(|m| {
                        let key = session_key_of_stored(m);
                        [args(["HGET", &key, "user_id"]), args(["TTL", &key])]
                    })
                    .collect(),
                &["HGET session:<id> user_id", "TTL session:<id>"],
            ),
            Task::SessionFields(keys) => scan::reads(
                &mut self.sent,
                keys.iter()
                    .flat_map(|k| {
                        let mut hmget = args(["HMGET", k]);
                        hmget.extend(FIELDS.iter().map(|f| f.as_bytes().to_vec()));
                        [hmget, args(["TTL", k])]
                    })
                    .collect(),
                &["HMGET session:<id> user_id username role login_time ip", "TTL session:<id>"],
            ),
            Task::SessionTypes(stored) => scan::reads(
                &mut self.sent,
                stored.iter().map(|s| args(["TYPE", &session_key_of_stored(s)])).collect(),
                &["TYPE session:<id>"],
            ),
            Task::SessionIndexed(list) => scan::reads(
                &mut self.sent,
                list.iter()
                    .map(|(stored, uid, _)| args(["SISMEMBER", &index_of(stored, uid), stored]))
                    .collect(),
                &["SISMEMBER user_sessions:<uid> <id>"],
            ),
        };
        if batch.cmds.is_empty() {
            self.read(task, &[]);
            return None;
        }
        Some(self.send(Waiting::Read(task), batch))
    }

    /// Takes in the replies to a task's reads: findings and further reads, queued in order.
    fn read(&mut self, task: Task, replies: &[Reply]) {
        let mut next = Vec::new();
        match task {
            Task::IndexTypes(keys) => {
                let mut sets = Vec::new();
                for (key, pair) in keys.into_iter().zip(replies.chunks(2)) {
                    let kind = pair.first().and_then(text).unwrap_or_default();
                    match kind.as_str() {
                        "none" | "" => {}
                        "set" => sets.push((key, int(pair.get(1)).unwrap_or(-2))),
                        _ => {
                            self.tally.indexes += 1;
                            next.push(fix_one(Finding::IndexType { index: key, kind }));
                        }
                    }
                }
                if !sets.is_empty() {
                    next.push(Task::IndexMembers(sets));
                }
            }
            Task::IndexMembers(sets) => {
                for ((index, ttl), reply) in sets.into_iter().zip(replies) {
                    let Some(uid) = user_of_index(&index).map(str::to_owned) else { continue };
                    self.tally.indexes += 1;
                    let mut members: Vec<String> = elements(Some(reply)).iter().filter_map(text).collect();
                    members.sort();
                    next.push(Task::IndexCheck { index, uid, ttl, members });
                }
            }
            Task::IndexCheck { index, uid, ttl, members } => {
                let mut checked = Vec::with_capacity(members.len());
                for (member, pair) in members.into_iter().zip(replies.chunks(2)) {
                    if pair.iter().any(scan::moved) {
                        continue;
                    }
                    let owner = pair.first().and_then(text);
                    checked.push(Member { member, owner, ttl: int(pair.get(1)).unwrap_or(-2) });
                }
                // Entries of one index are removed together, in one SREM.
                let (entries, rest): (Vec<Finding>, Vec<Finding>) =
                    check_index(&index, &uid, ttl, &checked, &self.limits)
                        .into_iter()
                        .partition(|f| matches!(f, Finding::Stale { .. } | Finding::Misplaced { .. }));
                if !entries.is_empty() {
                    let members: Vec<String> = entries
                        .iter()
                        .filter_map(|f| match f {
                            Finding::Stale { member, .. } | Finding::Misplaced { member, .. } => {
                                Some(member.clone())
                            }
                            _ => None,
                        })
                        .collect();
                    next.push(Task::Fix { found: entries, writes: vec![plan::prune(&index, &members)] });
                }
                next.extend(rest.into_iter().map(fix_one));
            }
            Task::SessionFields(keys) => {
                let mut wrong_type = Vec::new();
                let mut to_index = Vec::new();
                for (key, pair) in keys.iter().zip(replies.chunks(2)) {
                    let (Some(fields), Some(ttl)) = (pair.first(), int(pair.get(1))) else { continue };
                    let Some(stored) = key.strip_prefix("session:") else { continue };
                    if ttl == -2 || scan::moved(fields) {
                        continue;
                    }
                    self.tally.sessions += 1;
                    if matches!(fields, Reply::Error(_)) {
                        wrong_type.push(stored.to_owned());
                        continue;
                    }
                    let values: Vec<Option<String>> = elements(Some(fields)).iter().map(text).collect();
                    let check = check_session(stored, &values, ttl, &self.limits);
                    next.extend(check.findings.into_iter().map(fix_one));
                    if let Some((uid, ttl)) = check.indexed_as {
                        to_index.push((stored.to_owned(), uid, ttl));
                    }
                }
                if !wrong_type.is_empty() {
                    next.push(Task::SessionTypes(wrong_type));
                }
                if !to_index.is_empty() {
                    next.push(Task::SessionIndexed(to_index));
                }
            }
            Task::SessionTypes(stored) => {
                for (stored, kind) in stored.into_iter().zip(replies) {
                    let kind = text(kind).unwrap_or_else(|| "key of another type".into());
                    next.push(fix_one(Finding::SessionType { stored, kind }));
                }
            }
            Task::SessionIndexed(list) => {
                for ((stored, user_id, ttl), reply) in list.into_iter().zip(replies) {
                    // Only a plain "no": an index of the wrong type was reported with the indexes.
                    if int(Some(reply)) == Some(0) {
                        next.push(fix_one(Finding::NotInIndex { stored, user_id, ttl }));
                    }
                }
            }
            Task::Fix { .. } => {}
        }
        self.first(next);
    }

    /// Shows findings and, when repairing, sends the writes that fix them all (echoed), with an
    /// `--audit-stream` entry for each finding in the same transaction (after it, on a cluster).
    fn fix(&mut self, found: &[Finding], writes: Vec<Args>) -> Option<Step> {
        for f in found {
            self.tally.found += 1;
            self.notes.push(f.line());
        }
        if !self.repair || writes.is_empty() {
            return None;
        }
        let entries: Vec<Args> = match &self.stream {
            Some(stream) => found
                .iter()
                .map(|f| {
                    let fields: Vec<(&str, &[u8])> =
                        f.audit_fields().into_iter().map(|(k, v)| (k, v.as_bytes())).collect();
                    audit::entry(stream, "repair", &fields)
                })
                .collect(),
            None => Vec::new(),
        };
        let one_slot = writes.len() == 1 || found.iter().all(|f| matches!(f, Finding::NotInIndex { .. }));
        let repair =
            |how, after: Vec<Args>| Repair { findings: found.len() as u64, how, after: after.into() };
        let (repair, cmds) = if writes.len() == 1 && entries.is_empty() {
            (repair(How::Single, Vec::new()), writes)
        } else if one_slot && self.audit_after {
            // Writes of one key (or the index steps of one user): one transaction in their slot,
            // then the entries, which live in a slot of their own.
            (repair(How::Tx, entries), plan::transaction(writes))
        } else if !entries.is_empty() && !self.audit_after {
            let mut writes = writes;
            writes.extend(entries);
            (repair(How::Tx, Vec::new()), plan::transaction(writes))
        } else if !self.split {
            (repair(How::Tx, entries), plan::transaction(writes))
        } else {
            // A session and its index, each in its slot, in the order the writes are given.
            let mut left: VecDeque<Args> = writes.into();
            let first = left.pop_front().into_iter().collect();
            (repair(How::Each { left, items: Vec::new() }, entries), first)
        };
        Some(self.send(Waiting::Repair(repair), Batch::of(cmds)))
    }

    /// After a repair's batch: its next batch, or the repair's end (`None`); a failed repair ends
    /// the whole run.
    fn repaired(&mut self, mut r: Repair, replies: Vec<Reply>) -> Result<Option<Step>, String> {
        let ok = match std::mem::replace(&mut r.how, How::Audit) {
            How::Single => !replies.iter().any(Reply::is_error),
            How::Tx => match Tx::of(&replies) {
                Tx::Ran(items) => match first_error(&items) {
                    Some(e) => return Err(format!("repair failed: {e}")),
                    None => return Ok(self.audit(r)),
                },
                Tx::Refused(e) => return Err(format!("repair failed, nothing was written: {e}")),
                Tx::Aborted => false,
            },
            How::Each { mut left, mut items } => {
                items.extend(replies);
                if let Some(next) = left.pop_front() {
                    r.how = How::Each { left, items };
                    return Ok(Some(self.send(Waiting::Repair(r), Batch::of(vec![next]))));
                }
                if let Some(e) = first_error(&items) {
                    return Err(format!("repair failed: {e}"));
                }
                return Ok(self.audit(r));
            }
            How::Audit => return Ok(self.audit(r)),
        };
        if ok {
            self.tally.repaired += r.findings;
        }
        Ok(None)
    }

    /// A repair that succeeded: its audit entries, one at a time, then it counts as done.
    fn audit(&mut self, mut r: Repair) -> Option<Step> {
        match r.after.pop_front() {
            Some(entry) => {
                r.how = How::Audit;
                Some(self.send(Waiting::Repair(r), Batch::of(vec![entry])))
            }
            None => {
                self.tally.repaired += r.findings;
                None
            }
        }
    }

    /// The totals, the quiet reads counted, and a failure when problems were left as they were.
    fn verdict(&mut self) -> Step {
        let t = &self.tally;
        let verdict = match (t.found, self.repair) {
            (0, _) => "no problems".to_owned(),
            (n, false) => format!("{n} problem(s); `fsck --repair` fixes them"),
            (n, true) => format!("{n} problem(s), {} repaired", t.repaired),
        };
        let mut summary = std::mem::take(&mut self.notes);
        summary.push(format!(
            "fsck: checked {} index(es) and {} session key(s): {verdict}",
            t.indexes, t.sessions
        ));
        summary.push(self.sent.line());
        let error = (t.found > t.repaired).then(|| {
            format!("fsck found {} problem(s) and left {} as they were", t.found, t.found - t.repaired)
        });
        Step::Done(Outcome { summary, error, ..Outcome::default() })
    }
}

/// A finding repaired on its own.
fn fix_one(f: Finding) -> Task {
    let writes = f.repair();
    Task::Fix { found: vec![f], writes }
}

fn first_error(items: &[Reply]) -> Option<String> {
    items.iter().find_map(|r| r.error_text()).map(|e| String::from_utf8_lossy(e).into_owned())
}

impl Machine for Fsck {
    fn start(&mut self) -> Step {
        self.advance()
    }

    fn resume(&mut self, replies: Vec<Reply>) -> Step {
        match std::mem::replace(&mut self.waiting, Waiting::Scan) {
            Waiting::Scan => {
                let mut keys = match self.scan.take(&replies, &mut self.sent) {
                    Ok(keys) => keys,
                    Err(e) => return Step::Done(Outcome::failed(e)),
                };
                if self.sessions {
                    // The audit stream is not a session, whatever it is called.
                    keys.retain(|k| Some(k) != self.stream.as_ref());
                    if !keys.is_empty() {
                        self.todo.push_back(Task::SessionFields(keys));
                    }
                } else if !keys.is_empty() {
                    self.todo.push_back(Task::IndexTypes(keys));
                }
            }
            Waiting::Read(task) => self.read(task, &replies),
            Waiting::Repair(r) => match self.repaired(r, replies) {
                Ok(Some(step)) => return step,
                Ok(None) => {}
                Err(e) => {
                    let summary = std::mem::take(&mut self.notes);
                    return Step::Done(Outcome { summary, error: Some(e), ..Outcome::default() });
                }
            },
        }
        self.advance()
    }

    fn progress(&self) -> Option<(&'static str, u64)> {
        Some((if self.sessions { "fsck: sessions" } else { "fsck: indexes" }, self.scan.seen))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Settings;
    use crate::session::inspect::testing::{moved, run, scanned, shape};
    use crate::session::plan::testing::{bulk, ctx_with, tx};

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|l| (*l).to_owned()).collect()
    }

    fn scan(pattern: &str) -> Vec<String> {
        vec![format!("SCAN 0 MATCH {pattern} COUNT 1000")]
    }

    fn hash(v: &[&str]) -> Reply {
        Reply::Array(v.iter().map(|f| bulk(f)).collect())
    }

    #[test]
    fn a_check_reads_quietly_and_shows_each_finding_before_the_next_batch() {
        let ctx = ctx_with(100_000, Settings::default());
        let wrongtype =
            Reply::Error(b"WRONGTYPE Operation against a key holding the wrong kind of value".to_vec());
        let (batches, outcome) = run(
            Fsck::new(&ctx, false, Vec::new()),
            vec![
                scanned("0", &["user_sessions:101", "user_sessions:107"]),
                vec![
                    Reply::Status(b"set".to_vec()),
                    Reply::Int(600),
                    Reply::Status(b"string".to_vec()),
                    Reply::Int(-1),
                ],
                vec![Reply::Array(vec![bulk("ghost"), bulk("a")])],
                vec![bulk("101"), Reply::Int(500), Reply::Nil, Reply::Int(-2)],
                scanned("0", &["session:a", "session:str", "session:elsewhere"]),
                vec![
                    hash(&["101", "suhel", "teacher", "99900", "1.2.3.4"]),
                    Reply::Int(500),
                    wrongtype,
                    Reply::Int(-1),
                    // Its slot moved to another node since the SCAN: not counted here.
                    moved(),
                    moved(),
                ],
                vec![Reply::Status(b"string".to_vec())],
                vec![Reply::Int(1)],
            ],
        );
        assert_eq!(
            shape(&batches),
            [
                (scan("user_sessions:*"), true, None),
                (
                    s(&[
                        "TYPE user_sessions:101",
                        "TTL user_sessions:101",
                        "TYPE user_sessions:107",
                        "TTL user_sessions:107"
                    ]),
                    true,
                    None
                ),
                (s(&["SMEMBERS user_sessions:101"]), true, None),
                (
                    s(&[
                        "HGET session:a user_id",
                        "TTL session:a",
                        "HGET session:ghost user_id",
                        "TTL session:ghost"
                    ]),
                    true,
                    None
                ),
                (scan("session:*"), true, None),
                (
                    s(&[
                        "HMGET session:a user_id username role login_time ip",
                        "TTL session:a",
                        "HMGET session:str user_id username role login_time ip",
                        "TTL session:str",
                        "HMGET session:elsewhere user_id username role login_time ip",
                        "TTL session:elsewhere",
                    ]),
                    true,
                    None
                ),
                (s(&["TYPE session:str"]), true, None),
                (s(&["SISMEMBER user_sessions:101 a"]), true, None),
            ]
        );
        assert!(!batches.iter().any(|b| b.replica_ok), "fsck decides repairs: the master answers");
        let notes: Vec<&[String]> = batches.iter().map(|b| b.notes.as_slice()).collect();
        assert_eq!(
            notes,
            [
                &[][..],
                &[],
                &s(&["malformed index: user_sessions:107 is a string, not a set"]),
                &[],
                &s(&["stale index entry: user_sessions:101 lists ghost, whose session is gone"]),
                &[],
                &[],
                &s(&["malformed session: session:str is a string, not a hash"]),
            ]
        );
        assert_eq!(
            outcome.summary,
            [
                "fsck: checked 2 index(es) and 2 session key(s): 3 problem(s); `fsck --repair` fixes them",
                "sent without echo (replies summarised above): 1 × SCAN <cursor> MATCH user_sessions:* COUNT 1000, \
                 2 × TYPE user_sessions:<uid>, 2 × TTL user_sessions:<uid>, 1 × SMEMBERS user_sessions:<uid>, \
                 2 × HGET session:<id> user_id, 5 × TTL session:<id>, 1 × SCAN <cursor> MATCH session:* COUNT 1000, \
                 3 × HMGET session:<id> user_id username role login_time ip, 1 × TYPE session:<id>, \
                 1 × SISMEMBER user_sessions:<uid> <id>",
            ]
        );
        assert_eq!(outcome.error.as_deref(), Some("fsck found 3 problem(s) and left 3 as they were"));
    }

    #[test]
    fn repairs_on_a_cluster_go_to_each_slot_and_their_audit_entries_follow() {
        let settings =
            Settings { cluster: true, audit_stream: Some("session:ev".into()), ..Settings::default() };
        let ctx = ctx_with(100_000, settings);
        let masters = vec![("127.0.0.1".to_owned(), 7000), ("127.0.0.1".to_owned(), 7001)];
        let (batches, outcome) = run(
            Fsck::new(&ctx, true, masters),
            vec![
                scanned("0", &[]),
                scanned("0", &[]),
                scanned("0", &["session:n", "session:ev"]),
                vec![hash(&["101", "u", "r", "99000", "ip"]), Reply::Int(-1)],
                vec![Reply::Int(1)],
                vec![Reply::Int(1)],
                vec![bulk("1-0")],
                vec![Reply::Int(0)],
                tx(vec![Reply::Int(1), Reply::Int(1), Reply::Int(0)]),
                vec![bulk("1-1")],
                scanned("0", &[]),
            ],
        );
        let xadd = |rest: &str| format!("XADD session:ev MAXLEN ~ 10000 * event repair finding {rest}");
        assert_eq!(
            shape(&batches),
            [
                (scan("user_sessions:*"), true, Some(7000)),
                (scan("user_sessions:*"), true, Some(7001)),
                (scan("session:*"), true, Some(7000)),
                // The audit stream is no session, whatever its name.
                (s(&["HMGET session:n user_id username role login_time ip", "TTL session:n"]), true, None),
                (s(&["EXPIRE user_sessions:101 1800 GT"]), false, None),
                (s(&["EXPIRE session:n 1800"]), false, None),
                (vec![xadd("no-ttl id n user 101")], false, None),
                (s(&["SISMEMBER user_sessions:101 n"]), true, None),
                (
                    s(&[
                        "MULTI",
                        "SADD user_sessions:101 n",
                        "EXPIRE user_sessions:101 1800 NX",
                        "EXPIRE user_sessions:101 1800 GT",
                        "EXEC"
                    ]),
                    false,
                    None
                ),
                (vec![xadd("not-in-index id n user 101")], false, None),
                (scan("session:*"), true, Some(7001)),
            ]
        );
        assert_eq!(batches[4].notes, ["no TTL: session n of user 101 never expires"]);
        assert_eq!(
            batches[8].notes,
            ["not in its index: session n of user 101 is missing from its user's index"]
        );
        assert_eq!(
            outcome.summary[0],
            "fsck: checked 0 index(es) and 1 session key(s): 2 problem(s), 2 repaired"
        );
        assert_eq!(outcome.error, None);
    }

    /// An index that is a string, repaired with these replies to its repair's batches.
    fn string_index(settings: Settings, repair: Vec<Vec<Reply>>) -> (Vec<Batch>, Outcome) {
        let ctx = ctx_with(100_000, settings);
        let mut answers = vec![
            scanned("0", &["user_sessions:107"]),
            vec![Reply::Status(b"string".to_vec()), Reply::Int(-1)],
        ];
        answers.extend(repair);
        run(Fsck::new(&ctx, true, Vec::new()), answers)
    }

    #[test]
    fn a_repair_write_refused_leaves_its_problem_and_the_run_goes_on() {
        let denied = Reply::Error(b"NOPERM this user has no permissions to access the key".to_vec());
        let (batches, outcome) = string_index(Settings::default(), vec![vec![denied], scanned("0", &[])]);
        assert_eq!(shape(&batches)[2], (s(&["DEL user_sessions:107"]), false, None));
        assert_eq!(batches[2].notes, ["malformed index: user_sessions:107 is a string, not a set"]);
        assert_eq!(
            outcome.summary[0],
            "fsck: checked 1 index(es) and 0 session key(s): 1 problem(s), 0 repaired"
        );
        assert_eq!(outcome.error.as_deref(), Some("fsck found 1 problem(s) and left 1 as they were"));
    }

    #[test]
    fn a_repair_transaction_refused_or_failed_part_way_ends_the_run() {
        let audited = Settings { audit_stream: Some("ev".into()), ..Settings::default() };
        let refused = Reply::Error(b"EXECABORT Transaction discarded because of previous errors.".to_vec());
        let mut replies = tx(vec![Reply::Int(1), Reply::Nil]);
        replies[3] = refused;
        let (batches, outcome) = string_index(audited.clone(), vec![replies]);
        assert_eq!(
            shape(&batches)[2].0,
            [
                "MULTI",
                "DEL user_sessions:107",
                "XADD ev MAXLEN ~ 10000 * event repair finding malformed-index index user_sessions:107",
                "EXEC"
            ]
        );
        assert_eq!(
            outcome.error.as_deref(),
            Some(
                "repair failed, nothing was written: EXECABORT Transaction discarded because of previous errors."
            )
        );
        let wrongtype =
            Reply::Error(b"WRONGTYPE Operation against a key holding the wrong kind of value".to_vec());
        let (_, outcome) = string_index(audited, vec![tx(vec![Reply::Int(1), wrongtype])]);
        assert_eq!(
            outcome.error.as_deref(),
            Some("repair failed: WRONGTYPE Operation against a key holding the wrong kind of value")
        );
    }
}
