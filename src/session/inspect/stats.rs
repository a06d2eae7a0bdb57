//! `stats [TOP]`: live sessions, by role and per user, how many expire soon, the time left, and
//! the memory a session takes — from a bounded SCAN of `session:*` (see `scan`), with `HMGET` and
//! `TTL` pipelined per batch and `MEMORY USAGE` on a sample. A step machine: every batch is a quiet
//! read; the aggregation is pure.

use std::collections::HashMap;

use crate::exec::{Args, args};
use crate::redis::reply::Reply;
use crate::session::inspect::scan::{self, Scan, Sent};
use crate::session::plan::{Batch, Machine, Outcome, Step};
use crate::session::{elements, human, int, text};

/// Top users shown when `stats` is given no number.
pub const DEFAULT_TOP: usize = 10;

/// Sessions whose `MEMORY USAGE` is asked.
const MEMORY_SAMPLE: usize = 100;

/// What the scan found, counted.
#[derive(Debug, Default)]
pub struct Stats {
    /// Keys the SCAN matched.
    pub keys: u64,
    /// Session hashes that still existed when read.
    pub sessions: u64,
    /// Keys gone between the SCAN and the reads (expired, logged out meanwhile).
    pub gone: u64,
    /// Keys that are not hashes.
    pub not_hash: u64,
    /// Hashes without a user_id.
    pub no_user: u64,
    pub no_ttl: u64,
    /// Keys whose slot moved to another node while scanning (a resharding cluster).
    pub moved: u64,
    pub by_role: HashMap<String, u64>,
    pub by_user: HashMap<String, u64>,
    /// Seconds left of every session with a TTL.
    ttls: Vec<i64>,
    /// Bytes of the sampled sessions.
    memory: Vec<u64>,
}

impl Stats {
    /// Counts one key from its `HMGET key user_id role` and `TTL key` replies; true when it is a
    /// session (worth a memory sample).
    pub fn add(&mut self, fields: &Reply, ttl: &Reply) -> bool {
        if scan::moved(fields) || scan::moved(ttl) {
            self.moved += 1;
            return false;
        }
        if matches!(fields, Reply::Error(_)) {
            self.not_hash += 1;
            return false;
        }
        let ttl = int(Some(ttl)).unwrap_or(-2);
        if ttl == -2 {
            self.gone += 1;
            return false;
        }
        self.sessions += 1;
        let values = elements(Some(fields));
        match values.first().and_then(text) {
            Some(user) => *self.by_user.entry(user).or_default() += 1,
            None => self.no_user += 1,
        }
        let role = values.get(1).and_then(text).unwrap_or_else(|| "(no role)".to_owned());
        *self.by_role.entry(role).or_default() += 1;
        if ttl == -1 {
            self.no_ttl += 1;
        } else {
            self.ttls.push(ttl);
        }
        true
    }

    pub fn wants_memory(&self) -> bool {
        self.memory.len() < MEMORY_SAMPLE
    }

    pub fn add_memory(&mut self, reply: &Reply) {
        if let Some(bytes) = int(Some(reply)).filter(|&b| b > 0) {
            self.memory.push(bytes as u64);
        }
    }

