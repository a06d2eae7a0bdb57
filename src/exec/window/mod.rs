//! A pipelined window of a script: many commands in flight at once, each command's transcript
//! printed whole and in input order, byte for byte what running them one at a time prints.
//!
//! Each round, every command that may start does, and the next batch of every running command is
//! sent: plain commands and session commands that do not WATCH share the main connection (in input
//! order); a command that WATCHes gets a connection of its own from a pool until its EXEC (or
//! UNWATCH), so no other EXEC can clear its WATCH. Then every reply is read. A connection of its own
//! is written again as soon as its replies are in — its command's next batch, and once that batch
//! lifts the WATCH, the first batch of the next command waiting for a connection, in the same write
//! (EXEC has cleared every WATCH by then): one write per round trip a WATCHing command needs, and
//! the server busy while the other connections are read. A command starts only when no earlier
//! unfinished command could change what it sees ([`Footprint`]): touching the same keys, or the current
//! session, or the connection's state — unless that earlier command has sent its last batch on the
//! main connection, ahead of it. A connection lost mid-round fails every command it carried with
//! "may have run": nothing is ever sent twice.

mod footprint;
mod lanes;

pub use footprint::Footprint;
use footprint::Gathered;
use lanes::Lane;
pub use lanes::Pool;

use crate::error::Error;

use crate::exec::conn::Address;
use crate::exec::job::{Finish, Job, Kind};
use crate::exec::{Args, Executor, reply_text};
use crate::redis::reply::Reply;
use crate::redis::resp::pack_into;
use crate::session::parse::Command;
use crate::session::plan::{Batch, Machine, Outcome};

/// What one line of a script asks for.
pub enum Work {
    Raw(Args),
    Session(Command),
    /// Found wrong before anything was sent (bad quoting…): reported in its place.
    Failed(Error),
}

pub struct Entry {
    pub line: usize,
    pub work: Work,
}

/// How the session store takes part in a window.
pub trait Sessions {
    fn footprint(&self, cmd: &Command) -> Footprint;
    /// The command's step machine, made when it starts (an omitted id is the current session then).
    fn machine(&mut self, cmd: Command, server: &Address) -> Result<Box<dyn Machine>, Error>;
    /// Takes in a finished command's outcome: the lines to show, and its error.
    fn take_in(&mut self, outcome: Outcome) -> (Vec<String>, Option<Error>);
}

