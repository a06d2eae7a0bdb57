//! A pipelined window on a Redis Cluster (`-c`): plain keyed commands of a script, each sent
//! straight to the node serving its slot, one pipeline per node, and shown exactly as `redis-cli -c`
//! shows them one at a time. redis-cli sends each command to the node it is on and, when that node
//! answers MOVED, prints `-> Redirected to slot [N] located at host:port`, moves there and sends the
//! command again; knowing the slot map, redsh prints that line where redis-cli would and sends the
//! command where it belongs at once. A MOVED or ASK that still comes (the map changed meanwhile) is
//! followed as redis-cli follows it: the command had not run, so sending it on is safe.

use crate::error::Error;
use crate::exec::conn::Address;
use crate::exec::{Args, Executor};
use crate::redis::cluster::{self, Redirect};
use crate::redis::commands::{self, Keys};
use crate::redis::reply::Reply;
use crate::redis::resp::pack_into;

/// How many redirections one command may follow (a slot can move while it is in flight).
const MAX_REDIRECTS: usize = 8;

/// Whether a plain command can join a cluster window: it names its keys (all in one slot, or it
/// touches none, like PING) and neither waits, streams, nor changes the connection.
pub fn joins_cluster_window(cmd: &[Vec<u8>]) -> bool {
    !commands::blocks(cmd)
        && !commands::takes_over(cmd)
        && !commands::changes_state(cmd)
        && matches!(commands::keys(cmd), Keys::Known(_))
}

struct Item {
    line: usize,
    cmd: Args,
    node: Address,
    /// Where the transcript's echo line ends (a redirect line may follow it).
    echoed: usize,
    transcript: Vec<u8>,
    reply: Option<Reply>,
    error: Option<Error>,
}

impl Executor {
    /// Runs a cluster window of plain commands (`(line, command)`); whether any line failed.
    pub fn run_cluster_window(&mut self, entries: Vec<(usize, Args)>) -> bool {
        if self.conn.slots.is_empty() && self.conn.refresh_slots().is_err() {
            // No slot map to be had (a server without cluster support, a node that will not say):
            // one command at a time, following redirects as redis-cli does.
            let mut failed = false;
            for (line, cmd) in entries {
                match self.run_typed(cmd) {
                    Ok(reply) if reply.is_error() => failed = true,
                    Ok(_) => {}
                    Err(e) => {
                        self.out.error(Some(line), &e);
                        failed = true;
                    }
                }
            }
            return failed;
        }
        // In input order: where redis-cli would be, what it would print, where each command goes.
        let mut here = self.conn.target.address.clone();
        let mut items: Vec<Item> = entries
            .into_iter()
            .map(|(line, cmd)| {
                let mut transcript = Vec::new();
                let prompt = format!("{}> ", here.prompt_label());
                self.out.render_echo(&mut transcript, &prompt, &cmd);
                let echoed = transcript.len();
                if let Some(slot) = cluster::command_slot(&cmd)
                    && let Some(owner) = self.conn.slots.node(slot)
                    && *owner != here
                {
                    here = owner.clone();
                    if self.out.show_redirects {
                        transcript.extend(super::redirect_line(slot, &here).into_bytes());
                    }
                }
                Item { line, cmd, node: here.clone(), echoed, transcript, reply: None, error: None }
            })
            .collect();
        let mut nodes: Vec<Address> = Vec::new();
        for item in &items {
            if !nodes.contains(&item.node) {
                nodes.push(item.node.clone());
            }
        }
        let mut sent = vec![false; nodes.len()];
        for (n, node) in nodes.iter().enumerate() {
            let mut packed = Vec::new();
            for item in items.iter().filter(|i| i.node == *node) {
                pack_into(&mut packed, &item.cmd);
            }
            match self
                .conn
                .link_to(node)
                .and_then(|l| l.send(&packed).map_err(|e| Error::Lost(e.to_string())))
            {
                Ok(()) => sent[n] = true,
                Err(e) => {
                    for item in items.iter_mut().filter(|i| i.node == *node) {
                        item.error = Some(e.clone());
                    }
                    self.conn.node_failed(node);
                }
            }
        }
        for (n, node) in nodes.iter().enumerate() {
            if !sent[n] {
                continue;
            }
            let mut lost = None;
            for item in items.iter_mut().filter(|i| i.node == *node) {
                if let Some(e) = &lost {
                    item.error = Some(Error::clone(e));
                    continue;
                }
                match self.recv_from(node, &item.cmd, &mut item.transcript) {
                    Ok(reply) => item.reply = Some(reply),
                    Err(e) => {
                        let e = Error::Lost(e.to_string().trim_start_matches("Error: ").to_owned());
                        item.error = Some(e.clone());
                        lost = Some(e);
                    }
                }
            }
            if lost.is_some() {
                self.conn.node_failed(node);
            }
        }
        // Slots that moved meanwhile: followed one command at a time, in input order.
        for item in &mut items {
            let Some(r) = item.reply.as_ref().and_then(cluster::redirect_of) else { continue };
            item.transcript.truncate(item.echoed);
            let mut redirect = Some(r);
            for _ in 0..MAX_REDIRECTS {
                let Some(r) = redirect.take() else { break };
                let node = self.moved_to(&r);
                if self.out.show_redirects {
                    item.transcript.extend(super::redirect_line(r.slot, &node).into_bytes());
                }
                match self.send_one(&node, &item.cmd, r.ask, &mut item.transcript) {
                    Ok(reply) => {
                        redirect = cluster::redirect_of(&reply);
                        item.reply = Some(reply);
                    }
                    Err(e) => {
                        item.reply = None;
                        item.error = Some(e);
                    }
                }
            }
        }
        self.conn.switch_to(here);
        let mut failed = false;
        for mut item in items {
            if let Some(reply) = &item.reply {
                self.out.render_reply(&mut item.transcript, &item.cmd, reply);
                if reply.is_error() {
                    failed = true;
                }
            }
            self.out.write(&item.transcript);
            if let Some(e) = item.error {
                failed = true;
                self.out.error(Some(item.line), &e);
            }
        }
        if self.out.flush_each {
            self.out.flush();
        }
        failed
    }