    /// The report, one line each (without `# `).
    pub fn report(&mut self, top: usize) -> Vec<String> {
        let mut out = vec![format!(
            "stats: {} live session(s) in {} key(s) matching session:*",
            self.sessions, self.keys
        )];
        if self.sessions == 0 {
            return out;
        }
        out.push(format!("  by role: {}", ranked(&self.by_role, usize::MAX, |k, n| format!("{k} {n}"))));
        if !self.by_user.is_empty() {
            let shown = top.min(self.by_user.len());
            out.push(format!(
                "  top {shown} of {} user(s) by sessions: {}",
                self.by_user.len(),
                ranked(&self.by_user, top, |k, n| format!("{k} ({n})"))
            ));
        }
        let within = |secs: i64| self.ttls.iter().filter(|&&t| t <= secs).count();
        out.push(format!("  expiring within a minute: {}; within an hour: {}", within(60), within(3600)));
        self.ttls.sort_unstable();
        if let (Some(avg), Some(p99)) = (average(&self.ttls), percentile(&self.ttls, 99)) {
            out.push(format!(
                "  time left: average {}, p99 {} (over {} session(s) with a TTL)",
                human(avg),
                human(p99),
                self.ttls.len()
            ));
        }
        out.push(format!("  without a TTL (never expire): {}", self.no_ttl));
        if let Some(avg) = average_u(&self.memory) {
            out.push(format!(
                "  memory: {} per session on average (MEMORY USAGE of {} sampled), about {} in all",
                bytes(avg),
                self.memory.len(),
                bytes(avg * self.sessions)
            ));
        }
        let mut odd = Vec::new();
        if self.not_hash > 0 {
            odd.push(format!("{} key(s) that are not hashes", self.not_hash));
        }
        if self.no_user > 0 {
            odd.push(format!("{} hash(es) without user_id", self.no_user));
        }
        if !odd.is_empty() {
            out.push(format!("  malformed: {} (`fsck` tells more)", odd.join(", ")));
        }
        if self.gone + self.moved > 0 {
            out.push(format!(
                "  not counted: {} gone while scanning, {} moved to another node",
                self.gone, self.moved
            ));
        }
        out
    }
}

/// `student 2000, teacher 900` (or `7 (150), 3 (120)`, as `shape` writes each): most first, ties by
/// name; at most `top`.
fn ranked(counts: &HashMap<String, u64>, top: usize, shape: impl Fn(&str, u64) -> String) -> String {
    let mut v: Vec<(&String, &u64)> = counts.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    v.iter().take(top).map(|(k, n)| shape(k, **n)).collect::<Vec<_>>().join(", ")
}

fn average(sorted: &[i64]) -> Option<i64> {
    (!sorted.is_empty()).then(|| {
        let sum: i128 = sorted.iter().map(|&t| i128::from(t)).sum();
        (sum as f64 / sorted.len() as f64).round() as i64
    })
}

fn average_u(v: &[u64]) -> Option<u64> {
    (!v.is_empty()).then(|| (v.iter().sum::<u64>() as f64 / v.len() as f64).round() as u64)
}

/// The nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (u64::from(p) * sorted.len() as u64).div_ceil(100).max(1) as usize;
    sorted.get(rank - 1).copied()
}

/// `212 bytes`, `3.4 KiB`, `1.2 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// What the machine waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Scan,
    /// `HMGET` and `TTL` of these keys.
    Reads,
    /// `MEMORY USAGE` of a sample of them.
    Memory,
}

/// The `stats` command as a step machine: SCAN a node, read its keys, sample memory, next SCAN.
#[derive(Debug)]
pub struct StatsMachine {
    top: usize,
    scan: Scan,
    sent: Sent,
    stats: Stats,
    phase: Phase,
    /// The keys of the last SCAN, while they are read.
    keys: Vec<String>,
}

impl StatsMachine {
    /// `stats TOP` over `masters` (a cluster's, from the executor; empty on one server).
    pub fn new(top: usize, masters: &[(String, u16)]) -> StatsMachine {
        StatsMachine {
            top,
            scan: Scan::new("session:*", masters),
            sent: Sent::default(),
            stats: Stats::default(),
            phase: Phase::Scan,
            keys: Vec::new(),
        }
    }

    /// The next SCAN, or the report when every node is done.
    fn next_scan(&mut self) -> Step {
        self.phase = Phase::Scan;
        match self.scan.next() {
            Some(batch) => send(batch),
            None => {
                self.stats.keys = self.scan.seen;
                let mut summary = self.stats.report(self.top);
                summary.push(self.sent.line());
                Step::Done(Outcome { summary, ..Outcome::default() })
            }
        }
    }

    fn counted(&mut self, replies: &[Reply]) -> Step {
        let mut sample = Vec::new();
        for (key, pair) in self.keys.iter().zip(replies.chunks(2)) {
            if let [fields, ttl] = pair
                && self.stats.add(fields, ttl)
                && self.stats.wants_memory()
                && sample.len() + self.stats.memory.len() < MEMORY_SAMPLE
            {
                sample.push(args(["MEMORY", "USAGE", key]));
            }
        }
        if sample.is_empty() {
            return self.next_scan();
        }
        self.phase = Phase::Memory;
        send(scan::reads(&mut self.sent, sample, &["MEMORY USAGE session:<id>"]))
    }
}

