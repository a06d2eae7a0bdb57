//! One integration binary: every test drives the real `redsh` against throwaway redis-servers.

mod cluster;
mod docs;
mod hardening;
mod harness;
mod pipeline;
mod pty;
mod session;
mod shell_integration;
