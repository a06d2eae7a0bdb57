//! `touch [ID]`: the seed's sliding expiry (`EXPIRE session:<id> 1800`), the index extended to
//! match, capped by the absolute timeout; past that deadline the session is ended instead.

use crate::exec::args;
use crate::redis::reply::Reply;
use crate::session::apply::{Applied, Apply, settle};
use crate::session::keys::{session_key_of_stored, short};
use crate::session::plan::{
    Batch, CurrentChange, Machine, Outcome, Step, logout_writes, touch_ttl, touch_writes,
};
use crate::session::{Context, audit, human, no_such};

pub struct Touch {
    id: String,
    stored: String,
    ctx: Context,
    state: State,
}

enum State {
    Read,
    /// Extending by `ttl` seconds, or (`ttl` ≤ 0) ending a session past its absolute deadline.
    Write {
        apply: Apply,
        ttl: i64,
    },
}

impl Touch {
    pub fn new(id: String, ctx: Context) -> Touch {
        Touch { stored: ctx.layout.stored_id(&id), id, ctx, state: State::Read }
    }

    fn read(&mut self, replies: &[Reply]) -> Step {
        let items = replies.first().map(Reply::elements).unwrap_or_default();
        let Some(uid) = items.first().and_then(|r| r.text()) else {
            return Step::Done(Outcome::failed(no_such(&self.id)));
        };
        let Some(login_time) = items.get(1).and_then(|r| r.int()) else {
            return Step::Done(Outcome::failed(format!(
                "session {} is malformed: no login_time",
                short(&self.id)
            )));
        };
        let s = &self.ctx.settings;
        let ttl = touch_ttl(self.ctx.now, login_time.max(0) as u64, s.idle_ttl, s.absolute_ttl);
        let index = self.ctx.layout.index_key(&uid);
        let stream = s.audit_stream.as_deref();
        let who = [("id", self.stored.as_bytes()), ("user", uid.as_bytes())];
        let (writes, entries) = if ttl <= 0 {
            (logout_writes(&self.stored, &index), audit::entries(stream, "timeout", &who))
        } else {
            let ttl_text = ttl.to_string();
            let fields = [who[0], who[1], ("ttl", ttl_text.as_bytes())];
            (touch_writes(&self.stored, &index, ttl), audit::entries(stream, "touch", &fields))
        };
        let (apply, batch) = Apply::start(writes, entries, s.cluster, self.ctx.cluster);
        self.state = State::Write { apply, ttl };
        Step::Send(batch)
    }

    fn finish(&self, items: Result<Vec<Reply>, String>, ttl: i64) -> Outcome {
        let id = short(&self.id);
        if ttl <= 0 {
            return Outcome {
                error: Some(format!("session {id} reached its absolute timeout and was ended")),
                current: CurrentChange::Ended { id: self.id.clone(), to: None },
                ..Outcome::default()
            };
        }
        match items {
            Err(e) => Outcome::failed(e),
            Ok(items) if items.get(1).and_then(Reply::int) == Some(1) => {
                let capped = if (ttl as u64) < self.ctx.settings.idle_ttl {
                    " (capped by the absolute timeout)"
                } else {
                    ""
                };
                Outcome::ok(format!("session {id} extended: expires in {}{capped}", human(ttl)))
            }
            Ok(_) => Outcome::failed(no_such(&self.id)),
        }
    }
}

impl Machine for Touch {
    fn start(&mut self) -> Step {
        self.state = State::Read;
        let key = session_key_of_stored(&self.stored);
        Step::Send(Batch::of(vec![args(["HMGET", &key, "user_id", "login_time"])]))
    }

