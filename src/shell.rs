//! One line of input, whatever its source: split it, then run it as a shell word (quit, connect…),
//! a session command, or a plain Redis command — redis-cli's line handling plus the session store.

use std::rc::Rc;

use crate::docs::Docs;
use crate::error::Error;
use crate::exec::conn::Address;
use crate::exec::{Args, Executor, SessionScope, is_error, reply_text};
use crate::interrupt;
use crate::redis::format::Mode;
use crate::redis::split::split_args;
use crate::session::{self, Command, Store};

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
    /// A session command with a repeat prefix (`3 login 101 a b`): run `count` times in turn,
    /// stopping at the first that fails.
    RepeatedSession {
        cmd: Command,
        count: u64,
    },
    /// `literal on|off` (`None`: say which mode is on): session commands as the document's plain
    /// commands, one at a time, or atomic (see `session::literal`).
    Literal(Option<bool>),
    /// `help` about Redis commands: `help GET`, `help CONFIG SET`, `help @hash`.
    Help(Vec<String>),
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
    if first.eq_ignore_ascii_case(b"literal") && words.len() <= 2 {
        return match words.get(1).map(|w| w.to_ascii_lowercase()).as_deref() {
            None => Ok(Line::Literal(None)),
            Some(b"on") => Ok(Line::Literal(Some(true))),
            Some(b"off") => Ok(Line::Literal(Some(false))),
            Some(_) => Err(Error::Session("usage: literal on|off".into())),
        };
    }
    if first.as_slice() == b"?" {
        words[0] = b"help".to_vec();
    }
    if is_redis_help(&words) {
        return Ok(Line::Help(words[1..].iter().map(|w| String::from_utf8_lossy(w).into_owned()).collect()));
    }
    match session::parse(&words) {
        Some(Ok(cmd)) if count > 1 => Ok(Line::RepeatedSession { cmd, count }),
        Some(Ok(cmd)) => Ok(Line::Session(cmd)),
        Some(Err(msg)) => Err(Error::Session(msg)),
        None => Ok(Line::Redis { cmd: words, count }),
    }
}

/// The command given after the flags: `events` alone listens until Ctrl-C or SIGTERM (in the
/// shell it would listen in the background, which a one-shot command has none of).
pub fn one_shot(line: Line) -> Line {
    match line {
        Line::Session(Command::Events(session::watch::Request::Background)) => {
            Line::Session(Command::Events(session::watch::Request::UntilStopped))
        }
        other => other,
    }
}

/// What `literal on|off` (or plain `literal`) says.
fn literal_line(on: bool) -> &'static str {
    if on {
        "redsh: literal mode on: session commands send the document's commands, one at a time, \
         not atomic (`literal off` goes back)"
    } else {
        "redsh: literal mode off: session commands are atomic again (MULTI/EXEC, WATCH)"
    }
}

pub use crate::redis::commands::{Stream, streams};

/// What redis-cli prints (unless raw) between a subscription and its first reply.
const READING_MESSAGES: &[u8] = b"Reading messages... (press Ctrl-C to quit)\n";

/// `help` with a topic that is not a session command (`touch` is one only in lower case, as it
/// runs): Redis's docs answer it.
fn is_redis_help(words: &[Vec<u8>]) -> bool {
    let session_topic =
        |w: &[u8]| session::commands::find(w).is_some_and(|spec| spec.name != "touch" || w == b"touch");
    words[0].eq_ignore_ascii_case(b"help")
        && match words.len() {
            1 => false,
            2 => !session_topic(&words[1]),
            _ => true,
        }
}

/// The shell: executor, session store, and how lines are treated.
pub struct Shell {
    pub ex: Executor,
    pub store: Store,
    /// Echo plain Redis commands (off at the terminal, where the typed line is already on screen).
    pub echo_typed: bool,
    /// `-e`: a repeated command (`3 INCR x`) stops at its first error reply too.
    pub stop_on_error: bool,
    /// The server's command docs, once asked for (see [`Shell::docs`]).
    docs: Option<Rc<Docs>>,
}

impl Shell {
    pub fn new(ex: Executor, store: Store, echo_typed: bool) -> Self {
        Shell { ex, store, echo_typed, stop_on_error: false, docs: None }
    }

    /// Redis command docs for help, completion and hints: the server's, asked once on the open
    /// connection (quietly: nothing is echoed), else the built-in table until a connection exists.
    pub fn docs(&mut self) -> Rc<Docs> {
        if let Some(docs) = &self.docs {
            return docs.clone();
        }
        // Inside MULTI the question would be queued, and a dry run sends nothing at all.
        let can_ask = self.ex.is_connected() && !self.ex.in_transaction() && !self.ex.dry_run();
        if !can_ask {
            return Rc::new(Docs::builtin());
        }
        let docs = Rc::new(self.ex.fetch_docs());
        self.docs = Some(docs.clone());
        docs
    }

    /// Runs one line.
    pub fn line(&mut self, line: &[u8]) -> Result<Flow, Error> {
        let line = classify(line)?;
        self.run(line)
    }

    /// Runs one session command. Those not yet step machines (stats, fsck, events) get `--wait`
    /// and `--read-from-replica` from the executor by this scope; a machine's batches say it
    /// themselves (`Batch::replica_ok`) and its job adds the WAITs.
    fn session(&mut self, cmd: Command) -> Result<(), Error> {
        let replica_ok = matches!(cmd, Command::Stats(_));
        self.ex.set_session_scope(Some(SessionScope { replica_ok }));
        let done = self.store.run(&mut self.ex, cmd);
        self.ex.set_session_scope(None);
        done
    }

