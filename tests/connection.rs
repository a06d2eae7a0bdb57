//! Connecting: a server that is not there, a server that dies between two lines, passwords (each on
//! every server kind: `name::redis`, `name::valkey`), and `--ephemeral`'s private server.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::{Child, ChildStdin};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use crate::harness::{Kind, Redsh, Server, free_port, on_each_server};

const AUTH_WARNING: &str =
    "Warning: Using a password with '-a' or '-u' option on the command line interface may not be safe.\n";

#[test]
fn no_server_is_redis_clis_message_and_exit_1() {
    let port = free_port();
    let refused = format!("Could not connect to Redis at 127.0.0.1:{port}: Connection refused\n");
    let run = Redsh::new().port(port).args(&["PING"]).run().code(1);
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", refused.as_str()));
    // A script also hears that redsh can start a server of its own.
    let run = Redsh::new().port(port).stdin("SET k v\nPING\n").run().code(1);
    let hint = "redsh: no Redis server there? `redsh --ephemeral` starts a private throwaway one\n";
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", format!("{refused}{hint}").as_str()));
}

/// redsh reading a script from a pipe that the test writes line by line, as a program driving it
/// would; each reply is awaited before the next line is written.
struct Driven {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Receiver<Vec<u8>>,
    stderr: Receiver<Vec<u8>>,
    out: Vec<u8>,
    err: Vec<u8>,
}

fn pump(mut from: impl Read + Send + 'static) -> Receiver<Vec<u8>> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    rx
}

impl Driven {
    fn start(args: &[&str]) -> Driven {
        let mut child = Redsh::new().args(args).spawn();
        let stdout = pump(child.stdout.take().unwrap());
        let stderr = pump(child.stderr.take().unwrap());
        Driven { stdin: child.stdin.take(), child, stdout, stderr, out: Vec::new(), err: Vec::new() }
    }

    fn send(&mut self, lines: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(lines.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Waits until stdout, from the start, is `expected`.
    #[track_caller]
    fn expect_stdout(&mut self, expected: &str) {
        await_text(&self.stdout, &mut self.out, expected, "stdout");
    }

    /// Waits until stderr, from the start, is `expected`.
    #[track_caller]
    fn expect_stderr(&mut self, expected: &str) {
        await_text(&self.stderr, &mut self.err, expected, "stderr");
    }

    /// Closes stdin and returns the exit status.
    fn finish(mut self) -> i32 {
        drop(self.stdin.take());
        self.child.wait().unwrap().code().unwrap_or(-1)
    }
}

/// Collects output until it is as long as `expected`, then compares. The wait is bounded only so
/// that a redsh that never answers fails the test with what it printed instead of hanging it.
#[track_caller]
fn await_text(rx: &Receiver<Vec<u8>>, seen: &mut Vec<u8>, expected: &str, name: &str) {
    while seen.len() < expected.len() {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(chunk) => seen.extend_from_slice(&chunk),
            Err(_) => break,
        }
    }
    assert_eq!(String::from_utf8_lossy(seen), expected, "{name} so far");
}

fn a_restarted_server_fails_one_line_and_the_next_reconnects_to_the_db_of_the_flag(kind: Kind) {
    let mut srv = Server::start_on(kind);
    let at = format!("127.0.0.1:{}[3]", srv.port);
    let mut sh = Driven::start(&["-p", &srv.port.to_string(), "-n", "3"]);
    sh.send("SET a 1\n");
    let mut out = format!("{at}> SET a 1\nOK\n");
    sh.expect_stdout(&out);

    srv.restart();
    sh.send("SET b 2\n");
    out += &format!("{at}> SET b 2\n");
    sh.expect_stdout(&out);
    // As redis-cli: the command that met the dead connection is reported, not retried.
    sh.expect_stderr("redsh: line 2: Error: Server closed the connection; connection lost, the command may have run (not sent again)\n");

    sh.send("SET c 3\n");
    out += &format!("{at}> SET c 3\nOK\n");
    sh.expect_stdout(&out);
    assert_eq!(sh.finish(), 1, "a line failed");
    assert_eq!(srv.get(&["-n", "3", "GET", "c"]), "3", "the reconnect selected db 3 again");
    assert_eq!(srv.get(&["-n", "3", "EXISTS", "b"]), "0");
}
on_each_server!(a_restarted_server_fails_one_line_and_the_next_reconnects_to_the_db_of_the_flag);

fn a_restarted_server_is_reconnected_to_the_db_of_the_last_select(kind: Kind) {
    let mut srv = Server::start_on(kind);
    let at = format!("127.0.0.1:{}", srv.port);
    let mut sh = Driven::start(&["-p", &srv.port.to_string(), "-n", "1"]);
    sh.send("SELECT 4\nSET a 1\n");
    let mut out = format!("{at}[1]> SELECT 4\nOK\n{at}[4]> SET a 1\nOK\n");
    sh.expect_stdout(&out);

    srv.restart();
    sh.send("PING\n");
    out += &format!("{at}[4]> PING\n");
    sh.expect_stdout(&out);
    sh.expect_stderr("redsh: line 3: Error: Server closed the connection; connection lost, the command may have run (not sent again)\n");

    sh.send("SET c 3\nGET c\n");
    out += &format!("{at}[4]> SET c 3\nOK\n{at}[4]> GET c\n\"3\"\n");
    sh.expect_stdout(&out);
    assert_eq!(sh.finish(), 1);
    assert_eq!(srv.get(&["-n", "4", "GET", "c"]), "3");
}
on_each_server!(a_restarted_server_is_reconnected_to_the_db_of_the_last_select);

fn a_server_that_stays_down_fails_each_line_with_redis_clis_message(kind: Kind) {
    let mut srv = Server::start_on(kind);
    let port = srv.port;
    let at = format!("127.0.0.1:{port}");
    let mut sh = Driven::start(&["-p", &port.to_string()]);
    sh.send("PING\n");
    let mut out = format!("{at}> PING\nPONG\n");
    sh.expect_stdout(&out);
    srv.kill();
    sh.send("PING\n");
    out += &format!("{at}> PING\n");
    sh.expect_stdout(&out);
    let mut err = "redsh: line 2: Error: Server closed the connection; connection lost, the command may have run (not sent again)\n".to_owned();
    sh.expect_stderr(&err);
    sh.send("PING\n");
    out += "not connected> PING\n";
    sh.expect_stdout(&out);
    err += &format!("redsh: line 3: Could not connect to Redis at 127.0.0.1:{port}: Connection refused\n");
    sh.expect_stderr(&err);
    assert_eq!(sh.finish(), 1);
}
on_each_server!(a_server_that_stays_down_fails_each_line_with_redis_clis_message);

fn password_from_pass_flag_warns_as_redis_cli_does(kind: Kind) {
    let srv = Server::with_args_on(kind, &["--requirepass", "s3cret"]);
    let pong = format!("127.0.0.1:{}> PING\nPONG\n", srv.port);
    let run = Redsh::new().port(srv.port).args(&["-a", "s3cret", "PING"]).run().success();
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), (pong.as_str(), AUTH_WARNING));
    let run = Redsh::new().port(srv.port).args(&["--no-auth-warning", "-a", "s3cret", "PING"]).run();
    let run = run.success();
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), (pong.as_str(), ""));
}
on_each_server!(password_from_pass_flag_warns_as_redis_cli_does);

