//! Flags and environment turned into one `Config`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{Args, KeyLayout, LimitPolicy};
use crate::error::Error;
use crate::exec::Wait;
use crate::exec::conn::{Address, Target, Tls, parse_uri};
use crate::exec::sentinel::{Sentinel, parse_node};
use crate::exec::{BigKeys, ScanSpec};
use crate::redis::format::{Delims, Mode};
use crate::redis::split::split_args;
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
    /// `--wait N --wait-timeout MS`: replicas that must acknowledge each session write.
    pub wait: Option<Wait>,
    /// `--read-from-replica`: whoami, sessions and stats read from a replica.
    pub read_from_replica: bool,
    /// One of redis-cli's modes instead of commands (`--scan`, `--bigkeys`, `--pipe`…).
    pub special: Option<Special>,
    /// `-d` and `-D`: the raw form's delimiters.
    pub delims: Delims,
    /// `-e` with a command after the flags: an error reply goes to stderr, as redis-cli's does.
    pub errors_to_stderr: bool,
}

/// redis-cli's modes that are not commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Special {
    /// `--scan`: every key, one per line.
    Scan(ScanSpec),
    /// `--bigkeys` / `--memkeys`.
    BigKeys(ScanSpec, BigKeys),
    /// `--pipe`, with `--pipe-timeout` (`None`: wait for ever).
    Pipe(Option<Duration>),
}

/// One word written with redis-cli's quoting rules (`--quoted-input`, `--quoted-pattern`): exactly
/// one word, or none.
pub fn unquote(word: &[u8]) -> Option<Vec<u8>> {
    match split_args(word) {
        Ok(mut words) if words.len() == 1 => words.pop(),
        _ => None,
    }
}

/// `--eval FILE key … , arg …` as redis-cli builds it: `EVAL <script> <number of keys> keys… args…`,
/// the keys being the words before the first lone comma.
pub fn eval_command(script: Vec<u8>, words: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let comma = words.iter().position(|w| w == b",");
    let keys = comma.unwrap_or(words.len());
    let mut cmd = vec![b"EVAL".to_vec(), script, keys.to_string().into_bytes()];
    for (i, w) in words.into_iter().enumerate() {
        if Some(i) != comma {
            cmd.push(w);
        }
    }
    cmd
}

fn os_bytes(s: &std::ffi::OsStr) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    s.as_bytes().to_vec()
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

/// The longest time any flag may name: 100 years. Longer values are surely a typo, and the
/// arithmetic done with them (deadlines, instants, Redis TTLs in milliseconds) stays far from overflow.
pub const MAX_SECS: u64 = 100 * 365 * 24 * 3600;

/// A number of seconds from a flag as a `Duration`: finite, within `0..=MAX_SECS` (0 itself only
/// when `zero_ok`), never a panic whatever the value (`1e30`, `NaN`, `inf`, `-1`).
pub fn duration_secs(flag: &str, v: f64, zero_ok: bool) -> Result<Duration, String> {
    let floor = if zero_ok { "0 or more" } else { "more than 0" };
    if v.is_nan() || v < 0.0 || (v == 0.0 && !zero_ok) {
        return Err(format!("{flag} must be a number of seconds, {floor}, not {v}"));
    }
    if v > MAX_SECS as f64 {
        return Err(format!("{flag} {v} is too long: at most {MAX_SECS} seconds (100 years)"));
    }
    Duration::try_from_secs_f64(v).map_err(|_| format!("{flag} must be a number of seconds, not {v}"))
}

fn secs(flag: &str, v: f64) -> Result<Duration, Error> {
    duration_secs(flag, v, false).map_err(Error::Usage)
}

/// A positive whole number of seconds for a session timeout, at most `MAX_SECS`.
pub fn parse_ttl(flag: &str, v: &str) -> Result<u64, String> {
    match v.trim().parse::<i64>() {
        Ok(n) if n > 0 && n as u64 <= MAX_SECS => Ok(n as u64),
        Ok(n) if n > 0 => Err(format!("{flag} {v} is too long: at most {MAX_SECS} seconds (100 years)")),
        Ok(_) => Err(format!("{flag} must be greater than 0, not {v}")),
        Err(e) if matches!(e.kind(), std::num::IntErrorKind::PosOverflow) => {
            Err(format!("{flag} {v} is too long: at most {MAX_SECS} seconds (100 years)"))
        }
        Err(_) => Err(format!("{flag} must be a whole number of seconds, not '{v}'")),
    }
}

