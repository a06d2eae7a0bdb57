//! Literal mode (`--literal`, `literal on`): session commands send exactly the document's commands,
//! one per round trip, so each reply prints right under its command as in the document. Not atomic,
//! on purpose: a client that dies between two of them leaves what the document's way leaves (a
//! session without a TTL, an index entry without a session), which the walkthrough then shows.
//! Summary lines start with `redsh:` so that they are not taken for the document's output.

use crate::exec::{Args, args};
use crate::redis::reply::Reply;
use crate::session::events::Owner;
use crate::session::keys::{session_key_of_stored, short};
use crate::session::plan::{Batch, CurrentChange, Machine, NewSession, Outcome, Step, session_writes};
use crate::session::whoami::Whoami as SafeWhoami;
use crate::session::{Context, human, no_such};

/// The commands of a literal command, sent one at a time, and the replies so far.
struct OneByOne {
    cmds: Vec<Args>,
    replies: Vec<Reply>,
}

impl OneByOne {
    fn new(cmds: Vec<Args>) -> OneByOne {
        OneByOne { cmds, replies: Vec::new() }
    }

    /// The next command alone (marked last when it is).
    fn next(&self) -> Step {
        let i = self.replies.len();
        let cmd = vec![self.cmds[i].clone()];
        Step::Send(if i + 1 == self.cmds.len() { Batch::last(cmd) } else { Batch::of(cmd) })
    }

    /// Takes the reply to the command just sent; returns it.
    fn take(&mut self, replies: Vec<Reply>) -> Reply {
        let reply = replies.into_iter().next().unwrap_or(Reply::Nil);
        self.replies.push(reply.clone());
        reply
    }

    fn done(&self) -> bool {
        self.replies.len() >= self.cmds.len()
    }

    /// The name of the command whose reply came last (`HSET`).
    fn last_name(&self) -> String {
        let cmd = &self.cmds[self.replies.len().saturating_sub(1)];
        String::from_utf8_lossy(&cmd[0]).into_owned()
    }
}

/// Marks summary lines as redsh's, apart from the document's output.
fn mark(mut outcome: Outcome) -> Outcome {
    for line in &mut outcome.summary {
        *line = format!("redsh: {line}");
    }
    outcome
}

/// A command stopped by an error reply: what ran before it stays (that is the lesson).
fn stopped(at: &str, e: &[u8], ran_before: bool) -> Outcome {
    let e = String::from_utf8_lossy(e);
    let before =
        if ran_before { "; the commands before it did run (literal mode is not atomic)" } else { "" };
    Outcome::failed(format!("stopped at {at}: {e}{before}"))
}

/// The outcome for a session found gone: the shell drops it if it is the current one.
fn gone(id: &str) -> Outcome {
    let mut o = Outcome::failed(no_such(id));
    o.current = CurrentChange::Ended { id: id.to_owned(), to: None };
    o
}

/// `login`: `HSET session:<id> user_id … username … role … login_time … ip …`, `EXPIRE
/// session:<id> <ttl>`, `SADD user_sessions:<uid> <id>`.
pub struct Login {
    steps: OneByOne,
    id: String,
    stored: String,
    owner: Owner,
    ttl: u64,
    limit_ignored: bool,
}

/// What a literal login is asked for.
pub struct LoginRequest {
    /// The id the user holds (drawn by the caller when not given).
    pub id: String,
    pub user_id: String,
    pub username: Vec<u8>,
    pub role: Vec<u8>,
    pub ip: Option<Vec<u8>>,
    pub ttl: Option<u64>,
}

