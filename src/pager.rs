//! `--pager`: at the interactive prompt, a command whose output is taller than the terminal is shown
//! through `$PAGER` (`less` by default, with `LESS=FRX` unless `LESS` is set), as iredis does. Off
//! when stdout is not a terminal.
//!
//! It wraps the output of one command: [`begin`] before the command runs, [`end`] after. Meanwhile
//! the output is held back until it proves taller than the terminal; then the pager starts with
//! what was held and the rest streams into it. A shorter output is written to the terminal at the
//! end, unchanged. Commands that stream (SUBSCRIBE, MONITOR, `events`) are never wrapped.

use std::cell::{Cell, RefCell};
use std::io::{self, Write};
use std::process::{Child, ChildStdin, Command, Stdio};

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(false) };
    static CAPTURE: RefCell<Option<Capture>> = const { RefCell::new(None) };
}

/// Turns paging on for this process (the interactive shell, on a terminal).
pub fn enable() {
    ENABLED.with(|e| e.set(true));
}

pub fn enabled() -> bool {
    ENABLED.with(Cell::get)
}

/// The pager to run: `$PAGER`, else `less`.
pub fn program(env_pager: Option<&str>) -> String {
    match env_pager.map(str::trim) {
        Some(p) if !p.is_empty() => p.to_owned(),
        _ => "less".to_owned(),
    }
}

/// Counts the terminal rows that output takes on a terminal `width` columns wide (escape sequences
/// take no room; a character is one column).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Rows {
    width: usize,
    col: usize,
    full: usize,
    /// 0: text; 1: after ESC; 2: inside a CSI sequence.
    esc: u8,
}

impl Rows {
    pub fn new(width: usize) -> Rows {
        Rows { width: width.max(1), ..Rows::default() }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match (self.esc, b) {
                (1, b'[') => self.esc = 2,
                (1, _) => self.esc = 0,
                (2, 0x40..=0x7e) => self.esc = 0,
                (2, _) => {}
                (_, 0x1b) => self.esc = 1,
                (_, b'\n') => {
                    self.full += 1;
                    self.col = 0;
                }
                (_, b'\r') => self.col = 0,
                // UTF-8 continuation bytes belong to the character before.
                (_, 0x80..=0xbf) => {}
                _ => {
                    if self.col == self.width {
                        self.full += 1;
                        self.col = 0;
                    }
                    self.col += 1;
                }
            }
        }
    }

    /// Rows taken, counting an unfinished last line.
    pub fn count(&self) -> usize {
        self.full + usize::from(self.col > 0)
    }
}

struct Capture {
    held: Vec<u8>,
    rows: Rows,
    /// Output this tall (or taller) goes to the pager: the terminal's height less the prompt's row.
    limit: usize,
    pager: Option<(Child, Option<ChildStdin>)>,
    /// The pager could not start: the output goes straight to the terminal.
    passing: bool,
}

impl Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<()> {
        if let Some((_, stdin)) = &mut self.pager {
            // The pager quit early (`q`): the rest is not wanted.
            if let Some(pipe) = stdin
                && pipe.write_all(buf).is_err()
            {
                *stdin = None;
            }
            return Ok(());
        }
        if self.passing {
            return io::stdout().write_all(buf);
        }
        self.held.extend_from_slice(buf);
        self.rows.feed(buf);
        if self.rows.count() >= self.limit {
            self.start_pager();
        }
        Ok(())
    }

    fn start_pager(&mut self) {
        let program = program(std::env::var("PAGER").ok().as_deref());
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(&program).stdin(Stdio::piped());
        if std::env::var_os("LESS").is_none() {
            // Colours through, and the page stays on screen when the pager ends (as git sets it).
            cmd.env("LESS", "FRX");
        }
        let held = std::mem::take(&mut self.held);
        match cmd.spawn() {
            Ok(mut child) => {
                let mut stdin = child.stdin.take();
                if let Some(pipe) = &mut stdin
                    && pipe.write_all(&held).is_err()
                {
                    stdin = None;
                }
                self.pager = Some((child, stdin));
            }
            Err(e) => {
                let _ = io::stdout().flush();
                eprintln!("redsh: --pager: cannot run {program}: {}", crate::error::io_reason(&e));
                self.passing = true;
                let _ = io::stdout().write_all(&held);
            }
        }
    }
}

/// Starts holding back one command's output, when paging is on and the terminal's size is known.
pub fn begin(size: Option<(usize, usize)>) {
    let Some((width, height)) = size.filter(|_| enabled()) else { return };
    let capture = Capture {
        held: Vec::new(),
        rows: Rows::new(width),
        limit: height.saturating_sub(1).max(1),
        pager: None,
        passing: false,
    };
    CAPTURE.with(|c| *c.borrow_mut() = Some(capture));
}

/// Ends the command's wrapping (after its output was flushed): a short output goes to the terminal;
/// a pager gets the end of its input and is waited for (Ctrl-C is the pager's key meanwhile).
pub fn end() {
    let Some(capture) = CAPTURE.with(|c| c.borrow_mut().take()) else { return };
    match capture.pager {
        Some((mut child, stdin)) => {
            drop(stdin);
            let guard = crate::interrupt::Guard::install();
            let _ = child.wait();
            drop(guard);
            crate::interrupt::take();
        }
        None => {
            let mut out = io::stdout();
            let _ = out.write_all(&capture.held);
            let _ = out.flush();
        }
    }
}

/// redsh's stdout when paging is on: the terminal, or the held output / the pager while a command
/// is wrapped.
pub struct Pageable;

impl Write for Pageable {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        CAPTURE.with(|c| match c.borrow_mut().as_mut() {
            Some(capture) => capture.write(buf).map(|()| buf.len()),
            None => io::stdout().write(buf),
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        CAPTURE.with(|c| match c.borrow_mut().as_mut() {
            Some(Capture { pager: Some((_, Some(pipe))), .. }) => {
                let _ = pipe.flush();
                Ok(())
            }
            Some(_) => Ok(()),
            None => io::stdout().flush(),
        })
    }
}

/// The terminal's size (columns, rows), if stdout is a terminal that says.
pub fn terminal_size() -> Option<(usize, usize)> {
    // SAFETY: TIOCGWINSZ fills the zeroed winsize it is given, or fails and leaves it alone.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    (ok && size.ws_col > 0 && size.ws_row > 0).then_some((size.ws_col as usize, size.ws_row as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_count_wrapped_lines_and_skip_colours() {
        let rows = |text: &str, width| {
            let mut r = Rows::new(width);
            r.feed(text.as_bytes());
            r.count()
        };
        assert_eq!(rows("", 80), 0);
        assert_eq!(rows("PONG\n", 80), 1);
        assert_eq!(rows("1) \"a\"\n2) \"b\"\n3) \"c\"", 80), 3);
        assert_eq!(rows(&"x".repeat(80), 80), 1);
        assert_eq!(rows(&format!("{}\n", "x".repeat(81)), 80), 2);
        assert_eq!(rows("\x1b[1;36m# session\x1b[0m\n", 9), 1);
        assert_eq!(rows("caf\u{e9}\n", 4), 1);
        // Fed in pieces, the same count.
        let mut r = Rows::new(80);
        for piece in ["1) \"a", "\"\n2", ") \x1b[", "0m\"b\"\n"] {
            r.feed(piece.as_bytes());
        }
        assert_eq!(r.count(), 2);
    }

    #[test]
    fn pager_program() {
        assert_eq!(program(None), "less");
        assert_eq!(program(Some("  ")), "less");
        assert_eq!(program(Some("most -s")), "most -s");
    }
}
