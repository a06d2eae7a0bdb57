//! Session command lines: the words of a line, checked and turned into a [`Command`], or left
//! alone when they are a plain Redis command. Pure: no I/O.

use crate::config::parse_ttl;
use crate::session::inspect::stats;
use crate::session::keys::{check_field, check_id};
use crate::session::{Settings, commands, watch};

/// A session command, parsed and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Login {
        user_id: String,
        username: Vec<u8>,
        role: Vec<u8>,
        ip: Option<Vec<u8>>,
        id: Option<String>,
        ttl: Option<u64>,
    },
    Whoami(Option<String>),
    Touch(Option<String>),
    Logout(Option<String>),
    Sessions(String),
    LogoutAll(String),
    Renew(Option<String>),
    Use(String),
    Help(Option<Vec<u8>>),
    /// `events [SECONDS|off] [--count N]`: session lifecycle from keyspace notifications.
    Events(watch::Request),
    /// `stats [TOP]`.
    Stats(usize),
    /// `fsck [--repair]`.
    Fsck {
        repair: bool,
    },
}

impl Command {
    /// Whether the command is a single round trip whose commands do not depend on any earlier reply
    /// (so a script may pipeline it with the lines around it).
    pub fn is_single_step(&self, settings: &Settings) -> bool {
        matches!(self, Command::Login { id: None, .. }) && settings.max_sessions == 0 && !settings.cluster
    }
}

fn usage(name: &str) -> String {
    let spec = commands::find(name.as_bytes()).map(|s| s.args).unwrap_or("");
    format!("usage: {name} {spec}")
}

fn optional_id(name: &str, rest: &[Vec<u8>]) -> Result<Option<String>, String> {
    match rest {
        [] => Ok(None),
        [id] => check_id("session id", id).map(Some),
        _ => Err(format!("{name} takes at most one session id; {}", usage(name))),
    }
}

fn one_user(name: &str, rest: &[Vec<u8>]) -> Result<String, String> {
    match rest {
        [uid] => check_id("user id", uid),
        _ => Err(usage(name)),
    }
}

/// Parses a line's words as a session command; `None` when the line is a plain Redis command.
///
/// `touch` is also a Redis command (TOUCH key …): only the lowercase word with at most one argument
/// is the session command, so `TOUCH k` still reaches Redis.
pub fn parse(words: &[Vec<u8>]) -> Option<Result<Command, String>> {
    let (first, rest) = words.split_first()?;
    let spec = commands::find(first)?;
    if spec.name == "touch" && (first.as_slice() != b"touch" || rest.len() > 1) {
        return None;
    }
    Some(parse_known(spec.name, rest))
}

fn parse_known(name: &str, rest: &[Vec<u8>]) -> Result<Command, String> {
    match name {
        "login" => parse_login(rest),
        "whoami" => optional_id(name, rest).map(Command::Whoami),
        "touch" => optional_id(name, rest).map(Command::Touch),
        "logout" => optional_id(name, rest).map(Command::Logout),
        "renew" => optional_id(name, rest).map(Command::Renew),
        "sessions" => one_user(name, rest).map(Command::Sessions),
        "logout-all" => one_user(name, rest).map(Command::LogoutAll),
        "use" => match rest {
            [id] => check_id("session id", id).map(Command::Use),
            _ => Err(usage(name)),
        },
        "events" => watch::parse_request(rest).map(Command::Events),
        "stats" => match rest {
            [] => Ok(Command::Stats(stats::DEFAULT_TOP)),
            [n] => std::str::from_utf8(n)
                .ok()
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|&n| n > 0)
                .map(Command::Stats)
                .ok_or_else(|| format!("TOP must be a whole number above 0; {}", usage(name))),
            _ => Err(usage(name)),
        },
        "fsck" => match rest {
            [] => Ok(Command::Fsck { repair: false }),
            [flag] if flag.as_slice() == b"--repair" => Ok(Command::Fsck { repair: true }),
            _ => Err(usage(name)),
        },
        _ => match rest {
            [] => Ok(Command::Help(None)),
            [topic] => Ok(Command::Help(Some(topic.clone()))),
            _ => Err(usage("help")),
        },
    }
}