    /// Runs one classified line.
    pub fn run(&mut self, line: Line) -> Result<Flow, Error> {
        match line {
            Line::Empty => Ok(Flow::Continue),
            Line::Quit => Ok(Flow::Quit),
            Line::Connect(address) => {
                // Another server may know other commands.
                self.docs = None;
                self.ex.connect_to(address)?;
                Ok(Flow::Continue)
            }
            Line::Help(topic) => {
                let topic: Vec<&str> = topic.iter().map(String::as_str).collect();
                let color = self.ex.out().color;
                match self.docs().help(&topic, color) {
                    Some(text) => {
                        self.ex.out().write(text.as_bytes());
                        Ok(Flow::Continue)
                    }
                    None => session::commands::help(Some(topic.join(" ").as_bytes()))
                        .map(|_| Flow::Continue)
                        .map_err(Error::Session),
                }
            }
            Line::Session(cmd) => self.session(cmd).map(|_| Flow::Continue),
            Line::RepeatedSession { cmd, count } => {
                for _ in 0..count {
                    self.session(cmd.clone())?;
                }
                Ok(Flow::Continue)
            }
            Line::Literal(mode) => {
                if let Some(on) = mode {
                    self.store.settings.literal = on;
                }
                self.ex.out().summary(literal_line(self.store.settings.literal));
                Ok(Flow::Continue)
            }
            Line::Redis { cmd, count } => {
                // Inside MULTI the command is only queued; in a dry run nothing is sent.
                let streaming = streams(&cmd).filter(|_| !self.ex.dry_run() && !self.ex.in_transaction());
                let echo = self.ex.out().echo;
                self.ex.out().echo = echo && self.echo_typed;
                if streaming == Some(Stream::Messages) && self.ex.out().mode == Mode::Pretty {
                    // As redis-cli: the banner between the command (echoed first) and its replies.
                    self.ex.echo(&cmd);
                    self.ex.out().write(READING_MESSAGES);
                    self.ex.out().echo = false;
                }
                let mut failed = None;
                for _ in 0..count {
                    match self.ex.run_typed(cmd.clone()) {
                        Ok(reply) if is_error(&reply) => {
                            failed = Some(Error::Reply(reply_text(&reply)));
                            if self.stop_on_error {
                                break;
                            }
                        }
                        Ok(_) => {}
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                self.ex.out().echo = echo;
                match failed {
                    Some(e) => Err(e),
                    None if streaming.is_some() => self.follow(&cmd),
                    None => Ok(Flow::Continue),
                }
            }
        }
    }

    /// Prints every further reply of a streaming command as it arrives, as redis-cli does, until
    /// Ctrl-C at the terminal (see `interrupt`) or the end of the connection. A script never gets
    /// past a subscription that stays open: neither does redis-cli's.
    fn follow(&mut self, cmd: &Args) -> Result<Flow, Error> {
        loop {
            self.ex.out().flush();
            if interrupt::pending() {
                return Ok(Flow::Continue);
            }
            self.ex.next_message(cmd)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_commands() {
        let a = |s: &str| s.split(' ').map(|w| w.as_bytes().to_vec()).collect::<Vec<_>>();
        assert_eq!(streams(&a("SUBSCRIBE ch")), Some(Stream::Messages));
        assert_eq!(streams(&a("psubscribe n*")), Some(Stream::Messages));
        assert_eq!(streams(&a("monitor")), Some(Stream::Monitor));
        assert_eq!(streams(&a("BLPOP q 0")), None);
    }

    #[test]
    fn repeat_prefix() {
        assert_eq!(
            classify(b"3 INCR x").unwrap(),
            Line::Redis { cmd: vec![b"INCR".to_vec(), b"x".to_vec()], count: 3 }
        );
        assert_eq!(classify(b"0 PING"), Err(Error::Repeat));
        assert_eq!(classify(b"-1 PING"), Err(Error::Repeat));
        assert_eq!(classify(b"5").unwrap(), Line::Redis { cmd: vec![b"5".to_vec()], count: 1 });
        // A session command is repeated too (redis-cli repeats any command).
        assert!(matches!(
            classify(b"2 login 1 a b"),
            Ok(Line::RepeatedSession { cmd: Command::Login { .. }, count: 2 })
        ));
        assert!(matches!(classify(b"1 whoami"), Ok(Line::Session(Command::Whoami(None)))));
        assert_eq!(classify(b"0 whoami"), Err(Error::Repeat));
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
        assert!(matches!(classify(b"help touch"), Ok(Line::Session(Command::Help(Some(_))))));
        assert_eq!(classify(b"help TOUCH").unwrap(), Line::Help(vec!["TOUCH".into()]));
        assert_eq!(classify(b"? config get").unwrap(), Line::Help(vec!["config".into(), "get".into()]));
        assert_eq!(classify(b"help @hash").unwrap(), Line::Help(vec!["@hash".into()]));
        assert_eq!(classify(b"help").unwrap(), Line::Session(Command::Help(None)));
        assert_eq!(classify(b"literal on").unwrap(), Line::Literal(Some(true)));
        assert_eq!(classify(b"LITERAL Off").unwrap(), Line::Literal(Some(false)));
        assert_eq!(classify(b"literal").unwrap(), Line::Literal(None));
        assert_eq!(classify(b"literal maybe"), Err(Error::Session("usage: literal on|off".into())));
        assert!(matches!(classify(b"literal a b"), Ok(Line::Redis { .. })));
    }

    #[test]
    fn events_alone_after_the_flags_listens_until_stopped() {
        use crate::session::watch::Request;
        let events = classify(b"events").unwrap();
        assert_eq!(one_shot(events), Line::Session(Command::Events(Request::UntilStopped)));
        let timed = classify(b"events 3").unwrap();
        assert_eq!(one_shot(timed.clone()), timed);
    }
}