enum State {
    Waiting(Work),
    Active { job: Box<Job<'static>>, next: Option<Batch>, lane: Option<usize> },
    Done,
}

struct Slot {
    line: usize,
    /// A session command: it decides from the shell's state (current session, MULTI) as it starts.
    session: bool,
    state: State,
    /// A finished session command's outcome, taken in when its transcript is printed, in input order.
    outcome: Option<Outcome>,
    footprint: Footprint,
    transcript: Vec<u8>,
    error: Option<Error>,
    /// Its last batch has been sent on the main connection: later commands may follow it there.
    final_sent: bool,
    /// A SELECT whose answer was lost still names the database the script meant to be in.
    select: Option<i64>,
    /// Waiting in [`Pool::waiting`] for a connection of its own.
    queued: bool,
    /// Cluster: where its next batch goes instead of its slot's node (a redirect), and whether
    /// that node needs `ASKING` first; and how many redirects it followed.
    redirect: Option<(Address, bool)>,
    redirects: usize,
    /// Cluster: the node its last batch went to (the node in use after it, one at a time).
    last_node: Option<Address>,
    /// Cluster: a batch across slots going one command at a time.
    parts: Option<Parts>,
}

/// Cluster: a batch whose commands live in different slots (an undo, a fallback, the reads of a
/// listing), sent slot by slot, its replies gathered for the command.
struct Parts {
    whole: Batch,
    replies: Vec<Reply>,
}

impl Parts {
    /// The next commands whose keys share a slot, as a batch of their own.
    fn part(&self) -> Batch {
        let rest = &self.whole.cmds[self.replies.len()..];
        let slot = rest.first().and_then(|c| crate::redis::cluster::command_slot(c));
        let n = 1 + rest[1..]
            .iter()
            .take_while(|c| slot.is_some() && crate::redis::cluster::command_slot(c) == slot)
            .count();
        let cmds = rest[..n].to_vec();
        Batch {
            // The part with the WATCH takes the command's connection of its own on that node.
            watch: cmds.iter().any(|c| c.first().is_some_and(|w| w.eq_ignore_ascii_case(b"watch"))),
            cmds,
            quiet: self.whole.quiet,
            last: self.whole.last && n == rest.len(),
            ..Batch::default()
        }
    }
}

/// Whether the keyed commands of a batch (not a transaction) live in more than one slot.
fn spans_slots(batch: &Batch) -> bool {
    let mut slots = batch.cmds.iter().filter_map(|c| crate::redis::cluster::command_slot(c));
    let Some(first) = slots.next() else { return false };
    slots.any(|s| s != first) && !batch.cmds.iter().any(|c| tx_state(c, false))
}

/// One batch on its way through a connection.
struct InFlight {
    slot: usize,
    batch: Batch,
    /// Each command (or transaction) went after an `ASKING` (cluster, after an ASK redirect).
    asking: bool,
}

/// How many redirections one command's batch may follow (a slot can move while it is in flight).
const MAX_REDIRECTS: usize = 8;

impl Executor {
    /// Runs a window; whether any of its lines failed. Transcripts and errors are printed in input
    /// order as soon as every line before them is done.
    pub fn run_window(&mut self, entries: Vec<Entry>, sessions: &mut dyn Sessions) -> bool {
        // Plain commands alone all go out on the main connection in input order: nothing to weigh.
        let mixed = entries.iter().any(|e| matches!(e.work, Work::Session(_)));
        let mut slots: Vec<Slot> = entries
            .into_iter()
            .map(|e| {
                let (footprint, select) = match &e.work {
                    Work::Raw(cmd) if mixed => (Footprint::raw(cmd), select_of(cmd)),
                    Work::Raw(cmd) => (Footprint::default(), select_of(cmd)),
                    Work::Session(cmd) => (sessions.footprint(cmd), None),
                    Work::Failed(_) => (Footprint::default(), None),
                };
                Slot {
                    line: e.line,
                    session: matches!(e.work, Work::Session(_)),
                    state: State::Waiting(e.work),
                    outcome: None,
                    footprint,
                    transcript: Vec::new(),
                    error: None,
                    final_sent: false,
                    select,
                    queued: false,
                    redirect: None,
                    redirects: 0,
                    last_node: None,
                    parts: None,
                }
            })
            .collect();
        let cluster = self.conn.target.cluster;
        if cluster && self.conn.slots.is_empty() {
            // Without a slot map every batch goes to the node in use, and redirects sort it out.
            let _ = self.conn.refresh_slots();
        }
        let mut unstarted = slots.len();
        let mut printed = 0;
        let mut failed = false;
        self.pool.waiting.clear();
        self.pool.ready.clear();
        for own in &mut self.pool.own {
            own.checked = false;
        }
        while printed < slots.len() {
            let mut started = false;
            if unstarted > 0 {
                // The unfinished lines a later one may have to wait for: those still to send a
                // batch, and (for one that needs a connection of its own) those whose last batch is
                // in flight. Their footprints are gathered as they go, so each line is weighed once,
                // not once per line before it.
                let (mut unsent, mut in_flight) = (Gathered::default(), Gathered::default());
                let mut writes_current = false;
                for (i, slot) in slots.iter_mut().enumerate().skip(printed) {
                    if matches!(slot.state, State::Waiting(_))
                        && may_start(slot, &unsent, &in_flight, writes_current)
                    {
                        self.start(slot, sessions);
                        if matches!(slot.state, State::Active { next: Some(_), .. }) {
                            self.pool.ready.push(i);
                        }
                        started = true;
                        unstarted -= 1;
                    }
                    writes_current |= slot.footprint.writes_current;
                    match slot.state {
                        State::Done => {}
                        State::Active { .. } if slot.final_sent => in_flight.add(&slot.footprint),
                        _ => unsent.add(&slot.footprint),
                    }
                }
            }
            let moved = self.round(&mut slots);
            while printed < slots.len() && matches!(slots[printed].state, State::Done) {
                let slot = &mut slots[printed];
                if let Some(outcome) = slot.outcome.take() {
                    let (lines, error) = sessions.take_in(outcome);
                    for line in lines {
                        self.out.render_summary(&mut slot.transcript, &line);
                    }
                    slot.error = error;
                }
                self.out.write(&slot.transcript);
                if let Some(e) = slot.error.take() {
                    if !e.is_success() {
                        failed = true;
                    }
                    self.out.error(Some(slot.line), &e);
                }
                printed += 1;
            }
            if !started && !moved && printed < slots.len() {
                // Cannot happen (the first unfinished line can always start); never spin.
                let slot = &mut slots[printed];
                slot.error = Some(Error::Other("internal: a pipelined line could not start".into()));
                slot.state = State::Done;
            }
        }
        // One at a time, each batch makes its node the node in use: so does the window's last.
        if let Some(node) = slots.iter_mut().rev().find_map(|s| s.last_node.take()) {
            self.conn.switch_to(node);
        }
        if self.out.flush_each {
            self.out.flush();
        }
        failed
    }

