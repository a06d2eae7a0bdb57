//! Writes that belong together, as steps shared by the session machines: in one MULTI/EXEC where
//! their keys share a slot, one slot after the other (in the safe order given) where they do not —
//! consecutive writes to one slot still together in a MULTI/EXEC of their own — with
//! the `--audit-stream` entries inside the transaction on one server and right after a change that
//! succeeded on a cluster (where the stream lives in a slot of its own). Pure: no I/O.

use std::collections::VecDeque;

use crate::exec::{Args, args};
use crate::redis::cluster::command_slot;
use crate::redis::reply::Reply;
use crate::session::plan::{Batch, Tx, transaction};

/// Where a set of writes stands.
#[derive(Debug)]
pub struct Apply {
    /// Writes still to send slot by slot (split across slots): consecutive writes to one slot go
    /// together.
    queue: VecDeque<Vec<Args>>,
    /// How many writes the batch in flight carries (more than one: inside MULTI/EXEC).
    sent: usize,
    /// Audit entries still to append after the change.
    after: Vec<Args>,
    /// Replies of the writes sent one at a time.
    items: Vec<Reply>,
    /// The writes' own transaction ran (or was refused): only the entries may follow.
    result: Option<Tx>,
    split: bool,
}

/// What to do next with a set of writes.
#[derive(Debug)]
pub enum Applied {
    Send(Batch),
    /// Every write was answered: as a transaction's result (writes sent one at a time count as a
    /// transaction that ran, with their replies in order).
    Done(Tx),
}

impl Apply {
    /// Starts writes. `split`: their keys live in different slots (the plain layout on a cluster),
    /// so each goes alone. `entries_after`: on a cluster the entries follow the change.
    pub fn start(writes: Vec<Args>, entries: Vec<Args>, split: bool, entries_after: bool) -> (Apply, Batch) {
        let (inside, after) = if entries_after { (vec![], entries) } else { (entries, vec![]) };
        if split {
            let mut writes = writes;
            writes.extend(inside);
            let mut queue = by_slot(writes);
            let first = queue.pop_front().unwrap_or_else(|| vec![args(["PING"])]);
            let mut apply = Apply { queue, sent: 0, after, items: vec![], result: None, split };
            let batch = apply.send(first);
            return (apply, batch);
        }
        let mut cmds = writes;
        cmds.extend(inside);
        let apply = Apply { queue: VecDeque::new(), sent: 0, after, items: vec![], result: None, split };
        (apply, Batch::of(transaction(cmds)))
    }

    /// The batch for writes to one slot: alone as they are, several in one MULTI/EXEC.
    fn send(&mut self, group: Vec<Args>) -> Batch {
        self.sent = group.len();
        if group.len() == 1 { Batch::of(group) } else { Batch::of(transaction(group)) }
    }

    /// Takes in the replies to the writes sent to one slot, one per write.
    fn take_in(&mut self, replies: Vec<Reply>) {
        if self.sent <= 1 {
            self.items.extend(replies);
            return;
        }
        match Tx::of(&replies) {
            Tx::Ran(items) => self.items.extend(items),
            // Nothing of the group ran: each of its writes failed so.
            refused => {
                let why = refused.failure().unwrap_or_else(|| "EXECABORT the transaction was aborted".into());
                self.items.extend(std::iter::repeat_n(Reply::Error(why.into_bytes()), self.sent));
            }
        }
    }

    /// The next batch, or the result, given the replies to the last one.
    pub fn resume(&mut self, replies: Vec<Reply>) -> Applied {
        if let Some(result) = self.result.take() {
            // The entries were written; what counts is the change's own result.
            return Applied::Done(result);
        }
        let tx = if !self.split {
            Tx::of(&replies)
        } else {
            self.take_in(replies);
            if let Some(next) = self.queue.pop_front() {
                return Applied::Send(self.send(next));
            }
            Tx::Ran(std::mem::take(&mut self.items))
        };
        if tx.failure().is_none() && matches!(tx, Tx::Ran(_)) && !self.after.is_empty() {
            let entries = std::mem::take(&mut self.after);
            self.result = Some(tx);
            return Applied::Send(Batch::of(entries));
        }
        Applied::Done(tx)
    }
}

/// Writes in groups of consecutive ones whose keys all hash to one slot, in their order.
fn by_slot(writes: Vec<Args>) -> VecDeque<Vec<Args>> {
    let mut groups: VecDeque<Vec<Args>> = VecDeque::new();
    let mut last = None;
    for write in writes {
        let slot = command_slot(&write);
        match groups.back_mut() {
            Some(group) if slot.is_some() && slot == last => group.push(write),
            _ => groups.push_back(vec![write]),
        }
        last = slot;
    }
    groups
}

