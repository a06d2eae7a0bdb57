//! One connection to one Redis server: connect (TLS, AUTH, SELECT, HELLO 3), reconnect after a drop,
//! and the state redis-cli tracks for its prompt (db, MULTI).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use std::io::Write;

use crate::error::{Error, io_reason};
use crate::exec::sentinel::{Replica, Sentinel, replicas_from_role};
use crate::exec::transport::{self, Stream};
use crate::redis::cluster::{Redirect, SlotMap};
use crate::redis::reply::Reply;
use crate::redis::resp::{Reader, pack_into};

/// Where the server is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    Tcp { host: String, port: u16 },
    Unix(PathBuf),
}

impl Address {
    /// The server as redis-cli names it in messages: `host:port`, `[v6]:port`, or the socket path.
    pub fn label(&self) -> String {
        match self {
            Address::Tcp { host, port } if host.contains(':') => format!("[{host}]:{port}"),
            Address::Tcp { host, port } => format!("{host}:{port}"),
            Address::Unix(path) => path.display().to_string(),
        }
    }

    /// The prompt's address part: `127.0.0.1:6379` or `redis /path/to.sock`.
    pub fn prompt_label(&self) -> String {
        match self {
            Address::Unix(path) => format!("redis {}", path.display()),
            tcp => tcp.label(),
        }
    }
}

/// TLS settings, as redis-cli's `--tls --cacert --cert --key --insecure`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    pub ca_cert: Option<Vec<u8>>,
    pub client_cert: Option<(Vec<u8>, Vec<u8>)>,
    pub insecure: bool,
    /// The name the server's certificate must carry, when not the host connected to (`--sni`).
    pub sni: Option<String>,
}

/// Everything needed to (re)connect.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    pub address: Address,
    pub tls: Option<Tls>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub db: i64,
    pub resp3: bool,
    pub connect_timeout: Duration,
    pub read_timeout: Option<Duration>,
    /// `-c`: a Redis Cluster; follow `MOVED`/`ASK` and route session commands by slot.
    pub cluster: bool,
    /// `--sentinel … --master NAME`: `address` is whatever the sentinels last named as the master.
    pub sentinel: Option<Sentinel>,
}

// Hand-written so that a password can never reach a log or an error through `{:?}`.
impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("address", &self.address)
            .field("tls", &self.tls.is_some())
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "(redacted)"))
            .field("db", &self.db)
            .field("resp3", &self.resp3)
            .field("cluster", &self.cluster)
            .field("sentinel", &self.sentinel)
            .finish()
    }
}

impl Target {
    /// Opens a new connection, set up as redis-cli sets one up: AUTH, SELECT, HELLO 3.
    pub fn connect(&self) -> Result<Link, Error> {
        Link::open(self, self.db)
    }
}

/// One open connection to one server, and the replies arriving on it.
pub struct Link {
    stream: Stream,
    reader: Reader,
}

