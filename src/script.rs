//! Scripts: piped standard input, `-f FILE`, or one command after the flags. No prompts; every line's
//! echo and reply in order; exit status 1 if any line failed.
//!
//! Independent commands are pipelined: up to a window of them is sent at once, then the replies are
//! read, echoed and printed in order, so the output is byte-identical to one-at-a-time execution.
//! Anything whose meaning depends on an earlier reply (a session command with several steps, a
//! blocking command, MONITOR…) first drains the window and then runs alone.

use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

use crate::error::Error;
use crate::exec::{Entry, Work, joins_cluster_window};
use crate::redis::commands;
use crate::shell::{Flow, Line, Shell, classify};

/// Most commands in flight at once.
const WINDOW_COMMANDS: usize = 1024;
/// Most bytes of commands in flight at once (keeps the server's reply buffer bounded).
const WINDOW_BYTES: usize = 1 << 20;

/// Whether a plain command may share a window: not one that blocks, streams, or takes over the
/// connection (those run alone, in their place).
fn may_pipeline(cmd: &[Vec<u8>]) -> bool {
    !commands::blocks(cmd) && !commands::takes_over(cmd)
}

pub struct Runner<'a> {
    shell: &'a mut Shell,
    stop_on_error: bool,
    pipeline: bool,
    /// `-c`: windows of plain keyed commands, each sent to the node of its slot.
    cluster: bool,
    window: Vec<Entry>,
    window_bytes: usize,
    pub failed: bool,
}

impl<'a> Runner<'a> {
    /// A runner; `pipeline` false sends each command only after the previous reply (`--no-pipeline`).
    pub fn new(shell: &'a mut Shell, stop_on_error: bool, pipeline: bool) -> Self {
        // With -e a failing line must stop everything after it, so nothing may be sent ahead.
        let pipeline = pipeline && !stop_on_error && !shell.ex.dry_run();
        let cluster = shell.ex.is_cluster();
        Runner { shell, stop_on_error, pipeline, cluster, window: Vec::new(), window_bytes: 0, failed: false }
    }

    /// Runs every line of `input`; returns whether to go on (false after `quit` or a stop on error).
    pub fn run_lines<R: Read>(&mut self, mut input: BufReader<R>) -> Result<bool, Error> {
        self.shell.ex.out().name_reply_errors = true;
        let mut buf = Vec::with_capacity(256);
        let mut line_no = 0;
        loop {
            buf.clear();
            if !self.next_line(&mut input, &mut buf)? {
                break;
            }
            line_no += 1;
            let text = trim_line(&buf);
            if text.starts_with(b"##") && self.shell.ex.out().echo {
                // A heading: printed in its place, after everything before it.
                self.drain();
                self.shell.ex.out().heading(&String::from_utf8_lossy(text));
                continue;
            }
            if text.is_empty() || text.first() == Some(&b'#') {
                continue;
            }
            if !self.feed(line_no, text) {
                return Ok(false);
            }
        }
        self.drain();
        Ok(!(self.stop_on_error && self.failed))
    }

