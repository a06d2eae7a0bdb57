//! `sessions USER_ID`: the seed's `SMEMBERS user_sessions:<uid>`, each listed session described
//! (login time, ip, TTL), and ids whose session is gone pruned from the index.

use crate::exec::{Args, args};
use crate::redis::reply::Reply;
use crate::session::apply::{Applied, Apply, Checks, settle, written};
use crate::session::events::Owner;
use crate::session::keys::{session_key_of_member, short};
use crate::session::plan::{Batch, Machine, Outcome, Step, describe_reads, forget};
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
        members: Vec<Vec<u8>>,
    },
    /// Ids that looked dead, read again under a WATCH of the index and of their keys, so that
    /// one that comes back meanwhile (the same id logged in again) is never pruned.
    Recheck {
        dead: Vec<Vec<u8>>,
        live: Vec<Live>,
    },
    /// The audit stream is checked before pruning.
    Check {
        checks: Checks,
        dead: Vec<Vec<u8>>,
        listing: Box<Outcome>,
    },
    /// Pruning dead ids; the listing is shown once that is done.
    Prune {
        apply: Box<Apply>,
        listing: Box<Outcome>,
    },
}

/// A listed session that is alive: its stored id, login time (or the text that is not one), ip
/// and TTL.
struct Live {
    member: String,
    login_time: Result<i64, String>,
    ip: String,
    ttl: i64,
}

impl Sessions {
    pub fn new(uid: String, ctx: Context) -> Sessions {
        Sessions { index: ctx.layout.index_key(&uid), uid, ctx, state: State::Members }
    }

    fn describe(&mut self, replies: &[Reply]) -> Step {
        if let Some(e) = replies.first().and_then(Reply::error_text) {
            return Step::Done(Outcome::failed(format!(
                "sessions: {}: {}",
                self.index,
                String::from_utf8_lossy(e)
            )));
        }
        let mut members: Vec<Vec<u8>> = replies
            .first()
            .map(Reply::elements)
            .unwrap_or_default()
            .iter()
            .filter_map(|r| r.bytes().map(<[u8]>::to_vec))
            .collect();
        members.sort();
        if members.is_empty() {
            return Step::Done(Outcome::ok(format!("user {} has no live sessions", self.uid)));
        }
        let reads = describe_reads(&members);
        self.state = State::Describe { members };
        // Reads only: under --read-from-replica a replica answers them (the pruning re-reads on the master).
        Step::Send(Batch { replica_ok: true, ..Batch::of(reads) })
    }

    fn list(&mut self, members: &[Vec<u8>], replies: &[Reply]) -> Step {
        let mut live = Vec::new();
        let mut dead = Vec::new();
        for (member, pair) in members.iter().zip(replies.chunks(2)) {
            let info = pair.first().map(Reply::elements).unwrap_or_default();
            let ttl = pair.get(1).and_then(Reply::int).unwrap_or(-2);
            // Only a session Redis no longer has is dead: a live one with damaged fields is
            // listed as such, never pruned by a read.
            if ttl == -2 {
                dead.push(member.clone());
                continue;
            }
            let ip = info.get(1).and_then(|r| r.text()).unwrap_or_else(|| "?".into());
            let login_time = match info.first() {
                Some(r) => r.int().ok_or_else(|| r.text().unwrap_or_default()),
                None => Err(String::new()),
            };
            let member = String::from_utf8_lossy(member).into_owned();
            live.push(Live { member, login_time, ip, ttl });
        }
        if dead.is_empty() {
            return Step::Done(self.listing(live, 0));
        }
        // Plain layout on a cluster: a login writes the index entry before its session (another
        // slot), so an entry without its hash may be a login in flight. Pruning it could leave that
        // session outside its index; a stale entry is harmless (the index expires with its
        // longest session, and `fsck --repair` removes it).
        if self.ctx.settings.cluster {
            let mut listing = self.listing(live, dead.len());
            if let Some(first) = listing.summary.first_mut() {
                *first = first.replace(
                    "expired id(s) pruned)",
                    "id(s) without a session, not pruned: on a cluster a login in flight looks the same)",
                );
            }
            return Step::Done(listing);
        }
        let mut watch = args(["WATCH", &self.index]);
        watch.extend(dead.iter().map(|d| session_key_of_member(d)));
        let mut cmds = vec![watch];
        cmds.extend(dead.iter().map(|d| vec![b"EXISTS".to_vec(), session_key_of_member(d)]));
        self.state = State::Recheck { dead, live };
        Step::Send(Batch { cmds, watch: true, ..Batch::default() })
    }

