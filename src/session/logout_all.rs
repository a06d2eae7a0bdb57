//! `logout-all USER_ID`: every session of a user destroyed and the index with them, under a WATCH
//! of the index so that a login slipping in meanwhile makes the command go round again.

use std::collections::VecDeque;

use crate::exec::{Args, args};
use crate::redis::reply::Reply;
use crate::session::apply::{Applied, Apply, Checks, settle, written};
use crate::session::plan::{
    Batch, CurrentChange, Machine, Outcome, Step, Tx, delete_all, delete_sessions, forget, logout_all_writes,
    transaction,
};
use crate::session::{Context, audit};

pub struct LogoutAll {
    uid: String,
    index: String,
    ctx: Context,
    state: State,
}

enum State {
    Read,
    /// The audit stream is checked before anything is written (the WATCH still stands).
    Check {
        checks: Checks,
        members: Vec<Vec<u8>>,
    },
    /// One server (or one slot): sessions and index in one transaction.
    Together {
        apply: Apply,
        members: Vec<Vec<u8>>,
    },
    /// Plain layout on a cluster: each session deleted on its own node first; the index goes last,
    /// under its WATCH.
    Apart {
        sent: Args,
        left: VecDeque<Args>,
        /// DELs that found no session: maybe a login in flight (index entry first, then session).
        missing: Vec<Args>,
        members: Vec<Vec<u8>>,
        deleted: i64,
        entries: Vec<Args>,
    },
    IndexGone {
        missing: Vec<Args>,
        members: Vec<Vec<u8>>,
        deleted: i64,
        entries: Vec<Args>,
    },
    /// The index is gone: the ids that had no session are deleted once more, so that a login that
    /// was in flight is revoked too rather than left outside any index.
    Again {
        left: VecDeque<Args>,
        members: Vec<Vec<u8>>,
        deleted: i64,
        entries: Vec<Args>,
    },
    /// Redis refused the transaction for lack of memory: plain DELs, then one SREM of the ids.
    Plain {
        members: Vec<Vec<u8>>,
        deleted: i64,
        left: VecDeque<Args>,
    },
    /// The change is done; its audit entries were being appended.
    Audited {
        outcome: Outcome,
    },
}

/// Said when Redis was out of memory and the sessions were destroyed without a transaction.
const OUT_OF_MEMORY: &str = " (Redis is out of memory: DEL and SREM sent without a transaction)";

impl LogoutAll {
    pub fn new(uid: String, ctx: Context) -> LogoutAll {
        LogoutAll { index: ctx.layout.index_key(&uid), uid, ctx, state: State::Read }
    }

    fn read(&mut self, replies: &[Reply]) -> Step {
        if let Some(e) = replies.first().and_then(Reply::error_text) {
            let e = String::from_utf8_lossy(e);
            return Step::Done(Outcome::failed(format!(
                "logout-all failed, nothing was written: {}: {e}",
                self.index
            )));
        }
        let members: Vec<Vec<u8>> = replies
            .first()
            .map(Reply::elements)
            .unwrap_or_default()
            .iter()
            .filter_map(|r| r.bytes().map(<[u8]>::to_vec))
            .collect();
        if members.is_empty() {
            return Step::Done(Outcome::ok(format!("user {} has no sessions", self.uid)));
        }
        match Checks::start(written(None, self.ctx.settings.audit_stream.as_deref()), self.ctx.cluster) {
            Some((checks, batch)) => {
                self.state = State::Check { checks, members };
                Step::Send(batch)
            }
            None => self.write(members),
        }
    }

    fn write(&mut self, members: Vec<Vec<u8>>) -> Step {
        let count = members.len().to_string();
        let stream = self.ctx.settings.audit_stream.as_deref();
        let entries = audit::entries(
            stream,
            "logout-all",
            &[("user", self.uid.as_bytes()), ("sessions", count.as_bytes())],
        );
        if self.ctx.settings.cluster {
            let mut left: VecDeque<Args> = delete_sessions(&members).into();
            let first = left.pop_front().unwrap_or_default();
            let sent = first.clone();
            self.state = State::Apart { sent, left, missing: vec![], members, deleted: 0, entries };
            return Step::Send(Batch::of(vec![first]));
        }
        let writes = logout_all_writes(&self.index, &members);
        let (apply, mut batch) = Apply::start(writes, entries, false, self.ctx.cluster);
        batch.retry = true;
        self.state = State::Together { apply, members };
        Step::Send(batch)
    }

