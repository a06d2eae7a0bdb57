//! `events`: listening to keyspace notifications on separate connections (one per master on a
//! cluster, since notifications are node-local), in the foreground for a while (`events SECONDS`) or
//! in the background of the interactive shell, printing above the prompt through rustyline's
//! external printer. What the notifications mean is decided in `events`.
//!
//! What is echoed: `CONFIG GET`/`CONFIG SET` and the index `SREM`s go through an executor like every
//! other command. The lookups of sessions it has not seen (`HMGET`) go through the executor too, as
//! quiet reads counted in the line printed when listening stops. The listening connections are the
//! one exception to "only the executor talks to Redis" (each needs a subscribed connection of its
//! own): their `SUBSCRIBE` is shown once, as an echo line.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::redis::reply::Reply;

use crate::error::Error;
use crate::exec::conn::{Address, Conn, Target};
use crate::exec::{Executor, Output, args, pack_into};
use crate::interrupt;
use crate::session::events::{
    Cache, Flags, Lifecycle, Notification, Owner, Subscription, Tracker, parse_notification,
};
use crate::session::keys::session_key_of_stored;
use crate::session::{Store, audit, elements, err, plan, text};

/// What `events` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `events`: listen in the background of the interactive shell.
    Background,
    /// `events off`.
    Off,
    /// `events SECONDS [--count N]`: listen in the foreground; 0 ms means until Ctrl-C.
    For { millis: u64, count: Option<u64> },
    /// `redsh events` (the command after the flags): listen in the foreground until Ctrl-C or
    /// SIGTERM, then print the counts line and exit (status 0).
    UntilStopped,
}

/// Parses the words after `events`.
pub fn parse_request(rest: &[Vec<u8>]) -> Result<Request, String> {
    let usage = "usage: events [SECONDS|off] [--count N]";
    let words: Vec<String> = rest.iter().map(|w| String::from_utf8_lossy(w).into_owned()).collect();
    let mut seconds = None;
    let mut count = None;
    let mut i = 0;
    while i < words.len() {
        match words[i].as_str() {
            "off" if words.len() == 1 => return Ok(Request::Off),
            "--count" => {
                let n = words.get(i + 1).and_then(|n| n.parse::<u64>().ok()).filter(|&n| n > 0);
                count = Some(n.ok_or_else(|| format!("--count needs a whole number above 0; {usage}"))?);
                i += 1;
            }
            w if seconds.is_none() => {
                let s: f64 = w.parse().map_err(|_| format!("'{w}' is not a number of seconds; {usage}"))?;
                if !s.is_finite() || !(0.0..=1e9).contains(&s) {
                    return Err(format!("SECONDS must be 0 or more, not {w}; {usage}"));
                }
                seconds = Some((s * 1000.0).round() as u64);
            }
            _ => return Err(usage.to_owned()),
        }
        i += 1;
    }
    Ok(match (seconds, count) {
        (None, None) => Request::Background,
        (s, count) => Request::For { millis: s.unwrap_or(0), count },
    })
}

/// rustyline's external printer, shared by the shell and the background listener.
pub type Printer = Arc<Mutex<Box<dyn rustyline::ExternalPrinter + Send>>>;

/// How often a listening thread looks up from its socket to see whether it should stop.
const POLL: Duration = Duration::from_millis(250);

/// The fields a lookup reads.
const OWNER_FIELDS: [&str; 5] = ["user_id", "username", "role", "login_time", "ip"];

/// What a listening thread tells the consumer.
enum Msg {
    Ready,
    Failed(String, String),
    Event(Notification),
    Lost(String, String),
}

/// The listening threads and their messages.
struct Listeners {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    rx: Receiver<Msg>,
    /// Notifications that arrived while waiting for every node to be ready.
    early: Vec<Notification>,
    connections: usize,
}

