//! The session store: session commands (parsed in `parse`), planned (see `plan`) and run through the executor,
//! each followed by one human summary line.

pub mod audit;
pub mod commands;
pub mod events;
pub mod fsck;
pub mod keys;
pub mod parse;
pub mod plan;
pub(crate) mod scan;
pub mod stats;
pub mod watch;
pub mod whoami;

use std::time::{SystemTime, UNIX_EPOCH};

use crate::redis::reply::Reply;

use crate::error::Error;
use crate::exec::{Args, Executor, Footprint, args};
use keys::{Layout, new_id, short};
pub use parse::{Command, parse};
use plan::NewSession;

/// Store-wide settings from the flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Idle timeout in seconds: a session not touched for this long expires.
    pub idle_ttl: u64,
    /// Absolute timeout in seconds after login, whatever the activity.
    pub absolute_ttl: u64,
    /// Most live sessions per user; 0 for no limit.
    pub max_sessions: u32,
    /// At the limit, refuse the login instead of evicting the oldest session.
    pub refuse_at_limit: bool,
    pub hash_ids: bool,
    /// Redis Cluster (`-c`): the session and its index live in different slots, so each step is
    /// atomic on its own slot and the steps run in an order that can only leave stale index entries.
    pub cluster: bool,
    /// `--key-layout tagged`: a user's sessions and index share one hash slot (see `keys::Layout`).
    pub tagged: bool,
    /// `--audit-stream NAME`: each session command also appends an entry to this stream (see `audit`).
    pub audit_stream: Option<String>,
    /// `--enable-notifications`: `events` may turn keyspace notifications on (CONFIG SET).
    pub enable_notifications: bool,
    /// `--events`: the interactive shell starts listening for session events at once.
    pub events_at_start: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            idle_ttl: 1800,
            absolute_ttl: 8 * 3600,
            max_sessions: 0,
            refuse_at_limit: false,
            hash_ids: false,
            cluster: false,
            tagged: false,
            audit_stream: None,
            enable_notifications: false,
            events_at_start: false,
        }
    }
}

