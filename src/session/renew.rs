//! `renew [ID]`: the session moved to a fresh id (OWASP's renewal on privilege change): same
//! fields, same remaining time, the index updated, the old id gone — under a WATCH of the old
//! session, so a concurrent touch or logout makes the command start over.

use crate::exec::{Args, args};
use crate::redis::reply::Reply;
use crate::session::apply::{Applied, Apply, settle};
use crate::session::events::Owner;
use crate::session::keys::{new_id, session_key_of_stored, short};
use crate::session::plan::{Batch, CurrentChange, Machine, Outcome, Step, Tx, copy_writes, transaction};
use crate::session::{Context, audit, human, no_such};

/// How often the cluster path starts over when the old session changed under it.
const MAX_ATTEMPTS: usize = 32;

pub struct Renew {
    id: String,
    old: String,
    ctx: Context,
    /// Draws a fresh random id (a fixed one in tests).
    fresh: fn() -> Result<String, String>,
    attempts: usize,
    state: State,
}

/// What the read decided.
#[derive(Clone)]
struct Plan {
    new_id: String,
    new: String,
    index: String,
    fields: Vec<(Vec<u8>, Vec<u8>)>,
    pttl: i64,
    owner: Option<Owner>,
    entries: Vec<Args>,
}

enum State {
    Read,
    /// One slot: everything in one transaction.
    Together {
        apply: Apply,
        plan: Plan,
    },
    // Plain layout on a cluster, in an order that can only leave stale index entries:
    /// `SADD index new` sent.
    Announced {
        plan: Plan,
    },
    /// `MULTI DEL old EXEC` sent (under the WATCH of the old session).
    Taken {
        plan: Plan,
    },
    /// The old session changed: `SREM index new` sent, then the command starts over.
    Withdrawn {
        refused: Option<String>,
    },
    /// The new session's transaction sent.
    Created {
        plan: Plan,
    },
    /// `SREM index old` sent.
    Dropped {
        plan: Plan,
        created: Tx,
    },
    Audited {
        outcome: Outcome,
    },
}

impl Renew {
    pub fn new(id: String, ctx: Context) -> Renew {
        Renew::with_ids(id, ctx, new_id)
    }

    pub fn with_ids(id: String, ctx: Context, fresh: fn() -> Result<String, String>) -> Renew {
        Renew { old: ctx.layout.stored_id(&id), id, ctx, fresh, attempts: 1, state: State::Read }
    }

    fn read(&mut self, replies: &[Reply]) -> Step {
        let fields = replies.first().map(Reply::pairs).unwrap_or_default();
        let pttl = replies.get(1).and_then(Reply::int).unwrap_or(-2);
        if fields.is_empty() || pttl == -2 {
            return Step::Done(Outcome::failed(no_such(&self.id)));
        }
        let get = |f: &str| fields.iter().find(|(k, _)| k == f.as_bytes()).map(|(_, v)| v.clone());
        let Some(uid) = get("user_id").map(|u| String::from_utf8_lossy(&u).into_owned()) else {
            return Step::Done(Outcome::failed(format!(
                "session {} is malformed: no user_id",
                short(&self.id)
            )));
        };
        let owner = Owner::from_fields(get);
        // A session without a TTL (damaged by hand) gets the idle timeout back.
        let pttl = if pttl < 0 { self.ctx.settings.idle_ttl.saturating_mul(1000) as i64 } else { pttl };
        let fresh = match (self.fresh)() {
            Ok(id) => id,
            Err(e) => return Step::Done(Outcome::failed(e)),
        };
        let new_id = self.ctx.layout.full_id(&uid, &fresh);
        let new = self.ctx.layout.stored_id(&new_id);
        let stream = self.ctx.settings.audit_stream.as_deref();
        let fields_of_entry =
            [("id", new.as_bytes()), ("old", self.old.as_bytes()), ("user", uid.as_bytes())];
        let entries = audit::entries(stream, "renew", &fields_of_entry);
        let index = self.ctx.layout.index_key(&uid);
        let plan = Plan { new_id, new, index, fields, pttl, owner, entries };
        if self.ctx.settings.cluster {
            let announce = args(["SADD", &plan.index, &plan.new]);
            self.state = State::Announced { plan };
            return Step::Send(Batch::of(vec![announce]));
        }
        let mut writes = copy_writes(&plan.new, &plan.fields, plan.pttl);
        writes.extend([
            args(["SADD", &plan.index, &plan.new]),
            args(["SREM", &plan.index, &self.old]),
            args(["DEL", &session_key_of_stored(&self.old)]),
        ]);
        let (apply, mut batch) = Apply::start(writes, plan.entries.clone(), false, self.ctx.cluster);
        batch.retry = true;
        self.state = State::Together { apply, plan };
        Step::Send(batch)
    }