impl Listeners {
    /// Subscribes on every node and waits until each has confirmed.
    fn start(nodes: Vec<(Target, Subscription)>, wait: Duration) -> Result<Listeners, Error> {
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let n = nodes.len();
        let threads = nodes
            .into_iter()
            .map(|(target, sub)| {
                let (tx, stop) = (tx.clone(), stop.clone());
                std::thread::spawn(move || listen(target, sub, tx, stop))
            })
            .collect();
        let mut me = Listeners { stop, threads, rx, early: Vec::new(), connections: n };
        let deadline = Instant::now() + wait;
        let mut ready = 0;
        while ready < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match me.rx.recv_timeout(left) {
                Ok(Msg::Ready) => ready += 1,
                Ok(Msg::Event(e)) => me.early.push(e),
                Ok(Msg::Failed(node, why) | Msg::Lost(node, why)) => {
                    me.stop();
                    return Err(err(format!(
                        "events: subscribing on {node} failed: {why}{}",
                        acl_hint(&why)
                    )));
                }
                Err(_) => {
                    me.stop();
                    return Err(err("events: the server did not confirm the subscription in time"));
                }
            }
        }
        Ok(me)
    }

    /// Tells the threads to stop and waits for them (at most about one poll interval).
    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Keeps Ctrl-C (and SIGTERM) away from this thread: they are meant for the main thread, whose
/// blocked read they must interrupt (see `interrupt`); here they would only break a listening
/// connection's read.
fn block_sigint_here() {
    // SAFETY: a signal mask built from an emptied set, applied to the calling thread only.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

fn acl_hint(why: &str) -> &'static str {
    if why.starts_with("NOPERM") {
        " (an ACL user needs +subscribe and the channels &__keyevent@*__:*, or +psubscribe and &__keyspace@*__:*)"
    } else {
        ""
    }
}

/// One listening connection: subscribe, confirm, then forward session notifications until told
/// to stop or the connection is lost.
fn listen(target: Target, sub: Subscription, tx: Sender<Msg>, stop: Arc<AtomicBool>) {
    block_sigint_here();
    let node = target.address.label();
    let failed = |why: String| {
        let _ = tx.send(Msg::Failed(node.clone(), why));
    };
    let mut con = match target.connect() {
        Ok(c) => c,
        Err(e) => return failed(e.to_string()),
    };
    con.set_read_timeout(Some(target.connect_timeout));
    let mut packed = Vec::new();
    pack_into(&mut packed, &sub.command());
    if let Err(e) = con.send(&packed) {
        return failed(e.to_string());
    }
    for _ in 0..sub.confirmations() {
        match con.recv() {
            Ok(Reply::Error(e)) => return failed(String::from_utf8_lossy(&e).into_owned()),
            Ok(_) => {}
            Err(e) => return failed(e.to_string()),
        }
    }
    // From here reads time out every POLL so the stop flag is seen; the reader keeps a half-read
    // message across a timeout.
    con.set_read_timeout(Some(POLL));
    let _ = tx.send(Msg::Ready);
    while !stop.load(Ordering::SeqCst) {
        match con.recv() {
            Ok(msg) => {
                // `message`/`pmessage` frames (arrays in RESP2, pushes in RESP3): channel, payload last.
                let items = msg.elements();
                let kind = items.first().and_then(|k| k.bytes()).map(<[u8]>::to_ascii_lowercase);
                let (channel, payload) = match (kind.as_deref(), items.as_slice()) {
                    (Some(b"message"), [_, ch, payload]) => (ch.bytes(), payload.bytes()),
                    (Some(b"pmessage"), [_, _, ch, payload]) => (ch.bytes(), payload.bytes()),
                    _ => (None, None),
                };
                let parsed = match (channel, payload) {
                    (Some(channel), Some(payload)) => parse_notification(channel, payload),
                    _ => None,
                };
                if let Some(n) = parsed
                    && tx.send(Msg::Event(n)).is_err()
                {
                    break;
                }
            }
            Err(crate::exec::conn::LinkError::Timeout) => {}
            Err(e) => {
                let _ = tx.send(Msg::Lost(node.clone(), e.to_string()));
                break;
            }
        }
    }
}