    /// Reads one line into `buf` (with its line end); false at the end of the input.
    ///
    /// Before it waits for more input it answers every line read so far, as redis-cli does: a
    /// program that drives redsh through a pipe sees each reply before it writes the next line.
    fn next_line<R: Read>(&mut self, input: &mut BufReader<R>, buf: &mut Vec<u8>) -> Result<bool, Error> {
        loop {
            let available = input.buffer();
            if let Some(i) = available.iter().position(|&b| b == b'\n') {
                buf.extend_from_slice(&available[..=i]);
                input.consume(i + 1);
                return Ok(true);
            }
            let n = available.len();
            buf.extend_from_slice(available);
            input.consume(n);
            self.drain();
            self.shell.ex.out().flush();
            match input.fill_buf() {
                Ok([]) => return Ok(!buf.is_empty()),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Error::Other(format!("reading input: {}", crate::error::io_reason(&e))));
                }
            }
        }
    }

    /// Runs a line; false when the script must stop.
    pub fn feed(&mut self, line_no: usize, text: &[u8]) -> bool {
        let line = match classify(text) {
            Ok(line) => line,
            Err(error) => {
                if self.pipeline && !self.cluster && !self.window.is_empty() {
                    self.window.push(Entry { line: line_no, work: Work::Failed(error) });
                    return true;
                }
                self.drain();
                self.report_error(Some(line_no), &error);
                return !self.stop_on_error;
            }
        };
        self.feed_line(line_no, line)
    }

    /// Runs a classified line; false when the script must stop.
    pub fn feed_line(&mut self, line_no: usize, line: Line) -> bool {
        if self.pipeline {
            match line {
                Line::Redis { cmd, count }
                    if may_pipeline(&cmd) && (!self.cluster || joins_cluster_window(&cmd)) =>
                {
                    // On a cluster a window holds plain commands or session commands, not both.
                    if self.cluster && self.window.iter().any(|e| matches!(e.work, Work::Session(_))) {
                        self.drain();
                    }
                    let size: usize = cmd.iter().map(|a| a.len() + 16).sum();
                    for _ in 1..count {
                        self.window.push(Entry { line: line_no, work: Work::Raw(cmd.clone()) });
                        self.window_bytes += size;
                        self.maybe_drain();
                    }
                    self.window.push(Entry { line: line_no, work: Work::Raw(cmd) });
                    self.window_bytes += size;
                    self.maybe_drain();
                    return true;
                }
                // Under --read-from-replica a window would send its reads to the master: run alone.
                Line::Session(cmd)
                    if self.shell.store.pipelines(&cmd) && !self.shell.ex.reads_from_replica() =>
                {
                    if self.cluster && self.window.iter().any(|e| matches!(e.work, Work::Raw(_))) {
                        self.drain();
                    }
                    self.window.push(Entry { line: line_no, work: Work::Session(cmd) });
                    self.maybe_drain();
                    return true;
                }
                other => {
                    self.drain();
                    return self.run_alone(line_no, other);
                }
            }
        }
        self.run_alone(line_no, line)
    }

    /// `-r`/`-i`: runs a line `times` times (`None`: until interrupted), waiting `pause` between two
    /// runs. Each run's output is written out before a pause, or at once when the runs never end,
    /// so what is printed is there when the user interrupts.
    pub fn repeat(&mut self, line: Line, times: Option<u64>, pause: Option<Duration>) {
        let mut done = 0;
        while times.is_none_or(|t| done < t) {
            if done > 0
                && let Some(pause) = pause
            {
                std::thread::sleep(pause);
            }
            if !self.feed_line(1, line.clone()) {
                break;
            }
            done += 1;
            if pause.is_some() || times.is_none() {
                self.drain();
                self.shell.ex.out().flush();
            }
        }
        self.drain();
    }

    fn run_alone(&mut self, line_no: usize, line: Line) -> bool {
        match self.shell.run(line) {
            Ok(Flow::Continue) => true,
            Ok(Flow::Quit) => false,
            Err(e) => {
                self.report_error(Some(line_no), &e);
                !self.stop_on_error
            }
        }
    }

    /// Prints an error in its place (naming the line in scripts) and marks the run as failed.
    pub fn report_error(&mut self, line_no: Option<usize>, e: &Error) {
        if !e.is_success() {
            self.failed = true;
        }
        self.shell.ex.out().error(line_no, e);
    }

    fn maybe_drain(&mut self) {
        if self.window.len() >= WINDOW_COMMANDS || self.window_bytes >= WINDOW_BYTES {
            self.drain();
        }
    }

    /// Runs the window: every line's transcript and error in order.
    pub fn drain(&mut self) {
        if self.window.is_empty() {
            return;
        }
        let entries = std::mem::take(&mut self.window);
        self.window_bytes = 0;
        let shell = &mut *self.shell;
        let sessions = entries.iter().any(|e| matches!(e.work, Work::Session(_)));
        let failed = if self.cluster && !sessions {
            let cmds = entries
                .into_iter()
                .filter_map(|e| match e.work {
                    Work::Raw(cmd) => Some((e.line, cmd)),
                    _ => None,
                })
                .collect();
            shell.ex.run_cluster_window(cmds)
        } else {
            shell.ex.run_window(entries, &mut shell.store)
        };
        self.failed |= failed;
    }
}

/// A line without its line end (`\n`, `\r\n`) and surrounding blanks, for the blank/comment checks.
fn trim_line(line: &[u8]) -> &[u8] {
    let start = line.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(line.len());
    let end = line.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |i| i + 1);
    &line[start..end.max(start)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_line_ends_and_blanks() {
        assert_eq!(trim_line(b"  PING\r\n"), b"PING");
        assert_eq!(trim_line(b"\n"), b"");
        assert_eq!(trim_line(b"# c\n"), b"# c");
    }

    #[test]
    fn blocking_commands_run_alone() {
        let a = |s: &str| s.split(' ').map(|w| w.as_bytes().to_vec()).collect::<Vec<_>>();
        assert!(!may_pipeline(&a("BLPOP q 0")));
        assert!(!may_pipeline(&a("subscribe ch")));
        assert!(may_pipeline(&a("SET k v")));
    }
}
