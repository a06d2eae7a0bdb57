//! The executor: the one place that sends Redis commands, echoes them and prints their replies.
//! Nothing else prints a Redis command, so the echo can never differ from what was sent.

use std::time::{Duration, Instant};

pub mod conn;
mod job;
mod modes;
mod output;
mod pipe;
pub mod transport;
mod window;

pub use modes::{BigKeys, ScanSpec};
pub use output::Output;
pub use pipe::PipeResult;
pub use window::{Entry, Footprint, Sessions, Work};

use crate::error::Error;
use crate::redis::cluster;
use crate::redis::format::Mode;
use crate::redis::redact::dry_run_line;
use crate::redis::reply::Reply;
pub use crate::redis::resp::pack_into;
use crate::session::plan::{Machine, Outcome};
use conn::Conn;
use job::Job;

/// One Redis command: its arguments as bytes.
pub type Args = Vec<Vec<u8>>;

/// Builds an [`Args`] from anything byte-like.
pub fn args<I, A>(parts: I) -> Args
where
    I: IntoIterator<Item = A>,
    A: AsRef<[u8]>,
{
    parts.into_iter().map(|p| p.as_ref().to_vec()).collect()
}

/// Sends commands, echoes them, prints replies, and keeps the connection's prompt state.
pub struct Executor {
    pub conn: Conn,
    pub out: Output,
    /// Print commands instead of sending them (`--dry-run`).
    pub dry_run: bool,
    scratch: Vec<u8>,
    /// Connections of their own for WATCHing commands of a pipelined window (see `window`), and
    /// whether each is taken.
    pool: Vec<(Option<conn::Link>, bool)>,
}

/// How many redirections one command may follow (a slot can move while it is in flight).
const MAX_REDIRECTS: usize = 8;

/// The redirect a reply asks for, if it is a `MOVED` or `ASK` error.
fn redirect_of(v: &Reply) -> Option<cluster::Redirect> {
    cluster::redirect(&String::from_utf8_lossy(v.error_text()?))
}

/// redis-cli's timing line for slow commands: `(0.60s)`.
const SLOW: Duration = Duration::from_millis(500);

impl Executor {
    pub fn new(conn: Conn, out: Output, dry_run: bool) -> Self {
        Executor { conn, out, dry_run, scratch: Vec::with_capacity(1 << 16), pool: Vec::new() }
    }

    /// Runs commands in one round trip (all sent, then every reply read), echoing and printing each
    /// in order. Fails on the first command whose reply could not be read.
    pub fn run(&mut self, cmds: &[Args]) -> Result<Vec<Reply>, Error> {
        if self.dry_run {
            for cmd in cmds {
                self.out.write(&dry_run_line(cmd));
            }
            return Err(Error::DryRun);
        }
        if self.conn.target.cluster {
            return self.run_routed(cmds);
        }
        self.run_here(cmds)
    }

    /// Cluster mode, for the steps of session commands: each batch goes to the node serving its
    /// keys (one command at a time when they live in different slots). A redirect (the slot moved)
    /// runs the batch again where it now lives; a redirected transaction was aborted by the
    /// server, so nothing of it ran twice.
    fn run_routed(&mut self, cmds: &[Args]) -> Result<Vec<Reply>, Error> {
        let mut slots: Vec<u16> =
            cmds.iter().filter_map(|c| cluster::first_key(c)).map(cluster::slot).collect();
        slots.sort_unstable();
        slots.dedup();
        if slots.len() > 1 {
            if cmds.iter().any(|c| c.first().is_some_and(|w| w.eq_ignore_ascii_case(b"multi"))) {
                // Plans never do this; splitting it would run the writes outside the transaction.
                return Err(Error::Other("a transaction across hash slots cannot run on a cluster".into()));
            }
            let mut replies = Vec::with_capacity(cmds.len());
            for cmd in cmds {
                replies.extend(self.run_routed(std::slice::from_ref(cmd))?);
            }
            return Ok(replies);
        }
        let mut asking = false;
        for _ in 0..MAX_REDIRECTS {
            // After an ASK the node named by it serves this attempt, whatever the slot map says.
            if let (Some(&slot), false) = (slots.first(), asking) {
                self.conn.route(slot)?;
            }
            // Like redis-cli, a redirected attempt shows as its redirect line only.
            let replies = self.collect_here(cmds, asking)?;
            match replies.iter().find_map(redirect_of) {
                Some(r) => {
                    asking = r.ask;
                    self.redirected(&r);
                }
                None => {
                    for (cmd, reply) in cmds.iter().zip(&replies) {
                        self.echo(cmd);
                        self.print_reply(cmd, reply);
                    }
                    if self.out.flush_each {
                        self.out.flush();
                    }
                    return Ok(replies);
                }
            }
        }
        Err(Error::Other(format!("gave up after {MAX_REDIRECTS} cluster redirections")))
    }

