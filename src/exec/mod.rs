//! The executor: the one place that sends Redis commands, echoes them and prints their replies.
//! Nothing else prints a Redis command, so the echo can never differ from what was sent.

use std::time::{Duration, Instant};

mod cluster_window;
pub mod conn;
mod job;
mod modes;
mod output;
mod pipe;
mod progress;
pub mod sentinel;
pub mod transport;
mod window;

pub use cluster_window::joins_cluster_window;
pub use job::Wait;
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
use crate::session::plan::{Batch, Machine, Outcome};
use conn::{Address, Conn};
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
    conn: Conn,
    out: Output,
    /// Print commands instead of sending them (`--dry-run`).
    dry_run: bool,
    scratch: Vec<u8>,
    /// Connections of their own for WATCHing commands of a pipelined window (see `window`), and
    /// whether each is taken.
    pool: window::Pool,
    /// `--wait N`: each write of a session command is followed by `WAIT N ms` (see `job`).
    wait: Option<Wait>,
    /// `--read-from-replica`: the read batches of whoami, sessions and stats go to a replica.
    replica_reads: bool,
    /// A session command that is not a step machine yet is running (set by the shell around it):
    /// its batches get the same `--wait` and `--read-from-replica` treatment as a machine's.
    session_scope: Option<SessionScope>,
}

/// What the executor knows of the session command running outside a step machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionScope {
    /// Its reads may go to a replica (whoami, sessions, stats).
    pub replica_ok: bool,
}

/// Whether a batch may be answered by a replica: it only reads (no transaction, no WATCH).
fn replica_safe(cmds: &[Args]) -> bool {
    cmds.iter().all(|c| crate::redis::commands::reads_only(c))
}

/// How many redirections one command may follow (a slot can move while it is in flight).
const MAX_REDIRECTS: usize = 8;

/// redis-cli's line for a redirect it follows: `-> Redirected to slot [N] located at host:port`.
fn redirect_line(slot: u16, node: &Address) -> String {
    format!("-> Redirected to slot [{slot}] located at {}\n", node.label())
}

/// redis-cli's timing line for slow commands: `(0.60s)`.
const SLOW: Duration = Duration::from_millis(500);

impl Executor {
    pub fn new(conn: Conn, out: Output, dry_run: bool) -> Self {
        Executor {
            conn,
            out,
            dry_run,
            scratch: Vec::with_capacity(1 << 16),
            pool: window::Pool::default(),
            wait: None,
            replica_reads: false,
            session_scope: None,
        }
    }

    /// Where text goes: summaries, errors and the front ends' own lines (echoes and replies are
    /// printed by the executor alone).
    pub fn out(&mut self) -> &mut Output {
        &mut self.out
    }

    /// `--dry-run`: commands are printed, never sent.
    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// The server, database and credentials in use (read-only: commands change them).
    pub fn target(&self) -> &conn::Target {
        &self.conn.target
    }

    /// Redis Cluster mode (`-c`).
    pub fn is_cluster(&self) -> bool {
        self.conn.target.cluster
    }

    /// redis-cli's prompt for the connection: `127.0.0.1:6379[2](TX)> `, or `not connected> `.
    pub fn prompt(&self) -> String {
        self.conn.prompt()
    }

    pub fn is_connected(&self) -> bool {
        self.conn.is_connected()
    }

    /// Inside MULTI (the prompt shows `(TX)`).
    pub fn in_transaction(&self) -> bool {
        self.conn.in_transaction()
    }

    /// Connects now if not connected (AUTH, SELECT and HELLO as the target says).
    pub fn connect(&mut self) -> Result<(), Error> {
        self.conn.ensure().map(|_| ())
    }

    /// Forgets the connection (a reply may still be on its way: it can no longer be trusted); the
    /// next command reconnects.
    pub fn disconnect(&mut self) {
        self.conn.drop_connection();
    }

    /// `connect HOST PORT`: the shell moves to that very server (no longer whichever the
    /// sentinels name), and connects now.
    pub fn connect_to(&mut self, address: Address) -> Result<(), Error> {
        self.conn.target.address = address;
        self.conn.target.sentinel = None;
        self.conn.drop_connection();
        self.connect()
    }

    /// The next message of a streaming command (`SUBSCRIBE`, `MONITOR`…), printed as redis-cli
    /// prints it. The command ran: its connection ending is no "may have run".
    pub fn next_message(&mut self, cmd: &[Vec<u8>]) -> Result<(), Error> {
        let reply = self.conn.recv().map_err(|e| match e {
            Error::Lost(reason) => Error::Connection(reason),
            other => other,
        })?;
        self.print_reply(cmd, &reply);
        Ok(())
    }

    /// `--wait N` and `--read-from-replica`, from the flags.
    pub fn set_replication(&mut self, wait: Option<Wait>, replica_reads: bool) {
        self.wait = wait;
        self.replica_reads = replica_reads;
    }