/// The password of a `-u` URI as typed, if it has one: what follows the first `:` of the userinfo
/// (which ends at the last `@`), or a unix URI's `pass=`/`password=` value.
fn uri_password(uri: &str) -> Option<&str> {
    let rest = uri.split_once("://").map_or(uri, |(_, rest)| rest);
    if let Some((userinfo, _)) = rest.rsplit_once('@') {
        return Some(userinfo.split_once(':').map_or(userinfo, |(_, pass)| pass)).filter(|p| !p.is_empty());
    }
    let query = rest.split_once('?')?.1;
    query.split('&').find_map(|pair| match pair.split_once('=') {
        Some(("pass" | "password", p)) if !p.is_empty() => Some(p),
        _ => None,
    })
}

/// The URI with its password shown as `***`.
fn masked_uri(uri: &str) -> String {
    match uri_password(uri) {
        Some(pass) => {
            // `pass` is a slice of `uri`: replace that span only.
            let start = pass.as_ptr() as usize - uri.as_ptr() as usize;
            format!("{}***{}", &uri[..start], &uri[start + pass.len()..])
        }
        None => uri.to_owned(),
    }
}

/// A message about a `-u` URI with the URI's password taken out, wherever and however it
/// appears (the whole URI, the password as typed, the password decoded).
pub fn without_uri_password(message: &str, uri: &str) -> String {
    let Some(pass) = uri_password(uri) else {
        return message.to_owned();
    };
    let mut out = message.replace(uri, &masked_uri(uri)).replace(pass, "***");
    if let Some(decoded) = parse_uri(uri).ok().and_then(|u| u.password).filter(|d| !d.is_empty()) {
        out = out.replace(&decoded, "***");
    }
    out
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
        let mut sentinel_uri = None;
        if let Some(uri) = &a.uri {
            let u = parse_uri(uri).map_err(|e| Error::Usage(without_uri_password(&e, uri)))?;
            sentinel_uri = u.sentinel;
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
        let tls = if tls {
            if matches!(address, Address::Unix(_)) {
                return Err(Error::Usage("--tls cannot be used with a unix socket".into()));
            }
            let client_cert = match (&a.cert, &a.key) {
                (Some(c), Some(k)) => Some((read_file("--cert", c)?, read_file("--key", k)?)),
                _ => None,
            };
            let ca_cert = a.cacert.as_ref().map(|p| read_file("--cacert", p)).transpose()?;
            Some(Tls { ca_cert, client_cert, insecure: a.insecure, sni: a.sni.clone() })
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
        let sentinel = sentinel_of(&a, sentinel_uri)?;
        let target = Target {
            address,
            tls,
            user,
            password,
            db,
            // redis-cli's --json asks for RESP3 (its maps become JSON objects), unless -2 says not to.
            resp3: a.resp3 || ((a.json || a.quoted_json) && !a.resp2),
            connect_timeout: secs("--connect-timeout", a.connect_timeout)?,
            read_timeout: a.timeout.map(|t| secs("--timeout", t)).transpose()?,
            cluster: a.cluster,
            sentinel,
        };
        let wait = wait_of(&a)?;
        if a.cluster && a.read_from_replica {
            return Err(Error::Usage(
                "--read-from-replica reads from a replica of one master: not with -c".into(),
            ));
        }

        let stdin_tty = std::io::stdin().is_terminal();
        let stdout_tty = std::io::stdout().is_terminal();
        let special = special_mode(&a)?;
        if special.is_some() && (!a.command.is_empty() || a.file.is_some()) {
            return Err(Error::Usage(
                "--scan, --bigkeys, --memkeys and --pipe take no command and no -f script".into(),
            ));
        }
        let mut words: Vec<Vec<u8>> = a.command.iter().map(|w| os_bytes(w)).collect();
        if a.quoted_input {
            // As redis-cli: a word that is not exactly one quoted string fails the run (status 1).
            words = words.iter().map(|w| unquote(w)).collect::<Option<_>>().ok_or(Error::QuotedInput)?;
        }
        if let Some(path) = &a.eval {
            let script = std::fs::read(path).map_err(|e| Error::File {
                path: path.display().to_string(),
                reason: crate::error::io_reason(&e),
            })?;
            words = eval_command(script, words);
        }
        let input = if !words.is_empty() {
            Input::Command(words)
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
        let keyspace_mode = matches!(special, Some(Special::Scan(_) | Special::BigKeys(..)));
        if a.interval.is_some() && a.repeat.is_none() && !keyspace_mode {
            return Err(Error::Usage("-i applies to -r, --scan, --bigkeys and --memkeys".into()));
        }
        if (a.pattern.is_some() || a.quoted_pattern.is_some() || a.count.is_some()) && !keyspace_mode {
            return Err(Error::Usage(
                "--pattern, --quoted-pattern and --count apply to --scan, --bigkeys and --memkeys".into(),
            ));
        }
        let pause = match a.interval {
            Some(s) => Some(duration_secs("-i", s, true).map_err(Error::Usage)?).filter(|d| !d.is_zero()),
            None => None,
        };
        // redis-cli: a negative count repeats until interrupted.
        let repeat = Repeat { times: a.repeat.map_or(Some(1), |n| u64::try_from(n).ok()), pause };
        if a.step && input == Input::Stdin {
            return Err(Error::Usage(
                "--step needs a script file: it reads your keys from the terminal, not -f -".into(),
            ));
        }
        let special = special.map(|mode| match mode {
            Special::Scan(spec) => Special::Scan(ScanSpec { pause, ..spec }),
            Special::BigKeys(spec, how) => Special::BigKeys(ScanSpec { pause, ..spec }, how),
            pipe => pipe,
        });
        let mut mode = if a.csv {
            Mode::Csv
        } else if a.json {
            Mode::Json
        } else if a.quoted_json {
            Mode::QuotedJson
        } else if a.raw {
            Mode::Raw
        } else {
            Mode::Pretty
        };
        // --scan prints keys for other programs: quoted only at a terminal (or with --no-raw), as
        // redis-cli does.
        if matches!(special, Some(Special::Scan(_))) && mode == Mode::Pretty && !stdout_tty && !a.no_raw {
            mode = Mode::Raw;
        }
        let delims = Delims {
            bulk: a.bulk_delim.as_deref().map_or_else(|| b"\n".to_vec(), os_bytes),
            reply: a.reply_delim.as_deref().map_or_else(|| b"\n".to_vec(), os_bytes),
        };
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
            literal: a.literal,
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
            mode,
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
            wait,
            read_from_replica: a.read_from_replica,
            special,
            delims,
            errors_to_stderr: a.stop_on_error && one_command,
        })
    }
}