/// What a listening run did, for the line printed when it stops.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    /// Listening connections: one per master on a cluster.
    connections: usize,
    notifications: u64,
    lookups: u64,
    reported: u64,
    pruned: u64,
}

impl Counts {
    fn line(&self, how_long: &str) -> String {
        format!(
            "events: stopped{how_long}: {} session event(s), {} index entr{} pruned; {} received {} \
             notification(s) and sent {} HMGET lookup(s)",
            self.reported,
            self.pruned,
            if self.pruned == 1 { "y" } else { "ies" },
            match self.connections {
                1 => "the listening connection".to_owned(),
                n => format!("the {n} listening connections"),
            },
            self.notifications,
            self.lookups
        )
    }
}

/// Turns notifications into printed events: looks up sessions it does not know (quietly), prints
/// each event, and prunes the index entry a session that ended on its own left behind (echoed):
/// both through the executor it is given.
struct Consumer {
    tracker: Tracker,
    cache: Arc<Mutex<Cache>>,
    audit: Option<String>,
    counts: Counts,
}

impl Consumer {
    fn new(store: &Store, connections: usize) -> Consumer {
        Consumer {
            // On a cluster with the plain layout a renew deletes the old id before the new one exists.
            tracker: Tracker::new(store.settings.cluster),
            cache: store.watch.cache.clone(),
            audit: store.settings.audit_stream.clone(),
            counts: Counts { connections, ..Counts::default() },
        }
    }

    fn handle(&mut self, ex: &mut Executor, n: Notification) -> Result<(), Error> {
        self.counts.notifications += 1;
        let unknown = Tracker::wants_lookup(&n, &lock(&self.cache));
        if unknown && let Some(owner) = self.look_up(ex, &n.stored) {
            lock(&self.cache).learn(&n.stored, owner);
        }
        let events = self.tracker.observe(n, &mut lock(&self.cache), Instant::now());
        self.report(ex, events)
    }

    fn tick(&mut self, ex: &mut Executor) -> Result<(), Error> {
        let events = self.tracker.tick(Instant::now());
        self.report(ex, events)
    }

    fn finish(&mut self, ex: &mut Executor) -> Result<(), Error> {
        let events = self.tracker.finish();
        self.report(ex, events)
    }

    /// Reads a session's owner through the executor, quietly (not echoed: counted).
    fn look_up(&mut self, ex: &mut Executor, stored: &str) -> Option<Owner> {
        let key = session_key_of_stored(stored);
        self.counts.lookups += 1;
        let mut cmd = args(["HMGET", key.as_str()]);
        cmd.extend(OWNER_FIELDS.iter().map(|f| f.as_bytes().to_vec()));
        let reply = ex.read_quiet(&[cmd]).ok()?.pop()?;
        let values = elements(Some(&reply));
        Owner::from_fields(|f| {
            let i = OWNER_FIELDS.iter().position(|x| *x == f)?;
            match values.get(i) {
                Some(Reply::Bulk(b)) => Some(b.clone()),
                _ => None,
            }
        })
    }

