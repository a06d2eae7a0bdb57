//! `touch [ID]`: the seed's sliding expiry (`EXPIRE session:<id> 1800`), the index extended to
//! match, capped by the absolute timeout; past that deadline the session is ended instead.

use crate::exec::{Args, args};
use crate::redis::reply::Reply;
use crate::session::apply::{Applied, Apply, Checks, settle, user_of, written};
use crate::session::keys::{session_key_of_stored, short};
use crate::session::plan::{
    Batch, CurrentChange, Machine, Outcome, Step, Tx, deadline_ms, logout_writes, slide_writes, touch_ttl,
};
use crate::session::{Context, audit, human, no_such};

pub struct Touch {
    id: String,
    stored: String,
    ctx: Context,
    state: State,
}

/// The writes a touch decided on: extending by `ttl` seconds, or (`ttl` ≤ 0) ending a session
/// past its absolute deadline.
struct Plan {
    writes: Vec<Args>,
    entries: Vec<Args>,
    ttl: i64,
}

enum State {
    Read,
    /// The keys it will write are checked first (index, audit stream).
    Check {
        checks: Checks,
        plan: Plan,
    },
    Write {
        apply: Apply,
        ttl: i64,
        /// The writes, to send without a transaction should Redis refuse one for lack of memory.
        writes: Vec<Args>,
    },
    /// Ending the session with plain `DEL` then `SREM`: Redis was out of memory.
    Plain,
}

impl Touch {
    pub fn new(id: String, ctx: Context) -> Touch {
        Touch { stored: ctx.layout.stored_id(&id), id, ctx, state: State::Read }
    }

    fn read(&mut self, replies: &[Reply]) -> Step {
        let items = replies.first().map(Reply::elements).unwrap_or_default();
        let Some(uid) = items.first().and_then(|r| r.bytes()) else {
            return Step::Done(Outcome::failed(no_such(&self.id)));
        };
        let uid = match user_of(&self.id, self.ctx.layout.tagged, uid) {
            Ok(uid) => uid,
            Err(e) => {
                return Step::Done(Outcome::failed(format!("session {} is malformed: {e}", short(&self.id))));
            }
        };
        // Malformed data is reported, never acted on (a wrong login_time could end a live session).
        let Some(login_time) = items.get(1).and_then(|r| r.int()).and_then(|t| u64::try_from(t).ok()) else {
            return Step::Done(Outcome::failed(format!(
                "session {} is malformed: no login_time",
                short(&self.id)
            )));
        };
        let s = &self.ctx.settings;
        let ttl = touch_ttl(self.ctx.now, login_time, s.idle_ttl, s.absolute_ttl);
        let index = self.ctx.layout.index_key(&uid);
        let stream = s.audit_stream.as_deref();
        let who = [("id", self.stored.as_bytes()), ("user", uid.as_bytes())];
        let (plan, keys) = if ttl <= 0 {
            let plan = Plan {
                writes: logout_writes(&self.stored, &index),
                entries: audit::entries(stream, "timeout", &who),
                ttl,
            };
            (plan, written(Some(&index), stream))
        } else {
            let ttl_text = ttl.to_string();
            let fields = [who[0], who[1], ("ttl", ttl_text.as_bytes())];
            let deadline = deadline_ms(login_time, s.absolute_ttl);
            let index_idle = if s.cluster { s.idle_ttl.saturating_add(1) } else { s.idle_ttl };
            let plan = Plan {
                writes: slide_writes(&self.stored, &index, s.idle_ttl, index_idle, deadline),
                entries: audit::entries(stream, "touch", &fields),
                ttl,
            };
            // EXPIRE works on a key of any type: only the stream's matters.
            (plan, written(None, stream))
        };
        match Checks::start(keys, self.ctx.cluster) {
            Some((checks, batch)) => {
                self.state = State::Check { checks, plan };
                Step::Send(batch)
            }
            None => self.write(plan),
        }
    }

    fn write(&mut self, plan: Plan) -> Step {
        let writes = plan.writes.clone();
        let (apply, batch) =
            Apply::start(plan.writes, plan.entries, self.ctx.settings.cluster, self.ctx.cluster);
        self.state = State::Write { apply, ttl: plan.ttl, writes };
        Step::Send(batch)
    }

