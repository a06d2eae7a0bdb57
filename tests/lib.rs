//! One integration binary: every test drives the real `redsh` against throwaway redis-servers.

mod docs;
mod harness;
mod session;