impl Link {
    /// Connects to `target`'s address and sets the connection up on database `db`. The setup
    /// commands are redsh's bookkeeping, as they are redis-cli's: not echoed.
    pub fn open(target: &Target, db: i64) -> Result<Link, Error> {
        let fail = |reason: String| Error::Connect { addr: target.address.label(), reason };
        let stream = transport::connect(&target.address, target.tls.as_ref(), target.connect_timeout)
            .map_err(|e| fail(e.0))?;
        let mut link = Link { stream, reader: Reader::new() };
        // The setup must not wait forever on a server that accepted and went silent.
        let _ = link.stream.set_read_timeout(Some(target.connect_timeout.max(Duration::from_millis(100))));
        let mut setup: Vec<(Vec<Vec<u8>>, &str)> = Vec::new();
        if let Some(password) = &target.password {
            let mut auth = vec![b"AUTH".to_vec()];
            if let Some(user) = &target.user {
                auth.push(user.as_bytes().to_vec());
            }
            auth.push(password.as_bytes().to_vec());
            setup.push((auth, "AUTH"));
        }
        if db != 0 {
            setup.push((vec![b"SELECT".to_vec(), db.to_string().into_bytes()], "SELECT"));
        }
        if target.resp3 {
            setup.push((vec![b"HELLO".to_vec(), b"3".to_vec()], "HELLO 3"));
        }
        if !setup.is_empty() {
            let mut packed = Vec::new();
            for (cmd, _) in &setup {
                pack_into(&mut packed, cmd);
            }
            link.send(&packed).map_err(|e| fail(e.to_string()))?;
            for (_, what) in &setup {
                if let Reply::Error(e) = link.recv().map_err(|e| fail(e.to_string()))? {
                    let what = if *what == "SELECT" { format!("SELECT {db}") } else { what.to_string() };
                    return Err(fail(format!("{what} failed: {}", String::from_utf8_lossy(&e))));
                }
            }
        } else if target.tls.is_some() {
            // Some servers check the client's certificate only once data flows: ask once, so a
            // refused certificate shows up here and not as a lost connection on the first command.
            link.send(b"*1\r\n$4\r\nPING\r\n").map_err(|e| fail(e.to_string()))?;
            link.recv().map_err(|e| fail(e.to_string()))?;
        }
        link.stream.set_read_timeout(target.read_timeout).map_err(|e| fail(io_reason(&e)))?;
        Ok(link)
    }

    /// Writes packed commands without waiting for their replies.
    pub fn send(&mut self, packed: &[u8]) -> Result<(), LinkError> {
        self.stream.write_all(packed).and_then(|_| self.stream.flush()).map_err(LinkError::from_io)
    }

    /// The next frame the server sent: a reply or a push, in the order they came.
    pub fn recv(&mut self) -> Result<Reply, LinkError> {
        loop {
            if let Some(reply) = self.reader.next_reply().map_err(|e| LinkError::Protocol(e.0))? {
                return Ok(reply);
            }
            match self.reader.read_from(&mut self.stream) {
                Ok(0) => return Err(LinkError::Closed),
                Ok(_) => {}
                // Ctrl-C at the terminal (see `interrupt`): give up waiting; the caller drops us.
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted && crate::interrupt::pending() => {
                    return Err(LinkError::Io(io_reason(&e)));
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(LinkError::from_io(e)),
            }
        }
    }

    /// Whether the server closed this connection while it was idle (nothing is read).
    pub fn peer_closed(&self) -> bool {
        self.stream.peer_closed()
    }

    /// A second handle on a plain connection, for `--pipe`'s writer thread (none over TLS).
    pub fn try_clone_plain(&self) -> Option<Stream> {
        self.stream.try_clone_plain()
    }

    /// Bounds how long [`Link::recv`] waits (`None`: for ever).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) {
        let _ = self.stream.set_read_timeout(timeout);
    }
}

/// Why a connection stopped answering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkError {
    /// The server closed the connection.
    Closed,
    /// No reply within the read timeout.
    Timeout,
    Io(String),
    /// The server sent something that is not RESP.
    Protocol(String),
}

impl LinkError {
    fn from_io(e: std::io::Error) -> LinkError {
        match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => LinkError::Timeout,
            std::io::ErrorKind::UnexpectedEof => LinkError::Closed,
            _ => LinkError::Io(io_reason(&e)),
        }
    }
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Closed => f.write_str("Server closed the connection"),
            LinkError::Timeout => f.write_str("Timeout reading from the server"),
            LinkError::Io(reason) | LinkError::Protocol(reason) => f.write_str(reason),
        }
    }
}

/// A live connection and the client-side state that redis-cli shows in its prompt.
pub struct Conn {
    pub target: Target,
    con: Option<Link>,
    /// Inside MULTI: the prompt shows `(TX)`; holds the db to return to if the transaction is aborted.
    tx_db: Option<i64>,
    /// Cluster mode: open connections to the nodes not in use right now (their WATCHes stay alive).
    parked: HashMap<Address, (Link, Option<i64>)>,
    /// Cluster mode: which node serves each slot.
    pub slots: SlotMap,
    /// Sentinel mode: the server answered READONLY, so it is no longer the master; the next
    /// command asks the sentinels again.
    demoted: bool,
    /// `--read-from-replica`: the replica in use and its connection.
    replica: Option<(Address, Link)>,
    /// The last prompt built and what it was built from: a script echoes thousands of commands
    /// under the same prompt.
    prompt_cache: std::cell::RefCell<Option<(PromptKey, String)>>,
}

