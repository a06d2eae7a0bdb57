//! Flags and environment turned into one `Config`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{Args, KeyLayout, LimitPolicy};
use crate::error::Error;
use crate::exec::conn::{Address, Target, Tls, parse_uri};
use crate::redis::format::Mode;
use crate::session::Settings;

/// Where commands come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A person at a terminal: the line editor.
    Interactive,
    /// Standard input, read as a script.
    Stdin,
    /// A script file.
    File(PathBuf),
    /// The words after the flags, as one command.
    Command(Vec<Vec<u8>>),
}

#[derive(Debug)]
pub struct Config {
    pub target: Target,
    pub input: Input,
    pub echo: bool,
    pub mode: Mode,
    pub color: bool,
    pub stop_on_error: bool,
    /// Send script lines in windows (off with `--no-pipeline`).
    pub pipeline: bool,
    pub dry_run: bool,
    pub ephemeral: bool,
    /// Go on interactively after a script file (when on a terminal).
    pub then_interactive: bool,
    /// `--step`: walk through the script file at the terminal (see `step`).
    pub step: bool,
    /// `--pager`, in the interactive shell on a terminal (see `pager`).
    pub pager: bool,
    pub sessions: Settings,
    /// The warning redis-cli prints when a password is visible on the command line.
    pub auth_warning: bool,
    /// `-x` / `-X TAG`: standard input becomes an argument of the command (see [`with_stdin`]).
    pub stdin_arg: Option<StdinArg>,
    /// `-r N -i SECS`: how often to run the command.
    pub repeat: Repeat,
}

/// Where standard input goes in the command, as redis-cli's `-x` and `-X TAG` put it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StdinArg {
    Last,
    Tag(Vec<u8>),
}

/// `-r N -i SECS`: run the command after the flags `times` times (`None`: until interrupted), waiting
/// `pause` between two runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Repeat {
    pub times: Option<u64>,
    pub pause: Option<Duration>,
}

/// The command's words with standard input's bytes put in (a pure step, so that it is tested
/// without a terminal): appended for `-x`, in place of the word equal to the tag for `-X`.
pub fn with_stdin(mut words: Vec<Vec<u8>>, how: &StdinArg, input: Vec<u8>) -> Result<Vec<Vec<u8>>, Error> {
    match how {
        StdinArg::Last => words.push(input),
        StdinArg::Tag(tag) => match words.iter_mut().find(|w| *w == tag) {
            Some(word) => *word = input,
            None => return Err(Error::Usage("Using -X option but stdin tag not match.".into())),
        },
    }
    Ok(words)
}

fn secs(flag: &str, v: f64) -> Result<Duration, Error> {
    if !v.is_finite() || v <= 0.0 {
        return Err(Error::Usage(format!("{flag} must be a positive number of seconds, not {v}")));
    }
    Ok(Duration::from_secs_f64(v))
}

/// A positive whole number of seconds for a session timeout.
pub fn parse_ttl(flag: &str, v: &str) -> Result<u64, String> {
    match v.trim().parse::<i64>() {
        Ok(n) if n > 0 => Ok(n as u64),
        Ok(_) => Err(format!("{flag} must be greater than 0, not {v}")),
        Err(_) => Err(format!("{flag} must be a whole number of seconds, not '{v}'")),
    }
}

fn read_file(flag: &str, path: &PathBuf) -> Result<Vec<u8>, Error> {
    std::fs::read(path)
        .map_err(|e| Error::Usage(format!("{flag} {}: {}", path.display(), crate::error::io_reason(&e))))
}

