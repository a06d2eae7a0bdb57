//! `--audit-stream NAME`: every session command also appends what it did to a capped Redis stream,
//! so consumers (consumer groups, `XRANGE`) can replay the store's history after downtime, which
//! keyspace notifications (fire and forget) cannot give.
//!
//! On one server the entry is written inside the command's own MULTI/EXEC, so it exists exactly when
//! the change does. On a cluster the stream is a key in its own slot and a transaction cannot span
//! two slots, so the entry is appended right after the change succeeded (a crash in between loses it).
//! Entries carry the id as stored: under `--hash-ids` that is its SHA-256, never the token.

use crate::exec::{Args, args};

/// Entries kept, roughly (`MAXLEN ~` lets Redis trim whole macro nodes, which is much cheaper).
pub const MAX_LEN: &str = "10000";

/// `XADD <stream> MAXLEN ~ 10000 * event <event> <field> <value> …`.
pub fn entry(stream: &str, event: &str, fields: &[(&str, &[u8])]) -> Args {
    let mut cmd = args(["XADD", stream, "MAXLEN", "~", MAX_LEN, "*", "event", event]);
    for (name, value) in fields {
        cmd.push(name.as_bytes().to_vec());
        cmd.push(value.to_vec());
    }
    cmd
}

/// The entry of an event when there is a stream (`--audit-stream`), else none.
pub fn entries(stream: Option<&str>, event: &str, fields: &[(&str, &[u8])]) -> Vec<Args> {
    stream.map(|s| entry(s, event, fields)).into_iter().collect()
}

/// Puts entries into a transaction just before its EXEC (the last command).
pub fn inside(mut tx: Vec<Args>, entries: Vec<Args>) -> Vec<Args> {
    let at = tx.len().saturating_sub(1);
    tx.splice(at..at, entries);
    tx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis::split::join_args;

    #[test]
    fn entries_are_capped_and_go_before_exec() {
        let e = entry("session_events", "login", &[("id", b"abc123"), ("user", b"101")]);
        assert_eq!(
            String::from_utf8(join_args(&e)).unwrap(),
            "XADD session_events MAXLEN ~ 10000 * event login id abc123 user 101"
        );
        let tx = inside(args_of(&["MULTI", "DEL k", "EXEC"]), vec![e]);
        assert_eq!(tx.len(), 4);
        assert_eq!(tx[2][0], b"XADD");
        assert_eq!(tx[3][0], b"EXEC");
    }

    fn args_of(lines: &[&str]) -> Vec<Args> {
        lines.iter().map(|l| l.split(' ').map(|w| w.as_bytes().to_vec()).collect()).collect()
    }
}