    fn report(&mut self, ex: &mut Executor, events: Vec<Lifecycle>) -> Result<(), Error> {
        for event in events {
            self.counts.reported += 1;
            ex.out().summary(&event.line());
            if let Some((index, member)) = event.stale_entry() {
                let what = if matches!(event, Lifecycle::Evicted { .. }) { "evicted" } else { "expired" };
                let user = match &event {
                    Lifecycle::Expired { owner: Some(o), .. } | Lifecycle::Evicted { owner: Some(o), .. } => {
                        o.user_id.clone()
                    }
                    _ => String::new(),
                };
                let srem = args(["SREM", &index, &member]);
                let entry = self.audit.as_ref().map(|stream| {
                    audit::entry(
                        stream,
                        what,
                        &[("id", member.as_bytes()), ("user", user.as_bytes()), ("seen", b"events")],
                    )
                });
                let replies = match entry {
                    None => ex.run(&[srem])?,
                    Some(entry) if ex.is_cluster() => {
                        let r = ex.run(&[srem])?;
                        ex.run(&[entry])?;
                        r
                    }
                    Some(entry) => ex.run(&plan::transaction(vec![srem, entry]))?,
                };
                let removed = match replies.last() {
                    Some(Reply::Array(items)) => super::int(items.first()),
                    other => super::int(other),
                };
                if removed == Some(1) {
                    self.counts.pruned += 1;
                }
            }
            ex.out().flush();
        }
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere cannot leave the cache half-updated in a way that matters here.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Writes to the terminal above the prompt: the buffered text goes out on flush.
struct PrinterOut {
    printer: Printer,
    buf: Vec<u8>,
}

impl Write for PrinterOut {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.buf).into_owned();
        self.buf.clear();
        lock(&self.printer).print(text).map_err(std::io::Error::other)
    }
}

/// The background listener of the interactive shell.
struct Background {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Counts>,
    /// The server and database it hears (on one server; a cluster's listeners cover every master).
    serves: (Address, i64),
}

/// The `events` state of a store: the owner cache (fed by the store's own commands too), the
/// terminal's printer when there is one, and the background listener when it runs.
#[derive(Default)]
pub struct Watch {
    pub cache: Arc<Mutex<Cache>>,
    printer: Option<Printer>,
    background: Option<Background>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        // Tell the threads; do not wait for a server that may not answer while the shell exits.
        if let Some(bg) = &self.background {
            bg.stop.store(true, Ordering::SeqCst);
        }
    }
}

impl Store {
    /// Remembers who a session belongs to, for `events` (an expired hash can no longer be read).
    pub(super) fn learn_owner(&self, stored: &str, owner: Owner) {
        lock(&self.watch.cache).learn(stored, owner);
    }

    /// Hands the interactive shell's printer to `events`; with `--events`, starts listening.
    pub fn attach_printer(&mut self, ex: &mut Executor, printer: Box<dyn rustyline::ExternalPrinter + Send>) {
        self.watch.printer = Some(Arc::new(Mutex::new(printer)));
        if self.settings.events_at_start
            && let Err(e) = self.events(ex, Request::Background)
        {
            ex.out().error(None, &e);
        }
    }

    /// After `connect` or `SELECT` the background listener would still hear the old server or
    /// database, and its pruning would go there: it moves with the shell (the old one's counts line
    /// first). Not inside MULTI, where its CONFIG GET would be queued, and not while the shell is
    /// disconnected: it moves on a later line.
    pub fn follow_server(&mut self, ex: &mut Executor) {
        let Some(bg) = &self.watch.background else { return };
        let here = (ex.target().address.clone(), ex.target().db);
        if ex.is_cluster()
            || bg.thread.is_finished()
            || bg.serves == here
            || ex.in_transaction()
            || !ex.is_connected()
        {
            return;
        }
        for req in [Request::Off, Request::Background] {
            if let Err(e) = self.events(ex, req) {
                ex.out().error(None, &e);
                return;
            }
        }
    }

