//! `logout [ID]`: the seed's destruction — `DEL session:<id>`, then `SREM user_sessions:<uid> <id>`.

use crate::exec::args;
use crate::redis::reply::Reply;
use crate::session::apply::{Applied, Apply, Checks, settle, user_of, written};
use crate::session::keys::{session_key_of_stored, short};
use crate::session::plan::{Batch, CurrentChange, Machine, Outcome, Step, Tx, logout_writes};
use crate::session::{Context, audit, no_such};

pub struct Logout {
    id: String,
    stored: String,
    ctx: Context,
    state: State,
}

enum State {
    Read,
    /// The index and the audit stream are checked before anything is written.
    Check {
        checks: Checks,
        uid: String,
    },
    Write {
        apply: Apply,
        uid: String,
    },
    /// Redis refused the transaction for lack of memory: plain `DEL`, then `SREM`, were sent.
    Plain {
        uid: String,
    },
}

impl Logout {
    pub fn new(id: String, ctx: Context) -> Logout {
        Logout { stored: ctx.layout.stored_id(&id), id, ctx, state: State::Read }
    }

    fn index(&self, uid: &str) -> String {
        self.ctx.layout.index_key(uid)
    }

    fn read(&mut self, replies: &[Reply]) -> Step {
        let Some(uid) = replies.first().and_then(Reply::bytes) else {
            return Step::Done(Outcome::failed(no_such(&self.id)));
        };
        let uid = match user_of(&self.id, self.ctx.layout.tagged, uid) {
            Ok(uid) => uid,
            Err(e) => {
                return Step::Done(Outcome::failed(format!("session {} is malformed: {e}", short(&self.id))));
            }
        };
        let keys = written(Some(&self.index(&uid)), self.ctx.settings.audit_stream.as_deref());
        match Checks::start(keys, self.ctx.cluster) {
            Some((checks, batch)) => {
                self.state = State::Check { checks, uid };
                Step::Send(batch)
            }
            None => self.write(uid),
        }
    }

    fn write(&mut self, uid: String) -> Step {
        let stream = self.ctx.settings.audit_stream.as_deref();
        let who = [("id", self.stored.as_bytes()), ("user", uid.as_bytes())];
        let entries = audit::entries(stream, "logout", &who);
        let writes = logout_writes(&self.stored, &self.index(&uid));
        let (apply, batch) = Apply::start(writes, entries, self.ctx.settings.cluster, self.ctx.cluster);
        self.state = State::Write { apply, uid };
        Step::Send(batch)
    }

    fn finish(&self, items: Result<Vec<Reply>, String>, uid: &str, note: &str) -> Outcome {
        let items = match items {
            Ok(items) => items,
            Err(e) => return Outcome::failed(e),
        };
        let current = CurrentChange::Ended { id: self.id.clone(), to: None };
        if items.first().and_then(Reply::int) != Some(1) {
            return Outcome { error: Some(no_such(&self.id)), current, ..Outcome::default() };
        }
        Outcome {
            current,
            ..Outcome::ok(format!("logged out: session {} of user {uid}{note}", short(&self.id)))
        }
    }
}

impl Machine for Logout {
    fn start(&mut self) -> Step {
        self.state = State::Read;
        let key = session_key_of_stored(&self.stored);
        Step::Send(Batch::of(vec![args(["HGET", &key, "user_id"])]))
    }

