//! One line of input, whatever its source: split it, then run it as a shell word (quit, connect…),
//! a session command, or a plain Redis command — redis-cli's line handling plus the session store.

use crate::conn::Address;
use crate::error::Error;
use crate::exec::{Args, Executor, is_error};
use crate::session::{self, Command, Store};
use crate::split::split_args;

/// What to do after a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

/// A line, split and classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// Nothing to do (blank line).
    Empty,
    Quit,
    /// `connect HOST PORT`: switch servers, as redis-cli does.
    Connect(Address),
    Session(Command),
    /// A plain Redis command, `count` times (redis-cli's repeat prefix, `3 INCR x`).
    Redis {
        cmd: Args,
        count: u64,
    },
}

/// Splits and classifies a line (pure: no I/O).
pub fn classify(line: &[u8]) -> Result<Line, Error> {
    let words = split_args(line).map_err(|_| Error::Split)?;
    classify_words(words)
}

/// Classifies already-split words (the command given after the flags, for instance).
pub fn classify_words(mut words: Vec<Vec<u8>>) -> Result<Line, Error> {
    if words.is_empty() {
        return Ok(Line::Empty);
    }
    let mut count = 1;
    if words.len() >= 2
        && let Some(n) = std::str::from_utf8(&words[0]).ok().and_then(|s| s.parse::<i64>().ok())
    {
        if n <= 0 {
            return Err(Error::Repeat);
        }
        count = n as u64;
        words.remove(0);
    }
    let first = &words[0];
    if first.eq_ignore_ascii_case(b"quit") || first.eq_ignore_ascii_case(b"exit") {
        return Ok(Line::Quit);
    }
    if first.eq_ignore_ascii_case(b"connect") && words.len() == 3 {
        let host = String::from_utf8_lossy(&words[1]).into_owned();
        let port = std::str::from_utf8(&words[2])
            .ok()
            .and_then(|p| p.parse::<u16>().ok())
            .ok_or_else(|| Error::Other("Invalid server port.".into()))?;
        return Ok(Line::Connect(Address::Tcp { host, port }));
    }
    if first.as_slice() == b"?" {
        words[0] = b"help".to_vec();
    }
    match session::parse(&words) {
        Some(Ok(cmd)) => Ok(Line::Session(cmd)),
        Some(Err(msg)) => Err(Error::Session(msg)),
        None => Ok(Line::Redis { cmd: words, count }),
    }
}

/// The shell: executor, session store, and how lines are treated.
pub struct Shell {
    pub ex: Executor,
    pub store: Store,
    /// Echo plain Redis commands (off at the terminal, where the typed line is already on screen).
    pub echo_typed: bool,
}

impl Shell {
    pub fn new(ex: Executor, store: Store, echo_typed: bool) -> Self {
        Shell { ex, store, echo_typed }
    }

    /// Runs one line.
    pub fn line(&mut self, line: &[u8]) -> Result<Flow, Error> {
        let line = classify(line)?;
        self.run(line)
    }

    /// Runs one classified line.
    pub fn run(&mut self, line: Line) -> Result<Flow, Error> {
        match line {
            Line::Empty => Ok(Flow::Continue),
            Line::Quit => Ok(Flow::Quit),
            Line::Connect(address) => {
                self.ex.conn.target.address = address;
                self.ex.conn.drop_connection();
                self.ex.conn.ensure()?;
                Ok(Flow::Continue)
            }
            Line::Session(cmd) => self.store.run(&mut self.ex, cmd).map(|_| Flow::Continue),
            Line::Redis { cmd, count } => {
                let echo = self.ex.out.echo;
                self.ex.out.echo = echo && self.echo_typed;
                let mut failed = None;
                for _ in 0..count {
                    match self.ex.run_typed(cmd.clone()) {
                        Ok(reply) if is_error(&reply) => failed = Some(Error::Reply),
                        Ok(_) => {}
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                self.ex.out.echo = echo;
                match failed {
                    Some(e) => Err(e),
                    None => Ok(Flow::Continue),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeat_prefix() {
        assert_eq!(
            classify(b"3 INCR x").unwrap(),
            Line::Redis { cmd: vec![b"INCR".to_vec(), b"x".to_vec()], count: 3 }
        );
        assert_eq!(classify(b"0 PING"), Err(Error::Repeat));
        assert_eq!(classify(b"-1 PING"), Err(Error::Repeat));
        assert_eq!(classify(b"5").unwrap(), Line::Redis { cmd: vec![b"5".to_vec()], count: 1 });
    }

    #[test]
    fn shell_words() {
        assert_eq!(classify(b"  ").unwrap(), Line::Empty);
        assert_eq!(classify(b"QUIT now").unwrap(), Line::Quit);
        assert_eq!(
            classify(b"connect ::1 7000").unwrap(),
            Line::Connect(Address::Tcp { host: "::1".into(), port: 7000 })
        );
        assert!(matches!(classify(b"connect a"), Ok(Line::Redis { .. })));
        assert_eq!(classify(b"echo \"x"), Err(Error::Split));
        assert!(matches!(classify(b"? login"), Ok(Line::Session(Command::Help(Some(_))))));
    }
}
