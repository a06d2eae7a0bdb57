//! Ctrl-C while a command runs at the terminal (BLPOP, SUBSCRIBE, MONITOR…): back to the prompt,
//! not out of the shell.
//!
//! While a [`Guard`] lives, SIGINT only raises a flag. The handler is installed without
//! `SA_RESTART`, so a read blocked on the server fails with `EINTR`; the caller then drops the
//! connection (its reply will never be read) and the next command reconnects. At the prompt the
//! terminal is in raw mode and Ctrl-C is a key, so the guard is needed only around commands.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// SIGTERM arrived while a [`TermGuard`] lived; kept apart so a [`Guard`] installed later does not
/// clear it.
static TERMINATED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    // Only an atomic store: anything else is not async-signal-safe.
    INTERRUPTED.store(true, Ordering::SeqCst);
}

extern "C" fn on_sigterm(_: libc::c_int) {
    TERMINATED.store(true, Ordering::SeqCst);
}

/// Installs `handler` for `signal` without `SA_RESTART`; returns the action it replaces.
fn catch(signal: libc::c_int, handler: extern "C" fn(libc::c_int)) -> libc::sigaction {
    // SAFETY: sigaction with a handler that only stores an atomic; both structs are fully
    // initialised (zeroed, then the fields that matter set) before the call.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler as libc::sighandler_t;
        action.sa_flags = 0;
        libc::sigemptyset(&mut action.sa_mask);
        let mut previous: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, &action, &mut previous);
        previous
    }
}

/// SIGTERM counts as Ctrl-C (see [`pending`]) until dropped: for a command that listens until it
/// is stopped (`redsh events`) and must still say what it saw.
pub struct TermGuard {
    previous: libc::sigaction,
}

impl TermGuard {
    pub fn install() -> TermGuard {
        TERMINATED.store(false, Ordering::SeqCst);
        TermGuard { previous: catch(libc::SIGTERM, on_sigterm) }
    }
}

impl Drop for TermGuard {
    fn drop(&mut self) {
        // SAFETY: restores the action saved by `install`.
        unsafe {
            libc::sigaction(libc::SIGTERM, &self.previous, std::ptr::null_mut());
        }
        TERMINATED.store(false, Ordering::SeqCst);
    }
}

/// SIGINT raises the flag instead of ending the process, until dropped.
pub struct Guard {
    previous: libc::sigaction,
}

impl Guard {
    pub fn install() -> Guard {
        INTERRUPTED.store(false, Ordering::SeqCst);
        // SAFETY: sigaction with a handler that only stores an atomic; both structs are fully
        // initialised (zeroed, then the fields that matter set) before the call.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = 0;
            libc::sigemptyset(&mut action.sa_mask);
            let mut previous: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGINT, &action, &mut previous);
            Guard { previous }
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // SAFETY: restores the action saved by `install`.
        unsafe {
            libc::sigaction(libc::SIGINT, &self.previous, std::ptr::null_mut());
        }
    }
}

/// Whether Ctrl-C was pressed since the guard was installed (or SIGTERM came, under a [`TermGuard`]).
pub fn pending() -> bool {
    INTERRUPTED.load(Ordering::SeqCst) || TERMINATED.load(Ordering::SeqCst)
}

/// Whether Ctrl-C was pressed; clears the flag.
pub fn take() -> bool {
    INTERRUPTED.swap(false, Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigint_sets_the_flag_while_guarded() {
        let guard = Guard::install();
        assert!(!pending());
        // SAFETY: raising a signal whose handler is ours.
        unsafe {
            libc::raise(libc::SIGINT);
        }
        assert!(take());
        assert!(!take());
        drop(guard);
    }

    #[test]
    fn sigterm_counts_as_ctrl_c_while_its_guard_lives() {
        let term = TermGuard::install();
        let guard = Guard::install();
        // SAFETY: raising a signal whose handler is ours.
        unsafe {
            libc::raise(libc::SIGTERM);
        }
        assert!(pending());
        drop(guard);
        drop(term);
        assert!(!pending());
    }
}