    /// Out of memory: the sessions with plain DELs (one per node on a cluster), then their ids
    /// SREMed from the index (not DEL: a login may have added one meanwhile).
    fn plain(&mut self, members: Vec<Vec<u8>>, sessions_left: bool, deleted: i64) -> Step {
        let mut left = VecDeque::new();
        if sessions_left {
            if self.ctx.settings.cluster {
                left.extend(delete_sessions(&members));
            } else {
                // The sessions alone: the index may have gained an id meanwhile.
                left.push_back(delete_all(&members));
            }
        }
        left.push_back(forget(&self.index, &members));
        let first = left.pop_front().unwrap_or_default();
        self.state = State::Plain { members, deleted, left };
        Step::Send(Batch::of(vec![first]))
    }

    /// The outcome, after the audit entries (on a cluster they follow the change).
    fn finish(&mut self, members: Vec<Vec<u8>>, deleted: i64, entries: Vec<Args>) -> Step {
        let outcome = self.revoked(members, deleted, "");
        if entries.is_empty() {
            return Step::Done(outcome);
        }
        self.state = State::Audited { outcome };
        Step::Send(Batch::of(entries))
    }

    fn revoked(&self, members: Vec<Vec<u8>>, deleted: i64, note: &str) -> Outcome {
        Outcome {
            current: CurrentChange::EndedStored(
                members.iter().map(|m| String::from_utf8_lossy(m).into_owned()).collect(),
            ),
            ..Outcome::ok(format!("revoked {} live session(s) of user {}{note}", deleted.max(0), self.uid))
        }
    }
}

impl Machine for LogoutAll {
    fn start(&mut self) -> Step {
        self.state = State::Read;
        Step::Send(Batch::watching(&[&self.index], vec![args(["SMEMBERS", &self.index])]))
    }