/// `--sentinel HOST:PORT … --master NAME` (or a `redis+sentinel://` URI): where to ask for the
/// master. Checked here so that a wrong combination is one clear line before anything connects.
fn sentinel_of(a: &Args, from_uri: Option<(Vec<Address>, String)>) -> Result<Option<Sentinel>, Error> {
    let usage = |m: &str| Err(Error::Usage(m.into()));
    let (nodes, master) = match from_uri {
        Some(_) if !a.sentinels.is_empty() => {
            return usage(
                "give the sentinels either with --sentinel or in a redis+sentinel:// URI, not both",
            );
        }
        Some((nodes, name)) => (nodes, a.master.clone().unwrap_or(name)),
        None if a.sentinels.is_empty() => {
            if a.master.is_some() {
                return usage(
                    "--master names the master the sentinels know: give them with --sentinel HOST:PORT",
                );
            }
            if a.sentinel_user.is_some() {
                return usage("--sentinel-user needs --sentinel HOST:PORT");
            }
            return Ok(None);
        }
        None => {
            let nodes = a.sentinels.iter().map(|s| parse_node(s)).collect::<Result<Vec<_>, _>>();
            let Some(master) = a.master.clone() else {
                return usage(
                    "--sentinel needs --master NAME: the name the sentinels monitor the master under",
                );
            };
            (nodes.map_err(Error::Usage)?, master)
        }
    };
    if a.cluster || a.socket.is_some() || a.ephemeral {
        return usage("--sentinel finds the master itself: it cannot be combined with -c, -s or --ephemeral");
    }
    if master.is_empty() {
        return usage("--master must not be empty");
    }
    Ok(Some(Sentinel {
        nodes,
        master,
        user: a.sentinel_user.clone(),
        password: a.sentinel_pass.clone().filter(|p| !p.is_empty()),
    }))
}