impl Login {
    pub fn new(req: LoginRequest, ctx: &Context) -> Login {
        let stored = ctx.layout.stored_id(&req.id);
        let index = ctx.layout.index_key(&req.user_id);
        let ip = req.ip.unwrap_or_else(|| ctx.ip.clone().into_bytes());
        let ttl = req.ttl.unwrap_or(ctx.settings.idle_ttl).min(ctx.settings.absolute_ttl);
        let session = NewSession {
            stored_id: &stored,
            user_id: &req.user_id,
            index: &index,
            username: &req.username,
            role: &req.role,
            login_time: ctx.now,
            ip: &ip,
            ttl,
        };
        let mut cmds = session_writes(&session);
        cmds.push(args(["SADD", &index, &stored]));
        let text = |v: &[u8]| Some(String::from_utf8_lossy(v).into_owned());
        let owner = Owner {
            user_id: req.user_id.clone(),
            username: text(&req.username),
            role: text(&req.role),
            login_time: Some(ctx.now),
            ip: text(&ip),
        };
        Login {
            steps: OneByOne::new(cmds),
            id: req.id,
            stored,
            owner,
            ttl,
            limit_ignored: ctx.settings.max_sessions > 0,
        }
    }
}

impl Machine for Login {
    fn start(&mut self) -> Step {
        self.steps.replies.clear();
        self.steps.next()
    }

    fn resume(&mut self, replies: Vec<Reply>) -> Step {
        let ran_before = !self.steps.replies.is_empty();
        let reply = self.steps.take(replies);
        if let Some(e) = reply.error_text() {
            return Step::Done(stopped(&self.steps.last_name(), e, ran_before));
        }
        if !self.steps.done() {
            return self.steps.next();
        }
        let o = &self.owner;
        let mut outcome = Outcome::ok(format!(
            "session {} — {} ({}) from {}, expires in {} idle: 3 separate commands, not one transaction",
            self.id,
            o.username.as_deref().unwrap_or_default(),
            o.role.as_deref().unwrap_or_default(),
            o.ip.as_deref().unwrap_or_default(),
            human(self.ttl as i64)
        ));
        if self.limit_ignored {
            outcome.summary.push("literal mode does not check --max-sessions".into());
        }
        outcome.current = CurrentChange::Set { id: self.id.clone(), username: o.username.clone() };
        outcome.seen.push(self.id.clone());
        outcome.owners.push((self.stored.clone(), self.owner.clone()));
        Step::Done(mark(outcome))
    }
}

/// `whoami`: `EXISTS`, then `HGETALL`, then `TTL`, each on its own; described as `whoami` describes
/// a session.
pub struct Whoami {
    steps: OneByOne,
    id: String,
    described: SafeWhoami,
}

impl Whoami {
    pub fn new(id: String, ctx: Context) -> Whoami {
        let key = ctx.layout.session_key(&id);
        let cmds = vec![args(["EXISTS", &key]), args(["HGETALL", &key]), args(["TTL", &key])];
        Whoami { steps: OneByOne::new(cmds), described: SafeWhoami::new(id.clone(), ctx), id }
    }
}

impl Machine for Whoami {
    fn start(&mut self) -> Step {
        self.steps.replies.clear();
        self.steps.next()
    }

    fn resume(&mut self, replies: Vec<Reply>) -> Step {
        let first = self.steps.replies.is_empty();
        let reply = self.steps.take(replies);
        if let Some(e) = reply.error_text() {
            return Step::Done(stopped(&self.steps.last_name(), e, false));
        }
        if first && reply.int() != Some(1) {
            return Step::Done(gone(&self.id));
        }
        if !self.steps.done() {
            return self.steps.next();
        }
        match self.described.resume(std::mem::take(&mut self.steps.replies)) {
            Step::Done(outcome) => Step::Done(mark(outcome)),
            other => other,
        }
    }
}

/// `touch`: `EXPIRE session:<id> <ttl>` (the idle timeout; literal mode checks no absolute
/// deadline and leaves the index alone, as the document does).
pub struct Touch {
    steps: OneByOne,
    id: String,
    ttl: u64,
}

impl Touch {
    pub fn new(id: String, ctx: &Context) -> Touch {
        let ttl = ctx.settings.idle_ttl;
        let cmds = vec![args(["EXPIRE", &ctx.layout.session_key(&id), &ttl.to_string()])];
        Touch { steps: OneByOne::new(cmds), id, ttl }
    }
}

impl Machine for Touch {
    fn start(&mut self) -> Step {
        self.steps.replies.clear();
        self.steps.next()
    }

