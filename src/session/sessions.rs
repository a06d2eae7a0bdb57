//! `sessions USER_ID`: the seed's `SMEMBERS user_sessions:<uid>`, each listed session described
//! (login time, ip, TTL), and ids whose session is gone pruned from the index.

use crate::exec::{Args, args};
use crate::redis::reply::Reply;
use crate::session::apply::{Applied, Apply, settle};
use crate::session::events::Owner;
use crate::session::keys::short;
use crate::session::plan::{Batch, Machine, Outcome, Step, describe_reads, prune};
use crate::session::{Context, audit, human};

pub struct Sessions {
    uid: String,
    index: String,
    ctx: Context,
    state: State,
}

enum State {
    Members,
    Describe {
        members: Vec<String>,
    },
    /// Pruning dead ids; the listing is shown once that is done.
    Prune {
        apply: Option<Box<Apply>>,
        listing: Box<Outcome>,
    },
}

/// A listed session that is alive: its stored id, login time, ip and TTL.
struct Live {
    member: String,
    login_time: i64,
    ip: String,
    ttl: i64,
}

impl Sessions {
    pub fn new(uid: String, ctx: Context) -> Sessions {
        Sessions { index: ctx.layout.index_key(&uid), uid, ctx, state: State::Members }
    }

    fn describe(&mut self, replies: &[Reply]) -> Step {
        let mut members: Vec<String> = replies
            .first()
            .map(Reply::elements)
            .unwrap_or_default()
            .iter()
            .filter_map(|r| r.text())
            .collect();
        members.sort();
        if members.is_empty() {
            return Step::Done(Outcome::ok(format!("user {} has no live sessions", self.uid)));
        }
        let reads = describe_reads(&members);
        self.state = State::Describe { members };
        Step::Send(Batch::of(reads))
    }

    fn list(&mut self, members: &[String], replies: &[Reply]) -> Step {
        let mut live = Vec::new();
        let mut dead = Vec::new();
        for (member, pair) in members.iter().zip(replies.chunks(2)) {
            let info = pair.first().map(Reply::elements).unwrap_or_default();
            let ttl = pair.get(1).and_then(Reply::int).unwrap_or(-2);
            match info.first().and_then(|r| r.int()) {
                Some(login_time) if ttl != -2 => {
                    let ip = info.get(1).and_then(|r| r.text()).unwrap_or_else(|| "?".into());
                    live.push(Live { member: member.clone(), login_time, ip, ttl });
                }
                _ => dead.push(member.clone()),
            }
        }
        let listing = self.listing(live, dead.len());
        if dead.is_empty() {
            return Step::Done(listing);
        }
        let stream = self.ctx.settings.audit_stream.as_deref();
        let entries: Vec<Args> = dead
            .iter()
            .flat_map(|d| {
                let fields =
                    [("id", d.as_bytes()), ("user", self.uid.as_bytes()), ("seen", b"sessions".as_slice())];
                audit::entries(stream, "expired", &fields)
            })
            .collect();
        let writes = vec![prune(&self.index, &dead)];
        if entries.is_empty() {
            self.state = State::Prune { apply: None, listing: Box::new(listing) };
            return Step::Send(Batch::of(writes));
        }
        let (apply, batch) = Apply::start(writes, entries, self.ctx.settings.cluster, self.ctx.cluster);
        self.state = State::Prune { apply: Some(Box::new(apply)), listing: Box::new(listing) };
        Step::Send(batch)
    }

    fn listing(&self, mut live: Vec<Live>, dead: usize) -> Outcome {
        let pruned = if dead == 0 { String::new() } else { format!(" ({dead} expired id(s) pruned)") };
        let mut outcome = Outcome::ok(format!("user {}: {} live session(s){pruned}", self.uid, live.len()));
        live.sort_by_key(|s| s.login_time);
        for s in live {
            let owner = Owner {
                login_time: u64::try_from(s.login_time).ok(),
                ip: Some(s.ip.clone()),
                ..Owner::new(&self.uid)
            };
            outcome.owners.push((s.member.clone(), owner));
            let id = match self.ctx.layout.token_of(&self.uid, &s.member) {
                Some(token) => {
                    outcome.seen.push(token.clone());
                    token
                }
                None => s.member,
            };
            let idle =
                if s.ttl < 0 { "no idle timeout".to_owned() } else { format!("idle {} left", human(s.ttl)) };
            let absolute =
                s.login_time.saturating_add(self.ctx.settings.absolute_ttl as i64) - self.ctx.now as i64;
            outcome.summary.push(format!(
                "  {}  from {}, {idle}, absolute {} left",
                short(&id),
                s.ip,
                human(absolute)
            ));
        }
        outcome
    }
}

