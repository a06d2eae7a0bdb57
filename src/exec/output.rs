//! Where text goes: echo lines, replies and summaries to stdout (buffered), messages to stderr.
//! Each piece can be rendered into a buffer first, so a pipelined window can assemble every
//! command's transcript and print them in input order.

use std::io::Write;

use colored::Colorize;

use crate::error::Error;
use crate::redis::format::{self, Mode};
use crate::redis::redact::redacted;
use crate::redis::reply::Reply;
use crate::redis::split::push_arg;

pub struct Output {
    out: Box<dyn Write>,
    pub echo: bool,
    pub mode: Mode,
    pub color: bool,
    /// Flush after every command (a person is watching) rather than when the buffer fills.
    pub flush_each: bool,
    /// Show RESP3 push messages (as redis-cli does when its stdout is a terminal).
    pub pushes: bool,
    /// A script: an error reply (printed on stdout as redis-cli prints it) is also named on
    /// stderr with its line, `redsh: line N: <the error text>`.
    pub name_reply_errors: bool,
    /// The raw form's delimiters (`-d`, `-D`).
    pub delims: format::Delims,
    /// `-e` with a command after the flags: an error reply goes to stderr, without `(error) `.
    pub errors_to_stderr: bool,
    /// Print redis-cli's `-> Redirected to slot …` line (its interactive and stdin modes do; a
    /// command after the flags is redirected silently).
    pub show_redirects: bool,
    /// Why writing to stdout failed, if it did (a full disk; a closed pipe ends the process).
    failed: Option<String>,
    scratch: Vec<u8>,
}

impl Output {
    pub fn new(out: Box<dyn Write>, echo: bool, mode: Mode, color: bool, flush_each: bool) -> Self {
        let pushes = mode == Mode::Pretty && std::io::IsTerminal::is_terminal(&std::io::stdout());
        Output {
            out,
            echo,
            mode,
            color,
            flush_each,
            pushes,
            name_reply_errors: false,
            delims: format::Delims::default(),
            errors_to_stderr: false,
            show_redirects: true,
            failed: None,
            scratch: Vec::with_capacity(1 << 12),
        }
    }

    pub fn write(&mut self, bytes: &[u8]) {
        if let Err(e) = self.out.write_all(bytes)
            && self.failed.is_none()
        {
            self.failed = Some(crate::error::io_reason(&e));
        }
    }

    pub fn flush(&mut self) {
        if let Err(e) = self.out.flush()
            && self.failed.is_none()
        {
            self.failed = Some(crate::error::io_reason(&e));
        }
    }

    /// Why output could not be written, once (then the run fails).
    pub fn take_failure(&mut self) -> Option<String> {
        self.failed.take()
    }

    /// A human summary line, kept apart from replies by a leading `# ` (and colour on a terminal).
    pub fn summary(&mut self, text: &str) {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        self.render_summary(&mut buf, text);
        self.write(&buf);
        self.scratch = buf;
    }

    /// Whatever a summary quotes from a server or a user is escaped, so it can neither run
    /// terminal escapes nor forge a line.
    pub fn render_summary(&self, buf: &mut Vec<u8>, text: &str) {
        let text = crate::redis::escape::escape(text);
        if self.color {
            buf.extend_from_slice(format!("# {text}").cyan().to_string().as_bytes());
        } else {
            buf.extend_from_slice(b"# ");
            buf.extend_from_slice(text.as_bytes());
        }
        buf.push(b'\n');
    }

    /// A script's `## …` heading, as written (control characters made visible), bold on a terminal.
    pub fn heading(&mut self, line: &str) {
        let line = crate::redis::escape::shown_line(line);
        let line = if self.color { line.bold().to_string() } else { line };
        self.write(line.as_bytes());
        self.write(b"\n");
    }

    /// The line shown before a command: redis-cli's prompt, then the arguments as it would quote
    /// them (secrets redacted). Nothing when echo is off.
    pub(in crate::exec) fn render_echo(&self, buf: &mut Vec<u8>, prompt: &str, cmd: &[Vec<u8>]) {
        if !self.echo {
            return;
        }
        buf.extend_from_slice(prompt.as_bytes());
        for (i, arg) in redacted(cmd).iter().enumerate() {
            if i > 0 {
                buf.push(b' ');
            }
            push_arg(buf, arg);
        }
        buf.push(b'\n');
    }

    /// A reply, as redis-cli prints the reply to `cmd`.
    pub(in crate::exec) fn render_reply(&self, buf: &mut Vec<u8>, cmd: &[Vec<u8>], reply: &Reply) {
        // redis-cli writes even an error reply to these commands raw: `ERR …` with no `(error) `.
        if format::prints_verbatim(cmd) {
            format::push_verbatim(buf, reply, &self.delims.bulk);
        } else {
            format::push_reply_delimited(buf, reply, self.mode, &self.delims.bulk, &self.delims.reply);
        }
    }

    /// A push message, when they are shown.
    pub(in crate::exec) fn render_push(&self, buf: &mut Vec<u8>, push: &Reply) {
        if self.pushes {
            format::push_reply(buf, push, Mode::Pretty);
        }
    }

    pub(in crate::exec) fn echo_line(&mut self, prompt: &str, cmd: &[Vec<u8>]) {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        self.render_echo(&mut buf, prompt, cmd);
        self.write(&buf);
        self.scratch = buf;
    }

    pub(in crate::exec) fn reply(&mut self, cmd: &[Vec<u8>], reply: &Reply) {
        if let (true, Some(text)) = (self.errors_to_stderr, reply.error_text()) {
            self.flush();
            let mut line = text.to_vec();
            line.push(b'\n');
            let _ = std::io::stderr().write_all(&line);
            return;
        }
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        self.render_reply(&mut buf, cmd, reply);
        self.write(&buf);
        self.scratch = buf;
    }

    /// Reports an error: on stdout where redis-cli prints it there, else on stderr.
    pub fn error(&mut self, line: Option<usize>, e: &Error) {
        if let (Error::Reply(text), Some(n), true) = (e, line, self.name_reply_errors) {
            self.flush();
            let text = format!("redsh: line {n}: {}", crate::redis::escape::shown_line(text));
            if self.color {
                eprintln!("{}", text.red());
            } else {
                eprintln!("{text}");
            }
            return;
        }
        if e.is_silent() {
            return;
        }
        if e.on_stdout() {
            self.write(format!("{e}\n").as_bytes());
            if let Some(n) = line {
                self.flush();
                eprintln!("redsh: line {n}: {}", crate::redis::escape::escape(&e.describe()));
            }
            return;
        }
        self.flush();
        let text = match line {
            Some(n) => format!("redsh: line {n}: {e}"),
            None => e.to_string(),
        };
        // A message may quote a key name, a stored value or a server's error text.
        let text = crate::redis::escape::escape(&text);
        if self.color {
            eprintln!("{}", text.red());
        } else {
            eprintln!("{text}");
        }
    }
}