/// Every batch of `stats` only reads: under `--read-from-replica` a replica may answer it.
fn send(batch: Batch) -> Step {
    Step::Send(Batch { replica_ok: true, ..batch })
}

impl Machine for StatsMachine {
    fn start(&mut self) -> Step {
        self.next_scan()
    }

    fn resume(&mut self, replies: Vec<Reply>) -> Step {
        match self.phase {
            Phase::Scan => {
                self.keys = match self.scan.take(&replies, &mut self.sent) {
                    Ok(keys) => keys,
                    Err(e) => return Step::Done(Outcome::failed(e)),
                };
                if self.keys.is_empty() {
                    return self.next_scan();
                }
                let reads: Vec<Args> = self
                    .keys
                    .iter()
                    .flat_map(|k| [args(["HMGET", k, "user_id", "role"]), args(["TTL", k])])
                    .collect();
                self.phase = Phase::Reads;
                send(scan::reads(
                    &mut self.sent,
                    reads,
                    &["HMGET session:<id> user_id role", "TTL session:<id>"],
                ))
            }
            Phase::Reads => self.counted(&replies),
            Phase::Memory => {
                for reply in &replies {
                    self.stats.add_memory(reply);
                }
                self.next_scan()
            }
        }
    }

    fn progress(&self) -> Option<(&'static str, u64)> {
        Some(("stats", self.scan.seen))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::inspect::testing::{moved, run, scanned, shape};
    use crate::session::plan::testing::bulk;

    fn owner(user: &str, role: &str) -> Reply {
        Reply::Array(vec![bulk(user), bulk(role)])
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|l| (*l).to_owned()).collect()
    }

    #[test]
    fn scans_each_master_to_its_last_cursor_reading_each_batch_by_key() {
        let masters = [("127.0.0.1".to_owned(), 7000), ("127.0.0.1".to_owned(), 7001)];
        let (batches, outcome) = run(
            StatsMachine::new(10, &masters),
            vec![
                scanned("17", &["session:a"]),
                vec![owner("101", "teacher"), Reply::Int(100)],
                vec![Reply::Int(200)],
                scanned("0", &[]),
                scanned("0", &["session:b", "session:c"]),
                // b expired since the SCAN; c's slot moved to another node meanwhile.
                vec![Reply::Array(vec![Reply::Nil, Reply::Nil]), Reply::Int(-2), moved(), moved()],
            ],
        );
        let scan = |cursor: &str| vec![format!("SCAN {cursor} MATCH session:* COUNT 1000")];
        assert_eq!(
            shape(&batches),
            [
                (scan("0"), true, Some(7000)),
                (s(&["HMGET session:a user_id role", "TTL session:a"]), true, None),
                (s(&["MEMORY USAGE session:a"]), true, None),
                (scan("17"), true, Some(7000)),
                (scan("0"), true, Some(7001)),
                (
                    s(&[
                        "HMGET session:b user_id role",
                        "TTL session:b",
                        "HMGET session:c user_id role",
                        "TTL session:c"
                    ]),
                    true,
                    None
                ),
            ]
        );
        assert!(batches.iter().all(|b| b.replica_ok), "stats only reads: a replica may answer");
        assert_eq!(outcome.error, None);
        assert_eq!(
            outcome.summary,
            [
                "stats: 1 live session(s) in 3 key(s) matching session:*",
                "  by role: teacher 1",
                "  top 1 of 1 user(s) by sessions: 101 (1)",
                "  expiring within a minute: 0; within an hour: 1",
                "  time left: average 1m40s, p99 1m40s (over 1 session(s) with a TTL)",
                "  without a TTL (never expire): 0",
                "  memory: 200 bytes per session on average (MEMORY USAGE of 1 sampled), about 200 bytes in all",
                "  not counted: 1 gone while scanning, 1 moved to another node",
                "sent without echo (replies summarised above): 3 × SCAN <cursor> MATCH session:* COUNT 1000, \
                 3 × HMGET session:<id> user_id role, 3 × TTL session:<id>, 1 × MEMORY USAGE session:<id>",
            ]
        );
    }

