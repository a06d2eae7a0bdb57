//! Scripts: exit status, `-e`, flag errors, and input that must never make redsh panic.

use crate::harness::{Redsh, Server, free_port};

const REFUSED_LINE: &str =
    "Invalid argument(s): unbalanced quotes, or a closing quote not followed by a space";
const WRONGTYPE: &str = "(error) WRONGTYPE Operation against a key holding the wrong kind of value";

#[test]
fn a_script_whose_lines_all_succeed_exits_0() {
    let srv = Server::start();
    let run = Redsh::new().port(srv.port).args(&["--no-echo"]).stdin("SET a 1\nGET a\nGET nokey\n").run();
    let run = run.success();
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("OK\n\"1\"\n(nil)\n", ""));
}

#[test]
fn an_error_reply_fails_the_script_but_the_rest_still_runs() {
    let srv = Server::start();
    let run = Redsh::new().port(srv.port).args(&["--no-echo"]).stdin("SET a 1\nLPUSH a x\nSET b 2\n").run();
    let run = run.code(1);
    // stdout is redis-cli's; stderr also names the line and the error.
    assert_eq!(
        (run.stdout, run.stderr.as_str()),
        (
            format!("OK\n{WRONGTYPE}\nOK\n"),
            "redsh: line 2: WRONGTYPE Operation against a key holding the wrong kind of value\n"
        )
    );
    assert_eq!(srv.get(&["GET", "b"]), "2");
}

#[test]
fn an_error_reply_is_named_by_line_whether_pipelined_or_not() {
    let srv = Server::start();
    let script = "SET a 1\nLPUSH a x\nGET\nSET b 2\n";
    let expected = "redsh: line 3: WRONGTYPE Operation against a key holding the wrong kind of value\n\
                    redsh: line 4: ERR wrong number of arguments for 'get' command\n";
    for flags in [&[][..], &["--no-pipeline"][..]] {
        let run =
            Redsh::new().port(srv.port).args(flags).stdin(format!("# a comment\n{script}")).run().code(1);
        assert_eq!(run.stderr, expected, "{flags:?}");
        assert!(run.stdout.contains("(error) ERR wrong number of arguments for 'get' command\n"));
    }
}

#[test]
fn a_command_after_the_flags_prints_its_error_reply_as_redis_cli_does_and_nothing_more() {
    let srv = Server::start();
    srv.cli(&["SET", "a", "1"]);
    let run = Redsh::new().port(srv.port).args(&["LPUSH", "a", "x"]).run().code(1);
    assert!(run.stdout.contains("WRONGTYPE Operation against a key"), "{}", run.stdout);
    assert_eq!(run.stderr, "");
}

#[test]
fn a_refused_line_fails_the_script_but_the_rest_still_runs() {
    let srv = Server::start();
    let script = "SET a 1\nSET b \"x\n0 PING\nSET c 3\n";
    let run = Redsh::new().port(srv.port).args(&["--no-echo"]).stdin(script).run().code(1);
    assert_eq!(run.stdout, "OK\nInvalid argument(s)\nInvalid redis-cli repeat command option value.\nOK\n");
    assert_eq!(
        run.stderr,
        format!(
            "redsh: line 2: {REFUSED_LINE}\n\
             redsh: line 3: Invalid redis-cli repeat command option value: the count must be 1 or more\n"
        )
    );
    assert_eq!(srv.get(&["GET", "c"]), "3");
}

#[test]
fn stop_on_error_runs_no_line_after_a_failing_reply() {
    let srv = Server::start();
    let p = srv.port;
    let run = Redsh::new().port(p).args(&["-e"]).stdin("SET a 1\nLPUSH a x\nSET b 2\n").run().code(1);
    assert_eq!(run.stdout, format!("127.0.0.1:{p}> SET a 1\nOK\n127.0.0.1:{p}> LPUSH a x\n{WRONGTYPE}\n"));
    assert_eq!(srv.get(&["EXISTS", "b"]), "0", "the line after the failing one did not run");

    // A -f file stops like stdin.
    srv.flush();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.redsh");
    std::fs::write(&file, "SET a 1\nLPUSH a x\nSET b 2\n").unwrap();
    let flags = ["--stop-on-error", "--no-echo", "-f", file.to_str().unwrap()];
    let run = Redsh::new().port(p).args(&flags).run().code(1);
    assert_eq!(run.stdout, format!("OK\n{WRONGTYPE}\n"));
    assert_eq!(srv.get(&["EXISTS", "b"]), "0");
}

