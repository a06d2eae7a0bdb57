//! One command on its way through the executor: a plain Redis command (one batch), or a session
//! command's step machine with what every one of them needs done alike — written here once:
//! start over after a WATCH abort, undo a transaction that failed part-way, lift a WATCH left
//! standing when the command ends.

use std::time::Duration;

use crate::exec::{Args, args};
use crate::redis::commands;
use crate::redis::reply::Reply;
use crate::session::plan::{Batch, Machine, Outcome, Step, Tx};

/// How often a command whose WATCHed keys changed is started over before giving up.
const MAX_ATTEMPTS: usize = 32;

/// Said when a command starts over because another client changed what it WATCHed.
pub const RETRYING: &str = "a concurrent change touched this user's sessions; trying again";

pub enum Kind<'m> {
    /// A plain command (taken out when it is sent).
    Raw(Option<Args>),
    Session(Box<dyn Machine + 'm>),
}

/// What to do with the replies to a batch the job sent on its own account.
enum After {
    Nothing,
    /// An undo ran: now the machine gets the replies of the transaction it undid.
    Resume(Vec<Reply>),
    /// An UNWATCH ran: the command had already finished with this outcome.
    Finish(Outcome),
}

/// How a job ended.
pub enum Finish {
    Raw(Reply),
    Session(Outcome),
}

pub struct Job<'m> {
    kind: Kind<'m>,
    attempts: usize,
    watching: bool,
    after: After,
    /// `--wait`: each batch of a session command that writes ends with `WAIT N ms`.
    pub wait: Option<Wait>,
    /// The batch in flight ends with a WAIT this job added: its reply is not the machine's.
    wait_sent: bool,
    /// Fewer replicas acknowledged a write than `--wait` asks: the command fails with this.
    short: Option<String>,
    /// Lines to show now, before the next batch (a retry).
    pub notes: Vec<String>,
    pub finish: Option<Finish>,
}

fn is_exec(cmd: &[Vec<u8>]) -> bool {
    cmd.first().is_some_and(|w| w.eq_ignore_ascii_case(b"exec"))
}

impl<'m> Job<'m> {
    pub fn new(kind: Kind<'m>) -> Job<'m> {
        Job {
            kind,
            attempts: 1,
            watching: false,
            after: After::Nothing,
            wait: None,
            wait_sent: false,
            short: None,
            notes: Vec::new(),
            finish: None,
        }
    }

    /// The first batch; `None` when the command finished without sending anything.
    pub fn begin(&mut self) -> Option<Batch> {
        let next = self.first();
        self.waited(next)
    }

    /// Takes the replies to `batch` (one per command); the next batch, or `None` when finished.
    pub fn answer(&mut self, batch: &Batch, mut replies: Vec<Reply>) -> Option<Batch> {
        let mut own = None;
        if std::mem::take(&mut self.wait_sent) {
            let reply = replies.pop();
            if let (Some(wait), Some(reply)) = (self.wait, reply) {
                self.short = self.short.take().or_else(|| wait.shortfall(&reply));
            }
            let mut stripped = batch.clone();
            stripped.cmds.pop();
            own = Some(stripped);
        }
        let next = self.step(own.as_ref().unwrap_or(batch), replies);
        self.waited(next)
    }

    /// `--wait`: a WAIT after the next batch when it writes; a shortfall becomes the command's
    /// error once it is done (unless it failed already).
    fn waited(&mut self, next: Option<Batch>) -> Option<Batch> {
        if let (Some(short), Some(Finish::Session(outcome))) = (&self.short, &mut self.finish)
            && outcome.error.is_none()
        {
            outcome.error = Some(short.clone());
        }
        match (next, self.wait) {
            (Some(mut batch), Some(wait))
                if matches!(self.kind, Kind::Session(_))
                    && batch.cmds.iter().any(|c| commands::writes(c)) =>
            {
                batch.cmds.push(wait.command());
                self.wait_sent = true;
                Some(batch)
            }
            (next, _) => next,
        }
    }

    fn first(&mut self) -> Option<Batch> {
        match &mut self.kind {
            Kind::Raw(cmd) => cmd.take().map(|cmd| Batch::last(vec![cmd])),
            Kind::Session(m) => {
                let step = m.start();
                self.follow(step)
            }
        }
    }

    fn step(&mut self, batch: &Batch, mut replies: Vec<Reply>) -> Option<Batch> {
        if let Kind::Raw(_) = self.kind {
            self.finish = Some(Finish::Raw(replies.pop().unwrap_or(Reply::Nil)));
            return None;
        }
        match std::mem::replace(&mut self.after, After::Nothing) {
            After::Finish(outcome) => {
                self.finish = Some(Finish::Session(outcome));
                return None;
            }
            After::Resume(stashed) => return self.resume(stashed),
            After::Nothing => {}
        }
        self.watching |= batch.watch;
        if batch.cmds.last().is_some_and(|c| is_exec(c)) {
            // EXEC lifts every WATCH, whatever its outcome.
            self.watching = false;
            let tx = Tx::of(&replies);
            if batch.retry && tx == Tx::Aborted {
                if self.attempts >= MAX_ATTEMPTS {
                    let failed = Outcome::failed(format!("gave up after {MAX_ATTEMPTS} concurrent changes"));
                    self.finish = Some(Finish::Session(failed));
                    return None;
                }
                self.notes.push(RETRYING.to_owned());
                back_off(self.attempts);
                self.attempts += 1;
                let Kind::Session(m) = &mut self.kind else { return None };
                let step = m.start();
                return self.follow(step);
            }
            if !batch.undo.is_empty() && matches!(tx, Tx::Ran(_)) && tx.failure().is_some() {
                self.after = After::Resume(strip_watch(batch, replies));
                return Some(Batch::of(batch.undo.clone()));
            }
        }
        self.resume(strip_watch(batch, replies))
    }

    fn resume(&mut self, replies: Vec<Reply>) -> Option<Batch> {
        let Kind::Session(m) = &mut self.kind else { return None };
        let step = m.resume(replies);
        self.follow(step)
    }

    fn follow(&mut self, step: Step) -> Option<Batch> {
        match step {
            Step::Send(batch) => Some(batch),
            Step::Done(outcome) if self.watching => {
                self.watching = false;
                self.after = After::Finish(outcome);
                Some(Batch::last(vec![args(["UNWATCH"])]))
            }
            Step::Done(outcome) => {
                self.finish = Some(Finish::Session(outcome));
                None
            }
        }
    }

    /// What the command has done so far, for a progress line (see [`Machine::progress`]).
    pub fn progress(&self) -> Option<(&'static str, u64)> {
        match &self.kind {
            Kind::Session(m) => m.progress(),
            Kind::Raw(_) => None,
        }
    }

    /// Whether the job's next batch must go on a connection of its own (it WATCHes, or already
    /// does).
    pub fn needs_own_lane(&self, batch: &Batch) -> bool {
        self.watching || batch.watch
    }
}

/// `--wait N --wait-timeout MS`: how many replicas must acknowledge each session write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    pub replicas: u32,
    pub timeout_ms: u64,
}