fn parse_login(rest: &[Vec<u8>]) -> Result<Command, String> {
    let mut positional = Vec::new();
    let (mut ip, mut id, mut ttl) = (None, None, None);
    let mut i = 0;
    while i < rest.len() {
        let word = &rest[i];
        let (flag, inline) = match word.iter().position(|&b| b == b'=') {
            Some(eq) if word.starts_with(b"--") => (&word[..eq], Some(word[eq + 1..].to_vec())),
            _ => (word.as_slice(), None),
        };
        if !flag.starts_with(b"--") {
            positional.push(word.clone());
            i += 1;
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => {
                i += 1;
                rest.get(i).cloned().ok_or_else(|| {
                    format!("{} needs a value; {}", String::from_utf8_lossy(flag), usage("login"))
                })?
            }
        };
        match flag {
            b"--ip" => {
                check_field("ip", &value)?;
                ip = Some(value);
            }
            b"--id" => id = Some(check_id("session id", &value)?),
            b"--ttl" => ttl = Some(parse_ttl("--ttl", &String::from_utf8_lossy(&value))?),
            other => {
                return Err(format!(
                    "unknown option {} for login; {}",
                    String::from_utf8_lossy(other),
                    usage("login")
                ));
            }
        }
        i += 1;
    }
    let [user_id, username, role] = <[Vec<u8>; 3]>::try_from(positional).map_err(|_| usage("login"))?;
    let user_id = check_id("user id", &user_id)?;
    check_field("username", &username)?;
    check_field("role", &role)?;
    Ok(Command::Login { user_id, username, role, ip, id, ttl })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<Vec<u8>> {
        crate::redis::split::split_args(s.as_bytes()).unwrap()
    }

    fn parsed(s: &str) -> Option<Result<Command, String>> {
        parse(&words(s))
    }

    #[test]
    fn login_with_options() {
        let cmd = parsed("login 101 suhel teacher --ip 192.168.1.10 --id abc123 --ttl=60").unwrap().unwrap();
        assert_eq!(
            cmd,
            Command::Login {
                user_id: "101".into(),
                username: b"suhel".to_vec(),
                role: b"teacher".to_vec(),
                ip: Some(b"192.168.1.10".to_vec()),
                id: Some("abc123".into()),
                ttl: Some(60)
            }
        );
        assert!(!cmd.is_single_step(&Settings::default()));
        let plain = parsed("LOGIN 7 bob student").unwrap().unwrap();
        assert!(plain.is_single_step(&Settings::default()));
        assert!(!plain.is_single_step(&Settings { max_sessions: 2, ..Settings::default() }));
    }

    #[test]
    fn bad_shapes_are_clear_errors() {
        assert!(parsed("login 101 suhel").unwrap().unwrap_err().starts_with("usage: login user_id"));
        assert!(parsed("login 101 a b c").unwrap().is_err());
        assert!(parsed("login 101 a b --ttl 0").unwrap().unwrap_err().contains("greater than 0"));
        assert!(parsed("login 101 a b --ttl abc").unwrap().unwrap_err().contains("whole number"));
        assert!(parsed("login 101 a b --id 'a b'").unwrap().unwrap_err().contains("whitespace"));
        assert!(parsed("login 101 a b --ip").unwrap().unwrap_err().contains("needs a value"));
        assert!(parsed("login 101 a b --color red").unwrap().unwrap_err().contains("unknown option --color"));
        assert!(parsed("login 1:0 a b").unwrap().unwrap_err().contains("':'"));
        assert!(parsed("whoami a b").unwrap().is_err());
        assert!(parsed("sessions").unwrap().is_err());
        assert!(parsed("use").unwrap().is_err());
        assert!(parsed("logout x*").unwrap().is_err());
    }

    #[test]
    fn redis_commands_pass_through() {
        assert!(parsed("HSET session:abc123 user_id 101").is_none());
        assert!(parsed("TOUCH k").is_none());
        assert!(parsed("touch a b").is_none());
        assert_eq!(parsed("touch abc123"), Some(Ok(Command::Touch(Some("abc123".into())))));
        assert_eq!(parsed("touch"), Some(Ok(Command::Touch(None))));
        assert_eq!(parsed("help login"), Some(Ok(Command::Help(Some(b"login".to_vec())))));
    }
}