    fn start(&mut self, slot: &mut Slot, sessions: &mut dyn Sessions) {
        let State::Waiting(work) = std::mem::replace(&mut slot.state, State::Done) else { return };
        let kind = match work {
            Work::Failed(e) => {
                slot.error = Some(e);
                return;
            }
            Work::Raw(cmd) => Kind::Raw(Some(cmd)),
            Work::Session(_) if self.conn.in_transaction() => {
                slot.error = Some(Error::Session(IN_MULTI.into()));
                return;
            }
            Work::Session(cmd) => match sessions.machine(cmd, &self.conn.target.address) {
                Ok(m) => Kind::Session(m),
                Err(e) => {
                    slot.error = Some(e);
                    return;
                }
            },
        };
        let mut job = Box::new(Job::new(kind));
        job.wait = self.wait;
        let next = job.begin();
        // A single-batch command goes out this very round, in input order, ahead of what follows.
        slot.final_sent = next.as_ref().is_some_and(|b| b.last && !job.needs_own_lane(b));
        slot.state = State::Active { job, next, lane: None };
        self.settle(slot);
    }

    /// After a job moved on: notes shown, a finished job's outcome taken in.
    fn settle(&mut self, slot: &mut Slot) {
        let State::Active { job, next, lane } = &mut slot.state else { return };
        for note in job.notes.drain(..) {
            self.out.render_summary(&mut slot.transcript, &note);
        }
        if next.is_some() {
            return;
        }
        match job.finish.take() {
            Some(Finish::Raw(reply)) if reply.is_error() => {
                slot.error = Some(Error::Reply(reply_text(&reply)))
            }
            Some(Finish::Raw(_)) => {}
            Some(Finish::Session(outcome)) => slot.outcome = Some(outcome),
            None => {}
        }
        if let Some(lane) = lane.take() {
            self.release(lane);
        }
        slot.state = State::Done;
    }

    /// Sends every running command's next batch, then reads every answer on its way; whether
    /// anything moved. A connection of its own is not left idle while the others are read: as soon
    /// as its answers are in, its command's next batch — or, once that command has lifted its
    /// WATCH, the first batch of the next command waiting for a connection — is written to it, to
    /// be read next round.
    fn round(&mut self, slots: &mut [Slot]) -> bool {
        let mut moved = self.serve_waiting(slots);
        let mut ready = std::mem::take(&mut self.pool.ready);
        // In input order: on the main connection, commands go out in the order of their lines.
        ready.sort_unstable();
        for &i in &ready {
            moved |= self.dispatch(slots, i);
        }
        ready.clear();
        self.pool.ready = ready;
        self.write_all(slots);
        for lane in self.lanes() {
            let n = self.queue(lane).flights.len();
            if n == 0 {
                continue;
            }
            moved = true;
            let Some(answered) = self.read_lane(lane, n, slots) else { continue };
            for i in answered {
                match &slots[i].state {
                    State::Active { lane: Some(l), next: Some(_), .. } if lane == Lane::Own(*l) => {
                        self.dispatch(slots, i);
                    }
                    State::Active { next: Some(_), .. } => self.pool.ready.push(i),
                    _ => {}
                }
            }
            if let Lane::Own(k) = lane {
                self.follow_on(k, slots);
                self.write(lane, slots);
            }
        }
        moved
    }

