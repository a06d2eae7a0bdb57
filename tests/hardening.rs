//! Faults and races: what a real network and real users throw at redsh, against real servers of
//! each kind (`name::redis`, `name::valkey`).

use std::process::Command;
use std::time::Duration;

use crate::harness::{Kind, Redsh, Server, on_each_server};

fn redsh(srv: &Server) -> Redsh {
    Redsh::new().port(srv.port)
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Two shells hammer the same users with logins, touches, renews, logouts and logout-alls at once.
/// Afterwards (once `sessions` has pruned what died in the crossfire) every index entry is a live
/// session, every live session is in its user's index, the limit held, no deadline was stretched.
fn concurrent_shells_never_break_the_store(kind: Kind) {
    let srv = Server::start_on(kind);
    let users = 4;
    let absolute = 1000;
    let script = |p: usize| {
        let mut s = String::new();
        for round in 0..25 {
            for u in 0..users {
                let id = format!("p{p}r{round}u{u}");
                s.push_str(&format!("login {u} user{u} role{p} --id {id}\ntouch {id}\n"));
                match round % 5 {
                    1 => s.push_str(&format!("renew {id}\n")),
                    2 => s.push_str(&format!("logout {id}\n")),
                    3 if u == p => s.push_str(&format!("logout-all {u}\n")),
                    _ => s.push_str(&format!("login {u} user{u} role{p}\n")),
                }
            }
        }
        s
    };
    let flags = ["--no-echo", "--max-sessions", "3", "--absolute-ttl", "1000"];
    let port = srv.port;
    let shells: Vec<_> = (0..2)
        .map(|p| {
            let input = script(p);
            std::thread::spawn(move || Redsh::new().port(port).args(&flags).stdin(input).run())
        })
        .collect();
    let mut operations = 0;
    for (p, shell) in shells.into_iter().enumerate() {
        let run = shell.join().unwrap();
        // Some lines fail by design (a session the other shell just revoked): only those.
        for line in run.stderr.lines() {
            assert!(
                line.contains("no such session") || line.contains("already exists"),
                "shell {p}: unexpected failure: {line}"
            );
        }
        assert!(!run.stdout.contains("(error)"), "shell {p}: {}", run.stdout);
        operations += script(p).lines().count();
    }
    assert!(operations >= 500, "{operations} operations");

    for u in 0..users {
        redsh(&srv).args(&["--no-echo"]).stdin(format!("sessions {u}\n")).run().success();
        let members = srv.get(&["SMEMBERS", &format!("user_sessions:{u}")]);
        let members: Vec<&str> = members.lines().collect();
        assert!(members.len() <= 3, "user {u} has {} sessions: the limit did not hold", members.len());
        for m in &members {
            let key = format!("session:{m}");
            assert_eq!(srv.get(&["EXISTS", &key]), "1", "index entry {m} points at nothing");
            let login: i64 = srv.get(&["HGET", &key, "login_time"]).parse().unwrap();
            let ttl: i64 = srv.get(&["TTL", &key]).parse().unwrap();
            assert!(ttl > 0 && now() + ttl <= login + absolute + 1, "{m}: TTL {ttl} outlives the deadline");
        }
    }
    // No live session outside its user's index.
    let keys = srv.get(&["KEYS", "session:*"]);
    for key in keys.lines() {
        let uid = srv.get(&["HGET", key, "user_id"]);
        let id = key.trim_start_matches("session:");
        assert_eq!(srv.get(&["SISMEMBER", &format!("user_sessions:{uid}"), id]), "1", "{key} is not indexed");
    }
}
on_each_server!(concurrent_shells_never_break_the_store);

/// The README's least-privilege rule is enough for every session command, and nothing more.
fn the_whole_lifecycle_runs_as_a_least_privilege_user(kind: Kind) {
    let srv = Server::start_on(kind);
    let readme = std::fs::read_to_string("README.md").unwrap();
    let rule = readme
        .lines()
        .find(|l| l.trim_start().starts_with("ACL SETUSER redsh "))
        .expect("the README gives the ACL rule")
        .trim();
    let mut argv: Vec<&str> = rule.split_whitespace().collect();
    // The README's password placeholder is replaced by this test's.
    for a in argv.iter_mut() {
        if a.starts_with('>') {
            *a = ">s3cret";
        }
    }
    let out = srv.cli_command().args(&argv).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK");
    let input = "login 101 suhel teacher --id abc123\nwhoami\ntouch\nlogin 101 suhel teacher\nsessions 101\n\
                 renew abc123\nlogout\nlogin 101 a b\nlogout-all 101\n";
    let run = redsh(&srv)
        .args(&["--user", "redsh", "--max-sessions", "5"])
        .env("REDISCLI_AUTH", "s3cret")
        .stdin(input)
        .run()
        .success();
    assert!(!run.stdout.contains("NOPERM"), "{}", run.stdout);
    assert_eq!(srv.get(&["DBSIZE"]), "0");
    // ...and the user can do nothing else.
    let run = redsh(&srv)
        .args(&["--user", "redsh", "--no-echo"])
        .env("REDISCLI_AUTH", "s3cret")
        .stdin("GET x\n")
        .run()
        .code(1);
    assert!(run.stdout.starts_with("(error) NOPERM"), "{}", run.stdout);
}
on_each_server!(the_whole_lifecycle_runs_as_a_least_privilege_user);

/// A server frozen past `--timeout`: a clear error, and the shell goes on once it is back.
fn a_frozen_server_times_out_and_the_shell_goes_on(kind: Kind) {
    let srv = Server::start_on(kind);
    let pid = srv.pid();
    let input = "SET k 1\nDEBUG SLEEP 0\nGET k\n";
    Command::new("kill").args(["-STOP", &pid.to_string()]).status().unwrap();
    let thaw = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        Command::new("kill").args(["-CONT", &pid.to_string()]).status().unwrap();
    });
    let run = redsh(&srv).args(&["--timeout", "0.5", "--no-echo", "--no-pipeline"]).stdin(input).run();
    thaw.join().unwrap();
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("redsh: line 1: Error: Timeout reading from the server"), "{}", run.stderr);
    // A later line reconnects (the server is back by then, or the line fails the same clear way).
    assert!(!run.stderr.contains("panicked"));
}
on_each_server!(a_frozen_server_times_out_and_the_shell_goes_on);