    /// A command the user typed (or a script line): in cluster mode it goes to the node in use and
    /// follows `MOVED`/`ASK` exactly as `redis-cli -c` does, printing only the final reply.
    pub fn run_typed(&mut self, cmd: Args) -> Result<Reply, Error> {
        if !self.conn.target.cluster || self.dry_run {
            return self.run_one(cmd);
        }
        let prompt = self.conn.prompt();
        if let Err(e) = self.conn.ensure() {
            self.out.echo_line(&prompt, &cmd);
            return Err(e);
        }
        let prompt = self.conn.prompt();
        self.out.echo_line(&prompt, &cmd);
        let started = Instant::now();
        let mut asking = false;
        for _ in 0..MAX_REDIRECTS {
            let mut packed = std::mem::take(&mut self.scratch);
            packed.clear();
            if asking {
                pack_into(&mut packed, &[b"ASKING".to_vec()]);
            }
            pack_into(&mut packed, &cmd);
            let sent = self.conn.send(&packed);
            self.scratch = packed;
            sent?;
            if asking {
                self.recv_reply(b"ASKING")?;
            }
            let reply = self.recv_reply(&cmd[0])?;
            if let Some(r) = redirect_of(&reply) {
                asking = r.ask;
                self.redirected(&r);
                continue;
            }
            self.print_reply(&cmd, &reply);
            self.timing(started.elapsed());
            if self.out.flush_each {
                self.out.flush();
            }
            return Ok(reply);
        }
        Err(Error::Other(format!("gave up after {MAX_REDIRECTS} cluster redirections")))
    }

    /// Prints redis-cli's redirect line and goes to the node it names.
    fn redirected(&mut self, r: &cluster::Redirect) {
        let host = match (&r.host, &self.conn.target.address) {
            (Some(h), _) => h.clone(),
            (None, crate::exec::conn::Address::Tcp { host, .. }) => host.clone(),
            (None, crate::exec::conn::Address::Unix(_)) => String::new(),
        };
        let shown = if host.contains(':') { format!("[{host}]") } else { host };
        if self.out.show_redirects {
            self.out.write(
                format!("-> Redirected to slot [{}] located at {shown}:{}\n", r.slot, r.port).as_bytes(),
            );
        }
        self.conn.follow(r);
    }

    /// Sends a batch to the node in use and prints each reply as it is read.
    fn run_here(&mut self, cmds: &[Args]) -> Result<Vec<Reply>, Error> {
        if let Err(e) = self.conn.ensure() {
            if let Some(first) = cmds.first() {
                let prompt = self.conn.prompt();
                self.out.echo_line(&prompt, first);
            }
            return Err(e);
        }
        let mut packed = std::mem::take(&mut self.scratch);
        packed.clear();
        for cmd in cmds {
            pack_into(&mut packed, cmd);
        }
        let started = Instant::now();
        let sent = self.conn.send(&packed);
        self.scratch = packed;
        let mut replies = Vec::with_capacity(cmds.len());
        for (i, cmd) in cmds.iter().enumerate() {
            let prompt = self.conn.prompt();
            self.out.echo_line(&prompt, cmd);
            if i == 0 {
                sent.clone()?;
            }
            let reply = self.recv_reply(&cmd[0])?;
            self.print_reply(cmd, &reply);
            if cmds.len() == 1 {
                self.timing(started.elapsed());
            }
            replies.push(reply);
        }
        if self.out.flush_each {
            self.out.flush();
        }
        Ok(replies)
    }

    /// Cluster mode: sends a batch and reads every reply before printing anything, so that an
    /// attempt the cluster redirects can be shown as redis-cli shows it (the redirect line only).
    /// With `asking`, each command (or transaction) is preceded by a silent `ASKING`, which an
    /// importing node needs before it serves a slot that is still officially elsewhere.
    fn collect_here(&mut self, cmds: &[Args], asking: bool) -> Result<Vec<Reply>, Error> {
        if let Err(e) = self.conn.ensure() {
            if let Some(first) = cmds.first() {
                self.echo(first);
            }
            return Err(e);
        }
        let mut packed = std::mem::take(&mut self.scratch);
        packed.clear();
        let mut in_multi = false;
        let mut asked = Vec::with_capacity(cmds.len());
        for cmd in cmds {
            // Inside MULTI the ASKING given before it still holds (Redis keeps it for the block).
            let ask = asking && !in_multi;
            if ask {
                pack_into(&mut packed, &[b"ASKING".to_vec()]);
            }
            asked.push(ask);
            pack_into(&mut packed, cmd);
            let name = cmd.first().map(|w| w.to_ascii_lowercase()).unwrap_or_default();
            match name.as_slice() {
                b"multi" => in_multi = true,
                b"exec" | b"discard" => in_multi = false,
                _ => {}
            }
        }
        let sent = self.conn.send(&packed);
        self.scratch = packed;
        let mut replies = Vec::with_capacity(cmds.len());
        for (cmd, ask) in cmds.iter().zip(asked) {
            let mut got = sent.clone();
            if ask && got.is_ok() {
                got = self.recv_reply(b"ASKING").map(|_| ());
            }
            let got = got.and_then(|_| self.recv_reply(&cmd[0]));
            match got {
                Ok(reply) => replies.push(reply),
                Err(e) => {
                    // Show what did happen before the connection was lost.
                    for (done, reply) in cmds.iter().zip(&replies) {
                        self.echo(done);
                        self.print_reply(done, reply);
                    }
                    self.echo(cmd);
                    return Err(e);
                }
            }
        }
        Ok(replies)
    }