/// "29m58s", "8h", "45s": a duration as people read it.
pub fn human(secs: i64) -> String {
    if secs <= 0 {
        return "0s".to_owned();
    }
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn text(v: &Reply) -> Option<String> {
    v.text()
}

fn int(v: Option<&Reply>) -> Option<i64> {
    v?.int()
}

/// Elements of an array or set reply (a RESP3 map is flattened key, value, …).
fn elements(v: Option<&Reply>) -> Vec<Reply> {
    match v {
        Some(Reply::Array(items) | Reply::Set(items)) => items.clone(),
        Some(Reply::Map(pairs)) => pairs.iter().flat_map(|(k, v)| [k.clone(), v.clone()]).collect(),
        _ => Vec::new(),
    }
}

/// Field/value pairs of an HGETALL reply, in the server's order.
fn pairs(v: Option<&Reply>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let items = elements(v);
    items
        .chunks(2)
        .filter_map(|kv| match kv {
            [Reply::Bulk(k), Reply::Bulk(v)] => Some((k.clone(), v.clone())),
            _ => None,
        })
        .collect()
}

fn field<'a>(fields: &'a [(Vec<u8>, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    fields.iter().find(|(k, _)| k == name.as_bytes()).map(|(_, v)| v.as_slice())
}

/// The result of a MULTI … EXEC: each queued command's reply, or why the transaction did not run.
enum Exec {
    Ran(Vec<Reply>),
    /// A WATCHed key changed: nothing ran.
    Aborted,
    /// EXECABORT (a command was refused when queued, e.g. OOM): nothing ran.
    Refused(String),
}

fn exec_result(replies: &[Reply]) -> Exec {
    match replies.last() {
        Some(Reply::Array(items)) => Exec::Ran(items.clone()),
        Some(Reply::Error(e)) => Exec::Refused(String::from_utf8_lossy(e).into_owned()),
        Some(Reply::Nil) | None => Exec::Aborted,
        Some(other) => Exec::Refused(format!("unexpected EXEC reply {other:?}")),
    }
}

impl Exec {
    /// The replies of a transaction that ran cleanly, or `None` when a WATCHed key changed (nothing
    /// ran: try again); an error when the server refused it or one of its commands failed.
    fn settle(self, what: &str) -> Result<Option<Vec<Reply>>, Error> {
        match self {
            Exec::Ran(items) => match first_error(&items) {
                Some(e) => Err(err(format!("{what} failed: {e}"))),
                None => Ok(Some(items)),
            },
            Exec::Refused(e) => Err(err(format!("{what} failed, nothing was written: {e}"))),
            Exec::Aborted => Ok(None),
        }
    }
}

/// Said when a transaction is tried again because another client changed what it WATCHed.
const RETRYING: &str = "a concurrent change touched this user's sessions; trying again";

fn first_error(items: &[Reply]) -> Option<String> {
    items.iter().find_map(|v| match v {
        Reply::Error(e) => Some(String::from_utf8_lossy(e).into_owned()),
        _ => None,
    })
}

/// How often a transaction whose WATCHed keys changed is tried again before giving up.
const MAX_ATTEMPTS: usize = 32;

/// Waits a random moment before retrying an aborted transaction, longer after each attempt, so two
/// clients retrying against each other fall out of step instead of colliding forever.
fn back_off(attempt: usize) {
    let mut b = [0u8; 2];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    let ceiling_us = 200u64 << attempt.min(6);
    let us = u64::from(u16::from_le_bytes(b)) % ceiling_us;
    std::thread::sleep(std::time::Duration::from_micros(us));
}

fn err(msg: impl Into<String>) -> Error {
    Error::Session(msg.into())
}

/// A live session's stored id and login time.
type LiveSession = (String, u64);

/// What a session command may know when it starts, handed to its step machine as plain data.
#[derive(Debug, Clone)]
pub struct Context {
    pub settings: Settings,
    pub layout: Layout,
    /// Unix time when the command starts.
    pub now: u64,
    /// The shell's current session id, if any.
    pub current: Option<String>,
    /// The address the server sees this client at (a login's default ip).
    pub ip: String,
}

impl Context {
    pub fn is_current(&self, id: &str) -> bool {
        self.current.as_deref() == Some(id)
    }
}

/// The message for a session that does not exist.
pub fn no_such(id: &str) -> String {
    format!("no such session: {} (expired, logged out, or never created)", short(id))
}

/// The session the shell is acting as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
    pub id: String,
    pub username: Option<String>,
}

/// Client-side state of the session store: settings, the current session, ids seen (for completion).
pub struct Store {
    pub settings: Settings,
    pub current: Option<Current>,
    pub seen: Vec<String>,
    layout: Layout,
    default_ip: Option<String>,
    /// `events`: who each session belongs to, the terminal's printer, the background listener.
    watch: watch::Watch,
}

/// How many ids the shell remembers for completion.
const SEEN_MAX: usize = 300;

impl Store {
    pub fn new(settings: Settings) -> Self {
        let layout = Layout { hash_ids: settings.hash_ids, tagged: settings.tagged };
        Store {
            settings,
            current: None,
            seen: Vec::new(),
            layout,
            default_ip: None,
            watch: watch::Watch::default(),
        }
    }

    fn remember(&mut self, id: &str) {
        if let Some(i) = self.seen.iter().position(|s| s == id) {
            self.seen.remove(i);
        }
        self.seen.push(id.to_owned());
        if self.seen.len() > SEEN_MAX {
            self.seen.remove(0);
        }
    }

    fn id_or_current(&self, id: Option<String>, name: &str) -> Result<String, Error> {
        let id = id
            .or_else(|| self.current.as_ref().map(|c| c.id.clone()))
            .ok_or_else(|| err(format!("no current session: log in first, or name one ({name} <id>)")))?;
        self.layout.check(&id).map_err(err)?;
        Ok(id)
    }

    fn is_current(&self, id: &str) -> bool {
        self.current.as_ref().is_some_and(|c| c.id == id)
    }

    fn ip_for(&mut self, server: &crate::exec::conn::Address) -> String {
        self.default_ip.get_or_insert_with(|| local_ip(server)).clone()
    }

    /// Runs one session command.
    pub fn run(&mut self, ex: &mut Executor, cmd: Command) -> Result<(), Error> {
        if ex.conn.in_transaction() && !matches!(cmd, Command::Use(_) | Command::Help(_)) {
            return Err(err("session commands cannot run inside MULTI: EXEC or DISCARD first"));
        }
        match cmd {
            Command::Login { user_id, username, role, ip, id, ttl } => {
                let ip = match ip {
                    Some(ip) => ip,
                    None => self.ip_for(&ex.conn.target.address).into_bytes(),
                };
                self.login(ex, &user_id, &username, &role, &ip, id, ttl)
            }
            Command::Whoami(id) => {
                let id = self.id_or_current(id, "whoami")?;
                let ctx = self.context(&ex.conn.target.address);
                self.drive(ex, &mut whoami::Whoami::new(id, ctx))
            }
            Command::Touch(id) => {
                let id = self.id_or_current(id, "touch")?;
                self.touch(ex, &id)
            }
            Command::Logout(id) => {
                let id = self.id_or_current(id, "logout")?;
                self.logout(ex, &id)
            }
            Command::Sessions(uid) => self.sessions(ex, &uid),
            Command::LogoutAll(uid) => self.logout_all(ex, &uid),
            Command::Renew(id) => {
                let id = self.id_or_current(id, "renew")?;
                self.renew(ex, &id)
            }
            Command::Use(id) => {
                self.layout.check(&id).map_err(err)?;
                self.remember(&id);
                ex.out.summary(&format!("current session: {id} (not checked; `whoami` checks it)"));
                self.current = Some(Current { id, username: None });
                Ok(())
            }
            Command::Help(topic) => {
                let text = commands::help(topic.as_deref()).map_err(err)?;
                ex.out.write(text.as_bytes());
                ex.out.write(b"\n");
                Ok(())
            }
            Command::Events(req) => self.events(ex, req),
            Command::Stats(top) => self.stats(ex, top),
            Command::Fsck { repair } => self.fsck(ex, repair),
        }
    }

    /// What a command starting now may know.
    pub fn context(&mut self, server: &crate::exec::conn::Address) -> Context {
        Context {
            settings: self.settings.clone(),
            layout: self.layout,
            now: unix_now(),
            current: self.current.as_ref().map(|c| c.id.clone()),
            ip: self.ip_for(server),
        }
    }

    /// Runs a step machine through the executor, then takes in what it did.
    fn drive(&mut self, ex: &mut Executor, m: &mut dyn plan::Machine) -> Result<(), Error> {
        let outcome = ex.drive(m)?;
        let (lines, error) = self.absorb(outcome);
        for line in &lines {
            ex.out.summary(line);
        }
        error.map_or(Ok(()), Err)
    }

    /// Takes in a command's outcome: ids and owners learnt, the current session followed; the
    /// summary lines to show and the command's error, if it failed.
    fn absorb(&mut self, outcome: plan::Outcome) -> (Vec<String>, Option<Error>) {
        for (stored, owner) in outcome.owners {
            self.learn_owner(&stored, owner);
        }
        for id in &outcome.seen {
            self.remember(id);
        }
        match outcome.current {
            plan::CurrentChange::Keep => {}
            plan::CurrentChange::Set { id, username } => self.current = Some(Current { id, username }),
            plan::CurrentChange::Ended { id, to } => {
                if self.is_current(&id) {
                    self.current = to.map(|to| Current {
                        id: to,
                        username: self.current.as_ref().and_then(|c| c.username.clone()),
                    });
                }
            }
            plan::CurrentChange::EndedStored(stored) => {
                if let Some(cur) = &self.current
                    && stored.contains(&self.layout.stored_id(&cur.id))
                {
                    self.current = None;
                }
            }
        }
        (outcome.summary, outcome.error.map(Error::Session))
    }

    /// The step machine of a session command, for a context (`None`: the command runs on its own,
    /// outside any pipelined window).
    fn machine_for(&self, cmd: Command, ctx: Context) -> Result<Option<Box<dyn plan::Machine>>, Error> {
        let id = |id: Option<String>, name: &str| self.id_or_current(id, name);
        Ok(Some(match cmd {
            Command::Whoami(given) => Box::new(whoami::Whoami::new(id(given, "whoami")?, ctx)),
            _ => return Ok(None),
        }))
    }

    /// Whether a command can join a pipelined window (it is a step machine).
    pub fn pipelines(&self, cmd: &Command) -> bool {
        matches!(cmd, Command::Whoami(_))
    }

    /// The commands of a single-step login, and what to do with their replies (for pipelining).
    pub fn plan_login(&mut self, ex: &Executor, cmd: &Command) -> Result<(Vec<Args>, PendingLogin), Error> {
        let Command::Login { user_id, username, role, ip, id: None, ttl } = cmd else {
            return Err(err("not a single-step login"));
        };
        let ip = match ip {
            Some(ip) => ip.clone(),
            None => self.ip_for(&ex.conn.target.address).into_bytes(),
        };
        let id = self.layout.full_id(user_id, &new_id().map_err(err)?);
        let pending = PendingLogin {
            stored: self.layout.stored_id(&id),
            index: self.layout.index_key(user_id),
            id,
            user_id: user_id.clone(),
            username: username.clone(),
            role: role.clone(),
            ip,
            login_time: unix_now(),
            ttl: ttl.unwrap_or(self.settings.idle_ttl).min(self.settings.absolute_ttl),
        };
        let mut writes = plan::create_writes(&pending.new_session());
        writes.extend(self.audit_inside(ex, self.login_entry(&pending)));
        Ok((plan::transaction(writes), pending))
    }

    /// Finishes a login from its replies: rolls back a partial write, prints the summary.
    pub fn finish_login(
        &mut self,
        ex: &mut Executor,
        p: &PendingLogin,
        replies: &[Reply],
    ) -> Result<(), Error> {
        match exec_result(replies) {
            Exec::Ran(items) => {
                if let Some(e) = first_error(&items) {
                    self.roll_back_login(ex, p);
                    return Err(err(format!("login failed: {e}; the partial session was removed")));
                }
            }
            Exec::Refused(e) => return Err(err(format!("login failed, nothing was written: {e}"))),
            Exec::Aborted => return Err(err("login failed: the transaction was aborted")),
        }
        self.audit_after(ex, self.login_entry(p))?;
        self.learn_owner(
            &p.stored,
            events::Owner {
                user_id: p.user_id.clone(),
                username: Some(String::from_utf8_lossy(&p.username).into_owned()),
                role: Some(String::from_utf8_lossy(&p.role).into_owned()),
                login_time: Some(p.login_time),
                ip: Some(String::from_utf8_lossy(&p.ip).into_owned()),
            },
        );
        self.remember(&p.id);
        self.current = Some(Current {
            id: p.id.clone(),
            username: Some(String::from_utf8_lossy(&p.username).into_owned()),
        });
        let abs = self.settings.absolute_ttl;
        ex.out.summary(&format!(
            "session {} — {} ({}) from {}, expires in {} idle, {} at most",
            p.id,
            String::from_utf8_lossy(&p.username),
            String::from_utf8_lossy(&p.role),
            String::from_utf8_lossy(&p.ip),
            human(p.ttl as i64),
            human(abs as i64)
        ));
        Ok(())
    }

    /// Runtime errors inside EXEC do not undo the other commands: remove what did get written.
    fn roll_back_login(&mut self, ex: &mut Executor, p: &PendingLogin) {
        let _ = self.apply(ex, plan::logout_writes(&p.stored, &p.index));
    }

    /// The `--audit-stream` entry of an event (`None` without the flag). Ids go in as stored: under
    /// `--hash-ids` their hash, never the token.
    fn audit_entry(&self, event: &str, fields: &[(&str, &[u8])]) -> Option<Args> {
        self.settings.audit_stream.as_deref().map(|stream| audit::entry(stream, event, fields))
    }

    fn login_entry(&self, p: &PendingLogin) -> Option<Args> {
        self.audit_entry(
            "login",
            &[("id", p.stored.as_bytes()), ("user", p.user_id.as_bytes()), ("role", &p.role)],
        )
    }

    /// Audit entries that go inside the change's own transaction: on one server. On a cluster the
    /// stream is in a slot of its own, so they are written after the change (`audit_after`).
    fn audit_inside(&self, ex: &Executor, entries: impl IntoIterator<Item = Args>) -> Vec<Args> {
        if ex.conn.target.cluster { Vec::new() } else { entries.into_iter().collect() }
    }

    /// On a cluster, the audit entries of a change that succeeded, each on its own.
    fn audit_after(
        &mut self,
        ex: &mut Executor,
        entries: impl IntoIterator<Item = Args>,
    ) -> Result<(), Error> {
        if ex.conn.target.cluster {
            for entry in entries {
                ex.run(&[entry])?;
            }
        }
        Ok(())
    }

    /// `apply`, with audit entries in the same transaction (or after it, on a cluster).
    fn apply_audited(
        &mut self,
        ex: &mut Executor,
        mut writes: Vec<Args>,
        entries: Vec<Args>,
    ) -> Result<Exec, Error> {
        if entries.is_empty() {
            return self.apply(ex, writes);
        }
        if !ex.conn.target.cluster {
            writes.extend(entries);
            return Ok(exec_result(&ex.run(&plan::transaction(writes))?));
        }
        let outcome = self.apply(ex, writes)?;
        if matches!(&outcome, Exec::Ran(items) if first_error(items).is_none()) {
            self.audit_after(ex, entries)?;
        }
        Ok(outcome)
    }

    /// Runs writes that belong together: in one MULTI/EXEC on a single server; on a cluster, where
    /// their keys live in different slots, one after the other in the (safe) order given.
    fn apply(&mut self, ex: &mut Executor, writes: Vec<Args>) -> Result<Exec, Error> {
        if !self.settings.cluster {
            return Ok(exec_result(&ex.run(&plan::transaction(writes))?));
        }
        let mut items = Vec::with_capacity(writes.len());
        for w in writes {
            items.extend(ex.run(&[w])?);
        }
        Ok(Exec::Ran(items))
    }

    #[allow(clippy::too_many_arguments)]
    fn login(
        &mut self,
        ex: &mut Executor,
        user_id: &str,
        username: &[u8],
        role: &[u8],
        ip: &[u8],
        given_id: Option<String>,
        ttl: Option<u64>,
    ) -> Result<(), Error> {
        let cmd = Command::Login {
            user_id: user_id.to_owned(),
            username: username.to_vec(),
            role: role.to_vec(),
            ip: Some(ip.to_vec()),
            id: given_id.clone(),
            ttl,
        };
        if cmd.is_single_step(&self.settings) {
            let (cmds, pending) = self.plan_login(ex, &cmd)?;
            let replies = ex.run(&cmds)?;
            return self.finish_login(ex, &pending, &replies);
        }
        if self.layout.tagged && given_id.as_deref().is_some_and(|id| id.contains(keys::TAG_SEPARATOR)) {
            return Err(err(
                "with --key-layout tagged, --id may not contain '~' (redsh puts the user id in front)",
            ));
        }
        let id = match given_id.clone() {
            Some(id) => id,
            None => new_id().map_err(err)?,
        };
        let id = self.layout.full_id(user_id, &id);
        let mut pending = PendingLogin {
            stored: self.layout.stored_id(&id),
            index: self.layout.index_key(user_id),
            id,
            user_id: user_id.to_owned(),
            username: username.to_vec(),
            role: role.to_vec(),
            ip: ip.to_vec(),
            login_time: 0,
            ttl: ttl.unwrap_or(self.settings.idle_ttl).min(self.settings.absolute_ttl),
        };
        let key = keys::session_key_of_stored(&pending.stored);
        let index = self.layout.index_key(user_id);
        let limit = self.settings.max_sessions as usize;
        let cluster = self.settings.cluster;
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                back_off(attempt);
            }
            // Watch what decides the login, so that a concurrent change makes EXEC abort and we retry.
            // On a cluster the two keys live on different nodes: one WATCH each.
            let mut watched = Vec::new();
            let mut reads = Vec::new();
            if given_id.is_some() {
                watched.push(key.clone());
                reads.push(args(["EXISTS", &key]));
            }
            if limit > 0 {
                watched.push(index.clone());
                reads.push(args(["SMEMBERS", &index]));
            }
            let mut batch: Vec<Args> = if cluster {
                watched.iter().map(|k| args(["WATCH", k])).collect()
            } else {
                vec![args(std::iter::once("WATCH").chain(watched.iter().map(String::as_str)))]
            };
            let n_watches = batch.len();
            batch.extend(reads);
            let replies = ex.run(&batch)?;
            let reads = &replies[n_watches.min(replies.len())..];
            if given_id.is_some() && int(reads.first()) == Some(1) {
                ex.run(&[args(["UNWATCH"])])?;
                return Err(err(format!(
                    "session {} already exists; choose another id or log it out first",
                    pending.id
                )));
            }
            let mut dead = Vec::new();
            let mut victims = Vec::new();
            if limit > 0 {
                let members: Vec<String> = elements(reads.last()).iter().filter_map(text).collect();
                let (live, gone) = self.login_times(ex, &members)?;
                dead = gone;
                if live.len() >= limit {
                    if self.settings.refuse_at_limit {
                        ex.run(&[args(["UNWATCH"])])?;
                        return Err(err(format!(
                            "user {user_id} already has {} live sessions (--max-sessions {limit}): login refused",
                            live.len()
                        )));
                    }
                    victims = live.iter().take(live.len() + 1 - limit).map(|(id, _)| id.clone()).collect();
                }
            }
            pending.login_time = unix_now();
            let evicted: Vec<Args> = victims
                .iter()
                .filter_map(|v| {
                    self.audit_entry("evict", &[("id", v.as_bytes()), ("user", user_id.as_bytes())])
                })
                .collect();
            if !cluster {
                let mut writes = Vec::new();
                if !dead.is_empty() {
                    writes.push(plan::prune(&index, &dead));
                }
                writes.extend(plan::evict_writes(&index, &victims));
                writes.extend(self.audit_inside(ex, evicted.clone()));
                writes.extend(plan::create_writes(&pending.new_session()));
                writes.extend(self.audit_inside(ex, self.login_entry(&pending)));
                let replies = ex.run(&plan::transaction(writes))?;
                if matches!(exec_result(&replies), Exec::Aborted) {
                    ex.out.summary(RETRYING);
                    continue;
                }
                self.finish_login(ex, &pending, &replies)?;
                return self.audit_after(ex, evicted);
            }
            // Cluster order: evicted sessions go first, then the index entry, then the session, so
            // a failure in between leaves at worst a stale index entry (pruned by `sessions`),
            // never a live session outside its user's index.
            for v in &victims {
                ex.run(&[args(["DEL", &keys::session_key_of_stored(v)])])?;
            }
            let mut index_writes = Vec::new();
            let mut gone = dead;
            gone.extend(victims.iter().cloned());
            if !gone.is_empty() {
                index_writes.push(plan::prune(&index, &gone));
            }
            index_writes.extend(plan::index_writes(&pending.new_session()));
            let replies = ex.run(&plan::transaction(index_writes))?;
            if exec_result(&replies).settle("login")?.is_none() {
                ex.out.summary(RETRYING);
                continue;
            }
            let replies = ex.run(&plan::transaction(plan::session_writes(&pending.new_session())))?;
            if matches!(exec_result(&replies), Exec::Aborted) {
                return Err(err(format!(
                    "session {} was created by someone else meanwhile; its index entry will be pruned",
                    pending.id
                )));
            }
            self.finish_login(ex, &pending, &replies)?;
            return self.audit_after(ex, evicted);
        }
        Err(err(format!(
            "login gave up after {MAX_ATTEMPTS} concurrent changes to user {user_id}'s sessions"
        )))
    }

    /// Each listed session's login time (oldest first); ids whose session is gone come back as dead.
    fn login_times(
        &mut self,
        ex: &mut Executor,
        members: &[String],
    ) -> Result<(Vec<LiveSession>, Vec<String>), Error> {
        if members.is_empty() {
            return Ok((vec![], vec![]));
        }
        let reads: Vec<Args> =
            members.iter().map(|m| args(["HGET", &keys::session_key_of_stored(m), "login_time"])).collect();
        let replies = ex.run(&reads)?;
        let mut live = Vec::new();
        let mut dead = Vec::new();
        for (m, r) in members.iter().zip(&replies) {
            match int(Some(r)) {
                Some(t) => live.push((m.clone(), t.max(0) as u64)),
                None => dead.push(m.clone()),
            }
        }
        live.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        Ok((live, dead))
    }

    fn no_such(&self, id: &str) -> Error {
        err(no_such(id))
    }

    /// The user id and login time of a session, or `None` when it is gone.
    fn owner(&mut self, ex: &mut Executor, stored: &str) -> Result<Option<(String, Option<u64>)>, Error> {
        let replies =
            ex.run(&[args(["HMGET", &keys::session_key_of_stored(stored), "user_id", "login_time"])])?;
        let items = elements(replies.first());
        let uid = items.first().and_then(text);
        let login_time = int(items.get(1)).map(|t| t.max(0) as u64);
        Ok(uid.map(|u| (u, login_time)))
    }

    fn touch(&mut self, ex: &mut Executor, id: &str) -> Result<(), Error> {
        let stored = self.layout.stored_id(id);
        let Some((uid, login_time)) = self.owner(ex, &stored)? else {
            return Err(self.no_such(id));
        };
        let login_time =
            login_time.ok_or_else(|| err(format!("session {} is malformed: no login_time", short(id))))?;
        let ttl = plan::touch_ttl(unix_now(), login_time, self.settings.idle_ttl, self.settings.absolute_ttl);
        let who = [("id", stored.as_bytes()), ("user", uid.as_bytes())];
        if ttl <= 0 {
            let entry = self.audit_entry("timeout", &who);
            self.apply_audited(
                ex,
                plan::logout_writes(&stored, &self.layout.index_key(&uid)),
                entry.into_iter().collect(),
            )?;
            if self.is_current(id) {
                self.current = None;
            }
            return Err(err(format!("session {} reached its absolute timeout and was ended", short(id))));
        }
        let entry = self.audit_entry("touch", &[who[0], who[1], ("ttl", ttl.to_string().as_bytes())]);
        match self
            .apply_audited(
                ex,
                plan::touch_writes(&stored, &self.layout.index_key(&uid), ttl),
                entry.into_iter().collect(),
            )?
            .settle("touch")?
        {
            Some(items) if int(items.get(1)) == Some(1) => {
                let capped = if (ttl as u64) < self.settings.idle_ttl {
                    " (capped by the absolute timeout)"
                } else {
                    ""
                };
                ex.out.summary(&format!("session {} extended: expires in {}{capped}", short(id), human(ttl)));
                Ok(())
            }
            Some(_) => Err(self.no_such(id)),
            None => Err(err("touch failed: the transaction was aborted")),
        }
    }

    fn logout(&mut self, ex: &mut Executor, id: &str) -> Result<(), Error> {
        let stored = self.layout.stored_id(id);
        let replies = ex.run(&[args(["HGET", &keys::session_key_of_stored(&stored), "user_id"])])?;
        let Some(uid) = replies.first().and_then(text) else {
            return Err(self.no_such(id));
        };
        let entry = self.audit_entry("logout", &[("id", stored.as_bytes()), ("user", uid.as_bytes())]);
        let writes = plan::logout_writes(&stored, &self.layout.index_key(&uid));
        let Some(items) = self.apply_audited(ex, writes, entry.into_iter().collect())?.settle("logout")?
        else {
            return Err(err("logout failed: the transaction was aborted"));
        };
        if self.is_current(id) {
            self.current = None;
        }
        if int(items.first()) != Some(1) {
            return Err(self.no_such(id));
        }
        ex.out.summary(&format!("logged out: session {} of user {uid}", short(id)));
        Ok(())
    }

    fn sessions(&mut self, ex: &mut Executor, uid: &str) -> Result<(), Error> {
        let index = self.layout.index_key(uid);
        let replies = ex.run(&[args(["SMEMBERS", &index])])?;
        let mut members: Vec<String> = elements(replies.first()).iter().filter_map(text).collect();
        members.sort();
        if members.is_empty() {
            ex.out.summary(&format!("user {uid} has no live sessions"));
            return Ok(());
        }
        let replies = ex.run(&plan::describe_reads(&members))?;
        let now = unix_now() as i64;
        let mut live = Vec::new();
        let mut dead = Vec::new();
        for (m, pair) in members.iter().zip(replies.chunks(2)) {
            let info = elements(pair.first());
            let ttl = int(pair.get(1)).unwrap_or(-2);
            let login_time = int(info.first());
            match login_time {
                Some(t) if ttl != -2 => {
                    let ip = info.get(1).and_then(text).unwrap_or_else(|| "?".into());
                    live.push((m.clone(), t, ip, ttl));
                }
                _ => dead.push(m.clone()),
            }
        }
        if !dead.is_empty() {
            let entries: Vec<Args> = dead
                .iter()
                .filter_map(|d| {
                    self.audit_entry(
                        "expired",
                        &[("id", d.as_bytes()), ("user", uid.as_bytes()), ("seen", b"sessions")],
                    )
                })
                .collect();
            if entries.is_empty() {
                ex.run(&[plan::prune(&index, &dead)])?;
            } else {
                self.apply_audited(ex, vec![plan::prune(&index, &dead)], entries)?.settle("sessions")?;
            }
        }
        let pruned =
            if dead.is_empty() { String::new() } else { format!(" ({} expired id(s) pruned)", dead.len()) };
        ex.out.summary(&format!("user {uid}: {} live session(s){pruned}", live.len()));
        live.sort_by_key(|s| s.1);
        for (member, login_time, ip, ttl) in live {
            let owner = events::Owner {
                login_time: u64::try_from(login_time).ok(),
                ip: Some(ip.clone()),
                ..events::Owner::new(uid)
            };
            self.learn_owner(&member, owner);
            let id = match self.layout.token_of(uid, &member) {
                Some(token) => {
                    self.remember(&token);
                    token
                }
                None => member,
            };
            let idle =
                if ttl < 0 { "no idle timeout".to_owned() } else { format!("idle {} left", human(ttl)) };
            let absolute = login_time + self.settings.absolute_ttl as i64 - now;
            ex.out.summary(&format!(
                "  {}  from {ip}, {idle}, absolute {} left",
                short(&id),
                human(absolute)
            ));
        }
        Ok(())
    }

    fn logout_all(&mut self, ex: &mut Executor, uid: &str) -> Result<(), Error> {
        let index = self.layout.index_key(uid);
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                back_off(attempt);
            }
            let replies = ex.run(&[args(["WATCH", &index]), args(["SMEMBERS", &index])])?;
            let members: Vec<String> = elements(replies.get(1)).iter().filter_map(text).collect();
            if members.is_empty() {
                ex.run(&[args(["UNWATCH"])])?;
                ex.out.summary(&format!("user {uid} has no sessions"));
                return Ok(());
            }
            // On a cluster each session is deleted on its own node first; the index goes last, under
            // its WATCH, so a login that slipped in meanwhile makes us go round again.
            let mut deleted_first = 0;
            let entry = self.audit_entry(
                "logout-all",
                &[("user", uid.as_bytes()), ("sessions", members.len().to_string().as_bytes())],
            );
            let writes = if self.settings.cluster {
                for del in plan::delete_sessions(&members) {
                    deleted_first += int(ex.run(&[del])?.first()).unwrap_or(0);
                }
                plan::transaction(vec![args(["DEL", &index])])
            } else {
                plan::logout_all_writes(&index, &members)
            };
            let writes = audit::inside(writes, self.audit_inside(ex, entry.clone()));
            let Some(items) = exec_result(&ex.run(&writes)?).settle("logout-all")? else {
                ex.out.summary(RETRYING);
                continue;
            };
            self.audit_after(ex, entry)?;
            let deleted = deleted_first + int(items.first()).unwrap_or(0) - 1;
            if let Some(cur) = &self.current
                && members.contains(&self.layout.stored_id(&cur.id))
            {
                self.current = None;
            }
            ex.out.summary(&format!("revoked {} live session(s) of user {uid}", deleted.max(0)));
            return Ok(());
        }
        Err(err(format!("logout-all gave up after {MAX_ATTEMPTS} concurrent changes")))
    }

    fn renew(&mut self, ex: &mut Executor, id: &str) -> Result<(), Error> {
        let old = self.layout.stored_id(id);
        let old_key = keys::session_key_of_stored(&old);
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                back_off(attempt);
            }
            let replies =
                ex.run(&[args(["WATCH", &old_key]), args(["HGETALL", &old_key]), args(["PTTL", &old_key])])?;
            let fields = pairs(replies.get(1));
            let pttl = int(replies.get(2)).unwrap_or(-2);
            if fields.is_empty() || pttl == -2 {
                ex.run(&[args(["UNWATCH"])])?;
                return Err(self.no_such(id));
            }
            let Some(uid) = field(&fields, "user_id").map(|u| String::from_utf8_lossy(u).into_owned()) else {
                ex.run(&[args(["UNWATCH"])])?;
                return Err(err(format!("session {} is malformed: no user_id", short(id))));
            };
            // Known before its deletion is notified, so `events` can pair it with its new id.
            let owner = events::Owner::from_fields(|f| field(&fields, f).map(<[u8]>::to_vec));
            if let Some(owner) = &owner {
                self.learn_owner(&old, owner.clone());
            }
            // A session without a TTL (damaged by hand) gets the idle timeout back.
            let pttl = if pttl < 0 { self.settings.idle_ttl as i64 * 1000 } else { pttl };
            let new_id = self.layout.full_id(&uid, &new_id().map_err(err)?);
            let new = self.layout.stored_id(&new_id);
            let entry = self.audit_entry(
                "renew",
                &[("id", new.as_bytes()), ("old", old.as_bytes()), ("user", uid.as_bytes())],
            );
            let outcome = if self.settings.cluster {
                self.renew_on_cluster(ex, &old, &new, &uid, &fields, pttl)?
            } else {
                let writes = plan::renew_writes(&old, &new, &self.layout.index_key(&uid), &fields, pttl);
                exec_result(&ex.run(&audit::inside(writes, self.audit_inside(ex, entry.clone())))?)
            };
            if outcome.settle("renew")?.is_none() {
                ex.out.summary("the session changed while renewing; trying again");
                continue;
            }
            self.audit_after(ex, entry)?;
            if let Some(owner) = owner {
                self.learn_owner(&new, owner);
            }
            if self.is_current(id) {
                let username = self.current.as_ref().and_then(|c| c.username.clone());
                self.current = Some(Current { id: new_id.clone(), username });
            }
            self.remember(&new_id);
            ex.out.summary(&format!(
                "session {} renewed as {new_id}: same data, expires in {}; the old id is gone",
                short(id),
                human(pttl / 1000)
            ));
            return Ok(());
        }
        Err(err(format!("renew gave up after {MAX_ATTEMPTS} concurrent changes")))
    }

    /// Renew across slots: announce the new id in the index, take the old session away (under its
    /// WATCH, so a concurrent touch or logout makes us start again), then create the new one and
    /// drop the old id. A failure part-way loses the session (as a logout would) and leaves only
    /// stale index entries; it never revives a session nor leaves one outside the index.
    fn renew_on_cluster(
        &mut self,
        ex: &mut Executor,
        old: &str,
        new: &str,
        uid: &str,
        fields: &[(Vec<u8>, Vec<u8>)],
        pttl: i64,
    ) -> Result<Exec, Error> {
        let index = self.layout.index_key(uid);
        ex.run(&[args(["SADD", &index, new])])?;
        let take = plan::transaction(vec![args(["DEL", &keys::session_key_of_stored(old)])]);
        match exec_result(&ex.run(&take)?) {
            Exec::Ran(items) if int(items.first()) == Some(1) => {}
            other => {
                ex.run(&[args(["SREM", &index, new])])?;
                return Ok(match other {
                    Exec::Ran(_) => Exec::Aborted,
                    other => other,
                });
            }
        }
        let created = exec_result(&ex.run(&plan::transaction(plan::copy_writes(new, fields, pttl)))?);
        ex.run(&[args(["SREM", &index, old])])?;
        Ok(created)
    }
}

