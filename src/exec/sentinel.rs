//! Redis Sentinel: which server is the master of a name right now, and which are its replicas.
//!
//! The sentinels are asked with a [`Link`] like any server (same TLS, timeouts and AUTH code), so
//! there is one connection code path; these queries are redsh's bookkeeping, as redis-cli's AUTH
//! is: not echoed. Each sentinel is asked in turn until one answers.

use std::time::Duration;

use crate::error::Error;
use crate::exec::conn::{Address, Link, Target};
use crate::redis::reply::Reply;
use crate::redis::resp::pack_into;

/// The port a sentinel listens on when none is given.
pub const DEFAULT_PORT: u16 = 26379;

/// `--sentinel HOST:PORT … --master NAME`: where to ask, and for what.
#[derive(Clone, PartialEq, Eq)]
pub struct Sentinel {
    pub nodes: Vec<Address>,
    /// The name the sentinels monitor the master under (`sentinel monitor NAME …`).
    pub master: String,
    pub user: Option<String>,
    pub password: Option<String>,
}

// Hand-written so that the sentinels' password never reaches a message through `{:?}`.
impl std::fmt::Debug for Sentinel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sentinel")
            .field("nodes", &self.nodes)
            .field("master", &self.master)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "(redacted)"))
            .finish()
    }
}

/// A replica as the sentinels (or the master's `ROLE`) list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    pub address: Address,
    /// Up and replicating (not flagged down or disconnected by the sentinels).
    pub healthy: bool,
}