    /// Packs slot `i`'s next batch for the connection it goes on; whether it did. A batch that
    /// lifts its command's WATCH (EXEC, UNWATCH) frees the connection for the next command at
    /// once: that command's batches follow it on the same connection, where EXEC has already
    /// cleared every WATCH. On a cluster a batch goes to the node of its slot.
    fn dispatch(&mut self, slots: &mut [Slot], i: usize) -> bool {
        let slot = &mut slots[i];
        let State::Active { job, next, lane } = &mut slot.state else { return false };
        let Some(mut batch) = next.take() else { return false };
        let mut asking = false;
        // On a cluster, the node the batch goes to.
        let mut to = None;
        if self.conn.target.cluster {
            if slot.parts.is_none() && spans_slots(&batch) {
                for note in &batch.notes {
                    self.out.render_summary(&mut slot.transcript, note);
                }
                let parts = Parts { whole: batch, replies: Vec::new() };
                batch = parts.part();
                slot.parts = Some(parts);
            }
            let (node, ask) = match slot.redirect.take() {
                Some(redirected) => redirected,
                None => (self.node_for(&batch, *lane), false),
            };
            asking = ask;
            slot.last_node = Some(node.clone());
            to = Some(node);
        }
        let at = match (*lane, &to) {
            (Some(k), None) => Lane::Own(k),
            (Some(k), Some(node)) if self.own_node(k) == Some(node) => Lane::Own(k),
            // A command WATCHes on one node at a time (see the machines' orders on a cluster).
            (Some(_), Some(_)) if batch.watch => {
                slot.error = Some(Error::Other("internal: a WATCH on a second node".into()));
                slot.state = State::Done;
                return true;
            }
            // Not the node of its WATCH: that node's shared connection.
            (Some(_), Some(node)) => self.node_lane(node.clone()),
            (None, _) if job.needs_own_lane(&batch) => match self.acquire(to.as_ref()) {
                Ok(Some(k)) => {
                    *lane = Some(k);
                    Lane::Own(k)
                }
                // Every connection of the pool is taken: the command waits for one to free up.
                Ok(None) => {
                    *next = Some(batch);
                    // It is routed again when it goes (the slot map may have changed).
                    if let (Some(node), true) = (to, asking) {
                        slot.redirect = Some((node, true));
                    }
                    if !std::mem::replace(&mut slot.queued, true) {
                        self.pool.waiting.push_back(i);
                    }
                    return false;
                }
                Err(e) => {
                    slot.error = Some(e);
                    slot.state = State::Done;
                    return true;
                }
            },
            (None, Some(node)) => self.node_lane(node.clone()),
            (None, None) => Lane::Main,
        };
        slot.final_sent = batch.last && matches!(at, Lane::Main | Lane::Node(_));
        for note in &batch.notes {
            self.out.render_summary(&mut slot.transcript, note);
        }
        if let (Lane::Own(k), true) = (at, lifts_watch(&batch)) {
            *lane = None;
            self.release(k);
        }
        let q = self.queue(at);
        let mut in_multi = false;
        for cmd in &batch.cmds {
            if asking {
                // Inside MULTI the ASKING given before it still holds (Redis keeps it for the block).
                if !in_multi {
                    pack_into(&mut q.out, &[b"ASKING".to_vec()]);
                }
                in_multi = tx_state(cmd, in_multi);
            }
            pack_into(&mut q.out, cmd);
        }
        q.packed.push(InFlight { slot: i, batch, asking });
        true
    }