    pub(super) fn events(&mut self, ex: &mut Executor, req: Request) -> Result<(), Error> {
        match req {
            Request::Off => {
                let Some(bg) = self.watch.background.take() else {
                    ex.out().summary("events: not listening");
                    return Ok(());
                };
                bg.stop.store(true, Ordering::SeqCst);
                let counts = bg.thread.join().unwrap_or_default();
                ex.out().summary(&counts.line(""));
                Ok(())
            }
            Request::Background => {
                let Some(printer) = self.watch.printer.clone() else {
                    return Err(err(
                        "`events` alone listens in the background of the interactive shell; in a script \
                         give a duration: events SECONDS (0: until Ctrl-C) [--count N]",
                    ));
                };
                if let Some(bg) = &self.watch.background {
                    if !bg.thread.is_finished() {
                        ex.out().summary("events: already listening (`events off` stops)");
                        return Ok(());
                    }
                    self.watch.background = None;
                }
                let listeners = self.listen(ex)?;
                ex.out().summary(
                    "events: listening in the background; events print above the prompt (`events off` stops)",
                );
                self.watch.background = Some(self.background(ex, listeners, printer));
                Ok(())
            }
            Request::UntilStopped => {
                // SIGTERM ends the listening as Ctrl-C does: the counts line is still printed.
                let _term = interrupt::TermGuard::install();
                self.events(ex, Request::For { millis: 0, count: None })
            }
            Request::For { millis, count } => {
                // Before anything is sent, so that a Ctrl-C at any moment ends the listening.
                let guard = interrupt::Guard::install();
                let mut listeners = self.listen(ex)?;
                let started = Instant::now();
                let result = self.foreground(ex, &mut listeners, millis, count);
                listeners.stop();
                drop(guard);
                let (interrupted, counts) = result?;
                if interrupted {
                    ex.out().write(b"\n");
                }
                let took = format!(" after {:.1}s", started.elapsed().as_secs_f64());
                ex.out().summary(&counts.line(&took));
                Ok(())
            }
        }
    }

    /// Listens in the foreground until the time is up, `count` events were shown, or Ctrl-C.
    fn foreground(
        &mut self,
        ex: &mut Executor,
        listeners: &mut Listeners,
        millis: u64,
        count: Option<u64>,
    ) -> Result<(bool, Counts), Error> {
        let mut consumer = Consumer::new(self, listeners.connections);
        let deadline = (millis > 0).then(|| Instant::now() + Duration::from_millis(millis));
        for n in std::mem::take(&mut listeners.early) {
            consumer.handle(ex, n)?;
        }
        let mut interrupted = false;
        loop {
            if interrupt::pending() {
                interrupted = true;
                break;
            }
            if count.is_some_and(|c| consumer.counts.reported >= c) {
                break;
            }
            let wait = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left.min(Duration::from_millis(100)),
                    _ => break,
                },
                None => Duration::from_millis(100),
            };
            match listeners.rx.recv_timeout(wait) {
                Ok(Msg::Event(n)) => consumer.handle(ex, n)?,
                Ok(Msg::Lost(node, why) | Msg::Failed(node, why)) => {
                    consumer.finish(ex)?;
                    return Err(err(format!("events: lost the connection to {node}: {why}")));
                }
                Ok(Msg::Ready) | Err(RecvTimeoutError::Timeout) => consumer.tick(ex)?,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        if interrupted {
            // Ctrl-C ended the listening, not the shell: nothing else needs to start afresh.
            interrupt::take();
        }
        consumer.finish(ex)?;
        Ok((interrupted, consumer.counts))
    }