/// Error replies of every kind are printed as redis-cli prints them, fail the line, and the rest runs.
fn error_replies_fail_the_line_and_the_shell_goes_on(kind: Kind) {
    // NOAUTH and WRONGPASS.
    let srv = Server::with_args_on(kind, &["--requirepass", "pw"]);
    let run = redsh(&srv).args(&["--no-echo"]).stdin("GET k\nAUTH nope\nAUTH pw\nSET k v\n").run().code(1);
    assert_eq!(
        run.stdout,
        "(error) NOAUTH Authentication required.\n\
         (error) WRONGPASS invalid username-password pair or user is disabled.\nOK\nOK\n"
    );
    let run = redsh(&srv).args(&["-a", "nope", "--no-auth-warning"]).stdin("PING\n").run().code(1);
    assert!(run.stderr.contains("WRONGPASS"), "{}", run.stderr);
    assert!(!run.stderr.contains("nope"), "the password never appears in an error");

    // READONLY: a replica refuses writes.
    let primary = Server::start_on(kind);
    let replica = Server::with_args_on(kind, &["--replicaof", "127.0.0.1", &primary.port.to_string()]);
    let run = redsh(&replica).args(&["--no-echo"]).stdin("SET k v\nlogin 1 a b\nPING\n").run().code(1);
    assert!(
        run.stdout.starts_with("(error) READONLY You can't write against a read only replica.\n"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("line 2: login failed, nothing was written: EXECABORT"), "{}", run.stderr);
    assert!(run.stdout.ends_with("PONG\n"));

    // BUSY: a script hogs the server past busy-reply-threshold.
    let busy = Server::with_args_on(kind, &["--busy-reply-threshold", "100"]);
    let mut hog = busy.cli_command();
    hog.args(["EVAL", "local t = redis.call('TIME') while true do end", "0"]);
    let hog = std::thread::spawn(move || hog.output().unwrap());
    let mut saw_busy = false;
    for _ in 0..50 {
        let run = redsh(&busy).args(&["--no-echo"]).stdin("PING\n").run();
        if run.stdout.starts_with("(error) BUSY") {
            assert_eq!(run.code, 1);
            saw_busy = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    busy.get(&["SCRIPT", "KILL"]);
    let _ = hog.join();
    assert!(saw_busy, "the server never answered BUSY");
}
on_each_server!(error_replies_fail_the_line_and_the_shell_goes_on);

/// A server still loading its dataset answers LOADING: printed, the line fails, nothing panics.
fn a_loading_server_is_reported(kind: Kind) {
    let mut srv = Server::start_on(kind);
    srv.get(&["DEBUG", "POPULATE", "20000", "k", "64"]);
    srv.get(&["SAVE"]);
    // Stop it but keep its directory (and the dump in it) for the server that loads it.
    srv.kill();
    let dir = srv.dir.path().to_owned();
    let port = srv.port;
    let mut child = Command::new(kind.server_bin())
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--appendonly", "no", "--save", ""])
        // A small dataset loaded slowly (100 µs a key, clients served every KiB read): seconds of
        // LOADING without millions of keys to write first.
        .args(["--key-load-delay", "100", "--loading-process-events-interval-bytes", "1024"])
        .arg("--dir")
        .arg(&dir)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut saw_loading = false;
    for _ in 0..400 {
        let run = Redsh::new().port(port).args(&["--no-echo"]).stdin("DBSIZE\n").run();
        if run.stdout.starts_with("(error) LOADING") {
            assert_eq!(run.code, 1);
            saw_loading = true;
            break;
        }
        if run.stdout == "(integer) 20000\n" {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(saw_loading, "the dataset loaded before redsh could see LOADING");
}
on_each_server!(a_loading_server_is_reported);

/// Huge and odd input: answered, or refused with a clear one-line error; never a panic.
fn huge_arguments_and_lines_are_handled(kind: Kind) {
    let srv = Server::start_on(kind);
    let big = "x".repeat(64 << 20);
    let mut input = format!("SET big {big}\nSTRLEN big\n");
    input.push_str("SADD many");
    for i in 0..100_000 {
        input.push_str(&format!(" m{i}"));
    }
    input.push_str("\nSCARD many\n");
    let run = redsh(&srv).args(&["--no-echo"]).stdin(input).run().success();
    assert_eq!(run.stdout, "OK\n(integer) 67108864\n(integer) 100000\n(integer) 100000\n");
}
on_each_server!(huge_arguments_and_lines_are_handled);

/// An unexpected bug ends with a message and exit status 70, not a backtrace.
#[test]
fn an_internal_error_exits_70_with_a_message() {
    let run = Redsh::new().env("REDSH_PANIC_FOR_TEST", "1").args(&["--dry-run", "PING"]).run().code(70);
    assert!(run.stderr.starts_with("redsh: internal error"), "{}", run.stderr);
    assert!(!run.stderr.contains("stack backtrace"), "{}", run.stderr);
}

/// Every numeric flag: a value out of range is a one-line usage error (exit 2) naming the flag,
/// never a panic (exit 70), whatever the value: huge, negative, NaN, infinite, overflowing.
#[test]
fn numeric_flags_out_of_range_are_usage_errors() {
    let p = crate::harness::free_port().to_string();
    let too_long = |flag: &str, v: &str| {
        format!("redsh: {flag} {v} is too long: at most 3153600000 seconds (100 years)\n")
    };
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["--connect-timeout", "1e30"], too_long("--connect-timeout", "1000000000000000000000000000000")),
        (vec!["-t", "inf"], too_long("--connect-timeout", "inf")),
        (vec!["--connect-timeout", "NaN"], "redsh: --connect-timeout must be a number of seconds, more than 0, not NaN\n".into()),
        (vec!["--connect-timeout", "-1"], "redsh: --connect-timeout must be a number of seconds, more than 0, not -1\n".into()),
        (vec!["--timeout", "1e30"], too_long("--timeout", "1000000000000000000000000000000")),
        (vec!["--timeout", "0"], "redsh: --timeout must be a number of seconds, more than 0, not 0\n".into()),
        (vec!["--timeout", "nan"], "redsh: --timeout must be a number of seconds, more than 0, not NaN\n".into()),
        (vec!["-r", "2", "-i", "1e30"], too_long("-i", "1000000000000000000000000000000")),
        (vec!["-r", "2", "-i", "-1"], "redsh: -i must be a number of seconds, 0 or more, not -1\n".into()),
        (vec!["-r", "2", "-i", "NaN"], "redsh: -i must be a number of seconds, 0 or more, not NaN\n".into()),
        (vec!["-r", "2", "-i", "inf"], too_long("-i", "inf")),
        (vec!["--ttl", "99999999999999999999"], too_long("--ttl", "99999999999999999999")),
        (vec!["--absolute-ttl", "9223372036854775807"], too_long("--absolute-ttl", "9223372036854775807")),
        (vec!["--absolute-ttl", "3153600001"], too_long("--absolute-ttl", "3153600001")),
        (vec!["--absolute-ttl", "1e30"], "redsh: --absolute-ttl must be a whole number of seconds, not '1e30'\n".into()),
        (vec!["--absolute-ttl", "-1"], "redsh: --absolute-ttl must be greater than 0, not -1\n".into()),
        (
            vec!["-r", "99999999999999999999"],
            "redsh: invalid value '99999999999999999999' for '-r <N>': number too large to fit in target type; try --help\n".into(),
        ),
        (
            vec!["-n", "99999999999999999999"],
            "redsh: invalid value '99999999999999999999' for '--db <DB>': number too large to fit in target type; try --help\n".into(),
        ),
        (
            vec!["--max-sessions", "-1"],
            "redsh: invalid value '-1' for '--max-sessions <N>': -1 is not in 0..=4294967295; try --help\n".into(),
        ),
        (
            vec!["--max-sessions", "4294967296"],
            "redsh: invalid value '4294967296' for '--max-sessions <N>': 4294967296 is not in 0..=4294967295; try --help\n".into(),
        ),
    ];
    for (flags, expected) in cases {
        let mut args = vec!["-p", &p];
        args.extend(&flags);
        args.push("PING");
        let run = Redsh::new().args(&args).run();
        assert_eq!(
            (run.code, run.stdout.as_str(), run.stderr.as_str()),
            (2, "", expected.as_str()),
            "{flags:?}"
        );
    }
}

/// The longest values allowed still work end to end: a 100-year absolute timeout and huge
/// timeouts log in, touch and renew without overflow (a wrapped deadline used to delete the session).
#[test]
fn the_longest_allowed_values_work() {
    let srv = Server::start();
    let run = redsh(&srv)
        .args(&["--no-echo", "--absolute-ttl", "3153600000", "--ttl", "3153600000"])
        .args(&["--connect-timeout", "3153600000", "--timeout", "3153600000"])
        .stdin("login 1 a b --id longlived\ntouch\nrenew\nwhoami\n")
        .run()
        .success();
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let keys = srv.get(&["KEYS", "session:*"]);
    assert_eq!(keys.lines().count(), 1, "the session survived touch and renew: {keys}");
    let ttl: i64 = srv.get(&["TTL", keys.trim()]).parse().unwrap();
    assert!(ttl > 3_000_000_000, "TTL {ttl}");
    let run = redsh(&srv).args(&["--no-echo", "-r", "2", "-i", "0", "PING"]).run().success();
    assert_eq!(run.stdout, "PONG\nPONG\n");
}

/// The secret-carrying commands of the tests below, each with a password of its own, and the
/// servers they need: a MIGRATE target that asks for a password.
struct Secrets {
    srv: Server,
    target: Server,
}

const PASSWORDS: [&str; 5] = ["pw1-hello", "pw2-migrate", "pw3-migrate2", "pw4-requirepass", "pw5-auth"];

impl Secrets {
    fn start() -> Secrets {
        let target = Server::with_args(&["--requirepass", "pw2-migrate"]);
        target.get(&[
            "-a",
            "pw2-migrate",
            "--no-auth-warning",
            "ACL",
            "SETUSER",
            "mover",
            "on",
            ">pw3-migrate",
            "~*",
            "+@all",
        ]);
        Secrets { srv: Server::start(), target }
    }

    fn lines(&self) -> Vec<String> {
        let t = self.target.port;
        vec![
            "SET k1 v1".into(),
            "SET k2 v2".into(),
            "HELLO 3 SETNAME x AUTH default pw1-hello".into(),
            "HELLO 2".into(),
            format!("MIGRATE 127.0.0.1 {t} \"\" 0 5000 AUTH pw2-migrate KEYS k1"),
            format!("MIGRATE 127.0.0.1 {t} k2 0 5000 COPY AUTH2 mover pw3-migrate"),
            "CONFIG SET maxmemory 0 requirepass pw4-requirepass".into(),
            "AUTH pw5-auth".into(),
            "AUTH default pw4-requirepass".into(),
            "CONFIG SET requirepass \"\"".into(),
            "GET k2".into(),
        ]
    }
}

#[track_caller]
fn assert_no_password(what: &str, text: &str) {
    for pw in PASSWORDS {
        assert!(!text.contains(pw), "{what} shows {pw}:\n{text}");
    }
}

/// The echo shows every command, each password as `(redacted)`; nothing else shows a password.
#[test]
fn the_echo_never_shows_a_password() {
    let s = Secrets::start();
    let script = s.lines().join("\n") + "\n";
    let run = redsh(&s.srv).stdin(script).run();
    assert_no_password("the echo", &run.stdout);
    assert_no_password("stderr", &run.stderr);
    let p = s.srv.port;
    let t = s.target.port;
    for echoed in [
        format!("127.0.0.1:{p}> HELLO 3 SETNAME x AUTH default (redacted)\n"),
        format!("127.0.0.1:{p}> MIGRATE 127.0.0.1 {t} \"\" 0 5000 AUTH (redacted) KEYS k1\nOK\n"),
        format!("127.0.0.1:{p}> MIGRATE 127.0.0.1 {t} k2 0 5000 COPY AUTH2 mover (redacted)\nOK\n"),
        format!("127.0.0.1:{p}> CONFIG SET maxmemory 0 requirepass (redacted)\nOK\n"),
        format!("127.0.0.1:{p}> AUTH (redacted)\n(error) WRONGPASS"),
        format!("127.0.0.1:{p}> AUTH default (redacted)\nOK\n"),
        format!("127.0.0.1:{p}> GET k2\n\"v2\"\n"),
    ] {
        assert!(run.stdout.contains(&echoed), "missing {echoed:?} in\n{}", run.stdout);
    }
    // The commands did reach the servers with their real passwords.
    assert_eq!(s.target.get(&["-a", "pw2-migrate", "--no-auth-warning", "MGET", "k1", "k2"]), "v1\nv2");
}

/// `--dry-run` turns each line with a password into a comment saying what to supply; replayed as
/// a script it sends none of them (no placeholder becomes a password).
#[test]
fn dry_run_comments_out_passwords_and_replays_safely() {
    let s = Secrets::start();
    let script = s.lines().join("\n") + "\n";
    let run = Redsh::new().args(&["--dry-run"]).stdin(script).run().success();
    assert_no_password("--dry-run", &run.stdout);
    let t = s.target.port;
    let expected = format!(
        "SET k1 v1\nSET k2 v2\n\
         # HELLO 3 SETNAME x AUTH default <password>: redacted; supply it yourself\n\
         HELLO 2\n\
         # MIGRATE 127.0.0.1 {t} \"\" 0 5000 AUTH <password> KEYS k1: redacted; supply it yourself\n\
         # MIGRATE 127.0.0.1 {t} k2 0 5000 COPY AUTH2 mover <password>: redacted; supply it yourself\n\
         # CONFIG SET maxmemory 0 requirepass <password>: redacted; supply it yourself\n\
         # AUTH <password>: redacted; supply it yourself\n\
         # AUTH default <password>: redacted; supply it yourself\n\
         CONFIG SET requirepass \"\"\nGET k2\n"
    );
    assert_eq!(run.stdout, expected);
    // Replayed: the plain lines run, the comments do not.
    let replay = redsh(&s.srv).args(&["--no-echo"]).stdin(run.stdout).run().success();
    assert!(replay.stdout.starts_with("OK\nOK\n 1) \"server\"\n"), "{}", replay.stdout);
    assert!(replay.stdout.ends_with("OK\n\"v2\"\n"), "{}", replay.stdout);
    assert!(!replay.stdout.contains("(error)"), "{}", replay.stdout);
    assert_eq!(s.srv.get(&["CONFIG", "GET", "requirepass"]), "requirepass");
    assert_eq!(s.srv.get(&["EXISTS", "k1"]), "1", "the commented MIGRATE did not run");
}

/// A bad `-u` URI is reported without its password, however the URI is broken.
#[test]
fn a_bad_uri_never_shows_its_password() {
    for uri in [
        "redis://alice:pw6-uri@localhost:notaport",
        "redis://alice:pw6-uri/x@localhost/notadb",
        "alice:pw6-uri@localhost",
        "redis://alice:pw6-uri%zz@localhost",
        "unix:///tmp/none.sock?password=pw6-uri&what=1",
    ] {
        let run = Redsh::new().args(&["-u", uri, "PING"]).run().code(2);
        assert!(run.stderr.starts_with("redsh: Invalid URI"), "{uri}: {}", run.stderr);
        assert!(!run.stderr.contains("pw6-uri") && !run.stderr.contains("pw6"), "{uri}: {}", run.stderr);
    }
    let run = Redsh::new().args(&["-u", "alice:pw6-uri@localhost", "PING"]).run().code(2);
    assert_eq!(run.stderr, "redsh: Invalid URI: alice:***@localhost\n");
}

/// redsh at a terminal (a pseudo-terminal) with its history in `hist`.
fn terminal(srv: &Server, hist: &std::path::Path, extra: &[&str]) -> rexpect::session::PtySession {
    let mut cmd = Command::new(crate::harness::redsh_bin());
    cmd.env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .env_remove("REDISCLI_AUTH")
        .env("REDSH_HISTFILE", hist)
        .args(["-p", &srv.port.to_string()])
        .args(extra);
    let mut term = rexpect::session::spawn_command(cmd, Some(10_000)).unwrap();
    term.exp_string(&format!("127.0.0.1:{}> ", srv.port)).unwrap();
    term
}

/// Types `line`, presses Enter and waits for `reply`.
#[track_caller]
fn typed(term: &mut rexpect::session::PtySession, line: &str, reply: &str) {
    term.send(&format!("{line}\r")).unwrap();
    term.flush().unwrap();
    // The line is accepted (bracketed paste off): what follows is its output.
    term.exp_string("\x1b[?2004l").unwrap();
    term.exp_string(reply).unwrap();
    // The next line edit has started (bracketed paste on): keys typed before would be lost.
    term.exp_string("\x1b[?2004h").unwrap();
}

#[track_caller]
fn leave(mut term: rexpect::session::PtySession) {
    term.send("quit\r").unwrap();
    term.flush().unwrap();
    term.exp_eof().unwrap();
}

/// The history file never holds a password: the lines that carry one are not written at all.
#[test]
fn the_history_file_never_holds_a_password() {
    let s = Secrets::start();
    let dir = tempfile::tempdir().unwrap();
    let hist = dir.path().join("history");
    let mut t = terminal(&s.srv, &hist, &[]);
    let replies = ["OK", "OK", "proto", "proto", "OK", "OK", "OK", "WRONGPASS", "OK", "OK", "v2"];
    for (line, reply) in s.lines().iter().zip(replies) {
        typed(&mut t, line, reply);
    }
    typed(&mut t, "2 auth pw5-auth", "(error)");
    leave(t);
    let saved = std::fs::read_to_string(&hist).unwrap();
    assert_no_password("the history file", &saved);
    for kept in ["SET k1 v1", "HELLO 2", "CONFIG SET requirepass \"\"", "GET k2", "quit"] {
        assert!(saved.contains(kept), "{kept} missing from\n{saved}");
    }
    for left_out in ["HELLO 3", "MIGRATE", "maxmemory", "auth", "AUTH"] {
        assert!(!saved.contains(left_out), "{left_out} in\n{saved}");
    }
}

/// Under `--hash-ids` no session id reaches the history file; without it, they are kept.
#[test]
fn hash_ids_keep_session_ids_out_of_the_history_file() {
    let srv = Server::start();
    let dir = tempfile::tempdir().unwrap();
    for (flags, kept) in [(&["--hash-ids"][..], false), (&[][..], true)] {
        let hist = dir.path().join(format!("history{}", flags.len()));
        let mut t = terminal(&srv, &hist, flags);
        typed(&mut t, "login 7 ann admin --id tok-7f3a9", "EXEC");
        typed(&mut t, "whoami tok-7f3a9", "ann (admin)");
        typed(&mut t, "touch tok-7f3a9", "extended");
        typed(&mut t, "whoami", "ann (admin)");
        typed(&mut t, "use tok-7f3a9", "");
        typed(&mut t, "logout tok-7f3a9", "DEL");
        leave(t);
        let saved = std::fs::read_to_string(&hist).unwrap();
        assert_eq!(saved.contains("tok-7f3a9"), kept, "{flags:?}:\n{saved}");
        assert!(saved.contains("whoami\n"), "{flags:?}:\n{saved}");
    }
}

/// Without a server, hints come from the built-in table's argument trees: typed arguments drop
/// out (`SET key value EX ` → `seconds [NX|XX] [GET]`, not the whole option list again).
#[test]
fn hints_without_a_server_follow_the_typed_arguments() {
    let port = crate::harness::free_port().to_string();
    let mut cmd = Command::new(crate::harness::redsh_bin());
    cmd.env("TERM", "xterm").env_remove("NO_COLOR").env("REDSH_HISTFILE", "/dev/null").args(["-p", &port]);
    let mut t = rexpect::session::spawn_command(cmd, Some(10_000)).unwrap();
    t.exp_string("not connected> ").unwrap();
    let grey = "\x1b[0;90;49m";
    t.send("SET key value EX ").unwrap();
    t.flush().unwrap();
    t.exp_string(&format!("EX {grey}seconds [NX|XX] [GET]\x1b[0m")).unwrap();
    t.send("10 ").unwrap();
    t.flush().unwrap();
    t.exp_string(&format!("10 {grey}[NX|XX] [GET]\x1b[0m")).unwrap();
    t.send("\x15LPOP key ").unwrap();
    t.flush().unwrap();
    t.exp_string(&format!("key {grey}[count]\x1b[0m")).unwrap();
    t.send_control('c').unwrap();
    t.exp_string("\x1b[?2004h").unwrap();
    leave(t);
}

#[test]
fn output_that_cannot_be_written_fails_and_a_closed_pipe_ends_quietly() {
    let srv = Server::start();
    let bin = crate::harness::redsh_bin();
    // A full disk: the run fails, once, saying why.
    let full = Command::new("bash")
        .arg("-c")
        .arg(format!("printf 'PING\\nPING\\n' | '{}' -p {} > /dev/full", bin.display(), srv.port))
        .output()
        .unwrap();
    assert_eq!(full.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&full.stderr),
        "redsh: cannot write the output: No space left on device\n"
    );
    // A reader that stops after one line, with errors to print on the same pipe: no abort, no
    // message — the status a pipe reader expects (SIGPIPE: 141 in the shell).
    let piped = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "for i in $(seq 5000); do echo 'GET x'; echo NOSUCH; done | '{}' -p {} 2>&1 | head -1; echo \"${{PIPESTATUS[1]}}\"",
            bin.display(),
            srv.port
        ))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&piped.stdout);
    assert_eq!(
        out,
        format!("127.0.0.1:{}> GET x\n141\n", srv.port),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
}

#[test]
fn tls_against_a_plain_text_port_fails_within_the_connect_timeout() {
    let srv = Server::start();
    let run = redsh(&srv).args(&["--tls", "--insecure", "--connect-timeout", "1", "PING"]).run().code(1);
    assert!(
        run.stderr.starts_with(&format!("Could not connect to Redis at 127.0.0.1:{}: ", srv.port)),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
}

#[test]
fn a_huge_repeat_count_keeps_memory_flat() {
    let srv = Server::start();
    // Each repetition used to be packed before any was read: 20 000 000 PINGs took 2.4 GB.
    let mut child = Command::new(crate::harness::redsh_bin())
        .args(["-p", &srv.port.to_string(), "--no-echo"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"1000000 PING\n").unwrap();
    let pid = child.id();
    let mut peak_kb = 0u64;
    while child.try_wait().unwrap().is_none() {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        if let Some(kb) = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").parse::<u64>().ok())
        {
            peak_kb = peak_kb.max(kb);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(child.wait().unwrap().success());
    assert!(peak_kb < 64 * 1024, "peak resident memory {peak_kb} kB");
}