impl Wait {
    pub fn command(&self) -> Args {
        args(["WAIT".to_owned(), self.replicas.to_string(), self.timeout_ms.to_string()])
    }

    /// The error when WAIT's reply counts fewer replicas than asked (or is not a count at all).
    pub fn shortfall(&self, reply: &Reply) -> Option<String> {
        let n = self.replicas;
        let ms = self.timeout_ms;
        let plural = if n == 1 { "" } else { "s" };
        match reply.int() {
            Some(got) if got >= i64::from(n) => None,
            Some(got) => Some(format!(
                "only {got} of {n} replica{plural} acknowledged the write within {ms} ms (WAIT {n} {ms}): \
                 it is on the master but could be lost if the master fails now"
            )),
            None => Some(format!(
                "WAIT {n} {ms} failed ({}): the write is on the master, unconfirmed by any replica",
                String::from_utf8_lossy(reply.error_text().unwrap_or(b"no count in its reply"))
            )),
        }
    }
}

/// The replies a machine gets: without the WATCH's `OK` of a watching batch.
fn strip_watch(batch: &Batch, replies: Vec<Reply>) -> Vec<Reply> {
    if batch.watch { replies.into_iter().skip(1).collect() } else { replies }
}

/// Waits a random moment before starting over, longer after each attempt, so two clients
/// retrying against each other fall out of step instead of colliding forever.
fn back_off(attempt: usize) {
    let mut b = [0u8; 2];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    let ceiling_us = 200u64 << attempt.min(6);
    let us = u64::from(u16::from_le_bytes(b)) % ceiling_us;
    std::thread::sleep(Duration::from_micros(us));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::plan::testing::{bulk, lines, ok, queued};

    /// A machine that WATCHes, reads, then writes in a transaction; done after.
    struct Watcher {
        starts: usize,
        undo: bool,
    }

    impl Machine for Watcher {
        fn start(&mut self) -> Step {
            self.starts += 1;
            Step::Send(Batch::watching(&["k"], vec![args(["GET", "k"])]))
        }

        fn resume(&mut self, replies: Vec<Reply>) -> Step {
            match replies.first() {
                Some(Reply::Bulk(v)) if v == b"refuse" => Step::Done(Outcome::failed("refused")),
                Some(Reply::Bulk(_)) | Some(Reply::Nil) => {
                    let mut b = Batch::transaction(vec![args(["SET", "k", "v"]), args(["SADD", "s", "m"])]);
                    if self.undo {
                        b.undo = vec![args(["DEL", "k"])];
                    }
                    Step::Send(b)
                }
                _ => Step::Done(Outcome::ok(format!("done after {} start(s)", self.starts))),
            }
        }
    }

    fn session(undo: bool) -> Job<'static> {
        Job::new(Kind::Session(Box::new(Watcher { starts: 0, undo })))
    }

    #[test]
    fn a_watch_abort_starts_over_and_a_clean_exec_finishes() {
        let mut job = session(false);
        let b = job.begin().unwrap();
        assert_eq!(lines(&b.cmds), ["WATCH k", "GET k"]);
        let b2 = job.answer(&b, vec![ok(), bulk("x")]).unwrap();
        assert_eq!(lines(&b2.cmds), ["MULTI", "SET k v", "SADD s m", "EXEC"]);
        // Nil EXEC: the machine starts over.
        let b3 = job.answer(&b2, vec![ok(), queued(), queued(), Reply::Nil]).unwrap();
        assert_eq!(lines(&b3.cmds), ["WATCH k", "GET k"]);
        assert_eq!(job.notes, [RETRYING]);
        let b4 = job.answer(&b3, vec![ok(), bulk("x")]).unwrap();
        let ran = Reply::Array(vec![ok(), Reply::Int(1)]);
        assert!(job.answer(&b4, vec![ok(), queued(), queued(), ran]).is_none());
        let Some(Finish::Session(outcome)) = job.finish else { panic!() };
        assert_eq!(outcome.summary, ["done after 2 start(s)"]);
    }

    #[test]
    fn a_failure_inside_exec_is_undone_before_the_machine_hears_of_it() {
        let mut job = session(true);
        let b = job.begin().unwrap();
        let b2 = job.answer(&b, vec![ok(), Reply::Nil]).unwrap();
        let wrongtype =
            Reply::Error(b"WRONGTYPE Operation against a key holding the wrong kind of value".to_vec());
        let failed = Reply::Array(vec![ok(), wrongtype]);
        let undo = job.answer(&b2, vec![ok(), queued(), queued(), failed]).unwrap();
        assert_eq!(lines(&undo.cmds), ["DEL k"]);
        assert!(job.answer(&undo, vec![Reply::Int(1)]).is_none());
        assert!(matches!(job.finish, Some(Finish::Session(_))));
    }

    #[test]
    fn a_watch_left_standing_is_lifted() {
        let mut job = session(false);
        let b = job.begin().unwrap();
        let unwatch = job.answer(&b, vec![ok(), bulk("refuse")]).unwrap();
        assert_eq!(lines(&unwatch.cmds), ["UNWATCH"]);
        assert!(job.finish.is_none());
        assert!(job.answer(&unwatch, vec![ok()]).is_none());
        let Some(Finish::Session(outcome)) = job.finish else { panic!() };
        assert_eq!(outcome.error.as_deref(), Some("refused"));
    }

    #[test]
    fn wait_follows_each_write_and_a_shortfall_fails_the_command() {
        let mut job = session(false);
        job.wait = Some(Wait { replicas: 2, timeout_ms: 500 });
        let b = job.begin().unwrap();
        // Reads only: no WAIT.
        assert_eq!(lines(&b.cmds), ["WATCH k", "GET k"]);
        let b2 = job.answer(&b, vec![ok(), Reply::Nil]).unwrap();
        assert_eq!(lines(&b2.cmds), ["MULTI", "SET k v", "SADD s m", "EXEC", "WAIT 2 500"]);
        let ran = Reply::Array(vec![ok(), Reply::Int(1)]);
        // The machine gets EXEC's reply last, as without --wait, and reports done…
        assert!(job.answer(&b2, vec![ok(), queued(), queued(), ran, Reply::Int(1)]).is_none());
        let Some(Finish::Session(outcome)) = job.finish else { panic!() };
        assert_eq!(outcome.summary, ["done after 1 start(s)"]);
        // …but the line fails, saying how many replicas did acknowledge.
        let error = outcome.error.unwrap();
        assert!(error.starts_with("only 1 of 2 replicas acknowledged the write within 500 ms"), "{error}");
    }

    #[test]
    fn enough_acknowledgements_change_nothing() {
        let w = Wait { replicas: 1, timeout_ms: 1000 };
        assert_eq!(w.shortfall(&Reply::Int(1)), None);
        assert_eq!(w.shortfall(&Reply::Int(2)), None);
        assert!(w.shortfall(&Reply::Int(0)).unwrap().starts_with("only 0 of 1 replica acknowledged"));
        assert!(
            w.shortfall(&Reply::Error(b"ERR WAIT cannot be used with replica instances".to_vec())).is_some()
        );
        let mut job = Job::new(Kind::Raw(Some(args(["SET", "k", "v"]))));
        job.wait = Some(w);
        // A plain command is the user's: never followed by a WAIT.
        assert_eq!(lines(&job.begin().unwrap().cmds), ["SET k v"]);
    }

    #[test]
    fn raw_commands_are_one_batch() {
        let mut job = Job::new(Kind::Raw(Some(args(["PING"]))));
        let b = job.begin().unwrap();
        assert!(b.last);
        assert!(job.answer(&b, vec![Reply::Status(b"PONG".to_vec())]).is_none());
        assert!(matches!(job.finish, Some(Finish::Raw(Reply::Status(_)))));
    }
}