/// What a prompt shows: the server (and the master's name under Sentinel), the db, `(TX)`.
#[derive(PartialEq, Eq)]
struct PromptKey {
    address: Address,
    master: Option<String>,
    db: i64,
    tx: bool,
}

impl Conn {
    /// A handle that connects on first use.
    pub fn new(target: Target) -> Self {
        Conn {
            target,
            con: None,
            tx_db: None,
            parked: HashMap::new(),
            slots: SlotMap::default(),
            demoted: false,
            replica: None,
            prompt_cache: std::cell::RefCell::new(None),
        }
    }

    pub fn is_connected(&self) -> bool {
        self.con.is_some()
    }

    pub fn in_transaction(&self) -> bool {
        self.tx_db.is_some()
    }

    /// Connects now if not connected. In Sentinel mode every (re)connection first asks the
    /// sentinels where the master is now: after a failover that is the promoted replica.
    pub fn ensure(&mut self) -> Result<&mut Link, Error> {
        if self.demoted && self.tx_db.is_none() {
            self.drop_connection();
        }
        // Sentinel mode: a connection the server closed while idle (a demoted master's clients are
        // killed by the sentinels; a dead one's socket is closed by its kernel) is replaced before
        // anything is sent on it, so no command is lost to it. Outside Sentinel mode the first
        // command reports the closed connection, as redis-cli's does.
        if self.target.sentinel.is_some()
            && self.tx_db.is_none()
            && self.con.as_ref().is_some_and(Link::peer_closed)
        {
            self.drop_connection();
        }
        if self.con.is_none() {
            self.demoted = false;
            if let Some(sentinel) = &self.target.sentinel {
                self.target.address = sentinel.master_address(&self.target)?;
            }
            let con = match self.target.connect() {
                Ok(con) => con,
                Err(e) => {
                    // On a cluster the node may be gone for good (a failover): the next command
                    // asks for the map again, from any node seen.
                    if self.target.cluster {
                        self.slots.forget_nodes_only();
                    }
                    return Err(self.in_sentinel_terms(e));
                }
            };
            self.con = Some(con);
            self.tx_db = None;
        }
        self.con.as_mut().ok_or_else(|| Error::Other("not connected".into()))
    }

    /// Forgets the connection; the next command reconnects (as redis-cli does after an I/O error).
    pub fn drop_connection(&mut self) {
        self.con = None;
        self.tx_db = None;
    }

    /// A master the sentinels name but that cannot be reached: say so, the likely reason too.
    fn in_sentinel_terms(&self, e: Error) -> Error {
        match (e, &self.target.sentinel) {
            (Error::Connect { addr, reason }, Some(s)) => Error::Connect {
                addr,
                reason: format!(
                    "{reason} (the sentinels name it master '{}'; a failover may be under way)",
                    s.master
                ),
            },
            (e, _) => e,
        }
    }

    /// `--read-from-replica`: a connection to a replica of the master (found through the
    /// sentinels, or the master's `ROLE`), opened on the current database.
    pub fn ensure_replica(&mut self) -> Result<&mut Link, Error> {
        if self.replica.is_none() {
            let candidates = self.replica_candidates()?;
            let mut why = Vec::new();
            for address in candidates {
                let target = Target { address: address.clone(), ..self.target.clone() };
                match Link::open(&target, self.target.db) {
                    Ok(link) => {
                        self.replica = Some((address, link));
                        break;
                    }
                    Err(e) => why.push(e.to_string()),
                }
            }
            if self.replica.is_none() {
                let detail = if why.is_empty() { "it has none".to_owned() } else { why.join("; ") };
                return Err(Error::Other(format!(
                    "--read-from-replica: no replica of the master can be reached: {detail}"
                )));
            }
        }
        match self.replica.as_mut() {
            Some((_, link)) => Ok(link),
            None => Err(Error::Other("not connected to a replica".into())),
        }
    }

