//! Reading the whole store for `stats` and `fsck`: a bounded `SCAN … COUNT 1000` on every master
//! (never `KEYS`), and the reads of each batch pipelined.
//!
//! Echoing thousands of SCANs and HMGETs with their replies would bury the report, so these reads
//! go through the executor's quiet path and are counted instead: the report ends with one line that
//! names every command shape sent and how many times (`Sent::line`). Writes are always echoed.

use std::collections::HashMap;
use std::io::IsTerminal;

use crate::redis::reply::Reply;

use crate::error::Error;
use crate::exec::conn::Address;
use crate::exec::{Args, Executor, args};
use crate::session::{elements, err, text};

/// Keys asked for per SCAN call: a hint to the server, which bounds the work of each call.
pub const SCAN_COUNT: &str = "1000";

/// After this many keys a progress line is shown (at a terminal, on stderr).
const PROGRESS_AFTER: u64 = 10_000;

/// Commands sent quietly, by shape (`HMGET session:<id> user_id role`), in first-sent order.
#[derive(Debug, Default)]
pub struct Sent {
    shapes: Vec<(String, u64)>,
}

impl Sent {
    pub fn add(&mut self, shape: &str, n: u64) {
        if n == 0 {
            return;
        }
        match self.shapes.iter_mut().find(|(s, _)| s == shape) {
            Some((_, count)) => *count += n,
            None => self.shapes.push((shape.to_owned(), n)),
        }
    }

    /// `sent without echo: 3 × SCAN …, 2000 × TTL session:<id>`.
    pub fn line(&self) -> String {
        if self.shapes.is_empty() {
            return "sent without echo: nothing".to_owned();
        }
        let parts: Vec<String> = self.shapes.iter().map(|(s, n)| format!("{n} × {s}")).collect();
        format!("sent without echo (replies summarised above): {}", parts.join(", "))
    }
}

/// The progress line of a long scan: at a terminal only, on stderr, erased when done.
pub struct Progress {
    what: &'static str,
    tty: bool,
    shown: bool,
}

impl Progress {
    pub fn new(what: &'static str) -> Progress {
        Progress { what, tty: std::io::stderr().is_terminal(), shown: false }
    }

    pub fn update(&mut self, keys: u64) {
        if self.tty && keys >= PROGRESS_AFTER {
            eprint!("\r\x1b[K{}: {keys} keys scanned…", self.what);
            self.shown = true;
        }
    }