    /// Cluster: the node a batch goes to — the one it names, else the one serving its keys' slot;
    /// a batch without keys (UNWATCH) goes to the node of the command's WATCH, else to the node in
    /// use (also when the map does not say).
    fn node_for(&mut self, batch: &Batch, lane: Option<usize>) -> Address {
        if let Some((host, port)) = &batch.node {
            return Address::Tcp { host: host.clone(), port: *port };
        }
        if self.conn.slots.is_empty() {
            // A node was lost (its slots forgotten): any node still up gives the map again.
            let _ = self.conn.refresh_slots();
        }
        let keyed = batch.cmds.iter().find_map(|c| crate::redis::cluster::command_slot(c));
        match keyed {
            Some(slot) => self.conn.slots.node(slot).cloned(),
            None => lane.and_then(|k| self.own_node(k).cloned()),
        }
        .unwrap_or_else(|| self.conn.target.address.clone())
    }

    /// Gives connections that are free to the commands waiting for one, in input order; whether
    /// any was given.
    fn serve_waiting(&mut self, slots: &mut [Slot]) -> bool {
        let mut served = false;
        while let Some(&i) = self.pool.waiting.front() {
            let waits = waits_for_lane(&slots[i]);
            if waits && !self.pool_has_room() {
                break;
            }
            self.pool.waiting.pop_front();
            slots[i].queued = false;
            if waits {
                // Not served after all (the free connection is on another node): it went back in
                // the queue; the others wait their turn too.
                if !self.dispatch(slots, i) {
                    break;
                }
                served = true;
            }
        }
        served
    }

    /// When the command on connection `pool.own[k]` has lifted its WATCH, the next command waiting
    /// for a connection follows it there, in the same write.
    fn follow_on(&mut self, k: usize, slots: &mut [Slot]) {
        while let Some(&i) = self.pool.waiting.front() {
            if waits_for_lane(&slots[i]) {
                let node = self.waiting_node(&slots[i]);
                let target = self.target_for(node.as_ref());
                let own = &mut self.pool.own[k];
                if own.busy || !own.link.as_ref().is_some_and(|(_, t)| *t == target) {
                    return;
                }
                own.busy = true;
                if let State::Active { lane, .. } = &mut slots[i].state {
                    *lane = Some(k);
                }
                self.dispatch(slots, i);
            }
            self.pool.waiting.pop_front();
            slots[i].queued = false;
        }
    }

    /// Reads the answers to the `n` oldest batches written to a connection and hands them to their
    /// commands; the commands answered, or `None` when the connection was lost. On a cluster a
    /// batch is read whole before it is shown: one the cluster redirected shows as its redirect
    /// line only, as one at a time, and goes again where it was sent.
    fn read_lane(&mut self, lane: Lane, n: usize, slots: &mut [Slot]) -> Option<Vec<usize>> {
        let mut answered = Vec::with_capacity(n);
        let node = self.lane_node(lane);
        for _ in 0..n {
            let f = self.queue(lane).flights.pop_front()?;
            let slot = &mut slots[f.slot];
            let mut replies = Vec::with_capacity(f.batch.cmds.len());
            let mut in_multi = false;
            for (k, cmd) in f.batch.cmds.iter().enumerate() {
                // On a cluster a batch is shown once it is read whole (see `render_node`).
                let prompt = if self.out.echo && node.is_none() { self.conn.prompt() } else { String::new() };
                let mut got = Ok(Reply::Nil);
                if f.asking {
                    if !in_multi {
                        got = self.lane_recv(lane, b"ASKING", &mut slot.transcript).map(|_| Reply::Nil);
                    }
                    in_multi = tx_state(cmd, in_multi);
                }
                let name = cmd.first().map(Vec::as_slice).unwrap_or_default();
                match got.and_then(|_| self.lane_recv(lane, name, &mut slot.transcript)) {
                    Ok(reply) => {
                        if node.is_none() && !f.batch.quiet {
                            self.out.render_echo(&mut slot.transcript, &prompt, cmd);
                            self.out.render_reply(&mut slot.transcript, cmd, &reply);
                            self.conn.observe(cmd, &reply);
                        }
                        replies.push(reply);
                    }
                    Err(e) => {
                        let lost = match e {
                            Error::Lost(_) => e,
                            other => Error::Lost(other.to_string()),
                        };
                        let mut prompt = prompt;
                        if let Some(node) = &node {
                            if !f.batch.quiet {
                                // What did come back is shown before the loss, as one at a time.
                                self.render_node(node, &mut slot.transcript, &f.batch.cmds, &replies);
                            }
                            if self.out.echo {
                                prompt = self.conn.prompt_at(node);
                            }
                        }
                        self.fail_at(slot, lane, lost.clone(), &f.batch.cmds[k..], &prompt);
                        self.lane_lost(lane, lost, slots, &answered);
                        return None;
                    }
                }
            }
            if let Some(node) = &node {
                if let Some(r) = replies.iter().find_map(crate::redis::cluster::redirect_of) {
                    self.redirect(slot, f.batch, &r);
                    answered.push(f.slot);
                    continue;
                }
                if !f.batch.quiet {
                    self.render_node(node, &mut slot.transcript, &f.batch.cmds, &replies);
                }
            }
            if let State::Active { job, next, .. } = &mut slot.state {
                match slot.parts.take() {
                    Some(mut parts) => {
                        parts.replies.extend(replies);
                        if parts.replies.len() < parts.whole.cmds.len() {
                            *next = Some(parts.part());
                            slot.parts = Some(parts);
                        } else {
                            *next = job.answer(&parts.whole, parts.replies);
                        }
                    }
                    None => *next = job.answer(&f.batch, replies),
                }
            }
            self.settle(slot);
            answered.push(f.slot);
        }
        Some(answered)
    }