    fn replica_candidates(&mut self) -> Result<Vec<Address>, Error> {
        let replicas: Vec<Replica> = match &self.target.sentinel {
            Some(sentinel) => sentinel.replicas(&self.target)?,
            None => {
                // Bookkeeping, like CLUSTER SLOTS: not echoed.
                let mut packed = Vec::new();
                pack_into(&mut packed, &["ROLE"]);
                self.send(&packed)?;
                replicas_from_role(&self.recv()?)
            }
        };
        let (healthy, other): (Vec<_>, Vec<_>) = replicas.into_iter().partition(|r| r.healthy);
        Ok(healthy.into_iter().chain(other).map(|r| r.address).collect())
    }

    /// Forgets the replica connection (lost, or the db changed); the next read finds one again.
    pub fn drop_replica(&mut self) {
        self.replica = None;
    }

    /// Writes to the replica in use.
    pub fn replica_send(&mut self, packed: &[u8]) -> Result<(), Error> {
        let link = self.ensure_replica()?;
        let res = link.send(packed);
        res.map_err(|e| {
            self.replica = None;
            Error::Lost(e.to_string())
        })
    }

    /// The next frame from the replica in use.
    pub fn replica_recv(&mut self) -> Result<Reply, Error> {
        let Some((_, link)) = self.replica.as_mut() else {
            return Err(Error::Connection("Server closed the connection".into()));
        };
        let res = link.recv();
        res.map_err(|e| {
            self.replica = None;
            Error::Lost(e.to_string())
        })
    }

    /// The prompt echoed before a command sent to the replica: its own address, marked.
    pub fn replica_prompt(&self) -> String {
        let label = match &self.replica {
            Some((address, _)) => address.prompt_label(),
            None => "not connected".to_owned(),
        };
        let mut p = match &self.target.sentinel {
            Some(s) => format!("{}@{label}", s.master),
            None => label,
        };
        if self.target.db != 0 {
            p.push_str(&format!("[{}]", self.target.db));
        }
        p.push_str("(replica)> ");
        p
    }

    /// Cluster mode: the connection to `address` (the node in use, or one kept open for later),
    /// opened if need be, without making it the node in use.
    pub fn link_to(&mut self, address: &Address) -> Result<&mut Link, Error> {
        if *address == self.target.address {
            return self.ensure();
        }
        if !self.parked.contains_key(address) {
            let mut target = self.target.clone();
            target.address = address.clone();
            let link = target.connect()?;
            self.parked.insert(address.clone(), (link, None));
        }
        match self.parked.get_mut(address) {
            Some((link, _)) => Ok(link),
            None => Err(Error::Other("not connected".into())),
        }
    }

    /// Cluster mode: forgets the connection to `address` (it was lost).
    pub fn drop_link(&mut self, address: &Address) {
        if *address == self.target.address {
            self.drop_connection();
        } else {
            self.parked.remove(address);
        }
    }

    /// Cluster mode: makes `address` the node in use, keeping the current connection for later.
    pub fn switch_to(&mut self, address: Address) {
        if address == self.target.address {
            return;
        }
        let old = std::mem::replace(&mut self.target.address, address.clone());
        // A connection left inside MULTI would queue whatever it is given next: close it instead,
        // as redis-cli's reconnect does.
        if let Some(con) = self.con.take()
            && self.tx_db.is_none()
        {
            self.parked.insert(old, (con, None));
        }
        self.tx_db = None;
        if let Some((con, tx_db)) = self.parked.remove(&address) {
            self.con = Some(con);
            self.tx_db = tx_db;
        }
    }

