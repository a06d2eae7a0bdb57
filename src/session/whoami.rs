//! `whoami [ID]`: the document's validation steps — EXISTS, HGETALL, TTL — in one round trip.

use crate::redis::reply::Reply;
use crate::session::keys::short;
use crate::session::plan::{Batch, CurrentChange, Machine, Outcome, Step, whoami_reads};
use crate::session::{Context, events, human, no_such};

pub struct Whoami {
    id: String,
    stored: String,
    ctx: Context,
}

impl Whoami {
    pub fn new(id: String, ctx: Context) -> Whoami {
        Whoami { stored: ctx.layout.stored_id(&id), id, ctx }
    }
}

const FIELDS: [&str; 5] = ["user_id", "username", "role", "login_time", "ip"];

impl Machine for Whoami {
    fn start(&mut self) -> Step {
        // Reads only: under --read-from-replica a replica answers them.
        Step::Send(Batch { replica_ok: true, ..Batch::last(whoami_reads(&self.stored)) })
    }

    fn resume(&mut self, replies: Vec<Reply>) -> Step {
        let id = short(&self.id);
        if replies.first().and_then(Reply::int) != Some(1) {
            // Seen gone: the shell stops acting as it.
            let mut gone = Outcome::failed(no_such(&self.id));
            gone.current = CurrentChange::Ended { id: self.id.clone(), to: None };
            return Step::Done(gone);
        }
        let fields = replies.get(1).map(Reply::pairs).unwrap_or_default();
        let ttl = replies.get(2).and_then(Reply::int).unwrap_or(-2);
        let get = |f: &str| fields.iter().find(|(k, _)| k == f.as_bytes()).map(|(_, v)| v.as_slice());
        let missing: Vec<&str> = FIELDS.into_iter().filter(|f| get(f).is_none()).collect();
        if !missing.is_empty() {
            return Step::Done(Outcome::failed(format!(
                "session {id} is malformed: missing {}",
                missing.join(", ")
            )));
        }
        let text = |f: &str| String::from_utf8_lossy(get(f).unwrap_or_default()).into_owned();
        let Ok(login_time) = text("login_time").parse::<u64>() else {
            return Step::Done(Outcome::failed(format!(
                "session {id} is malformed: login_time is not a number"
            )));
        };
        let secs = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let absolute_left = secs(login_time.saturating_add(self.ctx.settings.absolute_ttl))
            .saturating_sub(secs(self.ctx.now));
        if absolute_left <= 0 {
            return Step::Done(Outcome::failed(format!("session {id} is past its absolute timeout")));
        }
        let ttl_text = match ttl {
            -1 => "never expires (no TTL: run `touch` to set one)".to_owned(),
            t => format!("expires in {}", human(t)),
        };
        let mut outcome = Outcome::ok(format!(
            "session {id} — {} ({}) from {}, {ttl_text}, absolute timeout in {}",
            text("username"),
            text("role"),
            text("ip"),
            human(absolute_left)
        ));
        outcome.seen.push(self.id.clone());
        if let Some(owner) = events::Owner::from_fields(|f| get(f).map(<[u8]>::to_vec)) {
            outcome.owners.push((self.stored.clone(), owner));
        }
        if self.ctx.is_current(&self.id) {
            outcome.current = CurrentChange::Set { id: self.id.clone(), username: Some(text("username")) };
        }
        Step::Done(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::plan::testing::{bulk, ctx, lines, run};

    fn session(login_time: &str) -> Reply {
        Reply::Array(
            [
                "user_id",
                "101",
                "username",
                "suhel",
                "role",
                "teacher",
                "login_time",
                login_time,
                "ip",
                "10.0.0.1",
            ]
            .iter()
            .map(|s| bulk(s))
            .collect(),
        )
    }

    #[test]
    fn a_live_session_is_described() {
        let c = ctx(1_000_100);
        let (sent, outcome) = run(
            Whoami::new("abc123".into(), c),
            vec![vec![Reply::Int(1), session("1000000"), Reply::Int(1728)]],
        );
        assert_eq!(lines(&sent), ["EXISTS session:abc123", "HGETALL session:abc123", "TTL session:abc123"]);
        assert_eq!(outcome.error, None);
        assert_eq!(
            outcome.summary,
            [
                "session abc123 — suhel (teacher) from 10.0.0.1, expires in 28m48s, absolute timeout in 7h58m20s"
            ]
        );
        assert_eq!(outcome.seen, ["abc123"]);
    }

    #[test]
    fn gone_malformed_and_past_the_deadline() {
        let gone = run(
            Whoami::new("x".into(), ctx(0)),
            vec![vec![Reply::Int(0), Reply::Array(vec![]), Reply::Int(-2)]],
        );
        assert!(gone.1.error.unwrap().starts_with("no such session: x"));
        assert_eq!(gone.1.current, CurrentChange::Ended { id: "x".into(), to: None });
        let bad = run(
            Whoami::new("x".into(), ctx(0)),
            vec![vec![Reply::Int(1), Reply::Array(vec![bulk("user_id"), bulk("1")]), Reply::Int(5)]],
        );
        assert_eq!(bad.1.error.unwrap(), "session x is malformed: missing username, role, login_time, ip");
        let float =
            run(Whoami::new("x".into(), ctx(0)), vec![vec![Reply::Int(1), session("1.7e9"), Reply::Int(5)]]);
        assert_eq!(float.1.error.unwrap(), "session x is malformed: login_time is not a number");
        let late = run(
            Whoami::new("x".into(), ctx(1_000_000 + 8 * 3600)),
            vec![vec![Reply::Int(1), session("1000000"), Reply::Int(5)]],
        );
        assert_eq!(late.1.error.unwrap(), "session x is past its absolute timeout");
        let huge = crate::session::Settings { absolute_ttl: i64::MAX as u64, ..Default::default() };
        let forever = run(
            Whoami::new("x".into(), crate::session::plan::testing::ctx_with(2_000_000, huge)),
            vec![vec![Reply::Int(1), session("1000000"), Reply::Int(5)]],
        );
        assert_eq!(forever.1.error, None, "a huge --absolute-ttl does not overflow into the past");
    }
}