    fn finish(&self, items: Result<Vec<Reply>, String>, ttl: i64) -> Outcome {
        let id = short(&self.id);
        if ttl <= 0 {
            let error = match items {
                Ok(_) => format!("session {id} reached its absolute timeout and was ended"),
                Err(e) => format!("session {id} reached its absolute timeout; ending it: {e}"),
            };
            let current = CurrentChange::Ended { id: self.id.clone(), to: None };
            return Outcome { error: Some(error), current, ..Outcome::default() };
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
        match std::mem::replace(&mut self.state, State::Read) {
            State::Read => self.read(&replies),
            State::Check { mut checks, plan } => match checks.resume(&replies) {
                Ok(Some(batch)) => {
                    self.state = State::Check { checks, plan };
                    Step::Send(batch)
                }
                Ok(None) => self.write(plan),
                Err(wrong) => {
                    Step::Done(Outcome::failed(format!("touch failed, nothing was written: {wrong}")))
                }
            },
            State::Write { mut apply, ttl, writes } => match apply.resume(replies) {
                Applied::Send(batch) => {
                    self.state = State::Write { apply, ttl, writes };
                    Step::Send(batch)
                }
                // Past its deadline the session is destroyed, even when Redis is out of memory.
                Applied::Done(tx) if ttl <= 0 && tx.out_of_memory() => {
                    self.state = State::Plain;
                    Step::Send(Batch::of(writes))
                }
                Applied::Done(tx) => Step::Done(self.finish(settle(tx, "touch"), ttl)),
            },
            State::Plain => Step::Done(self.finish(settle(Tx::Ran(replies), "touch"), 0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Settings;
    use crate::session::plan::testing::{bulk, ctx, ctx_with, lines, ok, queued, run, tx};

    fn owner(uid: &str, login_time: &str) -> Vec<Reply> {
        vec![Reply::Array(vec![bulk(uid), bulk(login_time)])]
    }

    fn status(s: &str) -> Reply {
        Reply::Status(s.as_bytes().to_vec())
    }

    fn refused() -> Vec<Reply> {
        let oom = Reply::Error(b"OOM command not allowed when used memory > 'maxmemory'.".to_vec());
        vec![
            ok(),
            oom.clone(),
            oom.clone(),
            oom,
            Reply::Error(b"EXECABORT Transaction discarded because of previous errors.".to_vec()),
        ]
    }

    #[test]
    fn a_live_session_slides_its_idle_timeout_within_its_deadline() {
        let (sent, outcome) = run(
            Touch::new("abc123".into(), ctx(1000)),
            vec![owner("101", "1000"), tx(vec![Reply::Int(1); 3])],
        );
        assert_eq!(
            lines(&sent),
            [
                "HMGET session:abc123 user_id login_time",
                "MULTI",
                "EXPIRE user_sessions:101 1800 GT",
                "EXPIRE session:abc123 1800",
                "PEXPIREAT session:abc123 29800000 LT",
                "EXEC"
            ]
        );
        assert_eq!(outcome, Outcome::ok("session abc123 extended: expires in 30m"));
    }

    #[test]
    fn near_the_deadline_the_ttl_is_capped() {
        let (_, outcome) = run(
            Touch::new("a".into(), ctx(1000 + 28700)),
            vec![owner("1", "1000"), tx(vec![Reply::Int(1); 3])],
        );
        assert_eq!(
            outcome.summary,
            ["session a extended: expires in 1m40s (capped by the absolute timeout)"]
        );
    }

    #[test]
    fn a_huge_absolute_timeout_saturates_instead_of_ending_the_session() {
        let settings = Settings { absolute_ttl: i64::MAX as u64, ..Settings::default() };
        let (sent, outcome) = run(
            Touch::new("a".into(), ctx_with(1_700_000_000, settings)),
            vec![owner("1", "1700000000"), tx(vec![Reply::Int(1); 3])],
        );
        assert_eq!(lines(&sent)[4], format!("PEXPIREAT session:a {} LT", i64::MAX));
        assert_eq!(outcome.summary, ["session a extended: expires in 30m"]);
    }

    #[test]
    fn a_missing_or_malformed_session_is_not_written() {
        let gone =
            run(Touch::new("x".into(), ctx(0)), vec![vec![Reply::Array(vec![Reply::Nil, Reply::Nil])]]);
        assert_eq!(gone.0.len(), 1);
        assert!(gone.1.error.unwrap().starts_with("no such session: x"));
        for bad in ["1.7e9", "-5", "soon"] {
            let (sent, outcome) = run(Touch::new("x".into(), ctx(0)), vec![owner("1", bad)]);
            assert_eq!(sent.len(), 1, "nothing written for {bad}");
            assert_eq!(outcome.error.unwrap(), "session x is malformed: no login_time");
        }
        let vanished = run(Touch::new("x".into(), ctx(5)), vec![owner("1", "5"), tx(vec![Reply::Int(0); 3])]);
        assert!(vanished.1.error.unwrap().starts_with("no such session: x"));
    }

    #[test]
    fn past_the_absolute_deadline_the_session_is_ended() {
        let mut c = ctx(1000 + 9 * 3600);
        c.current = Some("old1".into());
        let (sent, outcome) = run(
            Touch::new("old1".into(), c),
            vec![owner("7", "1000"), vec![status("set")], tx(vec![Reply::Int(1), Reply::Int(1)])],
        );
        assert_eq!(
            lines(&sent)[1..],
            ["TYPE user_sessions:7", "MULTI", "DEL session:old1", "SREM user_sessions:7 old1", "EXEC"]
        );
        assert_eq!(outcome.error.unwrap(), "session old1 reached its absolute timeout and was ended");
        assert_eq!(outcome.current, CurrentChange::Ended { id: "old1".into(), to: None });
    }

    #[test]
    fn past_the_deadline_a_full_redis_still_ends_the_session() {
        let oom = Reply::Error(b"OOM command not allowed".to_vec());
        let refused = vec![ok(), oom.clone(), oom, Reply::Error(b"EXECABORT x".to_vec())];
        let (sent, outcome) = run(
            Touch::new("old1".into(), ctx(1000 + 9 * 3600)),
            vec![owner("7", "1000"), vec![status("set")], refused, vec![Reply::Int(1), Reply::Int(1)]],
        );
        assert_eq!(lines(&sent)[6..], ["DEL session:old1", "SREM user_sessions:7 old1"]);
        assert_eq!(outcome.error.unwrap(), "session old1 reached its absolute timeout and was ended");
    }

    #[test]
    fn a_stream_of_another_type_is_refused_before_writing() {
        let settings = Settings { audit_stream: Some("audit".into()), ..Settings::default() };
        let (sent, outcome) =
            run(Touch::new("a".into(), ctx_with(0, settings)), vec![owner("1", "0"), vec![status("string")]]);
        assert_eq!(lines(&sent), ["HMGET session:a user_id login_time", "TYPE audit"]);
        assert_eq!(
            outcome.error.unwrap(),
            "touch failed, nothing was written: audit holds a string, not a stream"
        );
    }

    #[test]
    fn errors_inside_exec_and_refusals_are_reported() {
        let wrong =
            Reply::Error(b"WRONGTYPE Operation against a key holding the wrong kind of value".to_vec());
        let (_, outcome) = run(
            Touch::new("a".into(), ctx(0)),
            vec![owner("1", "0"), tx(vec![wrong, Reply::Int(1), Reply::Int(1)])],
        );
        assert_eq!(
            outcome.error.unwrap(),
            "touch failed: WRONGTYPE Operation against a key holding the wrong kind of value"
        );
        let (_, outcome) = run(Touch::new("a".into(), ctx(0)), vec![owner("1", "0"), refused()]);
        assert_eq!(
            outcome.error.unwrap(),
            "touch failed, nothing was written: EXECABORT Transaction discarded because of previous errors. (OOM command not allowed when used memory > 'maxmemory'.)"
        );
    }

    #[test]
    fn on_a_cluster_each_slot_is_written_on_its_own_and_the_entry_follows() {
        let settings = Settings { cluster: true, audit_stream: Some("audit".into()), ..Settings::default() };
        // The index first; then the session's idle TTL and its absolute deadline together, so that
        // no crash between them can leave it living past the deadline.
        let (sent, outcome) = run(
            Touch::new("a".into(), ctx_with(0, settings)),
            vec![
                owner("1", "0"),
                vec![status("stream")],
                vec![Reply::Int(1)],
                vec![ok(), queued(), queued(), Reply::Array(vec![Reply::Int(1), Reply::Int(1)])],
                vec![bulk("1-1")],
            ],
        );
        assert_eq!(
            lines(&sent)[1..],
            [
                "TYPE audit",
                "EXPIRE user_sessions:1 1801 GT",
                "MULTI",
                "EXPIRE session:a 1800",
                "PEXPIREAT session:a 28800000 LT",
                "EXEC",
                "XADD audit MAXLEN ~ 10000 * event touch id a user 1 ttl 1800"
            ]
        );
        assert_eq!(outcome.summary, ["session a extended: expires in 30m"]);
    }
}