impl Sentinel {
    /// The master's current address, from the first sentinel that knows it.
    pub fn master_address(&self, server: &Target) -> Result<Address, Error> {
        let reply = self.ask(server, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", &self.master])?;
        master_of(&reply).ok_or_else(|| self.unknown())
    }

    /// The master's replicas, from the first sentinel that knows the master.
    pub fn replicas(&self, server: &Target) -> Result<Vec<Replica>, Error> {
        let reply = self.ask(server, &["SENTINEL", "REPLICAS", &self.master])?;
        Ok(replicas_of(&reply))
    }

    fn unknown(&self) -> Error {
        Error::Sentinel(format!("no sentinel knows a master named '{}'", self.master))
    }

    /// Sends one command to each sentinel in turn; the first useful reply. A sentinel that cannot
    /// be reached, or does not know the master, is skipped; when none answers, the error names
    /// each one and why.
    fn ask(&self, server: &Target, cmd: &[&str]) -> Result<Reply, Error> {
        let mut why = Vec::new();
        let mut unknown = 0;
        for node in &self.nodes {
            let target = self.target(server, node);
            let reply = Link::open(&target, 0).and_then(|mut link| {
                let mut packed = Vec::new();
                pack_into(&mut packed, cmd);
                link.send(&packed).map_err(|e| Error::Lost(e.to_string()))?;
                link.recv().map_err(|e| Error::Lost(e.to_string()))
            });
            match reply {
                Ok(Reply::Nil) => unknown += 1,
                Ok(r) if r.error_text().is_some_and(|e| e.starts_with(b"ERR No such master")) => unknown += 1,
                Ok(r) if r.is_error() => why.push(format!(
                    "{}: {}",
                    node.label(),
                    String::from_utf8_lossy(r.error_text().unwrap_or_default())
                )),
                Ok(r) => return Ok(r),
                Err(Error::Connect { reason, .. }) => why.push(format!("{}: {reason}", node.label())),
                Err(e) => why.push(format!("{}: {e}", node.label())),
            }
        }
        if unknown > 0 && why.is_empty() {
            return Err(self.unknown());
        }
        Err(Error::Sentinel(format!("no sentinel answered for master '{}': {}", self.master, why.join("; "))))
    }

    /// How to reach one sentinel: the server's TLS and timeouts, the sentinels' own credentials.
    fn target(&self, server: &Target, node: &Address) -> Target {
        Target {
            address: node.clone(),
            tls: server.tls.clone(),
            user: self.user.clone(),
            password: self.password.clone(),
            db: 0,
            resp3: false,
            connect_timeout: server.connect_timeout,
            // A sentinel answers at once; one that went silent must not hold the shell.
            read_timeout: Some(server.connect_timeout.max(Duration::from_millis(100))),
            cluster: false,
            sentinel: None,
        }
    }
}

/// `SENTINEL GET-MASTER-ADDR-BY-NAME`'s reply: `[host, port]`, or nil for an unknown name.
fn master_of(reply: &Reply) -> Option<Address> {
    let items = reply.elements();
    let host = items.first()?.text()?;
    let port = items.get(1)?.text()?.parse().ok()?;
    Some(Address::Tcp { host, port })
}

/// `SENTINEL REPLICAS`' reply: one flat field/value list (a map in RESP3) per replica.
fn replicas_of(reply: &Reply) -> Vec<Replica> {
    reply
        .elements()
        .into_iter()
        .filter_map(|r| {
            let fields = r.pairs();
            let get = |name: &str| {
                fields
                    .iter()
                    .find(|(k, _)| k == name.as_bytes())
                    .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            };
            let host = get("ip")?;
            let port = get("port")?.parse().ok()?;
            let flags = get("flags").unwrap_or_default();
            let bad = ["s_down", "o_down", "disconnected"];
            let healthy = !flags.split(',').any(|f| bad.contains(&f))
                && get("master-link-status").is_none_or(|s| s == "ok");
            Some(Replica { address: Address::Tcp { host, port }, healthy })
        })
        .collect()
}

/// A master's `ROLE` reply: its replicas (`["master", offset, [[ip, port, offset], …]]`); empty
/// when the server is not a master.
pub fn replicas_from_role(reply: &Reply) -> Vec<Replica> {
    let items = reply.elements();
    if items.first().and_then(|r| r.text()).as_deref() != Some("master") {
        return Vec::new();
    }
    let Some(list) = items.get(2) else { return Vec::new() };
    list.elements()
        .into_iter()
        .filter_map(|r| {
            let parts = r.elements();
            let host = parts.first()?.text()?;
            let port = parts.get(1)?.text()?.parse().ok()?;
            Some(Replica { address: Address::Tcp { host, port }, healthy: true })
        })
        .collect()
}

/// Parses `HOST:PORT` (`[v6]:PORT`; the port defaults to the sentinels' 26379).
pub fn parse_node(text: &str) -> Result<Address, String> {
    let bad = || format!("invalid sentinel address '{text}': expected HOST:PORT");
    let (host, port) = if let Some(v6) = text.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(bad)?;
        (host, after.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        }
    };
    if host.is_empty() {
        return Err(bad());
    }
    let port = match port {
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(bad)?,
        None => DEFAULT_PORT,
    };
    Ok(Address::Tcp { host: host.to_owned(), port })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(s.as_bytes().to_vec())
    }

    #[test]
    fn reads_the_masters_address() {
        let reply = Reply::Array(vec![bulk("127.0.0.1"), bulk("6380")]);
        assert_eq!(master_of(&reply), Some(Address::Tcp { host: "127.0.0.1".into(), port: 6380 }));
        assert_eq!(master_of(&Reply::Nil), None);
        assert_eq!(master_of(&Reply::Array(vec![bulk("h"), bulk("port")])), None);
    }

    #[test]
    fn reads_replicas_and_their_health() {
        let replica = |port: &str, flags: &str| {
            Reply::Array(
                ["name", "x", "ip", "127.0.0.1", "port", port, "flags", flags, "master-link-status", "ok"]
                    .into_iter()
                    .map(bulk)
                    .collect(),
            )
        };
        let reply = Reply::Array(vec![replica("7001", "slave"), replica("7002", "s_down,slave")]);
        let found = replicas_of(&reply);
        assert_eq!(found.len(), 2);
        assert_eq!(
            found[0],
            Replica { address: Address::Tcp { host: "127.0.0.1".into(), port: 7001 }, healthy: true }
        );
        assert!(!found[1].healthy);
    }

    #[test]
    fn reads_replicas_from_role() {
        let role = Reply::Array(vec![
            bulk("master"),
            Reply::Int(10),
            Reply::Array(vec![Reply::Array(vec![bulk("127.0.0.1"), bulk("7001"), bulk("10")])]),
        ]);
        assert_eq!(replicas_from_role(&role).len(), 1);
        assert!(replicas_from_role(&Reply::Array(vec![bulk("slave")])).is_empty());
    }

    #[test]
    fn parses_sentinel_addresses() {
        assert_eq!(parse_node("10.0.0.1:5000"), Ok(Address::Tcp { host: "10.0.0.1".into(), port: 5000 }));
        assert_eq!(parse_node("[::1]:5000"), Ok(Address::Tcp { host: "::1".into(), port: 5000 }));
        assert_eq!(parse_node("s1"), Ok(Address::Tcp { host: "s1".into(), port: DEFAULT_PORT }));
        for bad in ["", ":5000", "h:0", "h:x", "h:70000", "[::1"] {
            assert!(parse_node(bad).is_err(), "{bad}");
        }
    }
}