    fn resume(&mut self, replies: Vec<Reply>) -> Step {
        let reply = self.steps.take(replies);
        if let Some(e) = reply.error_text() {
            return Step::Done(stopped("EXPIRE", e, false));
        }
        if reply.int() != Some(1) {
            return Step::Done(gone(&self.id));
        }
        let mut outcome = Outcome::ok(format!(
            "session {} extended: expires in {} (literal mode: no absolute timeout, the index untouched)",
            short(&self.id),
            human(self.ttl as i64)
        ));
        outcome.seen.push(self.id.clone());
        Step::Done(mark(outcome))
    }
}

/// `logout`: `DEL session:<id>`, then `SREM user_sessions:<uid> <id>`. The user id is the one redsh
/// knows for the session (its login, a `whoami`), else read first with `HGET session:<id> user_id`.
pub struct Logout {
    steps: OneByOne,
    id: String,
    stored: String,
    uid: Option<String>,
    ctx: Context,
    /// DEL's reply: whether the session was there.
    deleted: Option<bool>,
}

impl Logout {
    pub fn new(id: String, uid: Option<String>, ctx: Context) -> Logout {
        let stored = ctx.layout.stored_id(&id);
        let key = session_key_of_stored(&stored);
        let cmds = match &uid {
            Some(uid) => vec![args(["DEL", &key]), args(["SREM", &ctx.layout.index_key(uid), &stored])],
            None => vec![args(["HGET", &key, "user_id"])],
        };
        Logout { steps: OneByOne::new(cmds), id, stored, uid, ctx, deleted: None }
    }
}

impl Machine for Logout {
    fn start(&mut self) -> Step {
        self.steps.replies.clear();
        self.steps.next()
    }

    fn resume(&mut self, replies: Vec<Reply>) -> Step {
        let ran_before = !self.steps.replies.is_empty();
        let name = {
            let i = self.steps.replies.len();
            String::from_utf8_lossy(&self.steps.cmds[i][0]).to_ascii_uppercase()
        };
        let reply = self.steps.take(replies);
        if let Some(e) = reply.error_text() {
            return Step::Done(stopped(&name, e, ran_before));
        }
        match name.as_str() {
            "HGET" => {
                let Some(uid) = reply.text() else { return Step::Done(gone(&self.id)) };
                let key = session_key_of_stored(&self.stored);
                let index = self.ctx.layout.index_key(&uid);
                self.steps.cmds.extend([args(["DEL", &key]), args(["SREM", &index, &self.stored])]);
                self.uid = Some(uid);
            }
            "DEL" => self.deleted = Some(reply.int() == Some(1)),
            _ => {}
        }
        if !self.steps.done() {
            return self.steps.next();
        }
        if self.deleted != Some(true) {
            return Step::Done(gone(&self.id));
        }
        let mut outcome = Outcome::ok(format!(
            "logged out: session {} of user {} (DEL, then SREM: 2 separate commands)",
            short(&self.id),
            self.uid.as_deref().unwrap_or_default()
        ));
        outcome.current = CurrentChange::Ended { id: self.id.clone(), to: None };
        Step::Done(mark(outcome))
    }
}

/// `sessions`: `SMEMBERS user_sessions:<uid>` first, then `TTL session:<id>` for each id, one at a
/// time, then one `SREM` of the ids whose session is gone.
pub struct Sessions {
    steps: OneByOne,
    uid: String,
    index: String,
    ctx: Context,
    members: Vec<String>,
}

impl Sessions {
    pub fn new(uid: String, ctx: Context) -> Sessions {
        let index = ctx.layout.index_key(&uid);
        Sessions {
            steps: OneByOne::new(vec![args(["SMEMBERS", &index])]),
            uid,
            index,
            ctx,
            members: Vec::new(),
        }
    }