    /// After the recheck: the ids still without a session are pruned, if the stream allows.
    fn rechecked(&mut self, dead: Vec<Vec<u8>>, live: Vec<Live>, replies: &[Reply]) -> Step {
        let dead: Vec<Vec<u8>> =
            dead.into_iter().zip(replies).filter(|(_, r)| r.int() == Some(0)).map(|(d, _)| d).collect();
        let listing = self.listing(live, dead.len());
        if dead.is_empty() {
            return Step::Done(listing);
        }
        let stream = self.ctx.settings.audit_stream.as_deref();
        match Checks::start(written(None, stream), self.ctx.cluster) {
            Some((checks, batch)) => {
                self.state = State::Check { checks, dead, listing: Box::new(listing) };
                Step::Send(batch)
            }
            None => self.prune(dead, listing),
        }
    }

    fn prune(&mut self, dead: Vec<Vec<u8>>, listing: Outcome) -> Step {
        let stream = self.ctx.settings.audit_stream.as_deref();
        let entries: Vec<Args> = dead
            .iter()
            .flat_map(|d| {
                let fields =
                    [("id", d.as_slice()), ("user", self.uid.as_bytes()), ("seen", b"sessions".as_slice())];
                audit::entries(stream, "expired", &fields)
            })
            .collect();
        let writes = vec![forget(&self.index, &dead)];
        // In a transaction under the WATCH: should an id come back before EXEC, nothing is pruned
        // and the command starts over.
        let (apply, mut batch) = Apply::start(writes, entries, false, self.ctx.cluster);
        batch.retry = true;
        self.state = State::Prune { apply: Box::new(apply), listing: Box::new(listing) };
        Step::Send(batch)
    }

    fn listing(&self, mut live: Vec<Live>, dead: usize) -> Outcome {
        let pruned = if dead == 0 { String::new() } else { format!(" ({dead} expired id(s) pruned)") };
        let mut outcome = Outcome::ok(format!("user {}: {} live session(s){pruned}", self.uid, live.len()));
        live.sort_by_key(|s| s.login_time.clone().unwrap_or(i64::MAX));
        for s in live {
            let owner = Owner {
                login_time: s.login_time.as_ref().ok().and_then(|t| u64::try_from(*t).ok()),
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
            let absolute = match s.login_time {
                Ok(t) => {
                    let left =
                        i128::from(t) + i128::from(self.ctx.settings.absolute_ttl) - i128::from(self.ctx.now);
                    format!("absolute {} left", human(left.clamp(0, i128::from(i64::MAX)) as i64))
                }
                Err(bad) => format!("malformed: login_time '{bad}' is not a number (`fsck` reports it)"),
            };
            outcome.summary.push(format!("  {}  from {}, {idle}, {absolute}", short(&id), s.ip));
        }
        outcome
    }
}

impl Machine for Sessions {
    fn start(&mut self) -> Step {
        self.state = State::Members;
        Step::Send(Batch { replica_ok: true, ..Batch::of(vec![args(["SMEMBERS", &self.index])]) })
    }