    fn resume(&mut self, replies: Vec<Reply>) -> Step {
        match &mut self.state {
            State::Read => self.read(&replies),
            State::Write { apply, ttl } => {
                let ttl = *ttl;
                match apply.resume(replies) {
                    Applied::Send(batch) => Step::Send(batch),
                    Applied::Done(tx) => Step::Done(self.finish(settle(tx, "touch"), ttl)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Settings;
    use crate::session::plan::testing::{bulk, ctx, ctx_with, lines, ok, run, tx};

    fn owner(uid: &str, login_time: &str) -> Vec<Reply> {
        vec![Reply::Array(vec![bulk(uid), bulk(login_time)])]
    }

    fn refused() -> Vec<Reply> {
        vec![
            ok(),
            Reply::Error(b"OOM command not allowed when used memory > 'maxmemory'.".to_vec()),
            Reply::Error(b"OOM command not allowed when used memory > 'maxmemory'.".to_vec()),
            Reply::Error(b"EXECABORT Transaction discarded because of previous errors.".to_vec()),
        ]
    }

    #[test]
    fn a_live_session_slides_its_idle_timeout() {
        let (sent, outcome) = run(
            Touch::new("abc123".into(), ctx(1000)),
            vec![owner("101", "1000"), tx(vec![Reply::Int(1); 2])],
        );
        assert_eq!(
            lines(&sent),
            [
                "HMGET session:abc123 user_id login_time",
                "MULTI",
                "EXPIRE user_sessions:101 1800 GT",
                "EXPIRE session:abc123 1800",
                "EXEC"
            ]
        );
        assert_eq!(outcome, Outcome::ok("session abc123 extended: expires in 30m"));
    }

    #[test]
    fn near_the_deadline_the_ttl_is_capped() {
        let (_, outcome) = run(
            Touch::new("a".into(), ctx(1000 + 28700)),
            vec![owner("1", "1000"), tx(vec![Reply::Int(1); 2])],
        );
        assert_eq!(
            outcome.summary,
            ["session a extended: expires in 1m40s (capped by the absolute timeout)"]
        );
    }

    #[test]
    fn a_missing_or_malformed_session_is_not_written() {
        let gone =
            run(Touch::new("x".into(), ctx(0)), vec![vec![Reply::Array(vec![Reply::Nil, Reply::Nil])]]);
        assert_eq!(gone.0.len(), 1);
        assert!(gone.1.error.unwrap().starts_with("no such session: x"));
        let float = run(Touch::new("x".into(), ctx(0)), vec![owner("1", "1.7e9")]);
        assert_eq!(float.0.len(), 1, "nothing written");
        assert_eq!(float.1.error.unwrap(), "session x is malformed: no login_time");
        let vanished = run(
            Touch::new("x".into(), ctx(5)),
            vec![owner("1", "5"), tx(vec![Reply::Int(0), Reply::Int(0)])],
        );
        assert!(vanished.1.error.unwrap().starts_with("no such session: x"));
    }

    #[test]
    fn past_the_absolute_deadline_the_session_is_ended() {
        let mut c = ctx(1000 + 9 * 3600);
        c.current = Some("old1".into());
        let (sent, outcome) = run(
            Touch::new("old1".into(), c),
            vec![owner("7", "1000"), tx(vec![Reply::Int(1), Reply::Int(1)])],
        );
        assert_eq!(lines(&sent)[1..], ["MULTI", "DEL session:old1", "SREM user_sessions:7 old1", "EXEC"]);
        assert_eq!(outcome.error.unwrap(), "session old1 reached its absolute timeout and was ended");
        assert_eq!(outcome.current, CurrentChange::Ended { id: "old1".into(), to: None });
    }

    #[test]
    fn errors_inside_exec_and_refusals_are_reported() {
        let wrong =
            Reply::Error(b"WRONGTYPE Operation against a key holding the wrong kind of value".to_vec());
        let (_, outcome) =
            run(Touch::new("a".into(), ctx(0)), vec![owner("1", "0"), tx(vec![wrong, Reply::Int(1)])]);
        assert_eq!(
            outcome.error.unwrap(),
            "touch failed: WRONGTYPE Operation against a key holding the wrong kind of value"
        );
        let (_, outcome) = run(Touch::new("a".into(), ctx(0)), vec![owner("1", "0"), refused()]);
        assert_eq!(
            outcome.error.unwrap(),
            "touch failed, nothing was written: EXECABORT Transaction discarded because of previous errors."
        );
    }

    #[test]
    fn on_a_cluster_each_write_goes_alone_and_the_entry_follows() {
        let settings = Settings { cluster: true, audit_stream: Some("audit".into()), ..Settings::default() };
        let (sent, outcome) = run(
            Touch::new("a".into(), ctx_with(0, settings)),
            vec![owner("1", "0"), vec![Reply::Int(1)], vec![Reply::Int(1)], vec![bulk("1-1")]],
        );
        assert_eq!(
            lines(&sent)[1..],
            [
                "EXPIRE user_sessions:1 1800 GT",
                "EXPIRE session:a 1800",
                "XADD audit MAXLEN ~ 10000 * event touch id a user 1 ttl 1800"
            ]
        );
        assert_eq!(outcome.summary, ["session a extended: expires in 30m"]);
    }
}