/// The replies of writes that all succeeded, or what to say about why not.
pub fn settle(tx: Tx, what: &str) -> Result<Vec<Reply>, String> {
    match tx {
        Tx::Ran(items) => match items.iter().find_map(Reply::error_text) {
            Some(e) => Err(format!("{what} failed: {}", String::from_utf8_lossy(e))),
            None => Ok(items),
        },
        Tx::Refused(e) => Err(format!("{what} failed, nothing was written: {e}")),
        Tx::Aborted => Err(format!("{what} failed: the transaction was aborted")),
    }
}

/// The user a stored session names, checked before it decides which index is written: it becomes
/// part of a key, so it must be a valid id; in the tagged layout it must be the user the session id
/// carries (else the index would be in another slot, or another user's).
pub fn user_of(id: &str, tagged: bool, user_id: &[u8]) -> Result<String, String> {
    let uid = crate::session::keys::check_id("user_id", user_id)?;
    if tagged
        && let Some((user, _)) = id.rsplit_once(crate::session::keys::TAG_SEPARATOR)
        && user != uid
    {
        return Err(format!("user_id {uid} is not the user its id names ({user})"));
    }
    Ok(uid)
}

/// Keys a command is about to write, each with the type it must hold (or not exist yet), read
/// with `TYPE` before anything is written: a write that would fail inside EXEC (WRONGTYPE) while
/// the others ran is refused up front instead.
#[derive(Debug)]
pub struct Checks {
    keys: Vec<(String, &'static str)>,
    /// On a cluster the keys live in different slots: one per batch.
    apart: bool,
    /// Keys already checked.
    done: usize,
}

impl Checks {
    /// The first batch of checks; `None` when there is nothing to check.
    pub fn start(keys: Vec<(String, &'static str)>, apart: bool) -> Option<(Checks, Batch)> {
        let mut checks = Checks { keys, apart, done: 0 };
        let batch = checks.next()?;
        Some((checks, batch))
    }

    fn next(&mut self) -> Option<Batch> {
        let left = &self.keys[self.done.min(self.keys.len())..];
        let take = if self.apart { left.len().min(1) } else { left.len() };
        if take == 0 {
            return None;
        }
        Some(Batch::of(left[..take].iter().map(|(key, _)| args(["TYPE", key])).collect()))
    }

    /// The next batch of checks (`Ok(Some)`), all passed (`Ok(None)`), or why not.
    pub fn resume(&mut self, replies: &[Reply]) -> Result<Option<Batch>, String> {
        let checked = &self.keys[self.done.min(self.keys.len())..];
        if let Some(wrong) = wrong_type(checked, replies) {
            return Err(wrong);
        }
        self.done += replies.len();
        Ok(self.next())
    }
}

/// The first key that holds another type than the one the command writes (`none` is fine: the
/// write creates it), as `user_sessions:101 holds a string, not a set`.
fn wrong_type(keys: &[(String, &'static str)], replies: &[Reply]) -> Option<String> {
    keys.iter().zip(replies).find_map(|((key, want), reply)| {
        if let Some(e) = reply.error_text() {
            return Some(format!("TYPE {key}: {}", String::from_utf8_lossy(e)));
        }
        let found = reply.text().unwrap_or_default();
        (found != "none" && found != *want).then(|| format!("{key} holds a {found}, not a {want}"))
    })
}

/// The keys a change writes besides the session itself: the user's index, and the audit stream.
pub fn written(index: Option<&str>, stream: Option<&str>) -> Vec<(String, &'static str)> {
    let mut keys = Vec::new();
    if let Some(index) = index {
        keys.push((index.to_owned(), "set"));
    }
    if let Some(stream) = stream {
        keys.push((stream.to_owned(), "stream"));
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::plan::testing::{bulk, lines, ok, queued};

    fn cmds(words: &[&str]) -> Vec<Args> {
        words.iter().map(|w| args(w.split(' '))).collect()
    }

    #[test]
    fn one_server_writes_in_one_transaction_with_their_entries() {
        let (mut a, first) =
            Apply::start(cmds(&["DEL k", "SREM i m"]), cmds(&["XADD s * e x"]), false, false);
        assert_eq!(lines(&first.cmds), ["MULTI", "DEL k", "SREM i m", "XADD s * e x", "EXEC"]);
        let replies = vec![ok(), queued(), queued(), queued(), Reply::Array(vec![Reply::Int(1); 3])];
        assert!(matches!(a.resume(replies), Applied::Done(Tx::Ran(items)) if items.len() == 3));
    }

    #[test]
    fn split_writes_go_one_by_one_and_entries_follow_a_success() {
        let (mut a, first) = Apply::start(cmds(&["DEL k", "SREM i m"]), cmds(&["XADD s * e x"]), true, true);
        assert_eq!(lines(&first.cmds), ["DEL k"]);
        let Applied::Send(b) = a.resume(vec![Reply::Int(1)]) else { panic!("the second write") };
        assert_eq!(lines(&b.cmds), ["SREM i m"]);
        let Applied::Send(b) = a.resume(vec![Reply::Int(1)]) else { panic!("the entry") };
        assert_eq!(lines(&b.cmds), ["XADD s * e x"]);
        let Applied::Done(tx) = a.resume(vec![bulk("1-1")]) else { panic!("done") };
        assert_eq!(tx, Tx::Ran(vec![Reply::Int(1), Reply::Int(1)]));
    }

    #[test]
    fn split_writes_to_one_slot_go_together() {
        // A touch on a cluster: the index alone, then the session's two TTLs in one transaction.
        let writes =
            cmds(&["EXPIRE user_sessions:1 1801 GT", "EXPIRE session:a 1800", "PEXPIREAT session:a 9 LT"]);
        let (mut a, first) = Apply::start(writes, vec![], true, true);
        assert_eq!(lines(&first.cmds), ["EXPIRE user_sessions:1 1801 GT"]);
        let Applied::Send(b) = a.resume(vec![Reply::Int(1)]) else { panic!("the session's writes") };
        assert_eq!(lines(&b.cmds), ["MULTI", "EXPIRE session:a 1800", "PEXPIREAT session:a 9 LT", "EXEC"]);
        let ran = Reply::Array(vec![Reply::Int(1), Reply::Int(0)]);
        let Applied::Done(tx) = a.resume(vec![ok(), queued(), queued(), ran]) else { panic!("done") };
        assert_eq!(tx, Tx::Ran(vec![Reply::Int(1), Reply::Int(1), Reply::Int(0)]), "one reply per write");
        // Refused at OOM: each write of the group counts as failed.
        let writes = cmds(&["EXPIRE session:a 1800", "PEXPIREAT session:a 9 LT"]);
        let (mut a, first) = Apply::start(writes, vec![], true, true);
        assert_eq!(first.cmds.len(), 4);
        let oom = Reply::Error(b"OOM command not allowed".to_vec());
        let refused = vec![ok(), oom.clone(), oom, Reply::Error(b"EXECABORT Transaction discarded".to_vec())];
        let Applied::Done(Tx::Ran(items)) = a.resume(refused) else { panic!("done") };
        assert_eq!(items.len(), 2);
        assert!(items.iter().all(|r| r.error_text().is_some_and(|e| e.starts_with(b"EXECABORT"))));
    }

    #[test]
    fn no_entry_follows_a_failure() {
        let (mut a, _) = Apply::start(cmds(&["DEL k"]), cmds(&["XADD s * e x"]), false, true);
        let failed = vec![ok(), queued(), Reply::Array(vec![Reply::Error(b"WRONGTYPE x".to_vec())])];
        assert!(matches!(a.resume(failed), Applied::Done(Tx::Ran(_))));
        let (mut a, _) = Apply::start(cmds(&["DEL k"]), vec![], false, true);
        let refused = vec![ok(), Reply::Error(b"OOM".to_vec()), Reply::Error(b"EXECABORT x".to_vec())];
        assert!(matches!(a.resume(refused), Applied::Done(Tx::Refused(_))));
    }

    #[test]
    fn types_are_checked_before_writing() {
        let keys = written(Some("user_sessions:1"), Some("audit"));
        let status = |s: &str| Reply::Status(s.as_bytes().to_vec());
        let (mut c, first) = Checks::start(keys.clone(), false).unwrap();
        assert_eq!(lines(&first.cmds), ["TYPE user_sessions:1", "TYPE audit"]);
        assert_eq!(c.resume(&[status("set"), status("none")]), Ok(None));
        let (mut c, _) = Checks::start(keys.clone(), false).unwrap();
        assert_eq!(
            c.resume(&[status("none"), status("string")]),
            Err("audit holds a string, not a stream".into())
        );
        let (mut c, first) = Checks::start(keys, true).unwrap();
        assert_eq!(lines(&first.cmds), ["TYPE user_sessions:1"]);
        let next = c.resume(&[status("set")]).unwrap().unwrap();
        assert_eq!(lines(&next.cmds), ["TYPE audit"]);
        assert_eq!(c.resume(&[status("stream")]), Ok(None));
        assert!(Checks::start(vec![], true).is_none());
    }

    #[test]
    fn a_stored_user_id_must_be_an_id_and_match_the_tag() {
        assert_eq!(user_of("abc", false, b"101"), Ok("101".into()));
        assert!(user_of("abc", false, b"1 2").unwrap_err().contains("whitespace"));
        assert!(user_of("abc", false, b"a:b").is_err());
        assert!(user_of("abc", false, &[0xff]).is_err());
        assert_eq!(user_of("101~abc", true, b"101"), Ok("101".into()));
        assert_eq!(
            user_of("101~abc", true, b"102"),
            Err("user_id 102 is not the user its id names (101)".into())
        );
    }
}
