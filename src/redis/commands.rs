//! What redsh knows about each Redis command, in one table: where its keys are (for routing on a
//! cluster and for ordering a pipelined window), whether it blocks, streams replies, or changes
//! the connection's state. The table (`commands.tsv`) is redis-server 7.0's own `COMMAND` reply;
//! a command it does not know is treated with every caution (any key, run in its place).

use std::collections::HashMap;
use std::sync::OnceLock;

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// Position of the first key (0: none), the last (negative: from the end), and the step.
    first: i32,
    last: i32,
    step: i32,
    /// Keys are found by rules of the command's own (EVAL's numkeys, XREAD's STREAMS…).
    movable: bool,
    blocking: bool,
    pubsub: bool,
    /// Changes the keyspace (`write` in the table).
    write: bool,
    /// Reads and never changes the keyspace (`readonly` in the table).
    readonly: bool,
}

fn table() -> &'static HashMap<Vec<u8>, Info> {
    static TABLE: OnceLock<HashMap<Vec<u8>, Info>> = OnceLock::new();
    TABLE.get_or_init(|| {
        include_str!("commands.tsv")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                let n = |i: usize| f.get(i).and_then(|v| v.parse::<i32>().ok());
                let flags = f.get(6)?;
                let cats = f.get(7)?;
                let info = Info {
                    first: n(2)?,
                    last: n(3)?,
                    step: n(4)?,
                    movable: f.get(5) == Some(&"movable"),
                    blocking: flags.contains("blocking") || cats.contains("@blocking"),
                    pubsub: flags.contains("pubsub"),
                    write: flags.split(',').any(|f| f == "write"),
                    readonly: flags.split(',').any(|f| f == "readonly"),
                };
                Some((f[0].as_bytes().to_vec(), info))
            })
            .collect()
    })
}

/// The table's row for a command (its subcommand's row when it has one: `CLIENT KILL`).
pub fn info(cmd: &[Vec<u8>]) -> Option<&'static Info> {
    // Looked up for every line of a script: lower-cased on the stack, no allocation.
    let mut buf = [0u8; 64];
    let name = cmd.first()?;
    if name.len() >= buf.len() {
        return None;
    }
    buf[..name.len()].copy_from_slice(name);
    let len = name.len();
    if let Some(sub) = cmd.get(1)
        && len + 1 + sub.len() <= buf.len()
    {
        buf[len] = b' ';
        buf[len + 1..len + 1 + sub.len()].copy_from_slice(sub);
        let full = &mut buf[..len + 1 + sub.len()];
        full.make_ascii_lowercase();
        if let Some(info) = table().get(&full[..]) {
            return Some(info);
        }
    }
    buf[..len].make_ascii_lowercase();
    table().get(&buf[..len])
}

fn is(cmd: &[Vec<u8>], names: &[&str]) -> bool {
    cmd.first().is_some_and(|w| names.iter().any(|n| w.eq_ignore_ascii_case(n.as_bytes())))
}

/// The keys a command touches, as far as they can be known without the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keys<'a> {
    /// Exactly these (none for a command that touches no key, like PING).
    Known(Vec<&'a [u8]>),
    /// Any key at all: an unknown command, one whose keys only the server can find, or one that
    /// reads or writes the whole keyspace (DBSIZE, FLUSHDB, SCAN…).
    Any,
}

/// Keyless commands that read or write nothing in the keyspace.
const NO_KEYSPACE: &[&str] = &["ping", "echo", "time", "command", "lolwut", "lastsave"];

/// The keys of `cmd`.
pub fn keys(cmd: &[Vec<u8>]) -> Keys<'_> {
    let Some(info) = info(cmd) else { return Keys::Any };
    if is(cmd, &["eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"]) {
        let numkeys =
            cmd.get(2).and_then(|n| std::str::from_utf8(n).ok()).and_then(|n| n.parse::<usize>().ok());
        return match numkeys {
            Some(n) if 3 + n <= cmd.len() => Keys::Known(cmd[3..3 + n].iter().map(Vec::as_slice).collect()),
            _ => Keys::Any,
        };
    }
    // XREAD/XREADGROUP: the first half of what follows STREAMS.
    if is(cmd, &["xread", "xreadgroup"]) {
        let Some(at) = cmd.iter().position(|a| a.eq_ignore_ascii_case(b"streams")) else { return Keys::Any };
        let rest = &cmd[at + 1..];
        return Keys::Known(rest[..rest.len() / 2].iter().map(Vec::as_slice).collect());
    }
    if info.movable {
        return Keys::Any;
    }
    if info.first == 0 {
        return if NO_KEYSPACE.iter().any(|n| is(cmd, &[n])) { Keys::Known(Vec::new()) } else { Keys::Any };
    }
    let len = cmd.len() as i32;
    let last = if info.last < 0 { len + info.last } else { info.last.min(len - 1) };
    let step = info.step.max(1);
    let mut out = Vec::new();
    let mut i = info.first;
    while i <= last && i < len {
        out.push(cmd[i as usize].as_slice());
        i += step;
    }
    Keys::Known(out)
}

/// Commands that wait on the server (BLPOP, XREAD BLOCK, WAIT…): never pipelined.
pub fn blocks(cmd: &[Vec<u8>]) -> bool {
    // XREAD and XREADGROUP block only with a BLOCK option.
    if is(cmd, &["xread", "xreadgroup"]) {
        return cmd.iter().any(|a| a.eq_ignore_ascii_case(b"block"));
    }
    info(cmd).is_some_and(|i| i.blocking) || is(cmd, &["wait", "waitaof"])
}