    /// Cluster: commands sent to `node` and their replies, each echoed with that node's prompt.
    fn render_node(&mut self, node: &Address, transcript: &mut Vec<u8>, cmds: &[Args], replies: &[Reply]) {
        for (cmd, reply) in cmds.iter().zip(replies) {
            if self.out.echo {
                let prompt = self.conn.prompt_at(node);
                self.out.render_echo(transcript, &prompt, cmd);
            }
            self.out.render_reply(transcript, cmd, reply);
            self.conn.observe(cmd, reply);
        }
    }

    /// Cluster: a batch the cluster redirected (nothing of it ran) goes again where it is sent,
    /// after redis-cli's redirect line.
    fn redirect(&mut self, slot: &mut Slot, batch: Batch, r: &crate::redis::cluster::Redirect) {
        let node = r.node(&self.conn.target.address);
        if self.out.show_redirects {
            slot.transcript.extend_from_slice(super::redirect_line(r.slot, &node).as_bytes());
        }
        if !r.ask {
            self.conn.slots.learn(r.slot, node.clone());
        }
        slot.redirects += 1;
        if slot.redirects > MAX_REDIRECTS {
            slot.error = Some(Error::Other(format!("gave up after {MAX_REDIRECTS} cluster redirections")));
            slot.state = State::Done;
            return;
        }
        slot.redirect = Some((node, r.ask));
        if let State::Active { next, lane, .. } = &mut slot.state {
            // A WATCH the old node refused stands nowhere: the command WATCHes again on the new one.
            if batch.watch
                && let Some(k) = lane.take()
            {
                self.release(k);
            }
            *next = Some(batch);
        }
    }

    /// A connection is gone: every batch still on it fails (each may have run), and so does every
    /// command whose WATCH stood on it, answered so far or not; nothing is ever sent again.
    fn lane_lost(&mut self, lane: Lane, e: Error, slots: &mut [Slot], answered: &[usize]) {
        let q = self.queue(lane);
        let rest: Vec<InFlight> = q.flights.drain(..).chain(q.packed.drain(..)).collect();
        q.out.clear();
        for f in rest {
            self.fail(&mut slots[f.slot], lane, e.clone(), &f.batch.cmds);
        }
        for &i in answered {
            if matches!(&slots[i].state, State::Active { lane: Some(l), .. } if lane == Lane::Own(*l)) {
                self.fail(&mut slots[i], lane, e.clone(), &[]);
            }
        }
        self.drop_lane(lane);
    }