#[test]
fn stop_on_error_runs_no_line_after_a_refused_line() {
    let srv = Server::start();
    let run =
        Redsh::new().port(srv.port).args(&["-e", "--no-echo"]).stdin("SET a 1\nSET b 'x\nSET c 3\n").run();
    let run = run.code(1);
    assert_eq!(run.stdout, "OK\nInvalid argument(s)\n");
    assert_eq!(run.stderr, format!("redsh: line 2: {REFUSED_LINE}\n"));
    assert_eq!(srv.get(&["EXISTS", "c"]), "0");
}

#[test]
fn quit_ends_a_script_successfully() {
    let srv = Server::start();
    let run = Redsh::new().port(srv.port).args(&["--no-echo"]).stdin("SET a 1\nquit\nNOSUCHCOMMAND\n").run();
    assert_eq!(run.success().stdout, "OK\n");
    let run = Redsh::new().port(srv.port).args(&["--no-echo"]).stdin("EXIT\nSET b 1\n").run().success();
    assert_eq!(run.stdout, "");
    assert_eq!(srv.get(&["EXISTS", "b"]), "0");
}

#[test]
fn a_one_shot_command_takes_arguments_that_look_like_flags() {
    let srv = Server::start();
    let p = srv.port;
    let run = Redsh::new().port(p).args(&["SET", "k", "-1"]).run().success();
    assert_eq!(run.stdout, format!("127.0.0.1:{p}> SET k -1\nOK\n"));
    let run = Redsh::new().port(p).args(&["INCRBY", "k", "--5"]).run().code(1);
    let not_int = "(error) ERR value is not an integer or out of range";
    assert_eq!(run.stdout, format!("127.0.0.1:{p}> INCRBY k --5\n{not_int}\n"));
    let run = Redsh::new().port(p).args(&["--", "-x"]).run().code(1);
    let unknown = "(error) ERR unknown command '-x', with args beginning with: ";
    assert_eq!(run.stdout, format!("127.0.0.1:{p}> -x\n{unknown}\n"));
    let run = Redsh::new().port(p).args(&["3", "INCR", "n"]).run().success();
    let incr = |n: i32| format!("127.0.0.1:{p}> INCR n\n(integer) {n}\n");
    assert_eq!(run.stdout, [incr(1), incr(2), incr(3)].concat());
}

/// A usage error: status 2, one line on stderr, nothing on stdout.
#[track_caller]
fn usage_error(args: &[&str], expected: &str) {
    let run = Redsh::new().args(args).run().code(2);
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", expected));
}

#[test]
fn bad_flags_exit_2_with_one_line() {
    // No server: a usage error must be reported before anything is tried.
    let p = free_port().to_string();
    let unknown = "redsh: unexpected argument '--bogus' found; try --help\n";
    usage_error(&["-p", &p, "--bogus"], unknown);
    usage_error(&["-p", &p, "--bogus", "PING"], unknown);
    usage_error(
        &["-p", "notaport", "PING"],
        "redsh: invalid value 'notaport' for '--port <PORT>': invalid digit found in string; try --help\n",
    );
    usage_error(
        &["-p", "70000", "PING"],
        "redsh: invalid value '70000' for '--port <PORT>': 70000 is not in 0..=65535; try --help\n",
    );
    usage_error(&["-p", &p, "--ttl", "0", "PING"], "redsh: --ttl must be greater than 0, not 0\n");
    usage_error(&["-p", &p, "--ttl", "-5", "PING"], "redsh: --ttl must be greater than 0, not -5\n");
    usage_error(
        &["-p", &p, "--ttl", "soon", "PING"],
        "redsh: --ttl must be a whole number of seconds, not 'soon'\n",
    );
    usage_error(
        &["-p", &p, "-n"],
        "redsh: a value is required for '--db <DB>' but none was supplied; try --help\n",
    );
    usage_error(
        &["-p", &p, "--cert", "c.pem", "PING"],
        "redsh: the following required arguments were not provided: --key <FILE>; try --help\n",
    );
    usage_error(
        &["-p", &p, "--cacert", "ca.pem", "PING"],
        "redsh: --cacert, --cert, --key and --insecure need --tls (or a rediss:// URI)\n",
    );
    usage_error(&["-u", "http://x", "PING"], "redsh: Invalid URI scheme\n");
}