    /// `--read-from-replica`.
    pub fn reads_from_replica(&self) -> bool {
        self.replica_reads
    }

    /// A session command that is not a step machine is running (`None`: it ended): its batches get
    /// `--wait` and `--read-from-replica` as its scope says.
    pub fn set_session_scope(&mut self, scope: Option<SessionScope>) {
        self.session_scope = scope;
    }

    /// The server's command docs, asked quietly (nothing is echoed or printed): see
    /// [`Docs::fetch`](crate::docs::Docs::fetch).
    pub fn fetch_docs(&mut self) -> crate::docs::Docs {
        crate::docs::Docs::fetch(|cmd| self.read_quiet(&[cmd]).ok()?.pop())
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
        if let Some(scope) = self.session_scope {
            if scope.replica_ok && self.replica_reads && replica_safe(cmds) {
                return self.run_replica(cmds, false);
            }
            if let Some(wait) = self.wait.filter(|_| cmds.iter().any(|c| crate::redis::commands::writes(c))) {
                return self.run_waited(cmds, wait);
            }
        }
        self.run_here(cmds)
    }

    /// `--wait` for a session command that is not a step machine yet: its writes and a WAIT in
    /// one round trip; fewer acknowledgements than asked fail the command (see `Job` for machines).
    fn run_waited(&mut self, cmds: &[Args], wait: Wait) -> Result<Vec<Reply>, Error> {
        let mut all = cmds.to_vec();
        all.push(wait.command());
        let mut replies = self.run_here(&all)?;
        let reply = replies.pop().unwrap_or(Reply::Nil);
        match wait.shortfall(&reply) {
            Some(short) => Err(Error::Session(short)),
            None => Ok(replies),
        }
    }

    /// `--read-from-replica`: reads sent to a replica of the master, echoed after the replica's
    /// own prompt (unless `quiet`), each reply printed as it is read.
    fn run_replica(&mut self, cmds: &[Args], quiet: bool) -> Result<Vec<Reply>, Error> {
        if let Err(e) = self.conn.ensure_replica() {
            if let (Some(first), false) = (cmds.first(), quiet) {
                let prompt = self.conn.replica_prompt();
                self.out.echo_line(&prompt, first);
            }
            return Err(e);
        }
        let mut packed = std::mem::take(&mut self.scratch);
        packed.clear();
        for cmd in cmds {
            pack_into(&mut packed, cmd);
        }
        let sent = self.conn.replica_send(&packed);
        self.scratch = packed;
        let mut replies = Vec::with_capacity(cmds.len());
        for (i, cmd) in cmds.iter().enumerate() {
            if !quiet {
                let prompt = self.conn.replica_prompt();
                self.out.echo_line(&prompt, cmd);
            }
            if i == 0 {
                sent.clone()?;
            }
            let reply = loop {
                let reply = self.conn.replica_recv()?;
                if !matches!(reply, Reply::Push(_)) {
                    break reply;
                }
            };
            if !quiet {
                self.out.reply(cmd, &reply);
            }
            replies.push(reply);
        }
        if self.out.flush_each {
            self.out.flush();
        }
        Ok(replies)
    }