    /// Sends commands to the node in use and reads their replies without echoing or printing them:
    /// only for bulk reads (`stats`, `fsck`) whose caller prints how many of which commands it
    /// sent, so the transcript still says what went to the server. A dry run prints them all.
    pub fn run_quiet(&mut self, cmds: &[Args]) -> Result<Vec<Reply>, Error> {
        if self.dry_run {
            return self.run(cmds);
        }
        self.conn.ensure()?;
        let mut packed = std::mem::take(&mut self.scratch);
        packed.clear();
        for cmd in cmds {
            pack_into(&mut packed, cmd);
        }
        let sent = self.conn.send(&packed);
        self.scratch = packed;
        sent?;
        cmds.iter().map(|c| self.recv_reply(&c[0])).collect()
    }

    /// Runs a session command's step machine to its outcome, one batch per round trip (see
    /// `job` for what is done alike for every command, and `window` for the pipelined way).
    pub fn drive(&mut self, m: &mut dyn Machine) -> Result<Outcome, Error> {
        let mut job = Job::new(job::Kind::Session(Box::new(m)));
        let mut next = job.begin();
        loop {
            for note in job.notes.drain(..) {
                self.out.summary(&note);
            }
            let Some(batch) = next else { break };
            let replies = if batch.quiet { self.run_quiet(&batch.cmds)? } else { self.run(&batch.cmds)? };
            next = job.answer(&batch, replies);
        }
        match job.finish {
            Some(job::Finish::Session(outcome)) => Ok(outcome),
            _ => Err(Error::Other("internal: a session command ended without an outcome".into())),
        }
    }

    /// Runs one command; its reply, or an error.
    pub fn run_one(&mut self, cmd: Args) -> Result<Reply, Error> {
        let mut replies = self.run(std::slice::from_ref(&cmd))?;
        replies.pop().ok_or_else(|| Error::Other("no reply".into()))
    }

    /// Reads the reply to a command named `name`. A RESP3 push that arrives first (a client-tracking
    /// invalidation, `DEBUG PROTOCOL push`…) is not that reply: it is shown, as redis-cli shows it
    /// at a terminal, and the read goes on. Only the subscribe family is answered by a push.
    pub fn recv_reply(&mut self, name: &[u8]) -> Result<Reply, Error> {
        loop {
            let reply = self.conn.recv()?;
            if !matches!(reply, Reply::Push(_)) || answered_by_push(name) {
                return Ok(reply);
            }
            let mut buf = std::mem::take(&mut self.scratch);
            buf.clear();
            self.out.render_push(&mut buf, &reply);
            self.out.write(&buf);
            self.scratch = buf;
        }
    }

    /// Echoes a command that is about to be read back from a pipeline (see `script`).
    pub fn echo(&mut self, cmd: &[Vec<u8>]) {
        let prompt = self.conn.prompt();
        self.out.echo_line(&prompt, cmd);
    }

    /// Prints a reply and updates the prompt state from it.
    pub fn print_reply(&mut self, cmd: &[Vec<u8>], reply: &Reply) {
        self.out.reply(cmd, reply);
        self.conn.observe(cmd, reply);
    }

    pub fn timing(&mut self, elapsed: Duration) {
        if elapsed >= SLOW && self.out.mode == Mode::Pretty {
            self.out.write(format!("({:.2}s)\n", elapsed.as_secs_f64()).as_bytes());
        }
    }
}

/// Commands whose RESP3 reply is itself a push frame.
pub(crate) fn answered_by_push(name: &[u8]) -> bool {
    [&b"subscribe"[..], b"psubscribe", b"ssubscribe", b"unsubscribe", b"punsubscribe", b"sunsubscribe"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n))
}

/// Whether a reply is an error reply (top level).
pub fn is_error(v: &Reply) -> bool {
    v.is_error()
}