#[test]
fn help_exits_0_and_names_h_as_the_host() {
    let run = Redsh::new().args(&["--help"]).run().success();
    assert_eq!(run.stderr, "");
    assert!(run.stdout.starts_with("An interactive shell for Redis session stores"), "{}", run.stdout);
    let flags: Vec<&str> = run.stdout.lines().map(str::trim).filter(|l| l.starts_with('-')).collect();
    assert!(flags.contains(&"-h, --host <HOST>"), "{flags:?}");
    assert!(flags.contains(&"--help"), "{flags:?}");
    assert!(!flags.iter().any(|f| f.starts_with("-h, --help")), "{flags:?}");
}

#[test]
fn a_missing_or_unreadable_script_file_is_a_clear_error() {
    // No server either: the file is what is wrong, so the file is what is reported.
    let p = free_port().to_string();
    let run = Redsh::new().args(&["-p", &p, "-f", "/nonexistent/script.redsh"]).run().code(1);
    let missing = "redsh: cannot read /nonexistent/script.redsh: No such file or directory\n";
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", missing));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let run = Redsh::new().args(&["-p", &p, "-f", d]).run().code(1);
    assert_eq!((run.stdout.as_str(), run.stderr), ("", format!("redsh: cannot read {d}: Is a directory\n")));
}

#[test]
fn a_four_mib_value_round_trips() {
    let srv = Server::start();
    let p = srv.port;
    let big = "x".repeat(4 << 20);
    let script = format!("SET big {big}\nSTRLEN big\nGETRANGE big -3 -1\n");
    let run = Redsh::new().port(p).args(&["--no-echo"]).stdin(&script).run().success();
    assert_eq!(run.stdout, "OK\n(integer) 4194304\n\"xxx\"\n");
    // With echo, the 4 MiB line is echoed whole, and GET prints the value whole.
    let run = Redsh::new().port(p).stdin(format!("SET big {big}\nGET big\n")).run().success();
    assert!(run.stdout == format!("127.0.0.1:{p}> SET big {big}\nOK\n127.0.0.1:{p}> GET big\n\"{big}\"\n"));
}

#[test]
fn non_utf8_and_nul_bytes_are_sent_as_they_are() {
    let srv = Server::start();
    let p = srv.port;
    let mut script = b"SET raw \xff\xfe\x80z\nGET raw\nSET nul a\x00b\nSTRLEN nul\nGET nul\n".to_vec();
    script.extend_from_slice("SET utf h\u{e9}llo\nGET utf\n".as_bytes());
    let run = Redsh::new().port(p).stdin(&script).run().success();
    assert_eq!(
        run.stdout,
        format!(
            "127.0.0.1:{p}> SET raw \"\\xff\\xfe\\x80z\"\nOK\n127.0.0.1:{p}> GET raw\n\"\\xff\\xfe\\x80z\"\n\
             127.0.0.1:{p}> SET nul \"a\\x00b\"\nOK\n127.0.0.1:{p}> STRLEN nul\n(integer) 3\n\
             127.0.0.1:{p}> GET nul\n\"a\\x00b\"\n\
             127.0.0.1:{p}> SET utf \"h\\xc3\\xa9llo\"\nOK\n127.0.0.1:{p}> GET utf\n\"h\\xc3\\xa9llo\"\n"
        )
    );
    let raw = std::process::Command::new("redis-cli")
        .args(["-p", &p.to_string(), "--raw", "GET", "raw"])
        .output()
        .unwrap();
    assert_eq!(raw.stdout, b"\xff\xfe\x80z\n");
}

#[test]
fn a_line_of_a_hundred_thousand_arguments() {
    let srv = Server::start();
    let p = srv.port;
    let members: Vec<String> = (0..100_000).map(|i| format!("m{i}")).collect();
    let members = members.join(" ");
    let script = format!("SADD s {members}\nSCARD s\nSISMEMBER s m99999\n");
    let run = Redsh::new().port(p).stdin(&script).run().success();
    assert!(
        run.stdout
            == format!(
                "127.0.0.1:{p}> SADD s {members}\n(integer) 100000\n127.0.0.1:{p}> SCARD s\n(integer) 100000\n\
                 127.0.0.1:{p}> SISMEMBER s m99999\n(integer) 1\n"
            ),
        "{}",
        &run.stdout[run.stdout.len().saturating_sub(200)..]
    );
}