    /// Ends a line whose commands `cmds` were sent (or were to be) when `e` struck: they are shown,
    /// then the error; none is ever sent again.
    fn fail(&mut self, slot: &mut Slot, lane: Lane, e: Error, cmds: &[Args]) {
        let prompt = match self.lane_node(lane) {
            Some(node) => self.conn.prompt_at(&node),
            None => self.conn.prompt(),
        };
        self.fail_at(slot, lane, e, cmds, &prompt);
    }

    fn fail_at(&mut self, slot: &mut Slot, lane: Lane, e: Error, cmds: &[Args], prompt: &str) {
        if matches!(slot.state, State::Done) {
            return;
        }
        if let Some(cmd) = cmds.first() {
            self.out.render_echo(&mut slot.transcript, prompt, cmd);
        }
        if let (Error::Lost(_), Some(db)) = (&e, slot.select) {
            // The script meant to be in that database: the reconnection goes there.
            self.conn.target.db = db;
        }
        slot.error = Some(e);
        if let State::Active { lane: Some(own), .. } = slot.state
            && lane != Lane::Own(own)
        {
            self.drop_lane(Lane::Own(own));
        }
        slot.state = State::Done;
    }

    /// Cluster: the node a command waiting for a connection of its own will WATCH on.
    fn waiting_node(&mut self, slot: &Slot) -> Option<Address> {
        if !self.conn.target.cluster {
            return None;
        }
        if let Some((node, _)) = &slot.redirect {
            return Some(node.clone());
        }
        let State::Active { next: Some(batch), .. } = &slot.state else { return None };
        Some(self.node_for(batch, None))
    }
}

/// Whether the next command is inside MULTI, after `cmd`.
fn tx_state(cmd: &[Vec<u8>], in_multi: bool) -> bool {
    match cmd.first() {
        Some(w) if w.eq_ignore_ascii_case(b"multi") => true,
        Some(w) if w.eq_ignore_ascii_case(b"exec") || w.eq_ignore_ascii_case(b"discard") => false,
        _ => in_multi,
    }
}

/// A command started whose next batch waits for a connection of its own.
fn waits_for_lane(slot: &Slot) -> bool {
    matches!(&slot.state, State::Active { next: Some(_), lane: None, .. })
}

/// Whether a batch leaves no WATCH standing on its connection: after it, the connection may carry
/// another command's batches.
fn lifts_watch(batch: &Batch) -> bool {
    let last = batch.cmds.iter().rev().find_map(|c| {
        let name = c.first()?;
        ["watch", "exec", "unwatch", "discard"].into_iter().find(|w| name.eq_ignore_ascii_case(w.as_bytes()))
    });
    matches!(last, Some("exec" | "unwatch" | "discard"))
}

/// Said when a session command comes inside MULTI.
pub const IN_MULTI: &str = "session commands cannot run inside MULTI: EXEC or DISCARD first";

/// `SELECT n`: the database it asks for.
fn select_of(cmd: &[Vec<u8>]) -> Option<i64> {
    match cmd {
        [name, db] if name.eq_ignore_ascii_case(b"select") => std::str::from_utf8(db).ok()?.parse().ok(),
        _ => None,
    }
}

/// Whether a line may start now: no unfinished line before it could change what it sees. A line
/// whose last batch is already on the main connection cannot, for what follows it there; but a
/// session command decides as it starts, from the shell's state: it waits for every earlier line
/// that changes the connection (MULTI…) to be answered, and one that uses the current session for
/// every earlier line that may change it to be taken in.
fn may_start(slot: &Slot, unsent: &Gathered, in_flight: &Gathered, writes_current: bool) -> bool {
    !unsent.conflicts(&slot.footprint)
        && (!slot.footprint.own_lane || !in_flight.conflicts(&slot.footprint))
        && (!slot.session || !in_flight.state)
        && (!slot.footprint.reads_current || !writes_current)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(line: &str) -> Vec<Vec<u8>> {
        line.split(' ').map(|w| w.as_bytes().to_vec()).collect()
    }

    #[test]
    fn select_names_its_database() {
        assert_eq!(select_of(&a("select 3")), Some(3));
        assert_eq!(select_of(&a("GET 3")), None);
    }
}