/// Whether a command may change the keyspace (what replicas must acknowledge under `--wait`): a
/// write, a script or function (they may write), or a command the table does not know.
pub fn writes(cmd: &[Vec<u8>]) -> bool {
    if is(cmd, &["eval", "evalsha", "fcall"]) {
        return true;
    }
    info(cmd).is_none_or(|i| i.write)
}

/// Whether a command only reads the keyspace, so a replica may answer it (`--read-from-replica`).
pub fn reads_only(cmd: &[Vec<u8>]) -> bool {
    info(cmd).is_some_and(|i| i.readonly && !i.write)
}

/// Commands after which the server keeps sending (SUBSCRIBE, MONITOR…), or that end or take over
/// the connection (QUIT, SHUTDOWN, SYNC): never pipelined.
pub fn takes_over(cmd: &[Vec<u8>]) -> bool {
    info(cmd).is_some_and(|i| i.pubsub) && !is(cmd, &["publish", "spublish", "pubsub"])
        || is(
            cmd,
            &["monitor", "quit", "shutdown", "sync", "psync", "replicaof", "slaveof", "failover", "debug"],
        )
}

/// The first key of a command, when the table knows where it is: what routes it on a cluster.
pub fn first_key(cmd: &[Vec<u8>]) -> Option<&[u8]> {
    match keys(cmd) {
        Keys::Known(keys) => keys.first().copied(),
        Keys::Any => None,
    }
}

/// What keeps coming after a command's first reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// SUBSCRIBE and friends: messages.
    Messages,
    /// MONITOR: every command the server runs.
    Monitor,
}

/// Whether a command streams replies (and which kind).
pub fn streams(cmd: &[Vec<u8>]) -> Option<Stream> {
    if is(cmd, &["subscribe", "psubscribe", "ssubscribe"]) {
        Some(Stream::Messages)
    } else if is(cmd, &["monitor"]) {
        Some(Stream::Monitor)
    } else {
        None
    }
}

/// Commands whose RESP3 reply is itself a push frame (the subscribe family); for every other
/// command a push that comes first is not its reply.
pub fn answered_by_push(name: &[u8]) -> bool {
    ["subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
}

/// Commands that change what the connection is (its database, transaction, protocol, user,
/// tracking…): what follows them must see their answer first.
pub fn changes_state(cmd: &[Vec<u8>]) -> bool {
    is(
        cmd,
        &[
            "select",
            "multi",
            "exec",
            "discard",
            "watch",
            "unwatch",
            "auth",
            "hello",
            "reset",
            "client",
            "readonly",
            "readwrite",
            "asking",
            "swapdb",
            "flushall",
            "flushdb",
            "script",
            "function",
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(line: &str) -> Vec<Vec<u8>> {
        line.split(' ').map(|w| w.as_bytes().to_vec()).collect()
    }

    fn known(line: &str) -> Vec<String> {
        let cmd = a(line);
        match keys(&cmd) {
            Keys::Known(k) => k.iter().map(|k| String::from_utf8_lossy(k).into_owned()).collect(),
            Keys::Any => vec!["*".into()],
        }
    }

    #[test]
    fn keys_come_from_the_servers_own_table() {
        assert_eq!(known("GET k"), ["k"]);
        assert_eq!(known("HSET session:a user_id 1 role x"), ["session:a"]);
        assert_eq!(known("MSET a 1 b 2"), ["a", "b"]);
        assert_eq!(known("DEL a b c"), ["a", "b", "c"]);
        assert_eq!(known("OBJECT ENCODING k"), ["k"]);
        assert_eq!(known("EVAL s 2 k1 k2 arg"), ["k1", "k2"]);
        assert_eq!(known("PING"), Vec::<String>::new());
        assert_eq!(known("DBSIZE"), ["*"]);
        assert_eq!(known("FLUSHALL"), ["*"]);
        assert_eq!(known("NOSUCHCOMMAND x"), ["*"]);
        assert_eq!(known("ZUNIONSTORE d 2 a b"), ["*"]);
        assert_eq!(known("XREAD COUNT 2 STREAMS s1 s2 0 0"), ["s1", "s2"]);
        assert_eq!(first_key(&a("MULTI")), None);
        assert_eq!(first_key(&a("EVAL s 0")), None);
        assert_eq!(first_key(&a("EVAL s 1 k a")), Some(&b"k"[..]));
    }

    #[test]
    fn blocking_streaming_and_state() {
        assert!(blocks(&a("BLPOP q 0")));
        assert!(blocks(&a("XREAD BLOCK 0 STREAMS s $")));
        assert!(!blocks(&a("XREAD STREAMS s 0")));
        assert!(blocks(&a("WAIT 1 0")));
        assert!(takes_over(&a("subscribe ch")));
        assert!(takes_over(&a("MONITOR")));
        assert!(!takes_over(&a("PUBLISH ch x")));
        assert_eq!(streams(&a("SUBSCRIBE ch")), Some(Stream::Messages));
        assert_eq!(streams(&a("monitor")), Some(Stream::Monitor));
        assert_eq!(streams(&a("BLPOP q 0")), None);
        assert!(answered_by_push(b"UNSUBSCRIBE") && !answered_by_push(b"GET"));
        assert!(changes_state(&a("select 2")));
        assert!(writes(&a("HSET h f v")) && writes(&a("DEL k")) && writes(&a("EVAL s 0")));
        assert!(writes(&a("NOSUCHCOMMAND x")));
        assert!(!writes(&a("HGETALL h")) && !writes(&a("MULTI")) && !writes(&a("EXEC")));
        assert!(reads_only(&a("HGETALL h")) && reads_only(&a("SCAN 0")) && reads_only(&a("MEMORY USAGE k")));
        assert!(!reads_only(&a("SREM s m")) && !reads_only(&a("MULTI")) && !reads_only(&a("NOSUCH")));
        assert!(!changes_state(&a("GET k")));
    }
}