#[test]
fn many_short_lines_in_one_script() {
    let srv = Server::start();
    let script: String = (0..20_000).map(|i| format!("RPUSH l {i}\n")).collect();
    let run = Redsh::new().port(srv.port).args(&["--no-echo"]).stdin(&script).run().success();
    let expected: String = (1..=20_000).map(|i| format!("(integer) {i}\n")).collect();
    assert!(run.stdout == expected, "{}", &run.stdout[..run.stdout.len().min(300)]);
}

#[test]
fn stop_on_error_also_stops_a_repeated_command() {
    let srv = Server::start();
    srv.cli(&["SET", "s", "not-a-list"]);
    let run = Redsh::new()
        .port(srv.port)
        .args(&["-e", "--no-echo"])
        .stdin("3 LPUSH s x\nSET after 1\n")
        .run()
        .code(1);
    assert_eq!(run.stdout.matches("WRONGTYPE").count(), 1, "{}", run.stdout);
    assert_eq!(srv.get(&["EXISTS", "after"]), "0");
}

#[test]
fn repeat_runs_the_command_after_the_flags_n_times() {
    let srv = Server::start();
    let at = format!("127.0.0.1:{}>", srv.port);
    let run = Redsh::new().port(srv.port).args(&["-r", "3", "INCR", "x"]).run().success();
    assert_eq!(
        run.stdout,
        format!("{at} INCR x\n(integer) 1\n{at} INCR x\n(integer) 2\n{at} INCR x\n(integer) 3\n")
    );
    let run =
        Redsh::new().port(srv.port).args(&["--no-echo", "-r", "2", "-i", "0.05", "PING"]).run().success();
    assert_eq!(run.stdout, "PONG\nPONG\n");
    let run = Redsh::new().port(srv.port).args(&["-r", "0", "INCR", "x"]).run().success();
    assert_eq!(run.stdout, "");
    // Session commands repeat too: two logins, two sessions.
    Redsh::new()
        .port(srv.port)
        .args(&["--no-echo", "-r", "2", "login", "7", "ann", "student"])
        .run()
        .success();
    assert_eq!(srv.get(&["SCARD", "user_sessions:7"]), "2");
}

#[test]
fn a_negative_repeat_runs_until_interrupted_and_prints_as_it_goes() {
    use std::io::Read;
    let srv = Server::start();
    let mut child =
        Redsh::new().port(srv.port).args(&["--no-echo", "-r", "-1", "-i", "0.02", "INCR", "y"]).spawn();
    crate::harness::wait_until(10, "the repeats did not go on", || {
        srv.get(&["GET", "y"]).parse::<u64>().is_ok_and(|n| n >= 5)
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    // Each run was written out before the next: nothing waits in a buffer when the process dies.
    let printed: Vec<&str> = out.lines().collect();
    assert!(printed.len() >= 5, "{out}");
    for (i, line) in printed.iter().enumerate() {
        assert_eq!(*line, format!("(integer) {}", i + 1));
    }
}

#[test]
fn standard_input_becomes_the_last_argument_or_the_tagged_one() {
    let srv = Server::start();
    let data = b"line one\n\x00\xff tail\n";
    Redsh::new().port(srv.port).args(&["-x", "SET", "k"]).stdin(&data[..]).run().success();
    assert_eq!(srv.get(&["STRLEN", "k"]), data.len().to_string());
    assert_eq!(srv.cli_stdin(&[], b"GET k\n"), b"\"line one\\n\\x00\\xff tail\\n\"\n");
    Redsh::new().port(srv.port).args(&["-X", "@", "HSET", "h", "@", "f"]).stdin("v").run().success();
    assert_eq!(srv.get(&["HGET", "h", "v"]), "f");
    let run = Redsh::new().port(srv.port).args(&["-X", "@", "SET", "k", "v"]).stdin("x").run().code(2);
    assert_eq!(run.stderr, "redsh: Using -X option but stdin tag not match.\n");
    let run = Redsh::new().port(srv.port).args(&["-x"]).stdin("PING\n").run().code(2);
    assert_eq!(run.stderr, "redsh: -x, -X and -r apply to a command given after the flags\n");
}
