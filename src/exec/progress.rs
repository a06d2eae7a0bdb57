//! The progress line of a long command (`stats`, `fsck` over a large store): at a terminal only,
//! on stderr, erased when done, so that stdout holds exactly what redis-cli would print.

use std::io::IsTerminal;

/// After this many keys a progress line is shown.
const PROGRESS_AFTER: u64 = 10_000;

pub struct Progress {
    tty: bool,
    shown: bool,
}

impl Progress {
    pub fn new() -> Progress {
        Progress { tty: std::io::stderr().is_terminal(), shown: false }
    }

    /// `stats: 20000 keys scanned…`
    pub fn update(&mut self, what: &str, keys: u64) {
        if self.tty && keys >= PROGRESS_AFTER {
            eprint!("\r\x1b[K{what}: {keys} keys scanned…");
            self.shown = true;
        }
    }

    pub fn done(&mut self) {
        if self.shown {
            eprint!("\r\x1b[K");
            self.shown = false;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.done();
    }
}