    fn resume(&mut self, replies: Vec<Reply>) -> Step {
        match std::mem::replace(&mut self.state, State::Read) {
            State::Read => self.read(&replies),
            State::Check { mut checks, members } => match checks.resume(&replies) {
                Ok(Some(batch)) => {
                    self.state = State::Check { checks, members };
                    Step::Send(batch)
                }
                Ok(None) => self.write(members),
                Err(wrong) => {
                    Step::Done(Outcome::failed(format!("logout-all failed, nothing was written: {wrong}")))
                }
            },
            State::Together { mut apply, members } => match apply.resume(replies) {
                Applied::Send(batch) => {
                    self.state = State::Together { apply, members };
                    Step::Send(batch)
                }
                Applied::Done(tx) if tx.out_of_memory() => self.plain(members, true, 0),
                Applied::Done(tx) => match settle(tx, "logout-all") {
                    Ok(items) => {
                        let deleted = items.first().and_then(Reply::int).unwrap_or(0) - 1;
                        Step::Done(self.revoked(members, deleted, ""))
                    }
                    Err(e) => Step::Done(Outcome::failed(e)),
                },
            },
            State::Apart { sent, mut left, mut missing, members, deleted, entries } => {
                let gone = replies.first().and_then(Reply::int).unwrap_or(0);
                if gone == 0 {
                    missing.push(sent);
                }
                let deleted = deleted + gone;
                if let Some(next) = left.pop_front() {
                    let sent = next.clone();
                    self.state = State::Apart { sent, left, missing, members, deleted, entries };
                    return Step::Send(Batch::of(vec![next]));
                }
                self.state = State::IndexGone { missing, members, deleted, entries };
                let mut batch = Batch::of(transaction(vec![args(["DEL", &self.index])]));
                batch.retry = true;
                Step::Send(batch)
            }
            State::IndexGone { missing, members, deleted, entries } => {
                let tx = Tx::of(&replies);
                if tx.out_of_memory() {
                    return self.plain(members, false, deleted);
                }
                match settle(tx, "logout-all") {
                    Ok(items) => {
                        let deleted = deleted + items.first().and_then(Reply::int).unwrap_or(0) - 1;
                        let mut left: VecDeque<Args> = missing.into();
                        match left.pop_front() {
                            Some(first) => {
                                self.state = State::Again { left, members, deleted, entries };
                                Step::Send(Batch::of(vec![first]))
                            }
                            None => self.finish(members, deleted, entries),
                        }
                    }
                    Err(e) => Step::Done(Outcome::failed(e)),
                }
            }
            State::Again { mut left, members, deleted, entries } => {
                let deleted = deleted + replies.first().and_then(Reply::int).unwrap_or(0);
                match left.pop_front() {
                    Some(next) => {
                        self.state = State::Again { left, members, deleted, entries };
                        Step::Send(Batch::of(vec![next]))
                    }
                    None => self.finish(members, deleted, entries),
                }
            }
            State::Plain { members, deleted, mut left } => {
                if let Some(e) = replies.first().and_then(Reply::error_text) {
                    return Step::Done(Outcome::failed(format!(
                        "logout-all failed: {}",
                        String::from_utf8_lossy(e)
                    )));
                }
                // Every reply but the last (the SREM's) counts deleted sessions.
                let deleted = if left.is_empty() {
                    deleted
                } else {
                    deleted + replies.first().and_then(Reply::int).unwrap_or(0)
                };
                match left.pop_front() {
                    Some(next) => {
                        self.state = State::Plain { members, deleted, left };
                        Step::Send(Batch::of(vec![next]))
                    }
                    None => Step::Done(self.revoked(members, deleted, OUT_OF_MEMORY)),
                }
            }
            State::Audited { outcome } => Step::Done(outcome),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Settings;
    use crate::session::plan::testing::{bulk, ctx, ctx_with, lines, ok, queued, run, tx};

    fn members(ids: &[&str]) -> Vec<Reply> {
        vec![Reply::Array(ids.iter().map(|i| bulk(i)).collect())]
    }

    fn oom() -> Reply {
        Reply::Error(b"OOM command not allowed when used memory > 'maxmemory'.".to_vec())
    }

    #[test]
    fn every_session_and_the_index_go_in_one_transaction() {
        let (sent, outcome) =
            run(LogoutAll::new("3".into(), ctx(0)), vec![members(&["a", "b"]), tx(vec![Reply::Int(3)])]);
        assert_eq!(
            lines(&sent),
            [
                "WATCH user_sessions:3",
                "SMEMBERS user_sessions:3",
                "MULTI",
                "DEL session:a session:b user_sessions:3",
                "EXEC"
            ]
        );
        assert_eq!(outcome.summary, ["revoked 2 live session(s) of user 3"]);
        assert_eq!(outcome.current, CurrentChange::EndedStored(vec!["a".into(), "b".into()]));
    }

    #[test]
    fn a_member_that_is_not_utf8_names_its_own_key() {
        let binary = vec![Reply::Array(vec![Reply::Bulk(vec![0xff, 0xfe])])];
        let (sent, _) = run(LogoutAll::new("7".into(), ctx(0)), vec![binary, tx(vec![Reply::Int(2)])]);
        assert_eq!(sent[3], vec![b"DEL".to_vec(), b"session:\xff\xfe".to_vec(), b"user_sessions:7".to_vec()]);
    }

    #[test]
    fn the_transaction_is_started_over_when_the_index_changes() {
        let mut m = LogoutAll::new("3".into(), ctx(0));
        let Step::Send(read) = m.start() else { panic!("a read") };
        assert!(read.watch);
        let Step::Send(write) = m.resume(members(&["a"])) else { panic!("a write") };
        assert!(write.retry, "a nil EXEC starts the command over");
        // The executor calls start() again: the machine reads afresh.
        let Step::Send(again) = m.start() else { panic!("a read") };
        assert_eq!(lines(&again.cmds), ["WATCH user_sessions:3", "SMEMBERS user_sessions:3"]);
        let Step::Done(outcome) = m.resume(members(&[])) else { panic!("done") };
        assert_eq!(outcome.summary, ["user 3 has no sessions"]);
    }

    #[test]
    fn an_index_or_stream_of_another_type_is_refused_before_writing() {
        let wrong =
            Reply::Error(b"WRONGTYPE Operation against a key holding the wrong kind of value".to_vec());
        let (sent, outcome) = run(LogoutAll::new("3".into(), ctx(0)), vec![vec![wrong]]);
        assert_eq!(sent.len(), 2);
        assert_eq!(
            outcome.error.unwrap(),
            "logout-all failed, nothing was written: user_sessions:3: WRONGTYPE Operation against a key holding the wrong kind of value"
        );
        let settings = Settings { audit_stream: Some("audit".into()), ..Settings::default() };
        let (sent, outcome) = run(
            LogoutAll::new("3".into(), ctx_with(0, settings)),
            vec![members(&["a"]), vec![Reply::Status(b"string".to_vec())]],
        );
        assert_eq!(lines(&sent)[2..], ["TYPE audit"]);
        assert_eq!(
            outcome.error.unwrap(),
            "logout-all failed, nothing was written: audit holds a string, not a stream"
        );
    }

    #[test]
    fn out_of_memory_sessions_go_with_plain_dels_then_their_ids() {
        let refused = vec![ok(), oom(), Reply::Error(b"EXECABORT y".to_vec())];
        let (sent, outcome) = run(
            LogoutAll::new("3".into(), ctx(0)),
            vec![members(&["a", "b"]), refused, vec![Reply::Int(2)], vec![Reply::Int(2)]],
        );
        assert_eq!(lines(&sent)[5..], ["DEL session:a session:b", "SREM user_sessions:3 a b"]);
        assert_eq!(
            outcome.summary,
            [
                "revoked 2 live session(s) of user 3 (Redis is out of memory: DEL and SREM sent without a transaction)"
            ]
        );
    }

    #[test]
    fn errors_inside_exec_and_other_refusals_are_reported() {
        let wrong = Reply::Error(b"WRONGTYPE x".to_vec());
        let (_, outcome) = run(LogoutAll::new("3".into(), ctx(0)), vec![members(&["a"]), tx(vec![wrong])]);
        assert_eq!(outcome.error.unwrap(), "logout-all failed: WRONGTYPE x");
        let refused = vec![ok(), Reply::Error(b"ERR x".to_vec()), Reply::Error(b"EXECABORT y".to_vec())];
        let (_, outcome) = run(LogoutAll::new("3".into(), ctx(0)), vec![members(&["a"]), refused]);
        assert_eq!(outcome.error.unwrap(), "logout-all failed, nothing was written: EXECABORT y (ERR x)");
    }

    #[test]
    fn on_a_cluster_sessions_go_one_by_one_then_the_index_then_the_entry() {
        let settings = Settings { cluster: true, audit_stream: Some("audit".into()), ..Settings::default() };
        let (sent, outcome) = run(
            LogoutAll::new("3".into(), ctx_with(0, settings)),
            vec![
                members(&["a", "b"]),
                vec![Reply::Status(b"none".to_vec())],
                vec![Reply::Int(1)],
                vec![Reply::Int(0)],
                tx(vec![Reply::Int(1)]),
                vec![Reply::Int(1)],
                vec![bulk("1-1")],
            ],
        );
        assert_eq!(
            lines(&sent)[2..],
            [
                "TYPE audit",
                "DEL session:a",
                "DEL session:b",
                "MULTI",
                "DEL user_sessions:3",
                "EXEC",
                "DEL session:b",
                "XADD audit MAXLEN ~ 10000 * event logout-all user 3 sessions 2"
            ]
        );
        assert_eq!(
            outcome.summary,
            ["revoked 2 live session(s) of user 3"],
            "b's session appeared meanwhile (a login in flight): revoked too"
        );
    }

    #[test]
    fn on_a_cluster_out_of_memory_the_ids_are_removed_from_the_index() {
        let settings = Settings { cluster: true, ..Settings::default() };
        let (sent, outcome) = run(
            LogoutAll::new("3".into(), ctx_with(0, settings)),
            vec![
                members(&["a"]),
                vec![Reply::Int(1)],
                vec![ok(), oom(), Reply::Error(b"EXECABORT y".to_vec())],
                vec![Reply::Int(1)],
            ],
        );
        assert_eq!(lines(&sent).last().unwrap(), "SREM user_sessions:3 a");
        assert!(
            outcome.summary[0].starts_with("revoked 1 live session(s) of user 3 (Redis is out of memory")
        );
        let _ = queued();
    }
}
