//! `logout-all USER_ID`: every session of a user destroyed and the index with them, under a WATCH
//! of the index so that a login slipping in meanwhile makes the command go round again.

use std::collections::VecDeque;

use crate::exec::{Args, args};
use crate::redis::reply::Reply;
use crate::session::apply::{Applied, Apply, settle};
use crate::session::keys::session_key_of_stored;
use crate::session::plan::{Batch, CurrentChange, Machine, Outcome, Step, transaction};
use crate::session::{Context, audit};

pub struct LogoutAll {
    uid: String,
    index: String,
    ctx: Context,
    state: State,
}

enum State {
    Read,
    /// One server (or one slot): sessions and index in one transaction.
    Together {
        apply: Apply,
        members: Vec<String>,
    },
    /// Plain layout on a cluster: each session deleted on its own node first; the index goes last,
    /// under its WATCH.
    Apart {
        left: VecDeque<String>,
        members: Vec<String>,
        deleted: i64,
        entries: Vec<Args>,
    },
    IndexGone {
        members: Vec<String>,
        deleted: i64,
        entries: Vec<Args>,
    },
    /// The change is done; its audit entries were being appended.
    Audited {
        outcome: Outcome,
    },
}

impl LogoutAll {
    pub fn new(uid: String, ctx: Context) -> LogoutAll {
        LogoutAll { index: ctx.layout.index_key(&uid), uid, ctx, state: State::Read }
    }

    fn read(&mut self, replies: &[Reply]) -> Step {
        let members: Vec<String> = replies
            .first()
            .map(Reply::elements)
            .unwrap_or_default()
            .iter()
            .filter_map(|r| r.text())
            .collect();
        if members.is_empty() {
            return Step::Done(Outcome::ok(format!("user {} has no sessions", self.uid)));
        }
        let count = members.len().to_string();
        let stream = self.ctx.settings.audit_stream.as_deref();
        let entries = audit::entries(
            stream,
            "logout-all",
            &[("user", self.uid.as_bytes()), ("sessions", count.as_bytes())],
        );
        if self.ctx.settings.cluster {
            let mut left: VecDeque<String> = members.iter().cloned().collect();
            let first = left.pop_front().unwrap_or_default();
            self.state = State::Apart { left, members, deleted: 0, entries };
            return Step::Send(Batch::of(vec![args(["DEL", &session_key_of_stored(&first)])]));
        }
        let mut del = args(["DEL"]);
        del.extend(members.iter().map(|id| session_key_of_stored(id).into_bytes()));
        del.push(self.index.as_bytes().to_vec());
        let (apply, mut batch) = Apply::start(vec![del], entries, false, self.ctx.cluster);
        batch.retry = true;
        self.state = State::Together { apply, members };
        Step::Send(batch)
    }

    fn revoked(&self, members: Vec<String>, deleted: i64) -> Outcome {
        Outcome {
            current: CurrentChange::EndedStored(members),
            ..Outcome::ok(format!("revoked {} live session(s) of user {}", deleted.max(0), self.uid))
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
            State::Together { mut apply, members } => match apply.resume(replies) {
                Applied::Send(batch) => {
                    self.state = State::Together { apply, members };
                    Step::Send(batch)
                }
                Applied::Done(tx) => match settle(tx, "logout-all") {
                    Ok(items) => {
                        let deleted = items.first().and_then(Reply::int).unwrap_or(0) - 1;
                        Step::Done(self.revoked(members, deleted))
                    }
                    Err(e) => Step::Done(Outcome::failed(e)),
                },
            },
            State::Apart { mut left, members, deleted, entries } => {
                let deleted = deleted + replies.first().and_then(Reply::int).unwrap_or(0);
                if let Some(next) = left.pop_front() {
                    self.state = State::Apart { left, members, deleted, entries };
                    return Step::Send(Batch::of(vec![args(["DEL", &session_key_of_stored(&next)])]));
                }
                self.state = State::IndexGone { members, deleted, entries };
                let mut batch = Batch::of(transaction(vec![args(["DEL", &self.index])]));
                batch.retry = true;
                Step::Send(batch)
            }
            State::IndexGone { members, deleted, entries } => {
                match settle(crate::session::plan::Tx::of(&replies), "logout-all") {
                    Ok(items) => {
                        let deleted = deleted + items.first().and_then(Reply::int).unwrap_or(0) - 1;
                        let outcome = self.revoked(members, deleted);
                        if entries.is_empty() {
                            return Step::Done(outcome);
                        }
                        self.state = State::Audited { outcome };
                        Step::Send(Batch::of(entries))
                    }
                    Err(e) => Step::Done(Outcome::failed(e)),
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
    use crate::session::plan::testing::{bulk, ctx, ctx_with, lines, ok, run, tx};

    fn members(ids: &[&str]) -> Vec<Reply> {
        vec![Reply::Array(ids.iter().map(|i| bulk(i)).collect())]
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
    fn the_transaction_is_started_over_when_the_index_changes() {
        let mut m = LogoutAll::new("3".into(), ctx(0));
        let Step::Send(read) = m.start() else { panic!() };
        assert!(read.watch);
        let Step::Send(write) = m.resume(members(&["a"])) else { panic!() };
        assert!(write.retry, "a nil EXEC starts the command over");
        // The executor calls start() again: the machine reads afresh.
        let Step::Send(again) = m.start() else { panic!() };
        assert_eq!(lines(&again.cmds), ["WATCH user_sessions:3", "SMEMBERS user_sessions:3"]);
        let Step::Done(outcome) = m.resume(members(&[])) else { panic!() };
        assert_eq!(outcome.summary, ["user 3 has no sessions"]);
    }

    #[test]
    fn errors_inside_exec_and_refusals_are_reported() {
        let wrong = Reply::Error(b"WRONGTYPE x".to_vec());
        let (_, outcome) = run(LogoutAll::new("3".into(), ctx(0)), vec![members(&["a"]), tx(vec![wrong])]);
        assert_eq!(outcome.error.unwrap(), "logout-all failed: WRONGTYPE x");
        let refused = vec![ok(), Reply::Error(b"OOM x".to_vec()), Reply::Error(b"EXECABORT y".to_vec())];
        let (_, outcome) = run(LogoutAll::new("3".into(), ctx(0)), vec![members(&["a"]), refused]);
        assert_eq!(outcome.error.unwrap(), "logout-all failed, nothing was written: EXECABORT y");
    }

    #[test]
    fn on_a_cluster_sessions_go_one_by_one_then_the_index_then_the_entry() {
        let settings = Settings { cluster: true, audit_stream: Some("audit".into()), ..Settings::default() };
        let (sent, outcome) = run(
            LogoutAll::new("3".into(), ctx_with(0, settings)),
            vec![
                members(&["a", "b"]),
                vec![Reply::Int(1)],
                vec![Reply::Int(0)],
                tx(vec![Reply::Int(1)]),
                vec![bulk("1-1")],
            ],
        );
        assert_eq!(
            lines(&sent)[2..],
            [
                "DEL session:a",
                "DEL session:b",
                "MULTI",
                "DEL user_sessions:3",
                "EXEC",
                "XADD audit MAXLEN ~ 10000 * event logout-all user 3 sessions 2"
            ]
        );
        assert_eq!(outcome.summary, ["revoked 1 live session(s) of user 3"]);
    }
}
