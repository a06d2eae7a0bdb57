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