    /// Cluster mode: asks the node in use which node serves which slot (`CLUSTER SLOTS`).
    /// This routing query is not echoed: it is redsh's bookkeeping, not part of any command.
    /// When the node in use does not answer (a master killed, its replica promoted), every other
    /// node known from the last map is asked in turn, and the first that answers becomes the node
    /// in use: a failover costs the commands in flight, never the session.
    pub fn refresh_slots(&mut self) -> Result<(), Error> {
        let mut candidates = vec![self.target.address.clone()];
        for node in self.slots.nodes() {
            if !candidates.contains(&node) {
                candidates.push(node);
            }
        }
        let mut last = None;
        let original = self.target.address.clone();
        for node in candidates {
            self.switch_to(node);
            match self.ask_slots() {
                Ok(()) => return Ok(()),
                Err(e) => {
                    self.drop_connection();
                    last = Some(e);
                }
            }
        }
        self.switch_to(original);
        Err(last.unwrap_or_else(|| Error::Other("no cluster node answers".into())))
    }

    fn ask_slots(&mut self) -> Result<(), Error> {
        let host = match &self.target.address {
            Address::Tcp { host, .. } => host.clone(),
            Address::Unix(_) => "127.0.0.1".to_owned(),
        };
        let mut packed = Vec::new();
        pack_into(&mut packed, &["CLUSTER", "SLOTS"]);
        self.send(&packed)?;
        let reply = self.recv()?;
        let map = SlotMap::from_reply(&reply, &host);
        if map.is_empty() {
            return Err(Error::Other(format!("{} gave no slot map", self.target.address.label())));
        }
        self.slots = map;
        Ok(())
    }

    /// Cluster mode: a node failed; the next command asks for a fresh slot map first.
    pub fn node_failed(&mut self, address: &Address) {
        self.drop_link(address);
        self.slots.forget_nodes_only();
    }

    /// Cluster mode: makes the node serving `slot` the one in use.
    pub fn route(&mut self, slot: u16) -> Result<(), Error> {
        if self.slots.is_empty() {
            self.refresh_slots()?;
        }
        if let Some(address) = self.slots.node(slot).cloned() {
            self.switch_to(address);
        }
        Ok(())
    }

    /// Cluster mode: goes where a `MOVED`/`ASK` points (the caller sends `ASKING` for an `ASK`).
    pub fn follow(&mut self, r: &Redirect) {
        let address = r.node(&self.target.address);
        if !r.ask {
            self.slots.learn(r.slot, address.clone());
        }
        self.switch_to(address);
    }

    /// redis-cli's prompt: `127.0.0.1:6379[2](TX)> `, or `not connected> `.
    pub fn prompt(&self) -> String {
        if self.con.is_none() {
            return "not connected> ".to_owned();
        }
        self.prompt_for(self.target.db, self.in_transaction())
    }

    /// Cluster: the prompt of another node than the one in use (as it shows once that node is in
    /// use, connected).
    pub fn prompt_at(&self, address: &Address) -> String {
        if *address == self.target.address && self.con.is_some() {
            return self.prompt();
        }
        let mut p = address.prompt_label();
        if self.target.db != 0 {
            p.push_str(&format!("[{}]", self.target.db));
        }
        if self.in_transaction() {
            p.push_str("(TX)");
        }
        p.push_str("> ");
        p
    }

    /// The prompt for a given db and transaction state on this server.
    pub fn prompt_for(&self, db: i64, tx: bool) -> String {
        let mut cache = self.prompt_cache.borrow_mut();
        let fresh = |key: &PromptKey| {
            key.db == db
                && key.tx == tx
                && key.address == self.target.address
                && key.master.as_deref() == self.target.sentinel.as_ref().map(|s| s.master.as_str())
        };
        if let Some((key, text)) = cache.as_ref()
            && fresh(key)
        {
            return text.clone();
        }
        let text = self.build_prompt(db, tx);
        let key = PromptKey {
            address: self.target.address.clone(),
            master: self.target.sentinel.as_ref().map(|s| s.master.clone()),
            db,
            tx,
        };
        *cache = Some((key, text.clone()));
        text
    }

    fn build_prompt(&self, db: i64, tx: bool) -> String {
        let mut p = match &self.target.sentinel {
            Some(s) => format!("{}@{}", s.master, self.target.address.prompt_label()),
            None => self.target.address.prompt_label(),
        };
        if db != 0 {
            p.push_str(&format!("[{db}]"));
        }
        if tx {
            p.push_str("(TX)");
        }
        p.push_str("> ");
        p
    }