fn password_from_rediscli_auth_needs_no_warning(kind: Kind) {
    let srv = Server::with_args_on(kind, &["--requirepass", "s3cret"]);
    let run = Redsh::new().port(srv.port).env("REDISCLI_AUTH", "s3cret").args(&["PING"]).run().success();
    let pong = format!("127.0.0.1:{}> PING\nPONG\n", srv.port);
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), (pong.as_str(), ""));
}
on_each_server!(password_from_rediscli_auth_needs_no_warning);

fn password_and_db_from_uri(kind: Kind) {
    let srv = Server::with_args_on(kind, &["--requirepass", "s3cret"]);
    let p = srv.port;
    let uri = format!("redis://:s3cret@127.0.0.1:{p}/2");
    let run = Redsh::new().args(&["-u", &uri, "SET", "k", "v"]).run().success();
    let set = format!("127.0.0.1:{p}[2]> SET k v\nOK\n");
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), (set.as_str(), AUTH_WARNING));
    assert_eq!(srv.get(&["-a", "s3cret", "--no-auth-warning", "-n", "2", "GET", "k"]), "v");
}
on_each_server!(password_and_db_from_uri);

fn acl_user_and_password(kind: Kind) {
    let srv = Server::with_args_on(kind, &["--requirepass", "s3cret"]);
    srv.cli(&["-a", "s3cret", "--no-auth-warning", "ACL", "SETUSER", "bob", "on", ">bobpw", "~*", "+@all"]);
    let p = srv.port;
    let flags = ["--user", "bob", "--pass", "bobpw", "--no-auth-warning", "ACL", "WHOAMI"];
    let run = Redsh::new().port(p).args(&flags).run().success();
    assert_eq!(run.stdout, format!("127.0.0.1:{p}> ACL WHOAMI\n\"bob\"\n"));
    let uri = format!("redis://bob:bobpw@127.0.0.1:{p}");
    let run = Redsh::new().args(&["-u", &uri, "--no-auth-warning", "ACL", "WHOAMI"]).run().success();
    assert_eq!(run.stdout, format!("127.0.0.1:{p}> ACL WHOAMI\n\"bob\"\n"));
}
on_each_server!(acl_user_and_password);

fn wrong_or_missing_password(kind: Kind) {
    let srv = Server::with_args_on(kind, &["--requirepass", "s3cret"]);
    let p = srv.port;
    let run = Redsh::new().port(p).args(&["--no-auth-warning", "-a", "nope", "PING"]).run().code(1);
    let refused = format!(
        "Could not connect to Redis at 127.0.0.1:{p}: \
         AUTH failed: WRONGPASS invalid username-password pair or user is disabled.\n"
    );
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", refused.as_str()));
    let run = Redsh::new().port(p).args(&["PING"]).run().code(1);
    assert_eq!(run.stdout, format!("127.0.0.1:{p}> PING\n(error) NOAUTH Authentication required.\n"));
}
on_each_server!(wrong_or_missing_password);

#[test]
fn ephemeral_runs_a_command_and_leaves_no_server_behind() {
    let run = Redsh::new().args(&["--ephemeral", "PING"]).run().success();
    let port: u16 = run
        .stdout
        .strip_prefix("127.0.0.1:")
        .and_then(|rest| rest.split_once('>'))
        .and_then(|(port, _)| port.parse().ok())
        .unwrap_or_else(|| panic!("no echo in {:?}", run.stdout));
    assert_eq!(run.stdout, format!("127.0.0.1:{port}> PING\nPONG\n"));
    assert_eq!(run.stderr, "");
    // redsh waits for its server to exit before it exits itself.
    let err = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect_err("the private server is gone");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[test]
fn ephemeral_runs_a_script() {
    let run = Redsh::new().args(&["--ephemeral", "--no-echo"]).stdin("SET k v\nGET k\nDBSIZE\n").run();
    let run = run.success();
    assert_eq!(run.stdout, "OK\n\"v\"\n(integer) 1\n");
}