    /// The reply to `cmd` on the connection to `node`; pushes before it go into `transcript`.
    fn recv_from(
        &mut self,
        node: &Address,
        cmd: &[Vec<u8>],
        transcript: &mut Vec<u8>,
    ) -> Result<Reply, Error> {
        let name = cmd.first().map(Vec::as_slice).unwrap_or_default();
        loop {
            let reply = self.conn.link_to(node)?.recv().map_err(|e| Error::Lost(e.to_string()))?;
            if !matches!(reply, Reply::Push(_)) || crate::redis::commands::answered_by_push(name) {
                return Ok(reply);
            }
            self.out.render_push(transcript, &reply);
        }
    }

    /// Sends one command to `node` (after `ASKING` for an ASK redirect) and reads its reply.
    fn send_one(
        &mut self,
        node: &Address,
        cmd: &Args,
        ask: bool,
        transcript: &mut Vec<u8>,
    ) -> Result<Reply, Error> {
        let mut packed = Vec::new();
        if ask {
            pack_into(&mut packed, &[b"ASKING".to_vec()]);
        }
        pack_into(&mut packed, cmd);
        let sent =
            self.conn.link_to(node).and_then(|l| l.send(&packed).map_err(|e| Error::Lost(e.to_string())));
        let reply = sent.and_then(|()| {
            if ask {
                self.recv_from(node, &[b"ASKING".to_vec()], transcript)?;
            }
            self.recv_from(node, cmd, transcript)
        });
        if reply.is_err() {
            self.conn.drop_link(node);
        }
        reply
    }

    /// Learns where a MOVED points (refreshing the whole map once it is stale); the node to go to.
    fn moved_to(&mut self, r: &Redirect) -> Address {
        let node = r.node(&self.conn.target.address);
        if !r.ask {
            self.conn.slots.learn(r.slot, node.clone());
        }
        node
    }
}
