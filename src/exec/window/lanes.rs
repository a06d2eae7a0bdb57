//! The connections of a window: the main one (one server), each node's (a cluster), and
//! connections of their own for WATCHing commands, kept in a pool from window to window; what is
//! packed for each and what is on its way on it.

use std::collections::VecDeque;

use super::{InFlight, Slot};
use crate::error::Error;
use crate::exec::Executor;
use crate::exec::conn::{Address, Link, Target};
use crate::redis::reply::Reply;

/// A connection of a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lane {
    /// The main connection (one server).
    Main,
    /// `pool.own[k]`: a connection of its own for a WATCHing command.
    Own(usize),
    /// `pool.nodes[k]`: the connection to one node of a cluster.
    Node(usize),
}

/// What a connection of a window carries: batches written and not answered yet (oldest first),
/// and batches packed for its next write.
#[derive(Default)]
pub(super) struct Queue {
    pub(super) flights: VecDeque<InFlight>,
    pub(super) out: Vec<u8>,
    pub(super) packed: Vec<InFlight>,
}

impl Queue {
    pub(super) fn idle(&self) -> bool {
        self.flights.is_empty() && self.packed.is_empty()
    }
}

/// A connection of its own for WATCHing commands.
#[derive(Default)]
pub(super) struct Own {
    /// The connection, and the target it was set up for (server, credentials, database, protocol).
    pub(super) link: Option<(Link, Target)>,
    /// A command's WATCH stands on it (or will, once what is packed is written).
    pub(super) busy: bool,
    /// Seen open since the window began (a connection idle between windows may have been closed
    /// by the server's `timeout` or a CLIENT KILL: it is replaced, not tried).
    pub(super) checked: bool,
    pub(super) queue: Queue,
}

/// The connections of pipelined windows: the main connection's queue, and connections of their
/// own for WATCHing commands, kept from window to window.
#[derive(Default)]
pub struct Pool {
    pub(super) main: Queue,
    pub(super) own: Vec<Own>,
    /// Cluster: each node's queue (the connections are the executor's, one per node).
    pub(super) nodes: Vec<(Address, Queue)>,
    /// Commands started whose next batch waits for a connection of its own, in input order.
    pub(super) waiting: VecDeque<usize>,
    /// Commands with a next batch to send this round (not those waiting for a connection).
    pub(super) ready: Vec<usize>,
}

/// Where a WATCHing command can get a connection of its own.
enum Vacancy {
    /// A free connection, set up as the main connection is now.
    Free(usize),
    /// A place for a new one: never used, lost, or set up otherwise (server, credentials,
    /// database, protocol) and idle.
    Spare(usize),
    /// The pool may grow.
    New,
    Full,
}

impl Pool {
    fn vacancy(&self, target: &Target) -> Vacancy {
        let free = |o: &Own| !o.busy && o.link.as_ref().is_some_and(|(_, t)| t == target);
        let spare = |o: &Own| !o.busy && (o.link.is_none() || o.queue.idle());
        if let Some(i) = self.own.iter().position(free) {
            Vacancy::Free(i)
        } else if let Some(i) = self.own.iter().position(spare) {
            Vacancy::Spare(i)
        } else if self.own.len() < POOL_SIZE {
            Vacancy::New
        } else {
            Vacancy::Full
        }
    }
}

/// Most connections of their own open at once: enough to keep the WATCHing commands of a window
/// flowing, few enough to be a good citizen on the server.
const POOL_SIZE: usize = 32;

impl Executor {
    /// Every connection of the window.
    pub(super) fn lanes(&self) -> Vec<Lane> {
        let own = (0..self.pool.own.len()).map(Lane::Own);
        let nodes = (0..self.pool.nodes.len()).map(Lane::Node);
        std::iter::once(Lane::Main).chain(own).chain(nodes).collect()
    }

    /// The node a connection of the pool is connected to.
    pub(super) fn own_node(&self, k: usize) -> Option<&Address> {
        self.pool.own.get(k)?.link.as_ref().map(|(_, t)| &t.address)
    }

    /// Cluster: the lane of a node's connection.
    pub(super) fn node_lane(&mut self, node: Address) -> Lane {
        match self.pool.nodes.iter().position(|(a, _)| *a == node) {
            Some(k) => Lane::Node(k),
            None => {
                self.pool.nodes.push((node, Queue::default()));
                Lane::Node(self.pool.nodes.len() - 1)
            }
        }
    }

    /// Writes what is packed for each connection, one write each.
    pub(super) fn write_all(&mut self, slots: &mut [Slot]) {
        for lane in self.lanes() {
            self.write(lane, slots);
        }
    }

