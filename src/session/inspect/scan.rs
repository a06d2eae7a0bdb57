//! Reading the whole store for `stats` and `fsck`: a bounded `SCAN … COUNT 1000` on every master
//! (never `KEYS`), and the reads of each batch pipelined. Pure: the batches are sent by the executor.
//!
//! Echoing thousands of SCANs and HMGETs with their replies would bury the report, so these reads
//! are quiet batches, counted instead: the report ends with one line that
//! names every command shape sent and how many times (`Sent::line`). Writes are always echoed.

use crate::exec::{Args, args};
use crate::redis::reply::Reply;
use crate::session::plan::Batch;
use crate::session::{elements, text};

/// Keys asked for per SCAN call: a hint to the server, which bounds the work of each call.
pub const SCAN_COUNT: &str = "1000";

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

/// A SCAN of every node for keys matching a pattern, one cursor at a time: each call is a quiet
/// batch sent to the node it scans (a cluster's masters in turn; the server in use otherwise).
#[derive(Debug, Clone)]
pub struct Scan {
    pattern: &'static str,
    /// The nodes still to scan, the one being scanned first (`None`: the server in use).
    nodes: Vec<Option<(String, u16)>>,
    at: usize,
    cursor: String,
    /// Keys the SCAN has returned so far.
    pub seen: u64,
}

impl Scan {
    /// A scan of `masters` (empty: the server in use).
    pub fn new(pattern: &'static str, masters: &[(String, u16)]) -> Scan {
        let nodes = if masters.is_empty() { vec![None] } else { masters.iter().cloned().map(Some).collect() };
        Scan { pattern, nodes, at: 0, cursor: "0".to_owned(), seen: 0 }
    }

    /// The next SCAN, or `None` when every node has been scanned to its end.
    pub fn next(&self) -> Option<Batch> {
        let node = self.nodes.get(self.at)?.clone();
        let scan = args(["SCAN", &self.cursor, "MATCH", self.pattern, "COUNT", SCAN_COUNT]);
        Some(Batch { quiet: true, node, ..Batch::of(vec![scan]) })
    }

    /// Takes a SCAN's reply (counted in `sent`): its keys; the scan moves to the next node when
    /// this one's cursor is back to 0.
    pub fn take(&mut self, replies: &[Reply], sent: &mut Sent) -> Result<Vec<String>, String> {
        sent.add(&format!("SCAN <cursor> MATCH {} COUNT {SCAN_COUNT}", self.pattern), 1);
        let (cursor, keys) = scan_reply(replies.first())?;
        self.seen += keys.len() as u64;
        if cursor == "0" {
            self.at += 1;
        }
        self.cursor = cursor;
        Ok(keys)
    }
}

/// `[cursor, [key, …]]`.
fn scan_reply(reply: Option<&Reply>) -> Result<(String, Vec<String>), String> {
    if let Some(Reply::Error(e)) = reply {
        return Err(format!("SCAN failed: {}", String::from_utf8_lossy(e)));
    }
    let parts = elements(reply);
    let cursor = parts.first().and_then(text).ok_or("SCAN gave no cursor")?;
    let keys = elements(parts.get(1)).iter().filter_map(text).collect();
    Ok((cursor, keys))
}

/// Reads of every key of a SCAN, sent quietly and routed by key, counted under `shapes`: one
/// shape per command the caller repeats for every key.
pub fn reads(sent: &mut Sent, cmds: Vec<Args>, shapes: &[&str]) -> Batch {
    count(sent, cmds.len(), shapes);
    Batch { quiet: true, ..Batch::of(cmds) }
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