    pub fn done(&mut self) {
        if self.shown {
            eprint!("\r\x1b[K");
            self.shown = false;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.done();
    }
}

/// The nodes a scan visits: every master of a cluster (asked with the unechoed `CLUSTER SLOTS`
/// redsh uses for routing), else the server in use.
fn nodes(ex: &mut Executor) -> Result<Vec<Option<Address>>, Error> {
    if !ex.conn.target.cluster {
        return Ok(vec![None]);
    }
    ex.conn.refresh_slots()?;
    Ok(ex.conn.slots.masters().into_iter().map(Some).collect())
}

/// Scans every node for keys matching `pattern`; `batch` gets each SCAN's keys, with the node
/// that holds them in use (it may go elsewhere: the next SCAN comes back).
pub fn each_batch(
    ex: &mut Executor,
    sent: &mut Sent,
    progress: &mut Progress,
    pattern: &str,
    mut batch: impl FnMut(&mut Executor, &mut Sent, Vec<String>) -> Result<(), Error>,
) -> Result<u64, Error> {
    let shape = format!("SCAN <cursor> MATCH {pattern} COUNT {SCAN_COUNT}");
    let mut seen = 0u64;
    for node in nodes(ex)? {
        let mut cursor = "0".to_owned();
        loop {
            if let Some(address) = &node {
                ex.conn.switch_to(address.clone());
            }
            let replies = ex.run_quiet(&[args(["SCAN", &cursor, "MATCH", pattern, "COUNT", SCAN_COUNT])])?;
            sent.add(&shape, 1);
            let (next, keys) = scan_reply(replies.first())?;
            seen += keys.len() as u64;
            progress.update(seen);
            if !keys.is_empty() {
                batch(ex, sent, keys)?;
            }
            if next == "0" {
                break;
            }
            cursor = next;
        }
    }
    progress.done();
    Ok(seen)
}

/// `[cursor, [key, …]]`.
fn scan_reply(reply: Option<&Reply>) -> Result<(String, Vec<String>), Error> {
    if let Some(Reply::Error(e)) = reply {
        return Err(err(format!("SCAN failed: {}", String::from_utf8_lossy(e).into_owned())));
    }
    let parts = elements(reply);
    let cursor = parts.first().and_then(text).ok_or_else(|| err("SCAN gave no cursor"))?;
    let keys = elements(parts.get(1)).iter().filter_map(text).collect();
    Ok((cursor, keys))
}

/// Reads with the node in use (keys from the SCAN of that node), counted under `shape`s: one shape
/// per command of `per_key`, which the caller repeats for every key.
pub fn read_here(
    ex: &mut Executor,
    sent: &mut Sent,
    cmds: &[Args],
    shapes: &[&str],
) -> Result<Vec<Reply>, Error> {
    let replies = ex.run_quiet(cmds)?;
    count(sent, cmds.len(), shapes);
    Ok(replies)
}

/// Reads whose keys may live on any node: on a cluster, grouped by the node serving each key's
/// slot (one pipeline per node), and the replies put back in order.
pub fn read_routed(
    ex: &mut Executor,
    sent: &mut Sent,
    cmds: &[Args],
    shapes: &[&str],
) -> Result<Vec<Reply>, Error> {
    if !ex.conn.target.cluster {
        return read_here(ex, sent, cmds, shapes);
    }
    if ex.conn.slots.is_empty() {
        ex.conn.refresh_slots()?;
    }
    let mut groups: HashMap<Option<Address>, Vec<usize>> = HashMap::new();
    for (i, cmd) in cmds.iter().enumerate() {
        let node = crate::redis::commands::first_key(cmd)
            .and_then(|k| ex.conn.slots.node(crate::redis::cluster::slot(k)).cloned());
        groups.entry(node).or_default().push(i);
    }
    let mut replies = vec![Reply::Nil; cmds.len()];
    for (node, at) in groups {
        if let Some(address) = node {
            ex.conn.switch_to(address);
        }
        let batch: Vec<Args> = at.iter().map(|&i| cmds[i].clone()).collect();
        for (i, reply) in at.into_iter().zip(ex.run_quiet(&batch)?) {
            replies[i] = reply;
        }
    }
    count(sent, cmds.len(), shapes);
    Ok(replies)
}

fn count(sent: &mut Sent, n: usize, shapes: &[&str]) {
    if shapes.is_empty() {
        return;
    }
    let per_shape = (n / shapes.len()) as u64;
    for s in shapes {
        sent.add(s, per_shape);
    }
}

/// Whether a reply says the key has moved to another node (a slot being resharded meanwhile).
pub fn moved(v: &Reply) -> bool {
    matches!(v, Reply::Error(e) if e.starts_with(b"MOVED ") || e.starts_with(b"ASK "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sent_counts_by_shape_in_order() {
        let mut s = Sent::default();
        assert_eq!(s.line(), "sent without echo: nothing");
        s.add("SCAN <cursor> MATCH session:* COUNT 1000", 1);
        s.add("TTL session:<id>", 10);
        s.add("SCAN <cursor> MATCH session:* COUNT 1000", 1);
        s.add("never", 0);
        assert_eq!(
            s.line(),
            "sent without echo (replies summarised above): 2 × SCAN <cursor> MATCH session:* COUNT 1000, \
             10 × TTL session:<id>"
        );
        let mut t = Sent::default();
        count(&mut t, 6, &["HMGET", "TTL"]);
        assert_eq!(t.line(), "sent without echo (replies summarised above): 3 × HMGET, 3 × TTL");
    }

    #[test]
    fn scan_replies() {
        let reply = Reply::Array(vec![
            Reply::Bulk(b"17".to_vec()),
            Reply::Array(vec![Reply::Bulk(b"session:a".to_vec())]),
        ]);
        assert_eq!(scan_reply(Some(&reply)).unwrap(), ("17".to_owned(), vec!["session:a".to_owned()]));
        assert!(scan_reply(None).is_err());
    }
}
