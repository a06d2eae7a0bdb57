//! Every way redsh itself can fail, with its message and exit code. Replies are output, not errors:
//! an `(error)` reply is printed like any other and only marks the line as failed.

use std::fmt;

/// Exit status of a run where every line succeeded.
pub const EXIT_OK: i32 = 0;
/// Exit status when any line failed or redsh could not do what was asked.
pub const EXIT_FAILURE: i32 = 1;
/// Exit status of a usage error (bad flag or value), as clap and most tools use.
pub const EXIT_USAGE: i32 = 2;
/// Exit status after an internal bug (a panic caught at the top), as sysexits' EX_SOFTWARE.
pub const EXIT_INTERNAL: i32 = 70;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A bad flag, value or combination of flags.
    Usage(String),
    /// Could not (re)connect; `addr` is how redis-cli names the server (`127.0.0.1:6379`, a socket path).
    Connect { addr: String, reason: String },
    /// No sentinel could say where the master is (`--sentinel`).
    Sentinel(String),
    /// The connection failed while a command was in flight (reset, closed, timed out).
    Connection(String),
    /// The connection was lost after a command was sent and before its reply came: it may have
    /// run. It is never sent again.
    Lost(String),
    /// A line redis-cli would refuse: unbalanced quotes.
    Split,
    /// A repeat count of zero or less (`0 PING`).
    Repeat,
    /// `--quoted-input`: a word that is not exactly one quoted string.
    QuotedInput,
    /// The server answered with an error reply (its text); the reply has already been printed.
    Reply(String),
    /// A session command was used wrongly or could not do what was asked.
    Session(String),
    /// A script file could not be read.
    File { path: String, reason: String },
    /// Starting a private server for `--ephemeral` failed.
    Ephemeral(String),
    /// `--dry-run`: the commands were printed, not sent, so there is no reply to go on with.
    DryRun,
    /// Anything else that stops a single line (terminal, history…).
    Other(String),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => EXIT_USAGE,
            _ => EXIT_FAILURE,
        }
    }

    /// Whether redis-cli prints this message on stdout (so that our stdout stays byte-identical).
    pub fn on_stdout(&self) -> bool {
        matches!(self, Error::Split | Error::Repeat | Error::QuotedInput)
    }

    /// Whether this error has already been shown (as a reply) and needs no message.
    pub fn is_silent(&self) -> bool {
        matches!(self, Error::Reply(_) | Error::DryRun)
    }

    /// Whether the line still counts as a success (nothing went wrong, there was just nothing to do).
    pub fn is_success(&self) -> bool {
        matches!(self, Error::DryRun)
    }

    /// A longer explanation for messages that name the line (stderr), where the short text is redis-cli's.
    pub fn describe(&self) -> String {
        match self {
            Error::Split => {
                "Invalid argument(s): unbalanced quotes, or a closing quote not followed by a space".into()
            }
            Error::Repeat => {
                "Invalid redis-cli repeat command option value: the count must be 1 or more".into()
            }
            other => other.to_string(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) => write!(f, "{m}"),
            Error::Connect { addr, reason } => {
                write!(f, "Could not connect to Redis at {addr}: {reason}")
            }
            Error::Sentinel(m) => write!(f, "Sentinel: {m}"),
            Error::Connection(reason) => write!(f, "Error: {reason}"),
            Error::Lost(reason) => {
                write!(f, "Error: {reason}; connection lost, the command may have run (not sent again)")
            }
            Error::Split => f.write_str("Invalid argument(s)"),
            Error::Repeat => f.write_str("Invalid redis-cli repeat command option value."),
            Error::Reply(text) => f.write_str(text),
            Error::QuotedInput => f.write_str("Invalid quoted string"),
            Error::Session(m) => write!(f, "{m}"),
            Error::File { path, reason } => write!(f, "cannot read {path}: {reason}"),
            Error::Ephemeral(m) => write!(f, "--ephemeral: {m}"),
            Error::DryRun => f.write_str("dry run: not sent"),
            Error::Other(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {}

/// An I/O error's text without Rust's ` (os error N)` suffix, as C's `strerror` would put it.
pub fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_redis_cli() {
        let e = Error::Connect { addr: "127.0.0.1:6398".into(), reason: "Connection refused".into() };
        assert_eq!(e.to_string(), "Could not connect to Redis at 127.0.0.1:6398: Connection refused");
        assert_eq!(Error::Split.to_string(), "Invalid argument(s)");
        assert_eq!(Error::Usage("x".into()).exit_code(), EXIT_USAGE);
        assert_eq!(Error::Reply("ERR x".into()).exit_code(), EXIT_FAILURE);
    }

    #[test]
    fn io_reason_drops_os_error_suffix() {
        let e = std::io::Error::from_raw_os_error(111);
        assert_eq!(io_reason(&e), "Connection refused");
    }
}