    /// Cluster mode, for the steps of session commands: each batch goes to the node serving its
    /// keys (one command at a time when they live in different slots). A redirect (the slot moved)
    /// runs the batch again where it now lives; a redirected transaction was aborted by the
    /// server, so nothing of it ran twice.
    fn run_routed(&mut self, cmds: &[Args]) -> Result<Vec<Reply>, Error> {
        let mut slots: Vec<u16> =
            cmds.iter().filter_map(|c| crate::redis::commands::first_key(c)).map(cluster::slot).collect();
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
            match replies.iter().find_map(cluster::redirect_of) {
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
        // The node in use may be gone (a failover): another node gives the map and takes over.
        if let Err(e) = self.conn.ensure()
            && self.conn.refresh_slots().is_err()
        {
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
            if let Some(r) = cluster::redirect_of(&reply) {
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
        if self.out.show_redirects {
            let line = redirect_line(r.slot, &r.node(&self.conn.target.address));
            self.out.write(line.as_bytes());
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
    fn run_quiet(&mut self, cmds: &[Args]) -> Result<Vec<Reply>, Error> {
        if self.dry_run {
            return self.run(cmds);
        }
        if self.replica_reads && self.session_scope.is_some_and(|s| s.replica_ok) && replica_safe(cmds) {
            return self.run_replica(cmds, true);
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

    /// Reads sent quietly (see `run_quiet`) whose keys may live on any node: on a cluster, one
    /// pipeline per node serving their slots, the replies put back in order. A key whose slot moved
    /// meanwhile is answered by its MOVED error: the caller counts it, nothing is followed.
    pub fn read_quiet(&mut self, cmds: &[Args]) -> Result<Vec<Reply>, Error> {
        if self.dry_run || !self.conn.target.cluster {
            return self.run_quiet(cmds);
        }
        if self.conn.slots.is_empty() {
            self.conn.refresh_slots()?;
        }
        // Nodes in first-use order, so the same reads always go out the same way.
        let mut groups: Vec<(Option<Address>, Vec<usize>)> = Vec::new();
        for (i, cmd) in cmds.iter().enumerate() {
            let node = crate::redis::commands::first_key(cmd)
                .and_then(|k| self.conn.slots.node(cluster::slot(k)).cloned());
            match groups.iter_mut().find(|(n, _)| *n == node) {
                Some((_, at)) => at.push(i),
                None => groups.push((node, vec![i])),
            }
        }
        let mut replies = vec![Reply::Nil; cmds.len()];
        for (node, at) in groups {
            if let Some(address) = node {
                self.conn.switch_to(address);
            }
            let batch: Vec<Args> = at.iter().map(|&i| cmds[i].clone()).collect();
            for (i, reply) in at.into_iter().zip(self.run_quiet(&batch)?) {
                replies[i] = reply;
            }
        }
        Ok(replies)
    }

    /// Cluster mode: every master (`host`, `port`), from an unechoed `CLUSTER SLOTS` asked now;
    /// empty on a single server.
    pub fn masters(&mut self) -> Result<Vec<(String, u16)>, Error> {
        if !self.conn.target.cluster || self.dry_run {
            return Ok(Vec::new());
        }
        self.conn.refresh_slots()?;
        Ok(self
            .conn
            .slots
            .masters()
            .into_iter()
            .filter_map(|a| match a {
                Address::Tcp { host, port } => Some((host, port)),
                Address::Unix(_) => None,
            })
            .collect())
    }

    /// Cluster mode: makes `node` the node in use (the next commands without keys go there, and
    /// the prompt names it). Nothing on a single server.
    pub fn use_node(&mut self, node: &Address) {
        if self.conn.target.cluster {
            self.conn.switch_to(node.clone());
        }
    }

    /// Sends one batch of a step machine: to the node it names (on a cluster), else where its
    /// keys live; echoed and printed, or quietly.
    fn run_batch(&mut self, batch: &Batch) -> Result<Vec<Reply>, Error> {
        if batch.replica_ok && self.replica_reads && replica_safe(&batch.cmds) && !self.dry_run {
            return self.run_replica(&batch.cmds, batch.quiet);
        }
        if let (Some((host, port)), true, false) = (&batch.node, self.conn.target.cluster, self.dry_run) {
            self.conn.switch_to(Address::Tcp { host: host.clone(), port: *port });
            return if batch.quiet { self.run_quiet(&batch.cmds) } else { self.run_here(&batch.cmds) };
        }
        if batch.quiet { self.read_quiet(&batch.cmds) } else { self.run(&batch.cmds) }
    }

    /// Runs a session command's step machine to its outcome, one batch per round trip (see
    /// `job` for what is done alike for every command, and `window` for the pipelined way).
    pub fn drive(&mut self, m: &mut dyn Machine) -> Result<Outcome, Error> {
        let mut job = Job::new(job::Kind::Session(Box::new(m)));
        job.wait = self.wait;
        // A machine's batches say for themselves what may go to a replica; the job adds the WAITs.
        let scope = self.session_scope.take();
        let mut progress = progress::Progress::new();
        let mut next = job.begin();
        loop {
            for note in job.notes.drain(..) {
                self.out.summary(&note);
            }
            let Some(batch) = next else { break };
            for note in &batch.notes {
                self.out.summary(note);
            }
            let replies = match self.run_batch(&batch) {
                Ok(r) => r,
                Err(e) => {
                    self.session_scope = scope;
                    return Err(e);
                }
            };
            next = job.answer(&batch, replies);
            if let Some((what, keys)) = job.progress() {
                progress.update(what, keys);
            }
        }
        progress.done();
        self.session_scope = scope;
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
    fn recv_reply(&mut self, name: &[u8]) -> Result<Reply, Error> {
        loop {
            let reply = self.conn.recv()?;
            if !matches!(reply, Reply::Push(_)) || crate::redis::commands::answered_by_push(name) {
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
    fn print_reply(&mut self, cmd: &[Vec<u8>], reply: &Reply) {
        self.out.reply(cmd, reply);
        self.conn.observe(cmd, reply);
    }

    pub fn timing(&mut self, elapsed: Duration) {
        if elapsed >= SLOW && self.out.mode == Mode::Pretty {
            self.out.write(format!("({:.2}s)\n", elapsed.as_secs_f64()).as_bytes());
        }
    }
}

/// The text of an error reply (empty for any other reply), for `Error::Reply`.
pub fn reply_text(v: &Reply) -> String {
    String::from_utf8_lossy(v.error_text().unwrap_or_default()).into_owned()
}

/// Whether a reply is an error reply (top level).
pub fn is_error(v: &Reply) -> bool {
    v.is_error()
}