    /// Writes packed commands without waiting for replies.
    pub fn send(&mut self, packed: &[u8]) -> Result<(), Error> {
        let con = self.ensure()?;
        let res = con.send(packed);
        res.map_err(|e| self.lost(&e))
    }

    /// Reads the next frame (errors from the server are `Ok(Reply::Error)`).
    pub fn recv(&mut self) -> Result<Reply, Error> {
        let Some(con) = self.con.as_mut() else {
            return Err(Error::Connection("Server closed the connection".into()));
        };
        let res = con.recv();
        res.map_err(|e| self.lost(&e))
    }

    fn lost(&mut self, e: &LinkError) -> Error {
        // A late reply would be read as the answer to the next command: start afresh instead.
        self.drop_connection();
        // On a cluster the node may be gone for good (a failover): the map is asked for again.
        if self.target.cluster {
            self.slots.forget_nodes_only();
        }
        Error::Lost(e.to_string())
    }

    /// Updates the prompt state after a command and its reply, as redis-cli does.
    pub fn observe(&mut self, args: &[Vec<u8>], reply: &Reply) {
        let Some(first) = args.first() else { return };
        if self.target.sentinel.is_some() && reply.error_text().is_some_and(|e| e.starts_with(b"READONLY")) {
            // A failover demoted this server: the next command goes to whichever is master now.
            self.demoted = true;
        }
        if reply.is_error() {
            if first.eq_ignore_ascii_case(b"exec") {
                self.end_transaction(true);
            }
            return;
        }
        // Every reply of a script passes here: only a few command names matter, and they are
        // told apart without allocating.
        if first.len() > 7 || !b"smedrah".contains(&first[0].to_ascii_lowercase()) {
            return;
        }
        let mut lower = [0u8; 8];
        lower[..first.len()].copy_from_slice(first);
        lower.make_ascii_lowercase();
        match &lower[..first.len()] {
            b"select" if args.len() == 2 => {
                if let Some(db) = std::str::from_utf8(&args[1]).ok().and_then(|s| s.parse().ok()) {
                    self.target.db = db;
                    self.replica = None;
                }
            }
            b"multi" if args.len() == 1 => self.tx_db = Some(self.target.db),
            b"exec" => self.end_transaction(matches!(reply, Reply::Nil)),
            b"discard" => self.end_transaction(true),
            b"reset" => {
                self.tx_db = None;
                self.target.db = 0;
                self.target.resp3 = false;
            }
            b"auth" if args.len() == 2 || args.len() == 3 => {
                // Remember working credentials for the next reconnect.
                let text = |a: &Vec<u8>| String::from_utf8_lossy(a).into_owned();
                self.target.password = Some(text(&args[args.len() - 1]));
                self.target.user = (args.len() == 3).then(|| text(&args[1]));
            }
            b"hello" => {
                self.target.resp3 = matches!(reply, Reply::Map(_));
                if let Some(i) = args.iter().position(|a| a.eq_ignore_ascii_case(b"auth"))
                    && let (Some(user), Some(pass)) = (args.get(i + 1), args.get(i + 2))
                {
                    self.target.user = Some(String::from_utf8_lossy(user).into_owned());
                    self.target.password = Some(String::from_utf8_lossy(pass).into_owned());
                }
            }
            _ => {}
        }
    }

    fn end_transaction(&mut self, aborted: bool) {
        if let Some(db) = self.tx_db.take()
            && aborted
        {
            self.target.db = db;
        }
    }
}

/// Parses redis-cli's `-u` URI: `redis://[[user:]pass@]host[:port][/db]`, `rediss://…`, `unix://path`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Uri {
    pub address: Option<Address>,
    pub tls: bool,
    pub user: Option<String>,
    pub password: Option<String>,
    pub db: Option<i64>,
    /// `redis+sentinel://`: the sentinels and the master's name.
    pub sentinel: Option<(Vec<Address>, String)>,
}