    #[test]
    fn one_server_is_scanned_where_the_shell_is_and_a_failed_scan_fails() {
        let (batches, outcome) = run(StatsMachine::new(10, &[]), vec![scanned("0", &[])]);
        assert_eq!(shape(&batches), [(s(&["SCAN 0 MATCH session:* COUNT 1000"]), true, None)]);
        assert_eq!(
            outcome.summary,
            [
                "stats: 0 live session(s) in 0 key(s) matching session:*",
                "sent without echo (replies summarised above): 1 × SCAN <cursor> MATCH session:* COUNT 1000",
            ]
        );
        let refused = Reply::Error(b"NOPERM this user has no permissions to run the 'scan' command".to_vec());
        let (_, outcome) = run(StatsMachine::new(10, &[]), vec![vec![refused]]);
        assert_eq!(
            outcome.error.as_deref(),
            Some("SCAN failed: NOPERM this user has no permissions to run the 'scan' command")
        );
        assert!(outcome.summary.is_empty());
    }

    fn fields(user: Option<&str>, role: Option<&str>) -> Reply {
        let v = |s: Option<&str>| s.map_or(Reply::Nil, |s| Reply::Bulk(s.as_bytes().to_vec()));
        Reply::Array(vec![v(user), v(role)])
    }

    #[test]
    fn aggregates_roles_users_and_time_left() {
        let mut s = Stats { keys: 8, ..Stats::default() };
        assert!(s.add(&fields(Some("1"), Some("student")), &Reply::Int(30)));
        assert!(s.add(&fields(Some("1"), Some("student")), &Reply::Int(600)));
        assert!(s.add(&fields(Some("2"), Some("teacher")), &Reply::Int(7200)));
        assert!(s.add(&fields(Some("3"), Some("student")), &Reply::Int(-1)));
        assert!(s.add(&fields(None, None), &Reply::Int(100)));
        assert!(!s.add(&fields(None, None), &Reply::Int(-2)), "gone meanwhile");
        let wrong =
            Reply::Error(b"WRONGTYPE Operation against a key holding the wrong kind of value".to_vec());
        assert!(!s.add(&wrong, &Reply::Int(-1)));
        s.add_memory(&Reply::Int(200));
        s.add_memory(&Reply::Int(100));
        let report = s.report(2);
        assert_eq!(
            report,
            [
                "stats: 5 live session(s) in 8 key(s) matching session:*",
                "  by role: student 3, (no role) 1, teacher 1",
                "  top 2 of 3 user(s) by sessions: 1 (2), 2 (1)",
                "  expiring within a minute: 1; within an hour: 3",
                "  time left: average 33m3s, p99 2h (over 4 session(s) with a TTL)",
                "  without a TTL (never expire): 1",
                "  memory: 150 bytes per session on average (MEMORY USAGE of 2 sampled), about 750 bytes in all",
                "  malformed: 1 key(s) that are not hashes, 1 hash(es) without user_id (`fsck` tells more)",
                "  not counted: 1 gone while scanning, 0 moved to another node",
            ]
        );
    }

    #[test]
    fn percentiles_and_sizes() {
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&v, 99), Some(99));
        assert_eq!(percentile(&v, 100), Some(100));
        assert_eq!(percentile(&[5], 99), Some(5));
        assert_eq!(percentile(&[], 99), None);
        let v: Vec<i64> = (1..=1000).collect();
        assert_eq!(percentile(&v, 99), Some(990));
        assert_eq!(bytes(212), "212 bytes");
        assert_eq!(bytes(3 * 1024 + 512), "3.5 KiB");
        assert_eq!(bytes(5 << 20), "5.0 MiB");
    }

    #[test]
    fn an_empty_store() {
        let mut s = Stats::default();
        assert_eq!(s.report(10), ["stats: 0 live session(s) in 0 key(s) matching session:*"]);
    }
}
