//! One integration binary: every test drives the real `redsh` against throwaway redis-servers.

mod cluster;
mod connection;
mod docs;
mod hardening;
mod harness;
mod inspect;
mod pipeline;
mod promises;
mod pty;
mod redis_cli_parity;
mod scripts;
mod session;
mod shell_integration;
mod tls;
