//! One connection to one Redis server: connect (TLS, AUTH, SELECT, HELLO 3), reconnect after a drop,
//! and the state redis-cli tracks for its prompt (db, MULTI).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use redis::{
    ConnectionAddr, ConnectionInfo, ConnectionLike, IntoConnectionInfo, ProtocolVersion, RedisConnectionInfo,
    Value,
};

use crate::error::{Error, redis_reason};
use crate::redis::cluster::{Redirect, SlotMap};

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
            .finish()
    }
}

impl Target {
    fn connection_info(&self) -> Result<ConnectionInfo, redis::RedisError> {
        let addr = match (&self.address, &self.tls) {
            (Address::Tcp { host, port }, None) => ConnectionAddr::Tcp(host.clone(), *port),
            (Address::Tcp { host, port }, Some(tls)) => ConnectionAddr::TcpTls {
                host: host.clone(),
                port: *port,
                insecure: tls.insecure,
                tls_params: None,
            },
            (Address::Unix(path), _) => ConnectionAddr::Unix(path.clone()),
        };
        let mut redis = RedisConnectionInfo::default().set_db(self.db).set_skip_set_lib_name();
        if let Some(password) = &self.password {
            redis = redis.set_password(password);
            if let Some(user) = &self.user {
                redis = redis.set_username(user);
            }
        }
        if self.resp3 {
            redis = redis.set_protocol(ProtocolVersion::RESP3);
        }
        Ok(addr.into_connection_info()?.set_redis_settings(redis))
    }

    fn client(&self) -> Result<redis::Client, redis::RedisError> {
        let info = self.connection_info()?;
        match &self.tls {
            Some(tls) if tls.ca_cert.is_some() || tls.client_cert.is_some() => {
                let certs = redis::TlsCertificates {
                    client_tls: tls.client_cert.as_ref().map(|(cert, key)| redis::ClientTlsConfig {
                        client_cert: cert.clone(),
                        client_key: key.clone(),
                    }),
                    root_cert: tls.ca_cert.clone(),
                };
                redis::Client::build_with_tls(info, certs)
            }
            _ => redis::Client::open(info),
        }
    }

    /// Opens a new connection, authenticated and on the right database.
    pub fn connect(&self) -> Result<redis::Connection, Error> {
        let fail =
            |e: &redis::RedisError| Error::Connect { addr: self.address.label(), reason: connect_reason(e) };
        let client = self.client().map_err(|e| fail(&e))?;
        let mut con = client.get_connection_with_timeout(self.connect_timeout).map_err(|e| fail(&e))?;
        con.set_read_timeout(self.read_timeout).map_err(|e| fail(&e))?;
        if self.tls.is_some() {
            // The TLS handshake waits for the first bytes sent; without this PING a certificate
            // the server fails would show up as a lost connection on the first command.
            con.send_packed_command(b"*1\r\n$4\r\nPING\r\n").map_err(|e| fail(&e))?;
            con.recv_response().map_err(|e| fail(&e))?;
        }
        Ok(con)
    }
}

fn connect_reason(e: &redis::RedisError) -> String {
    if e.kind() == redis::ErrorKind::AuthenticationFailed {
        return "AUTH failed: WRONGPASS invalid username-password pair or user is disabled.".to_owned();
    }
    let reason = redis_reason(e);
    if reason == "Server closed the connection" && e.detail().is_some() {
        return e.detail().unwrap_or_default().to_owned();
    }
    reason
}

/// A live connection and the client-side state that redis-cli shows in its prompt.
pub struct Conn {
    pub target: Target,
    con: Option<redis::Connection>,
    /// Inside MULTI: the prompt shows `(TX)`; holds the db to return to if the transaction is aborted.
    tx_db: Option<i64>,
    /// Cluster mode: open connections to the nodes not in use right now (their WATCHes stay alive).
    parked: HashMap<Address, (redis::Connection, Option<i64>)>,
    /// Cluster mode: which node serves each slot.
    pub slots: SlotMap,
}

impl Conn {
    /// A handle that connects on first use.
    pub fn new(target: Target) -> Self {
        Conn { target, con: None, tx_db: None, parked: HashMap::new(), slots: SlotMap::default() }
    }