    /// Starts the consumer thread of the interactive shell: its own executor prints (and echoes
    /// the index SREMs) through the terminal's external printer.
    fn background(&mut self, ex: &mut Executor, mut listeners: Listeners, printer: Printer) -> Background {
        let target = ex.target().clone();
        let mut consumer = Consumer::new(self, listeners.connections);
        let (echo, mode, color) = (ex.out().echo, ex.out().mode, ex.out().color);
        let stop = listeners.stop.clone();
        let serves = (target.address.clone(), target.db);
        let thread = std::thread::spawn(move || {
            block_sigint_here();
            let out = Output::new(Box::new(PrinterOut { printer, buf: Vec::new() }), echo, mode, color, true);
            let mut ex = Executor::new(Conn::new(target), out, false);
            let outcome = (|| -> Result<(), Error> {
                for n in std::mem::take(&mut listeners.early) {
                    consumer.handle(&mut ex, n)?;
                }
                while !listeners.stop.load(Ordering::SeqCst) {
                    match listeners.rx.recv_timeout(Duration::from_millis(100)) {
                        Ok(Msg::Event(n)) => consumer.handle(&mut ex, n)?,
                        Ok(Msg::Lost(node, why) | Msg::Failed(node, why)) => {
                            return Err(err(format!(
                                "events: lost the connection to {node}: {why}; type `events` to listen again"
                            )));
                        }
                        Ok(Msg::Ready) | Err(RecvTimeoutError::Timeout) => consumer.tick(&mut ex)?,
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                consumer.finish(&mut ex)
            })();
            if let Err(e) = outcome {
                ex.out().summary(&e.to_string());
            }
            ex.out().flush();
            listeners.stop();
            consumer.counts
        });
        Background { stop, thread, serves }
    }

    /// Checks (and with consent sets) the notification flags on every node, announces the
    /// subscription, and starts listening.
    fn listen(&mut self, ex: &mut Executor) -> Result<Listeners, Error> {
        let masters = ex.masters()?;
        let nodes: Vec<Address> = if masters.is_empty() {
            vec![ex.target().address.clone()]
        } else {
            masters.into_iter().map(|(host, port)| Address::Tcp { host, port }).collect()
        };
        let mut subscriptions = Vec::with_capacity(nodes.len());
        for node in nodes {
            ex.use_node(&node);
            let flags = self.notification_flags(ex, &node)?;
            let sub = flags.subscription(ex.target().db);
            let mut target = ex.target().clone();
            target.address = node;
            target.cluster = false;
            target.resp3 = false;
            subscriptions.push((target, sub));
        }
        // The listening connections' traffic is not the shell's: shown once, as what they send.
        for (target, sub) in &subscriptions {
            ex.use_node(&target.address);
            ex.echo(&sub.command());
        }
        ex.out().summary(&format!(
            "events: that {} runs on a separate connection{}; sessions it has not seen are read \
             (HMGET session:<id> {}: not echoed, counted when it stops)",
            if subscriptions.iter().any(|(_, s)| matches!(s, Subscription::Keyspace(_))) {
                "PSUBSCRIBE"
            } else {
                "SUBSCRIBE"
            },
            if subscriptions.len() > 1 { " per master" } else { "" },
            OWNER_FIELDS.join(" ")
        ));
        ex.out().flush();
        Listeners::start(subscriptions, ex.target().connect_timeout + Duration::from_secs(1))
    }

    /// `CONFIG GET notify-keyspace-events` on the node in use; when it lacks what `events` needs,
    /// says what would fix it and, with `--enable-notifications` or consent, does it.
    fn notification_flags(&mut self, ex: &mut Executor, node: &Address) -> Result<Flags, Error> {
        let at = node.label();
        let reply = ex.run(&[args(["CONFIG", "GET", "notify-keyspace-events"])])?;
        let current = match reply.first() {
            Some(Reply::Error(e)) => {
                let why = String::from_utf8_lossy(e).into_owned();
                ex.out().summary(&config_refused(&at, &why));
                // Whoever runs the server may have turned them on: listen on the usual channels.
                return Ok(Flags::new("E"));
            }
            other => elements(other).get(1).and_then(text).unwrap_or_default(),
        };
        let flags = Flags::new(&current);
        if flags.enough() && flags.evictions() {
            return Ok(flags);
        }
        let merged = flags.merged();
        if flags.enough() {
            ex.out().summary(&format!(
                "events: evictions will not show: notify-keyspace-events on {at} is \"{current}\", without e \
                 (CONFIG SET notify-keyspace-events {merged} adds it)"
            ));
        } else {
            ex.out().summary(&format!(
                "events: keyspace notifications are off on {at}: notify-keyspace-events is \"{current}\"; \
                 events needs E (or K) with g (deletions) and x (expiries), and e shows evictions"
            ));
            ex.out().summary(&format!("events: to turn them on: CONFIG SET notify-keyspace-events {merged}"));
        }
        let enable = self.settings.enable_notifications
            || (!flags.enough() && self.watch.printer.is_some() && {
                ex.out().flush();
                consent("Turn them on now with that CONFIG SET? [y/N] ")
            });
        if !enable {
            if flags.enough() {
                return Ok(flags);
            }
            return Err(err(format!(
                "events needs keyspace notifications on {at}: run CONFIG SET notify-keyspace-events {merged}, \
                 or start redsh with --enable-notifications"
            )));
        }
        let reply = ex.run(&[args(["CONFIG", "SET", "notify-keyspace-events", &merged])])?;
        match reply.first() {
            Some(Reply::Error(e)) => {
                let why = String::from_utf8_lossy(e).into_owned();
                ex.out().summary(&config_refused(&at, &why));
                if flags.enough() {
                    Ok(flags)
                } else {
                    Err(err(format!("events: cannot turn notifications on at {at}")))
                }
            }
            _ => {
                ex.out().summary(
                    "events: a server restart forgets this unless redis.conf has it too (CONFIG REWRITE writes it there)",
                );
                Ok(Flags::new(&merged))
            }
        }
    }
}

/// Says plainly that CONFIG is not allowed, and what to ask for instead.
fn config_refused(at: &str, why: &str) -> String {
    let cause = if why.starts_with("NOPERM") {
        "this ACL user may not run CONFIG"
    } else if why.contains("unknown command") {
        "CONFIG is disabled or renamed on this server, as managed Redis services do"
    } else {
        "the server refused CONFIG"
    };
    format!(
        "events: {cause} ({at}: {why}); ask whoever runs the server to set notify-keyspace-events to Egxe \
         (on managed Redis: its parameter group or console). Listening anyway: nothing shows until they are on"
    )
}

/// Asks a yes/no question at the terminal; anything but y/yes (or Ctrl-C, Ctrl-D) is no.
fn consent(question: &str) -> bool {
    let Ok(mut rl) = rustyline::DefaultEditor::new() else { return false };
    matches!(rl.readline(question).as_deref().map(str::trim), Ok("y" | "Y" | "yes" | "YES" | "Yes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<Vec<u8>> {
        s.split_whitespace().map(|w| w.as_bytes().to_vec()).collect()
    }

    #[test]
    fn requests() {
        assert_eq!(parse_request(&[]), Ok(Request::Background));
        assert_eq!(parse_request(&words("off")), Ok(Request::Off));
        assert_eq!(parse_request(&words("3")), Ok(Request::For { millis: 3000, count: None }));
        assert_eq!(parse_request(&words("0.5 --count 2")), Ok(Request::For { millis: 500, count: Some(2) }));
        assert_eq!(parse_request(&words("--count 1")), Ok(Request::For { millis: 0, count: Some(1) }));
        assert_eq!(parse_request(&words("0")), Ok(Request::For { millis: 0, count: None }));
        assert!(parse_request(&words("-1")).unwrap_err().contains("0 or more"));
        assert!(parse_request(&words("soon")).unwrap_err().contains("not a number"));
        assert!(parse_request(&words("3 --count 0")).unwrap_err().contains("above 0"));
        assert!(parse_request(&words("3 4")).is_err());
        assert!(parse_request(&words("off 3")).is_err());
    }

    #[test]
    fn refusals_are_explained() {
        assert!(config_refused("h:1", "NOPERM x").contains("this ACL user may not run CONFIG"));
        assert!(config_refused("h:1", "ERR unknown command 'CONFIG'").contains("managed Redis"));
        assert_eq!(acl_hint("ERR x"), "");
    }

    #[test]
    fn counts_read_well() {
        let c = Counts { connections: 1, notifications: 3, lookups: 1, reported: 2, pruned: 1 };
        assert_eq!(
            c.line(" after 3.0s"),
            "events: stopped after 3.0s: 2 session event(s), 1 index entry pruned; the listening connection \
             received 3 notification(s) and sent 1 HMGET lookup(s)"
        );
    }
}