pub fn parse_uri(uri: &str) -> Result<Uri, String> {
    let (scheme, rest) = uri.split_once("://").ok_or_else(|| format!("Invalid URI: {uri}"))?;
    let mut out = Uri::default();
    let mut sentinel = false;
    match scheme.to_ascii_lowercase().as_str() {
        "redis" | "valkey" => {}
        "redis+sentinel" => sentinel = true,
        "rediss+sentinel" => {
            sentinel = true;
            out.tls = true;
        }
        "rediss" | "valkeys" => out.tls = true,
        "unix" | "redis+unix" => {
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            if path.is_empty() {
                return Err("Invalid URI: a unix:// URI needs a socket path".into());
            }
            out.address = Some(Address::Unix(PathBuf::from(percent_decode(path)?)));
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                match pair.split_once('=') {
                    Some(("db", n)) => {
                        out.db = Some(n.parse().map_err(|_| format!("Invalid URI database: {n}"))?)
                    }
                    Some(("user", u)) => out.user = Some(percent_decode(u)?),
                    Some(("pass" | "password", p)) => out.password = Some(percent_decode(p)?),
                    _ => return Err(format!("Invalid URI option: {pair}")),
                }
            }
            return Ok(out);
        }
        _ => return Err("Invalid URI scheme".into()),
    }
    // The userinfo ends at the last '@': a password may hold '/' or '@' unescaped, and no part
    // of it may ever reach the host, port or db (nor so an error message).
    let (userinfo, rest) = match rest.rsplit_once('@') {
        Some((userinfo, rest)) => (Some(userinfo), rest),
        None => (None, rest),
    };
    if let Some(userinfo) = userinfo {
        match userinfo.split_once(':') {
            Some((user, pass)) => {
                if !user.is_empty() {
                    out.user = Some(percent_decode(user)?);
                }
                out.password = Some(percent_decode(pass)?);
            }
            None => out.password = Some(percent_decode(userinfo)?),
        }
    }
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    if sentinel {
        let nodes = hostport
            .split(',')
            .map(crate::exec::sentinel::parse_node)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("Invalid URI: {e}"))?;
        let path = path.split('?').next().unwrap_or("");
        let (name, db) = path.split_once('/').unwrap_or((path, ""));
        if name.is_empty() {
            return Err("Invalid URI: a redis+sentinel:// URI names the master: …/NAME[/db]".into());
        }
        if !db.is_empty() {
            out.db = Some(db.parse().map_err(|_| format!("Invalid URI database: {db}"))?);
        }
        out.sentinel = Some((nodes, percent_decode(name)?));
        return Ok(out);
    }
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or("Invalid URI: unclosed [ in host")?;
        (host.to_owned(), after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (hostport.to_owned(), None),
        }
    };
    let port = match port {
        Some(p) => p.parse::<u16>().map_err(|_| format!("Invalid URI port: {p}"))?,
        None => 6379,
    };
    let host = if host.is_empty() { "127.0.0.1".to_owned() } else { host };
    out.address = Some(Address::Tcp { host, port });
    let db = path.split('?').next().unwrap_or("");
    if !db.is_empty() {
        out.db = Some(db.parse().map_err(|_| format!("Invalid URI database: {db}"))?);
    }
    Ok(out)
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or("Invalid URI: bad % escape")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| "Invalid URI: bad % escape")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "Invalid URI: not UTF-8 after decoding".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(address: Address) -> Target {
        Target {
            address,
            tls: None,
            user: None,
            password: None,
            db: 0,
            resp3: false,
            connect_timeout: Duration::from_secs(1),
            read_timeout: None,
            cluster: false,
            sentinel: None,
        }
    }

    #[test]
    fn prompts_like_redis_cli() {
        let c = Conn::new(target(Address::Tcp { host: "127.0.0.1".into(), port: 6379 }));
        assert_eq!(c.prompt(), "not connected> ");
        assert_eq!(c.prompt_for(0, false), "127.0.0.1:6379> ");
        assert_eq!(c.prompt_for(2, true), "127.0.0.1:6379[2](TX)> ");
        let c = Conn::new(target(Address::Tcp { host: "::1".into(), port: 6399 }));
        assert_eq!(c.prompt_for(0, false), "[::1]:6399> ");
        let c = Conn::new(target(Address::Unix("/run/redis.sock".into())));
        assert_eq!(c.prompt_for(3, false), "redis /run/redis.sock[3]> ");
    }

    #[test]
    fn tracks_select_multi_exec() {
        let mut c = Conn::new(target(Address::Tcp { host: "h".into(), port: 1 }));
        let a = |s: &str| s.split(' ').map(|w| w.as_bytes().to_vec()).collect::<Vec<_>>();
        let ok = Reply::Status(b"OK".to_vec());
        c.observe(&a("SELECT 2"), &ok);
        assert_eq!(c.target.db, 2);
        c.observe(&a("MULTI"), &ok);
        assert!(c.in_transaction());
        c.observe(&a("SELECT 5"), &Reply::Status(b"QUEUED".to_vec()));
        assert_eq!(c.target.db, 5);
        c.observe(&a("DISCARD"), &ok);
        assert_eq!(c.target.db, 2);
        assert!(!c.in_transaction());
    }

    #[test]
    fn sentinel_mode_names_the_master_and_leaves_a_demoted_server() {
        let mut t = target(Address::Tcp { host: "127.0.0.1".into(), port: 6380 });
        t.sentinel = Some(Sentinel { nodes: vec![], master: "mymaster".into(), user: None, password: None });
        let mut c = Conn::new(t);
        assert_eq!(c.prompt_for(1, false), "mymaster@127.0.0.1:6380[1]> ");
        let a = |s: &str| s.split(' ').map(|w| w.as_bytes().to_vec()).collect::<Vec<_>>();
        c.observe(&a("GET k"), &Reply::Error(b"ERR no".to_vec()));
        assert!(!c.demoted);
        c.observe(
            &a("SET k v"),
            &Reply::Error(b"READONLY You can't write against a read only replica.".to_vec()),
        );
        assert!(c.demoted);
        // Not connected, no sentinel to ask: the next command fails, it does not reuse the server.
        assert!(matches!(c.ensure(), Err(Error::Sentinel(_))));
    }

    #[test]
    fn parses_uris() {
        let u = parse_uri("redis://alice:s%40cret@example.com:6380/2").unwrap();
        assert_eq!(u.address, Some(Address::Tcp { host: "example.com".into(), port: 6380 }));
        assert_eq!(
            (u.user.as_deref(), u.password.as_deref(), u.db),
            (Some("alice"), Some("s@cret"), Some(2))
        );
        let u = parse_uri("rediss://[::1]:7000").unwrap();
        assert!(u.tls);
        assert_eq!(u.address, Some(Address::Tcp { host: "::1".into(), port: 7000 }));
        let u = parse_uri("unix:///tmp/r.sock?db=3").unwrap();
        assert_eq!(u.address, Some(Address::Unix("/tmp/r.sock".into())));
        assert_eq!(u.db, Some(3));
        assert_eq!(parse_uri("http://x").unwrap_err(), "Invalid URI scheme");
        let u = parse_uri("redis+sentinel://:pw@10.0.0.1:5000,[::1],s3:5002/mymaster/2").unwrap();
        let tcp = |h: &str, port| Address::Tcp { host: h.into(), port };
        let nodes = vec![tcp("10.0.0.1", 5000), tcp("::1", 26379), tcp("s3", 5002)];
        assert_eq!(u.sentinel, Some((nodes, "mymaster".to_owned())));
        assert_eq!((u.password.as_deref(), u.db, u.address), (Some("pw"), Some(2), None));
        assert!(parse_uri("rediss+sentinel://h/m").unwrap().tls);
        assert!(parse_uri("redis+sentinel://h:1").is_err());
        assert!(parse_uri("redis+sentinel://h:1,:2/m").is_err());
        assert!(parse_uri("redis://h:notaport").is_err());
    }
}