    fn resume(&mut self, replies: Vec<Reply>) -> Step {
        match std::mem::replace(&mut self.state, State::Read) {
            State::Read => self.read(&replies),
            State::Check { mut checks, uid } => match checks.resume(&replies) {
                Ok(Some(batch)) => {
                    self.state = State::Check { checks, uid };
                    Step::Send(batch)
                }
                Ok(None) => self.write(uid),
                Err(wrong) => {
                    Step::Done(Outcome::failed(format!("logout failed, nothing was written: {wrong}")))
                }
            },
            State::Write { mut apply, uid } => match apply.resume(replies) {
                Applied::Send(batch) => {
                    self.state = State::Write { apply, uid };
                    Step::Send(batch)
                }
                // Out of memory, Redis refuses whatever MULTI queues, yet it still runs a plain DEL:
                // destroying a session must work then too. Session first, then its index entry.
                Applied::Done(tx) if tx.out_of_memory() => {
                    let plain = logout_writes(&self.stored, &self.index(&uid));
                    self.state = State::Plain { uid };
                    Step::Send(Batch::of(plain))
                }
                Applied::Done(tx) => Step::Done(self.finish(settle(tx, "logout"), &uid, "")),
            },
            State::Plain { uid } => {
                let note = if self.ctx.settings.audit_stream.is_some() {
                    " (Redis is out of memory: DEL and SREM sent without a transaction; no audit entry)"
                } else {
                    " (Redis is out of memory: DEL and SREM sent without a transaction)"
                };
                Step::Done(self.finish(settle(Tx::Ran(replies), "logout"), &uid, note))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Settings;
    use crate::session::plan::testing::{bulk, ctx, ctx_with, lines, ok, run, tx};

    fn status(s: &str) -> Vec<Reply> {
        vec![Reply::Status(s.as_bytes().to_vec())]
    }

    fn refused() -> Vec<Reply> {
        let oom = Reply::Error(b"OOM command not allowed when used memory > 'maxmemory'.".to_vec());
        vec![ok(), oom.clone(), oom, Reply::Error(b"EXECABORT Transaction discarded.".to_vec())]
    }

    #[test]
    fn logout_checks_the_index_then_deletes_the_session_then_its_entry() {
        let mut c = ctx(0);
        c.current = Some("abc123".into());
        let (sent, outcome) = run(
            Logout::new("abc123".into(), c),
            vec![vec![bulk("101")], status("set"), tx(vec![Reply::Int(1), Reply::Int(1)])],
        );
        assert_eq!(
            lines(&sent),
            [
                "HGET session:abc123 user_id",
                "TYPE user_sessions:101",
                "MULTI",
                "DEL session:abc123",
                "SREM user_sessions:101 abc123",
                "EXEC"
            ]
        );
        assert_eq!(outcome.summary, ["logged out: session abc123 of user 101"]);
        assert_eq!(outcome.current, CurrentChange::Ended { id: "abc123".into(), to: None });
    }

    #[test]
    fn a_missing_session_is_not_written() {
        let (sent, outcome) = run(Logout::new("x".into(), ctx(0)), vec![vec![Reply::Nil]]);
        assert_eq!(sent.len(), 1);
        assert!(outcome.error.unwrap().starts_with("no such session: x"));
        let (_, outcome) = run(
            Logout::new("x".into(), ctx(0)),
            vec![vec![bulk("1")], status("none"), tx(vec![Reply::Int(0), Reply::Int(0)])],
        );
        assert!(outcome.error.unwrap().starts_with("no such session: x"), "expired meanwhile");
    }

    #[test]
    fn an_index_or_stream_of_another_type_is_refused_before_writing() {
        let (sent, outcome) = run(Logout::new("a".into(), ctx(0)), vec![vec![bulk("1")], status("string")]);
        assert_eq!(sent.len(), 2, "nothing written");
        assert_eq!(
            outcome.error.unwrap(),
            "logout failed, nothing was written: user_sessions:1 holds a string, not a set"
        );
        let settings = Settings { audit_stream: Some("audit".into()), ..Settings::default() };
        let answers =
            vec![vec![bulk("1")], vec![Reply::Status(b"set".to_vec()), Reply::Status(b"hash".to_vec())]];
        let (sent, outcome) = run(Logout::new("a".into(), ctx_with(0, settings)), answers);
        assert_eq!(lines(&sent)[1..], ["TYPE user_sessions:1", "TYPE audit"]);
        assert_eq!(
            outcome.error.unwrap(),
            "logout failed, nothing was written: audit holds a hash, not a stream"
        );
    }

    #[test]
    fn out_of_memory_the_session_is_destroyed_without_a_transaction() {
        let (sent, outcome) = run(
            Logout::new("a".into(), ctx(0)),
            vec![vec![bulk("1")], status("set"), refused(), vec![Reply::Int(1), Reply::Int(1)]],
        );
        assert_eq!(lines(&sent)[6..], ["DEL session:a", "SREM user_sessions:1 a"]);
        assert_eq!(
            outcome.summary,
            [
                "logged out: session a of user 1 (Redis is out of memory: DEL and SREM sent without a transaction)"
            ]
        );
        assert!(outcome.error.is_none());
    }

    #[test]
    fn errors_inside_exec_and_other_refusals_are_reported() {
        let wrong =
            Reply::Error(b"WRONGTYPE Operation against a key holding the wrong kind of value".to_vec());
        let (_, outcome) = run(
            Logout::new("a".into(), ctx(0)),
            vec![vec![bulk("1")], status("set"), tx(vec![Reply::Int(1), wrong])],
        );
        assert!(outcome.error.unwrap().starts_with("logout failed: WRONGTYPE"));
        let refused = vec![
            ok(),
            Reply::Error(b"ERR x".to_vec()),
            Reply::Error(b"ERR x".to_vec()),
            Reply::Error(b"EXECABORT y".to_vec()),
        ];
        let (_, outcome) =
            run(Logout::new("a".into(), ctx(0)), vec![vec![bulk("1")], status("set"), refused]);
        assert_eq!(outcome.error.unwrap(), "logout failed, nothing was written: EXECABORT y (ERR x)");
    }

    #[test]
    fn on_a_cluster_the_session_goes_first_then_the_entry_then_the_audit() {
        let settings = Settings { cluster: true, audit_stream: Some("audit".into()), ..Settings::default() };
        let (sent, outcome) = run(
            Logout::new("a".into(), ctx_with(0, settings)),
            vec![
                vec![bulk("1")],
                status("set"),
                status("stream"),
                vec![Reply::Int(1)],
                vec![Reply::Int(1)],
                vec![bulk("1-1")],
            ],
        );
        assert_eq!(
            lines(&sent)[1..],
            [
                "TYPE user_sessions:1",
                "TYPE audit",
                "DEL session:a",
                "SREM user_sessions:1 a",
                "XADD audit MAXLEN ~ 10000 * event logout id a user 1"
            ]
        );
        assert_eq!(outcome.summary, ["logged out: session a of user 1"]);
    }
}