    pub fn is_connected(&self) -> bool {
        self.con.is_some()
    }

    pub fn in_transaction(&self) -> bool {
        self.tx_db.is_some()
    }

    /// Connects now if not connected.
    pub fn ensure(&mut self) -> Result<&mut redis::Connection, Error> {
        if self.con.is_none() {
            self.con = Some(self.target.connect()?);
            self.tx_db = None;
        }
        self.con.as_mut().ok_or_else(|| Error::Other("not connected".into()))
    }

    /// Forgets the connection; the next command reconnects (as redis-cli does after an I/O error).
    pub fn drop_connection(&mut self) {
        self.con = None;
        self.tx_db = None;
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
    pub fn refresh_slots(&mut self) -> Result<(), Error> {
        let host = match &self.target.address {
            Address::Tcp { host, .. } => host.clone(),
            Address::Unix(_) => "127.0.0.1".to_owned(),
        };
        let con = self.ensure()?;
        let reply = con.req_command(redis::cmd("CLUSTER").arg("SLOTS"));
        let reply = reply.map_err(|e| self.lost(&e))?;
        self.slots = SlotMap::from_reply(&reply, &host);
        Ok(())
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
        let host = match (&r.host, &self.target.address) {
            (Some(h), _) => h.clone(),
            (None, Address::Tcp { host, .. }) => host.clone(),
            (None, Address::Unix(_)) => "127.0.0.1".to_owned(),
        };
        let address = Address::Tcp { host, port: r.port };
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

    /// The prompt for a given db and transaction state on this server.
    pub fn prompt_for(&self, db: i64, tx: bool) -> String {
        let mut p = self.target.address.prompt_label();
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
        let res = con.send_packed_command(packed);
        res.map_err(|e| self.lost(&e))
    }

    /// Reads the next reply (errors from the server are `Ok(Value::ServerError)`).
    pub fn recv(&mut self) -> Result<Value, Error> {
        let Some(con) = self.con.as_mut() else {
            return Err(Error::Connection("Server closed the connection".into()));
        };
        let res = con.recv_response();
        res.map_err(|e| self.lost(&e))
    }

    fn lost(&mut self, e: &redis::RedisError) -> Error {
        // A late reply would be read as the answer to the next command: start afresh instead.
        self.drop_connection();
        Error::Connection(redis_reason(e))
    }

    /// Updates the prompt state after a command and its reply, as redis-cli does.
    pub fn observe(&mut self, args: &[Vec<u8>], reply: &Value) {
        let Some(first) = args.first() else { return };
        if matches!(reply, Value::ServerError(_)) {
            if first.eq_ignore_ascii_case(b"exec") {
                self.end_transaction(true);
            }
            return;
        }
        let word = first.to_ascii_lowercase();
        match word.as_slice() {
            b"select" if args.len() == 2 => {
                if let Some(db) = std::str::from_utf8(&args[1]).ok().and_then(|s| s.parse().ok()) {
                    self.target.db = db;
                }
            }
            b"multi" if args.len() == 1 => self.tx_db = Some(self.target.db),
            b"exec" => self.end_transaction(matches!(reply, Value::Nil)),
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
                self.target.resp3 = matches!(reply, Value::Map(_));
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
}

pub fn parse_uri(uri: &str) -> Result<Uri, String> {
    let (scheme, rest) = uri.split_once("://").ok_or_else(|| format!("Invalid URI: {uri}"))?;
    let mut out = Uri::default();
    match scheme.to_ascii_lowercase().as_str() {
        "redis" | "valkey" => {}
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
        c.observe(&a("SELECT 2"), &Value::Okay);
        assert_eq!(c.target.db, 2);
        c.observe(&a("MULTI"), &Value::Okay);
        assert!(c.in_transaction());
        c.observe(&a("SELECT 5"), &Value::SimpleString("QUEUED".into()));
        assert_eq!(c.target.db, 5);
        c.observe(&a("DISCARD"), &Value::Okay);
        assert_eq!(c.target.db, 2);
        assert!(!c.in_transaction());
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
        assert!(parse_uri("redis://h:notaport").is_err());
    }
}