/// A login whose commands are sent and whose replies are still to come.
#[derive(Debug, Clone)]
pub struct PendingLogin {
    pub id: String,
    stored: String,
    index: String,
    user_id: String,
    username: Vec<u8>,
    role: Vec<u8>,
    ip: Vec<u8>,
    login_time: u64,
    ttl: u64,
}

impl PendingLogin {
    /// The login as a command again (a fresh id is drawn when it runs).
    pub fn to_command(&self) -> Command {
        Command::Login {
            user_id: self.user_id.clone(),
            username: self.username.clone(),
            role: self.role.clone(),
            ip: Some(self.ip.clone()),
            id: None,
            ttl: Some(self.ttl),
        }
    }

    fn new_session(&self) -> NewSession<'_> {
        NewSession {
            stored_id: &self.stored,
            user_id: &self.user_id,
            index: &self.index,
            username: &self.username,
            role: &self.role,
            login_time: self.login_time,
            ip: &self.ip,
            ttl: self.ttl,
        }
    }
}

impl crate::exec::Sessions for Store {
    fn footprint(&self, cmd: &Command) -> Footprint {
        let session = |id: &str| keys::session_key_of_stored(&self.layout.stored_id(id)).into_bytes();
        let index = |uid: &str| self.layout.index_key(uid).into_bytes();
        let mut f = Footprint::default();
        // An omitted id is the current session, whichever that is when the command starts.
        let by_id = |f: &mut Footprint, id: &Option<String>| match id {
            Some(id) => f.keys.push(session(id)),
            None => {
                f.reads_current = true;
                f.any_session = true;
            }
        };
        match cmd {
            Command::Login { user_id, id, .. } => {
                f.keys.push(index(user_id));
                if let Some(id) = id {
                    f.keys.push(session(&self.layout.full_id(user_id, id)));
                }
                f.writes_current = true;
                f.own_lane = id.is_some() || self.settings.max_sessions > 0;
                f.any_session = self.settings.max_sessions > 0;
            }
            Command::Whoami(id) => {
                by_id(&mut f, id);
                f.writes_current = true;
            }
            Command::Touch(id) | Command::Logout(id) | Command::Renew(id) => {
                by_id(&mut f, id);
                f.any_index = true;
                f.writes_current = true;
                f.own_lane = matches!(cmd, Command::Renew(_));
            }
            Command::Sessions(uid) => {
                f.keys.push(index(uid));
                f.any_session = true;
            }
            Command::LogoutAll(uid) => {
                f.keys.push(index(uid));
                f.any_session = true;
                f.writes_current = true;
                f.own_lane = true;
            }
            Command::Use(_) => f.writes_current = true,
            Command::Help(_) => {}
            Command::Events(_) | Command::Stats(_) | Command::Fsck { .. } => f.any_key = true,
        }
        if let Some(stream) = &self.settings.audit_stream {
            f.keys.push(stream.as_bytes().to_vec());
        }
        f
    }