impl Config {
    pub fn from_args(a: Args, askpass: impl FnOnce() -> Result<String, Error>) -> Result<Config, Error> {
        let mut address = Address::Tcp { host: a.host.clone(), port: a.port };
        let mut tls = a.tls;
        let mut user = a.user.clone();
        let mut password = None;
        let mut db = 0;
        let mut auth_warning = a.pass.is_some();
        if let Some(uri) = &a.uri {
            let u = parse_uri(uri).map_err(Error::Usage)?;
            if let Some(addr) = u.address {
                address = addr;
            }
            tls |= u.tls;
            if u.user.is_some() {
                user = u.user;
            }
            if u.password.is_some() {
                auth_warning = true;
                password = u.password;
            }
            db = u.db.unwrap_or(0);
        }
        if let Some(path) = &a.socket {
            address = Address::Unix(path.clone());
        }
        if let Some(n) = a.db {
            db = n;
        }
        if a.pass.is_some() {
            password = a.pass.clone();
        }
        if password.is_none() {
            password = std::env::var("REDISCLI_AUTH").ok().filter(|p| !p.is_empty());
        }
        if a.askpass {
            password = Some(askpass()?);
            auth_warning = false;
        }
        if let (Some(sni), Address::Tcp { host, .. }) = (&a.sni, &address)
            && sni != host
        {
            return Err(Error::Usage(format!(
                "--sni {sni} differs from the host {host}: connect by that name instead (-h {sni})"
            )));
        }
        let tls = if tls {
            if matches!(address, Address::Unix(_)) {
                return Err(Error::Usage("--tls cannot be used with a unix socket".into()));
            }
            let client_cert = match (&a.cert, &a.key) {
                (Some(c), Some(k)) => Some((read_file("--cert", c)?, read_file("--key", k)?)),
                _ => None,
            };
            let ca_cert = a.cacert.as_ref().map(|p| read_file("--cacert", p)).transpose()?;
            Some(Tls { ca_cert, client_cert, insecure: a.insecure })
        } else {
            if a.cacert.is_some() || a.cert.is_some() || a.insecure {
                return Err(Error::Usage(
                    "--cacert, --cert, --key and --insecure need --tls (or a rediss:// URI)".into(),
                ));
            }
            None
        };
        if a.ephemeral && (a.uri.is_some() || a.socket.is_some() || tls.is_some()) {
            return Err(Error::Usage(
                "--ephemeral starts its own server: it cannot be combined with -u, -s or --tls".into(),
            ));
        }
        let target = Target {
            address,
            tls,
            user,
            password,
            db,
            resp3: a.resp3,
            connect_timeout: secs("--connect-timeout", a.connect_timeout)?,
            read_timeout: a.timeout.map(|t| secs("--timeout", t)).transpose()?,
            cluster: a.cluster,
        };

        let stdin_tty = std::io::stdin().is_terminal();
        let stdout_tty = std::io::stdout().is_terminal();
        let input = if !a.command.is_empty() {
            use std::os::unix::ffi::OsStrExt;
            Input::Command(a.command.iter().map(|w| w.as_bytes().to_vec()).collect())
        } else if let Some(f) = &a.file {
            if f.as_os_str() == "-" { Input::Stdin } else { Input::File(f.clone()) }
        } else if stdin_tty && stdout_tty {
            Input::Interactive
        } else {
            Input::Stdin
        };
        let one_command = matches!(input, Input::Command(_));
        if !one_command && (a.stdin_last || a.stdin_tag.is_some() || a.repeat.is_some()) {
            return Err(Error::Usage("-x, -X and -r apply to a command given after the flags".into()));
        }
        let stdin_arg = match (&a.stdin_tag, a.stdin_last) {
            (Some(tag), _) => {
                use std::os::unix::ffi::OsStrExt;
                Some(StdinArg::Tag(tag.as_bytes().to_vec()))
            }
            (None, true) => Some(StdinArg::Last),
            (None, false) => None,
        };
        let pause = match a.interval {
            Some(s) if !s.is_finite() || s < 0.0 => {
                return Err(Error::Usage(format!("-i must be a number of seconds, 0 or more, not {s}")));
            }
            Some(s) if s > 0.0 => Some(Duration::from_secs_f64(s)),
            _ => None,
        };
        // redis-cli: a negative count repeats until interrupted.
        let repeat = Repeat { times: a.repeat.map_or(Some(1), |n| u64::try_from(n).ok()), pause };
        if a.step && input == Input::Stdin {
            return Err(Error::Usage(
                "--step needs a script file: it reads your keys from the terminal, not -f -".into(),
            ));
        }
        let color = stdout_tty && !a.no_color && std::env::var_os("NO_COLOR").is_none();
        let idle = parse_ttl("--ttl", &a.ttl).map_err(Error::Usage)?;
        let absolute = parse_ttl("--absolute-ttl", &a.absolute_ttl).map_err(Error::Usage)?;
        let sessions = Settings {
            idle_ttl: idle,
            absolute_ttl: absolute,
            max_sessions: a.max_sessions,
            refuse_at_limit: a.max_sessions_policy == LimitPolicy::Refuse,
            hash_ids: a.hash_ids,
            cluster: a.cluster && a.key_layout == KeyLayout::Plain,
            tagged: a.key_layout == KeyLayout::Tagged,
            audit_stream: a.audit_stream.clone(),
            enable_notifications: a.enable_notifications,
            events_at_start: a.events,
        };
        if a.events && input != Input::Interactive && !(a.interactive && stdin_tty && stdout_tty) {
            return Err(Error::Usage(
                "--events shows events in the interactive shell; in a script use `events SECONDS`".into(),
            ));
        }
        if let Some(stream) = &a.audit_stream
            && (stream.is_empty() || stream.starts_with("session:") || stream.starts_with("user_sessions:"))
        {
            return Err(Error::Usage(format!(
                "--audit-stream '{stream}' must be a key name of its own, outside session:* and user_sessions:*"
            )));
        }
        Ok(Config {
            target,
            input,
            echo: !a.no_echo,
            mode: if a.raw { Mode::Raw } else { Mode::Pretty },
            color,
            stop_on_error: a.stop_on_error,
            pipeline: !a.no_pipeline,
            dry_run: a.dry_run,
            ephemeral: a.ephemeral,
            then_interactive: a.interactive && stdin_tty && stdout_tty,
            step: a.step && stdin_tty && stdout_tty,
            pager: a.pager && stdin_tty && stdout_tty,
            sessions,
            auth_warning: auth_warning && !a.no_auth_warning,
            stdin_arg,
            repeat,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_goes_last_or_in_place_of_its_tag() {
        let words = |s: &str| s.split(' ').map(|w| w.as_bytes().to_vec()).collect::<Vec<_>>();
        assert_eq!(with_stdin(words("SET k"), &StdinArg::Last, b"v\n".to_vec()).unwrap(), words("SET k v\n"));
        let tag = StdinArg::Tag(b"@".to_vec());
        let placed = with_stdin(words("HSET h @ f"), &tag, b"x y".to_vec()).unwrap();
        assert_eq!(placed, [b"HSET".to_vec(), b"h".to_vec(), b"x y".to_vec(), b"f".to_vec()]);
        assert_eq!(
            with_stdin(words("SET k v"), &tag, Vec::new()).unwrap_err().to_string(),
            "Using -X option but stdin tag not match."
        );
    }

    #[test]
    fn ttl_values() {
        assert_eq!(parse_ttl("--ttl", "1800"), Ok(1800));
        assert!(parse_ttl("--ttl", "0").unwrap_err().contains("greater than 0"));
        assert!(parse_ttl("--ttl", "-5").is_err());
        assert!(parse_ttl("--ttl", "abc").unwrap_err().contains("whole number"));
    }
}