    fn report(&self) -> Outcome {
        let ttls: Vec<i64> = self.steps.replies[1..].iter().map(|r| r.int().unwrap_or(-2)).collect();
        let dead: Vec<String> =
            self.members.iter().zip(&ttls).filter(|(_, t)| **t == -2).map(|(m, _)| m.clone()).collect();
        let pruned =
            if dead.is_empty() { String::new() } else { format!(" ({} expired id(s) pruned)", dead.len()) };
        let live = self.members.len() - dead.len();
        let mut outcome = Outcome::ok(format!("user {}: {live} live session(s){pruned}", self.uid));
        for (member, ttl) in self.members.iter().zip(&ttls).filter(|(_, t)| **t != -2) {
            let id = self.ctx.layout.token_of(&self.uid, member).unwrap_or_else(|| member.clone());
            let left =
                if *ttl < 0 { "no TTL: never expires".to_owned() } else { format!("{} left", human(*ttl)) };
            outcome.summary.push(format!("  {}  {left}", short(&id)));
            outcome.seen.push(id);
        }
        if !dead.is_empty() {
            outcome.current = CurrentChange::EndedStored(dead);
        }
        mark(outcome)
    }
}

impl Machine for Sessions {
    fn start(&mut self) -> Step {
        self.steps = OneByOne::new(vec![args(["SMEMBERS", &self.index])]);
        self.members.clear();
        self.steps.next()
    }