    fn machine(
        &mut self,
        cmd: Command,
        server: &crate::exec::conn::Address,
    ) -> Result<Box<dyn plan::Machine>, Error> {
        let ctx = self.context(server);
        self.machine_for(cmd, ctx)?
            .ok_or_else(|| Error::Other("internal: not a pipelined session command".into()))
    }

    fn take_in(&mut self, outcome: plan::Outcome) -> (Vec<String>, Option<Error>) {
        self.absorb(outcome)
    }
}

/// The address this machine uses to reach the server: what the server sees as the client's ip.
/// A connected UDP socket picks the route without sending anything.
fn local_ip(address: &crate::exec::conn::Address) -> String {
    use std::net::{ToSocketAddrs, UdpSocket};
    let crate::exec::conn::Address::Tcp { host, port } = address else {
        return "127.0.0.1".to_owned();
    };
    let Some(server) = (host.as_str(), *port).to_socket_addrs().ok().and_then(|mut a| a.next()) else {
        return "127.0.0.1".to_owned();
    };
    let bind = if server.is_ipv6() { "[::]:0" } else { "0.0.0.0:0" };
    UdpSocket::bind(bind)
        .and_then(|s| s.connect(server).and_then(|_| s.local_addr()))
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| "127.0.0.1".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        assert_eq!(human(1798), "29m58s");
        assert_eq!(human(28800), "8h");
        assert_eq!(human(3723), "1h2m3s");
        assert_eq!(human(45), "45s");
        assert_eq!(human(-3), "0s");
    }
}
