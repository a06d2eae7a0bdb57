//! The session store: session commands (parsed in `parse`), planned (see `plan`) and run through the executor,
//! each followed by one human summary line.

mod apply;
pub mod audit;
pub mod commands;
pub mod events;
pub mod inspect;
pub mod keys;
pub mod literal;
pub mod login;
pub mod logout;
pub mod logout_all;
pub mod parse;
pub mod plan;
mod recent;
pub mod renew;
pub mod sessions;
pub mod touch;
pub mod watch;
pub mod whoami;

use std::time::{SystemTime, UNIX_EPOCH};

use crate::redis::reply::Reply;

use crate::error::Error;
use crate::exec::{Executor, Footprint, args};
use keys::{Layout, new_id, short};
pub use parse::{Command, parse};

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
    /// `--literal` / `literal on`: session commands send the document's commands one at a time
    /// (see `literal`).
    pub literal: bool,
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
            literal: false,
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

fn err(msg: impl Into<String>) -> Error {
    Error::Session(msg.into())
}

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
    /// The server is a Redis Cluster (`-c`, any key layout): the audit stream has a slot of its own.
    pub cluster: bool,
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
    pub seen: recent::Recent,
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
            seen: recent::Recent::with_limit(SEEN_MAX),
            layout,
            default_ip: None,
            watch: watch::Watch::default(),
        }
    }

    fn remember(&mut self, id: &str) {
        self.seen.add(id);
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
        if ex.in_transaction() && !matches!(cmd, Command::Use(_) | Command::Help(_)) {
            return Err(err("session commands cannot run inside MULTI: EXEC or DISCARD first"));
        }
        if self.settings.literal
            && let Some(mut m) = self.literal_machine(&cmd, &ex.target().address)?
        {
            return self.drive(ex, &mut *m);
        }
        match cmd {
            Command::Login { user_id, username, role, ip, id, ttl } => {
                let req = login::Request { user_id, username, role, ip, id, ttl };
                let ctx = self.context(&ex.target().address, ex.is_cluster());
                let drawn = new_id().map_err(err)?;
                let mut m = login::Login::new(req, ctx, drawn, ex.is_cluster()).map_err(err)?;
                self.drive(ex, &mut m)
            }
            Command::Whoami(id) => {
                let id = self.id_or_current(id, "whoami")?;
                let ctx = self.context(&ex.target().address, ex.is_cluster());
                self.drive(ex, &mut whoami::Whoami::new(id, ctx))
            }
            Command::Touch(id) => {
                let id = self.id_or_current(id, "touch")?;
                let ctx = self.context(&ex.target().address, ex.is_cluster());
                self.drive(ex, &mut touch::Touch::new(id, ctx))
            }
            Command::Logout(id) => {
                let id = self.id_or_current(id, "logout")?;
                let ctx = self.context(&ex.target().address, ex.is_cluster());
                self.drive(ex, &mut logout::Logout::new(id, ctx))
            }
            Command::Sessions(uid) => {
                let ctx = self.context(&ex.target().address, ex.is_cluster());
                self.drive(ex, &mut sessions::Sessions::new(uid, ctx))
            }
            Command::LogoutAll(uid) => {
                let ctx = self.context(&ex.target().address, ex.is_cluster());
                self.drive(ex, &mut logout_all::LogoutAll::new(uid, ctx))
            }
            Command::Renew(id) => {
                let id = self.id_or_current(id, "renew")?;
                let ctx = self.context(&ex.target().address, ex.is_cluster());
                self.drive(ex, &mut renew::Renew::new(id, ctx))
            }
            Command::Use(id) => {
                self.layout.check(&id).map_err(err)?;
                self.remember(&id);
                self.current = Some(Current { id: id.clone(), username: None });
                // One EXISTS (not inside MULTI, where it would only be queued): a warning, not a refusal.
                if ex.in_transaction() {
                    ex.out().summary(&format!("current session: {id} (not checked inside MULTI)"));
                    return Ok(());
                }
                let exists = match ex.run(&[args(["EXISTS", &self.layout.session_key(&id)])]) {
                    Err(Error::DryRun) => None,
                    replies => int(replies?.first()),
                };
                match exists {
                    Some(0) => ex.out().summary(&format!(
                        "warning: session {} does not exist (expired, logged out, or never created); \
                         current anyway",
                        short(&id)
                    )),
                    _ => ex.out().summary(&format!("current session: {id}")),
                }
                Ok(())
            }
            Command::Help(topic) => {
                let text = commands::help(topic.as_deref()).map_err(err)?;
                ex.out().write(text.as_bytes());
                ex.out().write(b"\n");
                Ok(())
            }
            Command::Events(req) => self.events(ex, req),
            Command::Stats(top) => self.stats(ex, top),
            Command::Fsck { repair } => self.fsck(ex, repair),
        }
    }

    /// What a command starting now may know.
    pub fn context(&mut self, server: &crate::exec::conn::Address, cluster: bool) -> Context {
        Context {
            settings: self.settings.clone(),
            layout: self.layout,
            now: unix_now(),
            current: self.current.as_ref().map(|c| c.id.clone()),
            ip: self.ip_for(server),
            cluster,
        }
    }

    /// Runs a step machine through the executor, then takes in what it did.
    fn drive(&mut self, ex: &mut Executor, m: &mut dyn plan::Machine) -> Result<(), Error> {
        let outcome = ex.drive(m)?;
        let (lines, error) = self.absorb(outcome);
        for line in &lines {
            ex.out().summary(line);
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
            Command::Login { user_id, username, role, ip, id, ttl } => {
                let req = login::Request { user_id, username, role, ip, id, ttl };
                let cluster = ctx.cluster;
                Box::new(login::Login::new(req, ctx, new_id().map_err(err)?, cluster).map_err(err)?)
            }
            Command::Touch(given) => Box::new(touch::Touch::new(id(given, "touch")?, ctx)),
            Command::Logout(given) => Box::new(logout::Logout::new(id(given, "logout")?, ctx)),
            Command::Renew(given) => Box::new(renew::Renew::new(id(given, "renew")?, ctx)),
            Command::Sessions(uid) => Box::new(sessions::Sessions::new(uid, ctx)),
            Command::LogoutAll(uid) => Box::new(logout_all::LogoutAll::new(uid, ctx)),
            _ => return Ok(None),
        }))
    }

    /// Whether a command can join a pipelined window (it is a step machine).
    pub fn pipelines(&self, cmd: &Command) -> bool {
        !self.settings.literal
            && matches!(
                cmd,
                Command::Whoami(_)
                    | Command::Login { .. }
                    | Command::Touch(_)
                    | Command::Logout(_)
                    | Command::Renew(_)
                    | Command::Sessions(_)
                    | Command::LogoutAll(_)
            )
    }

    /// Literal mode: the machine that sends the document's own commands, one at a time (`None`
    /// for the commands the document has no steps for: they run as usual).
    fn literal_machine(
        &mut self,
        cmd: &Command,
        server: &crate::exec::conn::Address,
    ) -> Result<Option<Box<dyn plan::Machine>>, Error> {
        let ctx = self.context(server, false);
        Ok(Some(match cmd.clone() {
            Command::Login { user_id, username, role, ip, id, ttl } => {
                let id = match id {
                    Some(id) => id,
                    None => new_id().map_err(err)?,
                };
                let id = self.layout.full_id(&user_id, &id);
                let req = literal::LoginRequest { id, user_id, username, role, ip, ttl };
                Box::new(literal::Login::new(req, &ctx))
            }
            Command::Whoami(id) => Box::new(literal::Whoami::new(self.id_or_current(id, "whoami")?, ctx)),
            Command::Touch(id) => Box::new(literal::Touch::new(self.id_or_current(id, "touch")?, &ctx)),
            Command::Logout(id) => {
                let id = self.id_or_current(id, "logout")?;
                let stored = self.layout.stored_id(&id);
                let known =
                    self.watch.cache.lock().ok().and_then(|c| c.get(&stored).map(|o| o.user_id.clone()));
                let uid = known.or_else(|| events::user_of_stored(&stored).map(str::to_owned));
                Box::new(literal::Logout::new(id, uid, ctx))
            }
            Command::Sessions(uid) => Box::new(literal::Sessions::new(uid, ctx)),
            _ => return Ok(None),
        }))
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
        // Pipelined windows run on one server (a cluster runs each command on its own).
        let ctx = self.context(server, false);
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