    fn resume(&mut self, replies: Vec<Reply>) -> Step {
        let at = self.steps.replies.len();
        let reply = self.steps.take(replies);
        if let Some(e) = reply.error_text() {
            let name = String::from_utf8_lossy(&self.steps.cmds[at][0]).into_owned();
            return Step::Done(stopped(&name, e, at > 0));
        }
        if at == 0 {
            self.members = reply.elements().iter().filter_map(|m| m.text()).collect();
            self.members.sort();
            if self.members.is_empty() {
                return Step::Done(mark(Outcome::ok(format!(
                    "user {} has no sessions in its index",
                    self.uid
                ))));
            }
            let ttls = self.members.iter().map(|m| args(["TTL", &session_key_of_stored(m)]));
            self.steps.cmds.extend(ttls);
        } else if at == self.members.len() {
            let dead: Vec<String> = self
                .members
                .iter()
                .zip(&self.steps.replies[1..])
                .filter(|(_, r)| r.int() == Some(-2))
                .map(|(m, _)| m.clone())
                .collect();
            if !dead.is_empty() {
                self.steps.cmds.push(crate::session::plan::prune(&self.index, &dead));
            }
        }
        if !self.steps.done() {
            return self.steps.next();
        }
        if self.steps.replies.len() > self.members.len() + 1 {
            // The SREM's reply is not a TTL.
            self.steps.replies.pop();
        }
        Step::Done(self.report())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::plan::testing::{bulk, ctx, lines, run};
    use crate::session::{Settings, plan::testing::ctx_with};

    fn err(text: &str) -> Reply {
        Reply::Error(text.as_bytes().to_vec())
    }

    fn login_request(id: &str) -> LoginRequest {
        LoginRequest {
            id: id.into(),
            user_id: "101".into(),
            username: b"suhel".to_vec(),
            role: b"teacher".to_vec(),
            ip: Some(b"192.168.1.10".to_vec()),
            ttl: None,
        }
    }

    #[test]
    fn login_is_the_documents_three_commands_one_at_a_time() {
        let c = ctx(1707390000);
        let mut m = Login::new(login_request("abc123"), &c);
        let Step::Send(first) = m.start() else { panic!() };
        assert_eq!(first.cmds.len(), 1, "one command per round trip");
        assert!(!first.last);
        let (sent, outcome) = run(
            Login::new(login_request("abc123"), &c),
            vec![vec![Reply::Int(5)], vec![Reply::Int(1)], vec![Reply::Int(1)]],
        );
        assert_eq!(
            lines(&sent),
            [
                "HSET session:abc123 user_id 101 username suhel role teacher login_time 1707390000 ip 192.168.1.10",
                "EXPIRE session:abc123 1800",
                "SADD user_sessions:101 abc123",
            ]
        );
        assert_eq!(outcome.error, None);
        assert_eq!(
            outcome.summary,
            [
                "redsh: session abc123 — suhel (teacher) from 192.168.1.10, expires in 30m idle: 3 separate commands, \
              not one transaction"
            ]
        );
        assert_eq!(
            outcome.current,
            CurrentChange::Set { id: "abc123".into(), username: Some("suhel".into()) }
        );
        assert_eq!(outcome.owners[0].1.user_id, "101");
    }

    #[test]
    fn a_login_stopped_by_an_error_keeps_what_ran_and_says_so() {
        let (sent, outcome) = run(
            Login::new(login_request("abc123"), &ctx(0)),
            vec![
                vec![Reply::Int(5)],
                vec![Reply::Int(1)],
                vec![err("WRONGTYPE Operation against a key holding the wrong kind of value")],
            ],
        );
        assert_eq!(sent.len(), 3);
        assert_eq!(
            outcome.error.as_deref(),
            Some(
                "stopped at SADD: WRONGTYPE Operation against a key holding the wrong kind of value; the commands \
                 before it did run (literal mode is not atomic)"
            )
        );
        assert_eq!(outcome.current, CurrentChange::Keep);
        let (sent, outcome) =
            run(Login::new(login_request("x"), &ctx(0)), vec![vec![err("OOM command not allowed")]]);
        assert_eq!(sent.len(), 1, "nothing after a refused HSET");
        assert_eq!(outcome.error.as_deref(), Some("stopped at HSET: OOM command not allowed"));
    }

    #[test]
    fn login_uses_the_context_for_what_was_not_given_and_notes_an_unchecked_limit() {
        let settings = Settings { idle_ttl: 60, absolute_ttl: 30, max_sessions: 2, ..Settings::default() };
        let mut req = login_request("abc");
        req.ip = None;
        let (sent, outcome) = run(
            Login::new(req, &ctx_with(7, settings)),
            vec![vec![Reply::Int(5)], vec![Reply::Int(1)], vec![Reply::Int(1)]],
        );
        assert_eq!(
            lines(&sent)[0],
            "HSET session:abc user_id 101 username suhel role teacher login_time 7 ip 10.0.0.1"
        );
        assert_eq!(lines(&sent)[1], "EXPIRE session:abc 30", "capped by the absolute timeout");
        assert_eq!(outcome.summary[1], "redsh: literal mode does not check --max-sessions");
    }

    fn fields() -> Reply {
        Reply::Array(
            [
                "user_id",
                "101",
                "username",
                "suhel",
                "role",
                "teacher",
                "login_time",
                "1000000",
                "ip",
                "192.168.1.10",
            ]
            .iter()
            .map(|s| bulk(s))
            .collect(),
        )
    }

    #[test]
    fn whoami_sends_exists_hgetall_and_ttl_each_alone() {
        let (sent, outcome) = run(
            Whoami::new("abc123".into(), ctx(1_000_100)),
            vec![vec![Reply::Int(1)], vec![fields()], vec![Reply::Int(1728)]],
        );
        assert_eq!(lines(&sent), ["EXISTS session:abc123", "HGETALL session:abc123", "TTL session:abc123"]);
        assert_eq!(
            outcome.summary,
            [
                "redsh: session abc123 — suhel (teacher) from 192.168.1.10, expires in 28m48s, absolute timeout in \
              7h58m20s"
            ]
        );
    }

    #[test]
    fn whoami_of_a_gone_session_stops_after_exists_and_drops_it() {
        let (sent, outcome) = run(Whoami::new("abc123".into(), ctx(0)), vec![vec![Reply::Int(0)]]);
        assert_eq!(lines(&sent), ["EXISTS session:abc123"]);
        assert!(outcome.error.unwrap().starts_with("no such session: abc123"));
        assert_eq!(outcome.current, CurrentChange::Ended { id: "abc123".into(), to: None });
    }

    #[test]
    fn touch_is_one_expire() {
        let (sent, outcome) = run(Touch::new("abc123".into(), &ctx(0)), vec![vec![Reply::Int(1)]]);
        assert_eq!(lines(&sent), ["EXPIRE session:abc123 1800"]);
        assert_eq!(
            outcome.summary,
            [
                "redsh: session abc123 extended: expires in 30m (literal mode: no absolute timeout, the index untouched)"
            ]
        );
        let (_, gone) = run(Touch::new("abc123".into(), &ctx(0)), vec![vec![Reply::Int(0)]]);
        assert!(gone.error.is_some());
        assert_eq!(gone.current, CurrentChange::Ended { id: "abc123".into(), to: None });
    }

    #[test]
    fn logout_is_del_then_srem() {
        let (sent, outcome) = run(
            Logout::new("abc123".into(), Some("101".into()), ctx(0)),
            vec![vec![Reply::Int(1)], vec![Reply::Int(1)]],
        );
        assert_eq!(lines(&sent), ["DEL session:abc123", "SREM user_sessions:101 abc123"]);
        assert_eq!(
            outcome.summary,
            ["redsh: logged out: session abc123 of user 101 (DEL, then SREM: 2 separate commands)"]
        );
        assert_eq!(outcome.current, CurrentChange::Ended { id: "abc123".into(), to: None });
    }

    #[test]
    fn logout_reads_the_user_first_when_redsh_does_not_know_it() {
        let (sent, outcome) = run(
            Logout::new("abc123".into(), None, ctx(0)),
            vec![vec![bulk("101")], vec![Reply::Int(1)], vec![Reply::Int(1)]],
        );
        assert_eq!(
            lines(&sent),
            ["HGET session:abc123 user_id", "DEL session:abc123", "SREM user_sessions:101 abc123"]
        );
        assert_eq!(outcome.error, None);
        let (sent, outcome) = run(Logout::new("x".into(), None, ctx(0)), vec![vec![Reply::Nil]]);
        assert_eq!(lines(&sent), ["HGET session:x user_id"]);
        assert!(outcome.error.unwrap().starts_with("no such session: x"));
    }

    #[test]
    fn logout_of_a_gone_session_still_cleans_the_index() {
        let (sent, outcome) = run(
            Logout::new("abc123".into(), Some("101".into()), ctx(0)),
            vec![vec![Reply::Int(0)], vec![Reply::Int(1)]],
        );
        assert_eq!(lines(&sent), ["DEL session:abc123", "SREM user_sessions:101 abc123"]);
        assert!(outcome.error.unwrap().starts_with("no such session: abc123"));
        assert_eq!(outcome.current, CurrentChange::Ended { id: "abc123".into(), to: None });
    }

    #[test]
    fn sessions_lists_with_smembers_first_then_one_ttl_each_and_prunes_the_dead() {
        let members = Reply::Array(vec![bulk("abc124"), bulk("abc123")]);
        let (sent, outcome) = run(
            Sessions::new("101".into(), ctx(0)),
            vec![vec![members], vec![Reply::Int(-2)], vec![Reply::Int(1700)], vec![Reply::Int(1)]],
        );
        assert_eq!(
            lines(&sent),
            [
                "SMEMBERS user_sessions:101",
                "TTL session:abc123",
                "TTL session:abc124",
                "SREM user_sessions:101 abc123"
            ]
        );
        assert_eq!(
            outcome.summary,
            ["redsh: user 101: 1 live session(s) (1 expired id(s) pruned)", "redsh:   abc124  28m20s left"]
        );
        assert_eq!(outcome.current, CurrentChange::EndedStored(vec!["abc123".into()]));
        let (sent, outcome) = run(Sessions::new("9".into(), ctx(0)), vec![vec![Reply::Array(vec![])]]);
        assert_eq!(lines(&sent), ["SMEMBERS user_sessions:9"]);
        assert_eq!(outcome.summary, ["redsh: user 9 has no sessions in its index"]);
        let (sent, outcome) = run(
            Sessions::new("7".into(), ctx(0)),
            vec![vec![Reply::Array(vec![bulk("a")])], vec![Reply::Int(-1)]],
        );
        assert_eq!(lines(&sent), ["SMEMBERS user_sessions:7", "TTL session:a"]);
        assert_eq!(outcome.summary[1], "redsh:   a  no TTL: never expires");
    }
}