    fn resume(&mut self, replies: Vec<Reply>) -> Step {
        match std::mem::replace(&mut self.state, State::Members) {
            State::Members => self.describe(&replies),
            State::Describe { members } => self.list(&members, &replies),
            State::Recheck { dead, live } => self.rechecked(dead, live, &replies),
            State::Check { mut checks, dead, listing } => match checks.resume(&replies) {
                Ok(Some(batch)) => {
                    self.state = State::Check { checks, dead, listing };
                    Step::Send(batch)
                }
                Ok(None) => self.prune(dead, *listing),
                // The listing stands; only the pruning (a write) is refused.
                Err(wrong) => {
                    let mut listing = *listing;
                    if let Some(first) = listing.summary.first_mut() {
                        *first = first.replace("expired id(s) pruned", "expired id(s), not pruned");
                    }
                    listing.error =
                        Some(format!("sessions: {} expired id(s) not pruned: {wrong}", dead.len()));
                    Step::Done(listing)
                }
            },
            State::Prune { mut apply, listing } => match apply.resume(replies) {
                Applied::Send(batch) => {
                    self.state = State::Prune { apply, listing };
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
            vec![members(&["c", "b", "a"]), described, vec![Reply::Int(0)], tx(vec![Reply::Int(1)])],
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
                "WATCH user_sessions:5 session:b",
                "EXISTS session:b",
                "MULTI",
                "SREM user_sessions:5 b",
                "EXEC",
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
    fn an_id_that_came_back_meanwhile_is_not_pruned_and_a_change_starts_over() {
        let (sent, outcome) = run(
            Sessions::new("5".into(), ctx(0)),
            vec![members(&["b"]), gone().to_vec(), vec![Reply::Int(1)]],
        );
        assert_eq!(lines(&sent)[3..], ["WATCH user_sessions:5 session:b", "EXISTS session:b"]);
        assert_eq!(outcome.summary, ["user 5: 0 live session(s)"]);
        let mut m = Sessions::new("5".into(), ctx(0));
        m.start();
        m.resume(members(&["b"]));
        let Step::Send(recheck) = m.resume(gone().to_vec()) else { panic!("a recheck") };
        assert!(recheck.watch);
        let Step::Send(prune) = m.resume(vec![Reply::Int(0)]) else { panic!("a prune") };
        assert!(prune.retry, "the index or the session changed before EXEC: start over");
    }

    #[test]
    fn on_a_plain_cluster_entries_without_a_session_are_not_pruned() {
        let settings = Settings { cluster: true, ..Settings::default() };
        let (sent, outcome) =
            run(Sessions::new("5".into(), ctx_with(0, settings)), vec![members(&["b"]), gone().to_vec()]);
        assert_eq!(sent.len(), 3, "no SREM");
        assert_eq!(
            outcome.summary,
            [
                "user 5: 0 live session(s) (1 id(s) without a session, not pruned: on a cluster a login in flight looks the same)"
            ]
        );
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
        let stream = || vec![Reply::Status(b"stream".to_vec())];
        let (sent, outcome) = run(
            Sessions::new("5".into(), ctx_with(0, settings.clone())),
            vec![
                members(&["b"]),
                gone().to_vec(),
                vec![Reply::Int(0)],
                stream(),
                tx(vec![Reply::Int(1), bulk("1-1")]),
            ],
        );
        assert_eq!(
            lines(&sent)[5..],
            [
                "TYPE audit",
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
            vec![
                members(&["b"]),
                gone().to_vec(),
                vec![Reply::Int(0)],
                stream(),
                tx(vec![Reply::Int(1), wrong]),
            ],
        );
        assert_eq!(outcome.error.unwrap(), "sessions failed: WRONGTYPE x");
    }

    #[test]
    fn a_stream_of_another_type_leaves_the_index_as_it_was() {
        let settings = Settings { audit_stream: Some("audit".into()), ..Settings::default() };
        let (sent, outcome) = run(
            Sessions::new("5".into(), ctx_with(0, settings)),
            vec![
                members(&["b"]),
                gone().to_vec(),
                vec![Reply::Int(0)],
                vec![Reply::Status(b"string".to_vec())],
            ],
        );
        assert_eq!(lines(&sent).last().unwrap(), "TYPE audit", "no SREM");
        assert_eq!(outcome.summary, ["user 5: 0 live session(s) (1 expired id(s), not pruned)"]);
        assert_eq!(
            outcome.error.unwrap(),
            "sessions: 1 expired id(s) not pruned: audit holds a string, not a stream"
        );
    }

    #[test]
    fn a_live_session_with_a_malformed_login_time_is_listed_never_pruned() {
        let mut described = Vec::new();
        described.extend(info("1.7e9", "10.0.0.9", 100));
        let (sent, outcome) = run(Sessions::new("5".into(), ctx(0)), vec![members(&["m"]), described]);
        assert_eq!(sent.len(), 3, "no SREM");
        assert_eq!(
            outcome.summary,
            [
                "user 5: 1 live session(s)",
                "  m  from 10.0.0.9, idle 1m40s left, malformed: login_time '1.7e9' is not a number (`fsck` reports it)"
            ]
        );
    }

    #[test]
    fn an_index_of_another_type_is_an_error_not_an_empty_list() {
        let wrong =
            Reply::Error(b"WRONGTYPE Operation against a key holding the wrong kind of value".to_vec());
        let (_, outcome) = run(Sessions::new("5".into(), ctx(0)), vec![vec![wrong]]);
        assert_eq!(
            outcome.error.unwrap(),
            "sessions: user_sessions:5: WRONGTYPE Operation against a key holding the wrong kind of value"
        );
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