    /// Writes what is packed for a connection, in one write.
    pub(super) fn write(&mut self, lane: Lane, slots: &mut [Slot]) {
        if self.queue(lane).out.is_empty() {
            return;
        }
        let out = std::mem::take(&mut self.queue(lane).out);
        let packed = std::mem::take(&mut self.queue(lane).packed);
        let sent = self.lane_send(lane, &out);
        let q = self.queue(lane);
        q.out = out;
        q.out.clear();
        match sent {
            Ok(()) => q.flights.extend(packed),
            Err(e) => {
                // Nothing was written: a refused reconnection fails each line in its place.
                for f in packed {
                    self.fail(&mut slots[f.slot], lane, e.clone(), &f.batch.cmds);
                }
                self.lane_lost(lane, e, slots, &[]);
            }
        }
    }

    /// Cluster: the node a connection of the window is connected to.
    pub(super) fn lane_node(&self, lane: Lane) -> Option<Address> {
        match lane {
            Lane::Node(k) => Some(self.pool.nodes[k].0.clone()),
            Lane::Own(k) if self.conn.target.cluster => self.own_node(k).cloned(),
            _ => None,
        }
    }

    pub(super) fn queue(&mut self, lane: Lane) -> &mut Queue {
        match lane {
            Lane::Main => &mut self.pool.main,
            Lane::Own(k) => &mut self.pool.own[k].queue,
            Lane::Node(k) => &mut self.pool.nodes[k].1,
        }
    }

    pub(super) fn lane_send(&mut self, lane: Lane, packed: &[u8]) -> Result<(), Error> {
        match lane {
            Lane::Main => self.conn.send(packed),
            Lane::Own(k) => match &mut self.pool.own[k].link {
                Some((link, _)) => link.send(packed).map_err(|e| Error::Lost(e.to_string())),
                None => Err(Error::Other("internal: no such connection".into())),
            },
            Lane::Node(k) => {
                let node = self.pool.nodes[k].0.clone();
                self.conn.link_to(&node)?.send(packed).map_err(|e| Error::Lost(e.to_string()))
            }
        }
    }

    /// The reply to `cmd` on a lane; pushes that come first go into `transcript`.
    pub(super) fn lane_recv(
        &mut self,
        lane: Lane,
        name: &[u8],
        transcript: &mut Vec<u8>,
    ) -> Result<Reply, Error> {
        loop {
            let reply = match lane {
                Lane::Main => self.conn.recv()?,
                Lane::Own(k) => match &mut self.pool.own[k].link {
                    Some((link, _)) => link.recv().map_err(|e| Error::Lost(e.to_string()))?,
                    None => return Err(Error::Other("internal: no such connection".into())),
                },
                Lane::Node(k) => {
                    let node = self.pool.nodes[k].0.clone();
                    self.conn.link_to(&node)?.recv().map_err(|e| Error::Lost(e.to_string()))?
                }
            };
            if !matches!(reply, Reply::Push(_)) || crate::redis::commands::answered_by_push(name) {
                return Ok(reply);
            }
            self.out.render_push(transcript, &reply);
        }
    }

    /// Whether [`acquire`](Self::acquire) could find a connection now (on some node).
    pub(super) fn pool_has_room(&self) -> bool {
        !matches!(self.pool.vacancy(&self.conn.target), Vacancy::Full)
    }

    /// The setup of a connection of its own: the main connection's, on `node` of a cluster.
    pub(super) fn target_for(&self, node: Option<&Address>) -> Target {
        let mut target = self.conn.target.clone();
        if let Some(node) = node {
            target.address = node.clone();
        }
        target
    }

    /// A connection of its own for a WATCHing command (its place in `pool.own`), on `node` of a
    /// cluster; `None` when all [`POOL_SIZE`] are taken.
    pub(super) fn acquire(&mut self, node: Option<&Address>) -> Result<Option<usize>, Error> {
        let target = &self.target_for(node);
        let spot = match self.pool.vacancy(target) {
            Vacancy::Full => return Ok(None),
            Vacancy::Free(i) => {
                let own = &mut self.pool.own[i];
                let closed = !std::mem::replace(&mut own.checked, true)
                    && own.link.as_ref().is_some_and(|(link, _)| link.peer_closed());
                if !closed {
                    own.busy = true;
                    return Ok(Some(i));
                }
                Some(i)
            }
            Vacancy::Spare(i) => Some(i),
            Vacancy::New => None,
        };
        let link = Link::open(target, target.db)?;
        let own =
            Own { link: Some((link, target.clone())), busy: true, checked: true, queue: Queue::default() };
        match spot {
            Some(i) => {
                self.pool.own[i] = own;
                Ok(Some(i))
            }
            None => {
                self.pool.own.push(own);
                Ok(Some(self.pool.own.len() - 1))
            }
        }
    }

    pub(super) fn release(&mut self, k: usize) {
        if let Some(own) = self.pool.own.get_mut(k) {
            own.busy = false;
        }
    }

    pub(super) fn drop_lane(&mut self, lane: Lane) {
        match lane {
            Lane::Main => self.conn.drop_connection(),
            Lane::Own(k) => {
                if let Some(own) = self.pool.own.get_mut(k) {
                    own.link = None;
                    own.busy = false;
                }
            }
            Lane::Node(k) => {
                let node = self.pool.nodes[k].0.clone();
                self.conn.node_failed(&node);
            }
        }
    }
}