/// `--wait N --wait-timeout MS`.
fn wait_of(a: &Args) -> Result<Option<Wait>, Error> {
    let Some(replicas) = a.wait else { return Ok(None) };
    if replicas == 0 {
        return Err(Error::Usage("--wait must be 1 or more replicas".into()));
    }
    if a.wait_timeout == 0 || a.wait_timeout > MAX_SECS * 1000 {
        return Err(Error::Usage(format!(
            "--wait-timeout must be 1 to {} milliseconds (WAIT with 0 would wait for ever), not {}",
            MAX_SECS * 1000,
            a.wait_timeout
        )));
    }
    if a.cluster {
        return Err(Error::Usage("--wait is for one master and its replicas: not with -c".into()));
    }
    Ok(Some(Wait { replicas, timeout_ms: a.wait_timeout }))
}

/// The redis-cli mode the flags ask for, if any (`-i` is added by the caller).
fn special_mode(a: &Args) -> Result<Option<Special>, Error> {
    let bigkeys = a.bigkeys || a.memkeys || a.memkeys_samples.is_some();
    let chosen = [a.scan, a.bigkeys, a.memkeys || a.memkeys_samples.is_some(), a.pipe, a.eval.is_some()];
    if chosen.iter().filter(|c| **c).count() > 1 {
        return Err(Error::Usage(
            "--scan, --bigkeys, --memkeys, --pipe and --eval cannot be combined".into(),
        ));
    }
    let pattern =
        match (&a.pattern, &a.quoted_pattern) {
            (Some(p), _) => Some(os_bytes(p)),
            (None, Some(q)) => Some(unquote(&os_bytes(q)).ok_or_else(|| {
                Error::Usage("Invalid quoted string specified for --quoted-pattern.".into())
            })?),
            (None, None) => None,
        };
    let spec = ScanSpec { pattern, count: a.count, pause: None };
    Ok(if a.scan {
        Some(Special::Scan(spec))
    } else if bigkeys {
        let how = BigKeys { memkeys: !a.bigkeys, samples: a.memkeys_samples };
        Some(Special::BigKeys(spec, how))
    } else if a.pipe {
        Some(Special::Pipe((a.pipe_timeout > 0).then(|| Duration::from_secs(a.pipe_timeout.min(MAX_SECS)))))
    } else {
        None
    })
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
    fn eval_keys_before_the_lone_comma() {
        let w = |s: &str| {
            s.split(' ').filter(|x| !x.is_empty()).map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>()
        };
        assert_eq!(
            eval_command(b"return 1".to_vec(), w("k1 k2 , a1")),
            [&b"EVAL"[..], b"return 1", b"2", b"k1", b"k2", b"a1"]
        );
        assert_eq!(eval_command(b"s".to_vec(), w(", a")), [&b"EVAL"[..], b"s", b"0", b"a"]);
        assert_eq!(eval_command(b"s".to_vec(), w("k x, ,")), [&b"EVAL"[..], b"s", b"2", b"k", b"x,"]);
        assert_eq!(eval_command(b"s".to_vec(), Vec::new()), [&b"EVAL"[..], b"s", b"0"]);
    }

    #[test]
    fn quoted_words() {
        assert_eq!(unquote(b"\"a\\x41\\n\""), Some(b"aA\n".to_vec()));
        assert_eq!(unquote(b"plain"), Some(b"plain".to_vec()));
        assert_eq!(unquote(b"\"open"), None);
        assert_eq!(unquote(b"\"a\" \"b\""), None);
        assert_eq!(unquote(b""), None);
    }

    #[test]
    fn ttl_values() {
        assert_eq!(parse_ttl("--ttl", "1800"), Ok(1800));
        assert!(parse_ttl("--ttl", "0").unwrap_err().contains("greater than 0"));
        assert!(parse_ttl("--ttl", "-5").is_err());
        assert!(parse_ttl("--ttl", "abc").unwrap_err().contains("whole number"));
        assert!(parse_ttl("--ttl", "1e30").unwrap_err().contains("whole number"));
        assert_eq!(parse_ttl("--absolute-ttl", &MAX_SECS.to_string()), Ok(MAX_SECS));
        for huge in ["3153600001", "9223372036854775807", "99999999999999999999"] {
            let e = parse_ttl("--absolute-ttl", huge).unwrap_err();
            assert_eq!(
                e,
                format!("--absolute-ttl {huge} is too long: at most {MAX_SECS} seconds (100 years)")
            );
        }
    }

    #[test]
    fn uri_passwords_never_reach_a_message() {
        assert_eq!(masked_uri("redis://alice:s3cret@h:6380/2"), "redis://alice:***@h:6380/2");
        assert_eq!(masked_uri("rediss://:pw@h"), "rediss://:***@h");
        assert_eq!(masked_uri("redis://pw@h"), "redis://***@h");
        assert_eq!(masked_uri("unix:///tmp/s?db=1&pass=pw"), "unix:///tmp/s?db=1&pass=***");
        assert_eq!(masked_uri("redis://h:6379"), "redis://h:6379");
        let secret = "S3cr/et@x%41";
        for uri in [
            format!("alice:{secret}@host"),
            format!("redis://alice:{secret}@host:notaport"),
            format!("redis://alice:{secret}@host/notadb"),
            format!("redis://alice:{secret}@[::1"),
            format!("redis://alice:{secret}%zz@host"),
            format!("redis://{secret}@host:99999"),
            format!("unix:///tmp/s?pass={secret}&bogus=1"),
            format!("unix:///tmp/s?db=x&password={secret}"),
            format!("http://alice:{secret}@host"),
        ] {
            let e = parse_uri(&uri).expect_err(&uri);
            let shown = without_uri_password(&e, &uri);
            for part in ["S3cr", "et@x", "x%41", "xA", secret] {
                assert!(!shown.contains(part), "{uri}: {shown}");
            }
        }
        // A password with '/' and '@' in it is read whole, not as host, port or db.
        let u = parse_uri(&format!("redis://alice:{secret}@example.com:6380/3")).unwrap();
        assert_eq!(u.password.as_deref(), Some("S3cr/et@xA"));
        assert_eq!(u.address, Some(Address::Tcp { host: "example.com".into(), port: 6380 }));
        assert_eq!(u.db, Some(3));
    }

    #[test]
    fn the_longest_ttl_keeps_deadlines_in_range() {
        // A session logged in now, far in the future, or at a stored time near i64::MAX: the
        // deadline arithmetic of `touch` stays positive and never wraps (it used to delete the session).
        for login in [1_700_000_000u64, 4_000_000_000, i64::MAX as u64 / 2] {
            let ttl = crate::session::plan::touch_ttl(login, login, 1800, MAX_SECS);
            assert_eq!(ttl, 1800, "login at {login}");
        }
        assert!(MAX_SECS.checked_mul(1000).is_some_and(|ms| ms < i64::MAX as u64));
    }

    #[test]
    fn durations_from_flags_never_panic() {
        assert_eq!(duration_secs("-t", 1.5, false), Ok(Duration::from_millis(1500)));
        assert_eq!(duration_secs("-i", 0.0, true), Ok(Duration::ZERO));
        assert_eq!(duration_secs("-i", MAX_SECS as f64, true), Ok(Duration::from_secs(MAX_SECS)));
        let cases = [
            (
                1e30,
                "--timeout 1000000000000000000000000000000 is too long: at most 3153600000 seconds (100 years)",
            ),
            (f64::INFINITY, "--timeout inf is too long: at most 3153600000 seconds (100 years)"),
            (f64::NAN, "--timeout must be a number of seconds, more than 0, not NaN"),
            (-1.0, "--timeout must be a number of seconds, more than 0, not -1"),
            (f64::NEG_INFINITY, "--timeout must be a number of seconds, more than 0, not -inf"),
            (0.0, "--timeout must be a number of seconds, more than 0, not 0"),
        ];
        for (v, message) in cases {
            assert_eq!(duration_secs("--timeout", v, false), Err(message.to_owned()), "{v}");
        }
        assert!(duration_secs("-i", -0.5, true).unwrap_err().contains("0 or more"));
        // Tiny values round down to nothing rather than fail.
        assert_eq!(duration_secs("-i", 1e-300, true), Ok(Duration::ZERO));
    }
}
