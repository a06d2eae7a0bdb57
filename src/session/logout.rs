//! `logout [ID]`: the seed's destruction — `DEL session:<id>`, then `SREM user_sessions:<uid> <id>`.

use crate::exec::args;
use crate::redis::reply::Reply;
use crate::session::apply::{Applied, Apply, settle};
use crate::session::keys::{session_key_of_stored, short};
use crate::session::plan::{Batch, CurrentChange, Machine, Outcome, Step, logout_writes};
use crate::session::{Context, audit, no_such};

pub struct Logout {
    id: String,
    stored: String,
    ctx: Context,
    state: State,
}

enum State {
    Read,
    Write { apply: Apply, uid: String },
}

impl Logout {
    pub fn new(id: String, ctx: Context) -> Logout {
        Logout { stored: ctx.layout.stored_id(&id), id, ctx, state: State::Read }
    }

    fn read(&mut self, replies: &[Reply]) -> Step {
        let Some(uid) = replies.first().and_then(Reply::text) else {
            return Step::Done(Outcome::failed(no_such(&self.id)));
        };
        let index = self.ctx.layout.index_key(&uid);
        let stream = self.ctx.settings.audit_stream.as_deref();
        let entries =
            audit::entries(stream, "logout", &[("id", self.stored.as_bytes()), ("user", uid.as_bytes())]);
        let writes = logout_writes(&self.stored, &index);
        let (apply, batch) = Apply::start(writes, entries, self.ctx.settings.cluster, self.ctx.cluster);
        self.state = State::Write { apply, uid };
        Step::Send(batch)
    }

    fn finish(&self, items: Result<Vec<Reply>, String>, uid: &str) -> Outcome {
        let items = match items {
            Ok(items) => items,
            Err(e) => return Outcome::failed(e),
        };
        let current = CurrentChange::Ended { id: self.id.clone(), to: None };
        if items.first().and_then(Reply::int) != Some(1) {
            return Outcome { error: Some(no_such(&self.id)), current, ..Outcome::default() };
        }
        Outcome { current, ..Outcome::ok(format!("logged out: session {} of user {uid}", short(&self.id))) }
    }
}

impl Machine for Logout {
    fn start(&mut self) -> Step {
        self.state = State::Read;
        let key = session_key_of_stored(&self.stored);
        Step::Send(Batch::of(vec![args(["HGET", &key, "user_id"])]))
    }

    fn resume(&mut self, replies: Vec<Reply>) -> Step {
        match &mut self.state {
            State::Read => self.read(&replies),
            State::Write { apply, uid } => match apply.resume(replies) {
                Applied::Send(batch) => Step::Send(batch),
                Applied::Done(tx) => {
                    let uid = uid.clone();
                    Step::Done(self.finish(settle(tx, "logout"), &uid))
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Settings;
    use crate::session::plan::testing::{bulk, ctx, ctx_with, lines, ok, run, tx};

    #[test]
    fn logout_deletes_the_session_then_its_index_entry() {
        let mut c = ctx(0);
        c.current = Some("abc123".into());
        let (sent, outcome) = run(
            Logout::new("abc123".into(), c),
            vec![vec![bulk("101")], tx(vec![Reply::Int(1), Reply::Int(1)])],
        );
        assert_eq!(
            lines(&sent),
            [
                "HGET session:abc123 user_id",
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
            vec![vec![bulk("1")], tx(vec![Reply::Int(0), Reply::Int(0)])],
        );
        assert!(outcome.error.unwrap().starts_with("no such session: x"), "expired meanwhile");
    }

    #[test]
    fn errors_inside_exec_and_refusals_are_reported() {
        let wrong =
            Reply::Error(b"WRONGTYPE Operation against a key holding the wrong kind of value".to_vec());
        let (_, outcome) =
            run(Logout::new("a".into(), ctx(0)), vec![vec![bulk("1")], tx(vec![Reply::Int(1), wrong])]);
        assert!(outcome.error.unwrap().starts_with("logout failed: WRONGTYPE"));
        let refused = vec![
            ok(),
            Reply::Error(b"OOM x".to_vec()),
            Reply::Error(b"OOM x".to_vec()),
            Reply::Error(b"EXECABORT y".to_vec()),
        ];
        let (_, outcome) = run(Logout::new("a".into(), ctx(0)), vec![vec![bulk("1")], refused]);
        assert_eq!(outcome.error.unwrap(), "logout failed, nothing was written: EXECABORT y");
    }

    #[test]
    fn on_a_cluster_the_session_goes_first_then_the_entry_then_the_audit() {
        let settings = Settings { cluster: true, audit_stream: Some("audit".into()), ..Settings::default() };
        let (sent, outcome) = run(
            Logout::new("a".into(), ctx_with(0, settings)),
            vec![vec![bulk("1")], vec![Reply::Int(1)], vec![Reply::Int(1)], vec![bulk("1-1")]],
        );
        assert_eq!(
            lines(&sent)[1..],
            [
                "DEL session:a",
                "SREM user_sessions:1 a",
                "XADD audit MAXLEN ~ 10000 * event logout id a user 1"
            ]
        );
        assert_eq!(outcome.summary, ["logged out: session a of user 1"]);
    }
}