impl Machine for Sessions {
    fn start(&mut self) -> Step {
        self.state = State::Members;
        Step::Send(Batch::of(vec![args(["SMEMBERS", &self.index])]))
    }

    fn resume(&mut self, replies: Vec<Reply>) -> Step {
        match std::mem::replace(&mut self.state, State::Members) {
            State::Members => self.describe(&replies),
            State::Describe { members } => self.list(&members, &replies),
            State::Prune { apply: None, listing } => Step::Done(*listing),
            State::Prune { apply: Some(mut apply), listing } => match apply.resume(replies) {
                Applied::Send(batch) => {
                    self.state = State::Prune { apply: Some(apply), listing };
                    Step::Send(batch)
                }
                Applied::Done(tx) => match settle(tx, "sessions") {
                    Ok(_) => Step::Done(*listing),
                    Err(e) => Step::Done(Outcome::failed(e)),
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Settings;
    use crate::session::plan::testing::{bulk, ctx, ctx_with, lines, run, tx};

    fn members(ids: &[&str]) -> Vec<Reply> {
        vec![Reply::Array(ids.iter().map(|i| bulk(i)).collect())]
    }

    fn info(login_time: &str, ip: &str, ttl: i64) -> [Reply; 2] {
        [Reply::Array(vec![bulk(login_time), bulk(ip)]), Reply::Int(ttl)]
    }

    fn gone() -> [Reply; 2] {
        [Reply::Array(vec![Reply::Nil, Reply::Nil]), Reply::Int(-2)]
    }

    #[test]
    fn live_sessions_are_listed_oldest_first_and_dead_ids_pruned() {
        let mut described = Vec::new();
        described.extend(info("2000", "10.0.0.2", 100));
        described.extend(gone());
        described.extend(info("1000", "10.0.0.1", -1));
        let (sent, outcome) = run(
            Sessions::new("5".into(), ctx(2000)),
            vec![members(&["c", "b", "a"]), described, vec![Reply::Int(1)]],
        );
        assert_eq!(
            lines(&sent),
            [
                "SMEMBERS user_sessions:5",
                "HMGET session:a login_time ip",
                "TTL session:a",
                "HMGET session:b login_time ip",
                "TTL session:b",
                "HMGET session:c login_time ip",
                "TTL session:c",
                "SREM user_sessions:5 b",
            ]
        );
        assert_eq!(
            outcome.summary,
            [
                "user 5: 2 live session(s) (1 expired id(s) pruned)",
                "  c  from 10.0.0.1, no idle timeout, absolute 7h43m20s left",
                "  a  from 10.0.0.2, idle 1m40s left, absolute 8h left",
            ]
        );
        assert_eq!(outcome.seen, ["c", "a"]);
        assert_eq!(outcome.owners.len(), 2);
    }

    #[test]
    fn no_members_no_reads() {
        let (sent, outcome) = run(Sessions::new("5".into(), ctx(0)), vec![members(&[])]);
        assert_eq!(sent.len(), 1);
        assert_eq!(outcome, Outcome::ok("user 5 has no live sessions"));
    }

    #[test]
    fn audited_pruning_is_one_transaction_and_its_failure_is_reported() {
        let settings = Settings { audit_stream: Some("audit".into()), ..Settings::default() };
        let (sent, outcome) = run(
            Sessions::new("5".into(), ctx_with(0, settings.clone())),
            vec![members(&["b"]), gone().to_vec(), tx(vec![Reply::Int(1), bulk("1-1")])],
        );
        assert_eq!(
            lines(&sent)[3..],
            [
                "MULTI",
                "SREM user_sessions:5 b",
                "XADD audit MAXLEN ~ 10000 * event expired id b user 5 seen sessions",
                "EXEC"
            ]
        );
        assert_eq!(outcome.summary, ["user 5: 0 live session(s) (1 expired id(s) pruned)"]);
        let wrong = Reply::Error(b"WRONGTYPE x".to_vec());
        let (_, outcome) = run(
            Sessions::new("5".into(), ctx_with(0, settings)),
            vec![members(&["b"]), gone().to_vec(), tx(vec![Reply::Int(1), wrong])],
        );
        assert_eq!(outcome.error.unwrap(), "sessions failed: WRONGTYPE x");
    }

    #[test]
    fn hashed_ids_are_listed_by_their_hash_and_not_offered() {
        let settings = Settings { hash_ids: true, ..Settings::default() };
        let (_, outcome) = run(
            Sessions::new("5".into(), ctx_with(1000, settings)),
            vec![members(&["0123456789abcdef"]), info("1000", "ip", 10).to_vec()],
        );
        assert_eq!(outcome.summary[1], "  01234567…  from ip, idle 10s left, absolute 8h left");
        assert!(outcome.seen.is_empty());
    }
}
