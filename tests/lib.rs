//! One integration binary: every test drives the real `redsh` against throwaway redis-servers.

mod cluster;
mod connection;
mod demo_document;
mod demo_scripts;
mod docs;
mod friendly;
mod hardening;
mod harness;
mod inspect;
mod literal;
mod login;
mod pipeline;
mod promises;
mod pty;
mod redis_cli_parity;
mod redis_cli_suite;
mod scripts;
mod sentinel;
mod session;
mod shell_integration;
mod tls;
