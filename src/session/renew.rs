//! `renew [ID]`: the session moved to a fresh id (OWASP's renewal on privilege change): same
//! fields, same remaining time, the index updated, the old id gone — under a WATCH of the old
//! session, so a concurrent touch or logout makes the command start over.

use crate::exec::{Args, args};
use crate::redis::reply::Reply;
use crate::session::apply::{Applied, Apply, Checks, settle, user_of, written};
use crate::session::events::Owner;
use crate::session::keys::{new_id, session_key_of_stored, short};
use crate::session::plan::{
    Batch, CurrentChange, Expiry, Machine, Outcome, Step, Tx, announce_writes, copy_writes, renew_undo,
    renew_writes, transaction,
};
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
    /// Milliseconds the session had left, for the summary.
    pttl: i64,
    /// The old session's absolute expiry (PEXPIRETIME), kept by the new one.
    expiry: Expiry,
    owner: Option<Owner>,
    entries: Vec<Args>,
}

enum State {
    Read,
    /// The index and the audit stream are checked (under the WATCH) before anything is written.
    Check {
        checks: Checks,
        plan: Plan,
    },
    /// One slot: everything in one transaction.
    Together {
        apply: Apply,
        plan: Plan,
    },
    // Plain layout on a cluster, in an order that can only leave stale index entries:
    /// The new id announced in the index (which is extended to cover it).
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
        let expire_at = replies.get(2).and_then(Reply::int).unwrap_or(-2);
        if fields.is_empty() || pttl == -2 || expire_at == -2 {
            return Step::Done(Outcome::failed(no_such(&self.id)));
        }
        let get = |f: &str| fields.iter().find(|(k, _)| k == f.as_bytes()).map(|(_, v)| v.clone());
        let Some(uid) = get("user_id") else {
            return Step::Done(Outcome::failed(format!(
                "session {} is malformed: no user_id",
                short(&self.id)
            )));
        };
        let uid = match user_of(&self.id, self.ctx.layout.tagged, &uid) {
            Ok(uid) => uid,
            Err(e) => {
                return Step::Done(Outcome::failed(format!("session {} is malformed: {e}", short(&self.id))));
            }
        };
        let owner = Owner::from_fields(get);
        // A session without a TTL (damaged by hand) gets the idle timeout back.
        let idle = self.ctx.settings.idle_ttl;
        let (pttl, expiry) = if expire_at < 0 || pttl < 0 {
            (idle.saturating_mul(1000).min(i64::MAX as u64) as i64, Expiry::After(idle))
        } else {
            (pttl, Expiry::AtMs(expire_at))
        };
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
        let plan = Plan { new_id, new, index, fields, pttl, expiry, owner, entries };
        match Checks::start(written(Some(&plan.index), stream), self.ctx.cluster) {
            Some((checks, batch)) => {
                self.state = State::Check { checks, plan };
                Step::Send(batch)
            }
            None => self.write(plan),
        }
    }

    fn write(&mut self, plan: Plan) -> Step {
        if self.ctx.settings.cluster {
            let announce = announce_writes(&plan.new, &plan.index, plan.expiry);
            self.state = State::Announced { plan };
            return Step::Send(Batch::of(announce));
        }
        let writes = renew_writes(&self.old, &plan.new, &plan.index, &plan.fields, plan.expiry);
        let (apply, mut batch) = Apply::start(writes, plan.entries.clone(), false, self.ctx.cluster);
        batch.retry = true;
        // Should a write still fail at run time (a key changed type after the check), what ran is
        // taken back exactly: the old session as it was read under the WATCH, the new one gone.
        let old_expiry = match plan.expiry {
            Expiry::AtMs(ms) => Some(ms),
            Expiry::After(_) => None,
        };
        batch.undo = renew_undo(&self.old, &plan.new, &plan.index, &plan.fields, old_expiry);
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
        let reads = vec![args(["HGETALL", &key]), args(["PTTL", &key]), args(["PEXPIRETIME", &key])];
        Step::Send(Batch::watching(&[&key], reads))
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
                    Step::Done(Outcome::failed(format!("renew failed, nothing was written: {wrong}")))
                }
            },
            State::Together { mut apply, plan } => match apply.resume(replies) {
                Applied::Send(batch) => {
                    self.state = State::Together { apply, plan };
                    Step::Send(batch)
                }
                Applied::Done(Tx::Ran(items)) if items.iter().any(Reply::is_error) => {
                    let e = items
                        .iter()
                        .find_map(Reply::error_text)
                        .map(String::from_utf8_lossy)
                        .unwrap_or_default();
                    Step::Done(Outcome::failed(format!(
                        "renew failed: {e}; what it wrote was taken back (session {} is as it was)",
                        short(&self.id)
                    )))
                }
                Applied::Done(tx) => match settle(tx, "renew") {
                    Ok(_) => Step::Done(self.renewed(plan)),
                    Err(e) => Step::Done(Outcome::failed(e)),
                },
            },
            State::Announced { plan } => {
                if let Some(e) = replies.iter().find_map(Reply::error_text) {
                    let e = String::from_utf8_lossy(e).into_owned();
                    let withdraw = args(["SREM", &plan.index, &plan.new]);
                    self.state = State::Withdrawn { refused: Some(e) };
                    return Step::Send(Batch::of(vec![withdraw]));
                }
                let take = transaction(vec![args(["DEL", &session_key_of_stored(&self.old)])]);
                self.state = State::Taken { plan };
                Step::Send(Batch::of(take))
            }
            State::Taken { plan } => {
                let tx = Tx::of(&replies);
                if matches!(&tx, Tx::Ran(items) if items.first().and_then(Reply::int) == Some(1)) {
                    let create = transaction(copy_writes(&plan.new, &plan.fields, plan.expiry));
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
            State::Withdrawn { refused: Some(e) } => {
                Step::Done(Outcome::failed(format!("renew failed, nothing was written: {e}")))
            }
            State::Withdrawn { refused: None } => {
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
                // The new id is announced again now that its session exists: a `sessions` or a
                // `logout-all` that saw the entry without its hash in between may have removed it.
                let mut last = Vec::new();
                if created.failure().is_none() && matches!(created, Tx::Ran(_)) {
                    last.extend(announce_writes(&plan.new, &plan.index, plan.expiry));
                }
                last.push(args(["SREM", &plan.index, &self.old]));
                self.state = State::Dropped { plan, created };
                Step::Send(Batch::of(last))
            }
            State::Dropped { plan, created } => match (created.failure(), &created) {
                (None, Tx::Ran(_)) => self.audited(plan),
                // The old session was already taken (a cluster cannot do both in one step).
                (failure, _) => Step::Done(Outcome {
                    current: CurrentChange::Ended { id: self.id.clone(), to: None },
                    ..Outcome::failed(format!(
                        "renew failed: {}; the old session was already ended, as by a logout",
                        failure.unwrap_or_else(|| "the transaction was aborted".into())
                    ))
                }),
            },
            State::Audited { outcome } => Step::Done(outcome),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Settings;
    use crate::session::plan::testing::{bulk, ctx, ctx_with, lines, ok, queued, run, tx};

    fn fixed() -> Result<String, String> {
        Ok("NEW".into())
    }

    fn session() -> Reply {
        Reply::Array(
            ["user_id", "101", "username", "a b", "login_time", "1000"].iter().map(|s| bulk(s)).collect(),
        )
    }

    /// HGETALL, PTTL, PEXPIRETIME of a session with 500 s left, expiring at 1 500 000 ms.
    fn read() -> Vec<Reply> {
        vec![session(), Reply::Int(500_000), Reply::Int(1_500_000)]
    }

    fn set() -> Vec<Reply> {
        vec![Reply::Status(b"set".to_vec())]
    }

    #[test]
    fn the_session_moves_to_a_fresh_id_keeping_its_absolute_expiry() {
        let mut c = ctx(1000);
        c.current = Some("old".into());
        let (sent, outcome) =
            run(Renew::with_ids("old".into(), c, fixed), vec![read(), set(), tx(vec![Reply::Int(1); 7])]);
        assert_eq!(
            lines(&sent),
            [
                "WATCH session:old",
                "HGETALL session:old",
                "PTTL session:old",
                "PEXPIRETIME session:old",
                "TYPE user_sessions:101",
                "MULTI",
                "HSET session:NEW user_id 101 username \"a b\" login_time 1000",
                "PEXPIREAT session:NEW 1500000",
                "SADD user_sessions:101 NEW",
                "PEXPIREAT user_sessions:101 1500000 NX",
                "PEXPIREAT user_sessions:101 1500000 GT",
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
    fn a_session_without_ttl_gets_the_idle_timeout() {
        let (sent, _) = run(
            Renew::with_ids("old".into(), ctx(0), fixed),
            vec![vec![session(), Reply::Int(-1), Reply::Int(-1)], set(), tx(vec![Reply::Int(1); 7])],
        );
        assert_eq!(lines(&sent)[7], "EXPIRE session:NEW 1800");
        assert_eq!(lines(&sent)[9], "EXPIRE user_sessions:101 1800 NX");
    }

    #[test]
    fn a_missing_or_malformed_session_is_not_written() {
        let (sent, outcome) = run(
            Renew::with_ids("x".into(), ctx(0), fixed),
            vec![vec![Reply::Array(vec![]), Reply::Int(-2), Reply::Int(-2)]],
        );
        assert_eq!(sent.len(), 4);
        assert!(outcome.error.unwrap().starts_with("no such session: x"));
        let no_user = Reply::Array(vec![bulk("username"), bulk("a")]);
        let (_, outcome) = run(
            Renew::with_ids("x".into(), ctx(0), fixed),
            vec![vec![no_user, Reply::Int(5), Reply::Int(5)]],
        );
        assert_eq!(outcome.error.unwrap(), "session x is malformed: no user_id");
    }

    #[test]
    fn an_index_of_another_type_is_refused_before_writing() {
        let (sent, outcome) = run(
            Renew::with_ids("old".into(), ctx(0), fixed),
            vec![read(), vec![Reply::Status(b"string".to_vec())]],
        );
        assert_eq!(sent.len(), 5, "nothing written");
        assert_eq!(
            outcome.error.unwrap(),
            "renew failed, nothing was written: user_sessions:101 holds a string, not a set"
        );
    }

    #[test]
    fn a_failure_inside_exec_is_taken_back_exactly() {
        let mut m = Renew::with_ids("old".into(), ctx(0), fixed);
        m.start();
        let _ = m.resume(read());
        let Step::Send(write) = m.resume(set()) else { panic!("the transaction") };
        assert!(write.retry, "an aborted WATCH starts over");
        assert_eq!(
            lines(&write.undo),
            [
                "HSET session:old user_id 101 username \"a b\" login_time 1000",
                "PEXPIREAT session:old 1500000",
                "SADD user_sessions:101 old",
                "DEL session:NEW",
                "SREM user_sessions:101 NEW"
            ]
        );
        let wrong = Reply::Error(b"WRONGTYPE x".to_vec());
        let mut results = vec![Reply::Int(1); 7];
        results[2] = wrong;
        let (_, outcome) =
            run(Renew::with_ids("old".into(), ctx(0), fixed), vec![read(), set(), tx(results)]);
        assert_eq!(
            outcome.error.unwrap(),
            "renew failed: WRONGTYPE x; what it wrote was taken back (session old is as it was)"
        );
        let refused = vec![ok(), Reply::Error(b"OOM x".to_vec()), Reply::Error(b"EXECABORT y".to_vec())];
        let mut refused_all = refused.clone();
        refused_all.splice(2..2, vec![queued(); 6]);
        let (_, outcome) =
            run(Renew::with_ids("old".into(), ctx(0), fixed), vec![read(), set(), refused_all]);
        assert_eq!(outcome.error.unwrap(), "renew failed, nothing was written: EXECABORT y (OOM x)");
    }

    #[test]
    fn on_a_cluster_the_index_learns_the_new_id_first_and_forgets_the_old_last() {
        let settings = Settings { cluster: true, ..Settings::default() };
        let (sent, outcome) = run(
            Renew::with_ids("old".into(), ctx_with(0, settings), fixed),
            vec![
                read(),
                set(),
                vec![Reply::Int(1); 3],
                tx(vec![Reply::Int(1)]),
                tx(vec![Reply::Int(3), Reply::Int(1)]),
                vec![Reply::Int(0), Reply::Int(0), Reply::Int(0), Reply::Int(1)],
            ],
        );
        assert_eq!(
            lines(&sent)[5..],
            [
                "SADD user_sessions:101 NEW",
                "PEXPIREAT user_sessions:101 1500000 NX",
                "PEXPIREAT user_sessions:101 1500000 GT",
                "MULTI",
                "DEL session:old",
                "EXEC",
                "MULTI",
                "HSET session:NEW user_id 101 username \"a b\" login_time 1000",
                "PEXPIREAT session:NEW 1500000",
                "EXEC",
                "SADD user_sessions:101 NEW",
                "PEXPIREAT user_sessions:101 1500000 NX",
                "PEXPIREAT user_sessions:101 1500000 GT",
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
                read(),
                set(),
                vec![Reply::Int(1); 3],
                vec![ok(), queued(), Reply::Nil],
                vec![Reply::Int(1)],
                vec![Reply::Array(vec![]), Reply::Int(-2), Reply::Int(-2)],
            ],
        );
        assert_eq!(lines(&sent)[11], "SREM user_sessions:101 NEW");
        assert_eq!(lines(&sent)[12], "WATCH session:old");
        assert!(outcome.error.unwrap().starts_with("no such session: old"));
    }

    #[test]
    fn on_a_cluster_a_failed_creation_says_the_old_session_is_gone() {
        let settings = Settings { cluster: true, ..Settings::default() };
        let (_, outcome) = run(
            Renew::with_ids("old".into(), ctx_with(0, settings), fixed),
            vec![
                read(),
                set(),
                vec![Reply::Int(1); 3],
                tx(vec![Reply::Int(1)]),
                vec![ok(), Reply::Error(b"OOM x".to_vec()), queued(), Reply::Error(b"EXECABORT y".to_vec())],
                vec![Reply::Int(1)],
            ],
        );
        assert_eq!(
            outcome.error.unwrap(),
            "renew failed: EXECABORT y (OOM x); the old session was already ended, as by a logout"
        );
        assert_eq!(outcome.current, CurrentChange::Ended { id: "old".into(), to: None });
    }
}
