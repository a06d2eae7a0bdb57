//! Seeing the whole store: `stats` and `fsck [--repair]`, step machines that SCAN every master
//! (quiet batches, each sent to its node) and read each SCAN's keys in pipelined quiet batches
//! routed by key; `fsck --repair` writes in echoed batches.

pub mod finding;
pub mod fsck;
pub(crate) mod scan;
pub mod stats;

use crate::error::Error;
use crate::exec::Executor;
use crate::session::Store;

impl Store {
    pub(in crate::session) fn stats(&mut self, ex: &mut Executor, top: usize) -> Result<(), Error> {
        let masters = ex.masters()?;
        self.drive(ex, &mut stats::StatsMachine::new(top, &masters))
    }

    pub(in crate::session) fn fsck(&mut self, ex: &mut Executor, repair: bool) -> Result<(), Error> {
        let masters = ex.masters()?;
        let ctx = self.context(&ex.target().address, ex.is_cluster());
        self.drive(ex, &mut fsck::Fsck::new(&ctx, repair, masters))
    }
}

/// Drives the inspect machines with canned replies, keeping every batch (where it goes, whether it
/// is quiet, the lines shown before it).
#[cfg(test)]
mod testing {
    use crate::redis::reply::Reply;
    use crate::session::plan::Batch;
    use crate::session::plan::testing::lines;

    /// `[cursor, [key, …]]`, as SCAN answers.
    pub fn scanned(cursor: &str, keys: &[&str]) -> Vec<Reply> {
        let keys = keys.iter().map(|k| Reply::Bulk(k.as_bytes().to_vec())).collect();
        vec![Reply::Array(vec![Reply::Bulk(cursor.as_bytes().to_vec()), Reply::Array(keys)])]
    }

    pub fn moved() -> Reply {
        Reply::Error(b"MOVED 866 127.0.0.1:7001".to_vec())
    }

    pub use crate::session::plan::testing::run_batches as run;

    /// Each batch as its echo lines, `quiet` or not, and the node it names.
    pub fn shape(batches: &[Batch]) -> Vec<(Vec<String>, bool, Option<u16>)> {
        batches.iter().map(|b| (lines(&b.cmds), b.quiet, b.node.as_ref().map(|n| n.1))).collect()
    }
}