    fn renewed(&self, plan: Plan) -> Outcome {
        let mut outcome = Outcome::ok(format!(
            "session {} renewed as {}: same data, expires in {}; the old id is gone",
            short(&self.id),
            plan.new_id,
            human(plan.pttl / 1000)
        ));
        outcome.current = CurrentChange::Ended { id: self.id.clone(), to: Some(plan.new_id.clone()) };
        outcome.seen.push(plan.new_id);
        if let Some(owner) = plan.owner {
            outcome.owners.push((self.old.clone(), owner.clone()));
            outcome.owners.push((plan.new, owner));
        }
        outcome
    }

    /// After a change: its audit entries (on a cluster), then the outcome.
    fn audited(&mut self, plan: Plan) -> Step {
        let entries = plan.entries.clone();
        let outcome = self.renewed(plan);
        if entries.is_empty() {
            return Step::Done(outcome);
        }
        self.state = State::Audited { outcome };
        Step::Send(Batch::of(entries))
    }
}

impl Machine for Renew {
    fn start(&mut self) -> Step {
        self.state = State::Read;
        let key = session_key_of_stored(&self.old);
        Step::Send(Batch::watching(&[&key], vec![args(["HGETALL", &key]), args(["PTTL", &key])]))
    }

    fn resume(&mut self, replies: Vec<Reply>) -> Step {
        match std::mem::replace(&mut self.state, State::Read) {
            State::Read => self.read(&replies),
            State::Together { mut apply, plan } => match apply.resume(replies) {
                Applied::Send(batch) => {
                    self.state = State::Together { apply, plan };
                    Step::Send(batch)
                }
                Applied::Done(tx) => match settle(tx, "renew") {
                    Ok(_) => Step::Done(self.renewed(plan)),
                    Err(e) => Step::Done(Outcome::failed(e)),
                },
            },
            State::Announced { plan } => {
                let take = transaction(vec![args(["DEL", &session_key_of_stored(&self.old)])]);
                self.state = State::Taken { plan };
                Step::Send(Batch::of(take))
            }
            State::Taken { plan } => {
                let tx = Tx::of(&replies);
                if matches!(&tx, Tx::Ran(items) if items.first().and_then(Reply::int) == Some(1)) {
                    let create = transaction(copy_writes(&plan.new, &plan.fields, plan.pttl));
                    self.state = State::Created { plan };
                    return Step::Send(Batch::of(create));
                }
                let refused = match tx {
                    Tx::Refused(e) => Some(e),
                    _ => None,
                };
                let withdraw = args(["SREM", &plan.index, &plan.new]);
                self.state = State::Withdrawn { refused };
                Step::Send(Batch::of(vec![withdraw]))
            }
            State::Withdrawn { refused: Some(e), .. } => {
                Step::Done(Outcome::failed(format!("renew failed, nothing was written: {e}")))
            }
            State::Withdrawn { refused: None, .. } => {
                if self.attempts >= MAX_ATTEMPTS {
                    return Step::Done(Outcome::failed(format!(
                        "renew gave up after {MAX_ATTEMPTS} concurrent changes"
                    )));
                }
                self.attempts += 1;
                self.start()
            }
            State::Created { plan } => {
                let created = Tx::of(&replies);
                let drop_old = args(["SREM", &plan.index, &self.old]);
                self.state = State::Dropped { plan, created };
                Step::Send(Batch::of(vec![drop_old]))
            }
            State::Dropped { plan, created } => match settle(created, "renew") {
                Ok(_) => self.audited(plan),
                Err(e) => Step::Done(Outcome::failed(e)),
            },
            State::Audited { outcome } => Step::Done(outcome),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Settings;
    use crate::session::plan::testing::{bulk, ctx, ctx_with, lines, run, tx};

    fn fixed() -> Result<String, String> {
        Ok("NEW".into())
    }

    fn session() -> Reply {
        Reply::Array(
            ["user_id", "101", "username", "a b", "login_time", "1000"].iter().map(|s| bulk(s)).collect(),
        )
    }

    #[test]
    fn the_session_moves_to_a_fresh_id_in_one_transaction() {
        let mut c = ctx(1000);
        c.current = Some("old".into());
        let (sent, outcome) = run(
            Renew::with_ids("old".into(), c, fixed),
            vec![
                vec![session(), Reply::Int(500_000)],
                tx(vec![Reply::Int(3), Reply::Int(1), Reply::Int(1), Reply::Int(1), Reply::Int(1)]),
            ],
        );
        assert_eq!(
            lines(&sent),
            [
                "WATCH session:old",
                "HGETALL session:old",
                "PTTL session:old",
                "MULTI",
                "HSET session:NEW user_id 101 username \"a b\" login_time 1000",
                "PEXPIRE session:NEW 500000",
                "SADD user_sessions:101 NEW",
                "SREM user_sessions:101 old",
                "DEL session:old",
                "EXEC"
            ]
        );
        assert_eq!(
            outcome.summary,
            ["session old renewed as NEW: same data, expires in 8m20s; the old id is gone"]
        );
        assert_eq!(outcome.current, CurrentChange::Ended { id: "old".into(), to: Some("NEW".into()) });
        assert_eq!(outcome.seen, ["NEW"]);
        assert_eq!(outcome.owners.len(), 2);
    }

    #[test]
    fn a_missing_or_malformed_session_is_not_written() {
        let (sent, outcome) =
            run(Renew::with_ids("x".into(), ctx(0), fixed), vec![vec![Reply::Array(vec![]), Reply::Int(-2)]]);
        assert_eq!(sent.len(), 3);
        assert!(outcome.error.unwrap().starts_with("no such session: x"));
        let no_user = Reply::Array(vec![bulk("username"), bulk("a")]);
        let (_, outcome) =
            run(Renew::with_ids("x".into(), ctx(0), fixed), vec![vec![no_user, Reply::Int(5)]]);
        assert_eq!(outcome.error.unwrap(), "session x is malformed: no user_id");
    }

    #[test]
    fn an_aborted_watch_starts_over_and_errors_are_reported() {
        let mut m = Renew::with_ids("old".into(), ctx(0), fixed);
        m.start();
        let Step::Send(write) = m.resume(vec![session(), Reply::Int(5)]) else { panic!() };
        assert!(write.retry);
        let wrong = Reply::Error(b"WRONGTYPE x".to_vec());
        let (_, outcome) = run(
            Renew::with_ids("old".into(), ctx(0), fixed),
            vec![
                vec![session(), Reply::Int(5)],
                tx(vec![Reply::Int(3), Reply::Int(1), wrong, Reply::Int(1), Reply::Int(1)]),
            ],
        );
        assert_eq!(outcome.error.unwrap(), "renew failed: WRONGTYPE x");
    }

    #[test]
    fn on_a_cluster_the_index_learns_the_new_id_first_and_forgets_the_old_last() {
        let settings = Settings { cluster: true, ..Settings::default() };
        let (sent, outcome) = run(
            Renew::with_ids("old".into(), ctx_with(0, settings), fixed),
            vec![
                vec![session(), Reply::Int(-1)],
                vec![Reply::Int(1)],
                tx(vec![Reply::Int(1)]),
                tx(vec![Reply::Int(3), Reply::Int(1)]),
                vec![Reply::Int(1)],
            ],
        );
        assert_eq!(
            lines(&sent)[3..],
            [
                "SADD user_sessions:101 NEW",
                "MULTI",
                "DEL session:old",
                "EXEC",
                "MULTI",
                "HSET session:NEW user_id 101 username \"a b\" login_time 1000",
                "PEXPIRE session:NEW 1800000",
                "EXEC",
                "SREM user_sessions:101 old"
            ]
        );
        assert!(outcome.error.is_none(), "{outcome:?}");
    }

    #[test]
    fn on_a_cluster_a_changed_session_withdraws_the_new_id_and_starts_over() {
        let settings = Settings { cluster: true, ..Settings::default() };
        let (sent, outcome) = run(
            Renew::with_ids("old".into(), ctx_with(0, settings), fixed),
            vec![
                vec![session(), Reply::Int(5)],
                vec![Reply::Int(1)],
                vec![
                    crate::session::plan::testing::ok(),
                    crate::session::plan::testing::queued(),
                    Reply::Nil,
                ],
                vec![Reply::Int(1)],
                vec![Reply::Array(vec![]), Reply::Int(-2)],
            ],
        );
        assert_eq!(lines(&sent)[7], "SREM user_sessions:101 NEW");
        assert_eq!(lines(&sent)[8], "WATCH session:old");
        assert!(outcome.error.unwrap().starts_with("no such session: old"));
    }
}
