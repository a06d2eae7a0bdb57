//! Pipelined scripts: the same script run in windows and with `--no-pipeline` (one command per round
//! trip) prints exactly the same thing, leaves the same state, and loses nothing when the connection
//! or the server goes away in the middle of a window. No timing is asserted.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::harness::{Kind, Redsh, Run, Server, on_each_server};

/// Runs `script` on an empty server; with `--no-pipeline` when `pipelined` is false.
fn run(srv: &Server, flags: &[&str], script: &str, pipelined: bool) -> Run {
    srv.flush();
    let mut redsh = Redsh::new().port(srv.port).args(flags);
    if !pipelined {
        redsh = redsh.args(&["--no-pipeline"]);
    }
    redsh.stdin(script).run()
}

/// Whether a word is a session id as redsh draws them: 22 characters of base64url.
fn is_drawn_id(word: &str) -> bool {
    word.len() == 22 && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A transcript with what differs from run to run made stable: drawn session ids become `<id1>`,
/// `<id2>`… in order of appearance, login times `<time>`, and the reply to a login's `EXPIRE … GT`
/// (element 5 of its EXEC), which tells whether the server's clock passed a millisecond since the TTL
/// before it was set, `<0|1>` (with echo the EXEC line starts that reply; without, its HSET's
/// `1) (integer) 5`). A connection the server closed may be seen as closed or as reset, depending
/// on whether unread commands were still in its buffer: both read `Server closed the connection`.
/// redis-cli's timing lines (`(1.02s)`, after a command run alone that
/// took half a second, which a stalled machine can make of any command) are dropped.
pub fn normalise(out: &str) -> String {
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut text = String::with_capacity(out.len());
    let mut in_exec = false;
    for line in out.lines() {
        if in_exec && (line == "5) (integer) 0" || line == "5) (integer) 1") {
            text.push_str("5) (integer) <0|1>\n");
            continue;
        }
        in_exec = line.ends_with("> EXEC")
            || line == "1) (integer) 5"
            || (in_exec && !line.contains("> ") && !line.starts_with('#'));
        let line = &line.replace("Error: Connection reset by peer", "Error: Server closed the connection");
        if line.starts_with('(') && line.ends_with("s)") && line[1..line.len() - 2].parse::<f64>().is_ok() {
            continue;
        }
        let mut after_login_time = false;
        let words: Vec<String> = line
            .split(' ')
            .map(|word| {
                if std::mem::replace(&mut after_login_time, word == "login_time") {
                    return "<time>".to_owned();
                }
                let (prefix, rest) = match word.strip_prefix("session:") {
                    Some(rest) => ("session:", rest),
                    None => ("", word),
                };
                if !is_drawn_id(rest) {
                    return word.to_owned();
                }
                let n = ids.len() + 1;
                let n = *ids.entry(rest.to_owned()).or_insert(n);
                format!("{prefix}<id{n}>")
            })
            .collect();
        text.push_str(&words.join(" "));
        text.push('\n');
    }
    text
}

/// Panics at the first line where two transcripts differ, showing that line and a few before it.
#[track_caller]
pub fn assert_same(what: &str, a: &str, b: &str) {
    if a == b {
        return;
    }
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let i = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    let from = i.saturating_sub(3);
    panic!(
        "{what} differs at line {}:\npipelined:\n{}\none at a time:\n{}",
        i + 1,
        a[from..(i + 1).min(a.len())].join("\n"),
        b[from..(i + 1).min(b.len())].join("\n")
    );
}

/// How many keys databases 0, 1 and 2 hold.
fn sizes(srv: &Server) -> [String; 3] {
    ["0", "1", "2"].map(|db| srv.get(&["-n", db, "DBSIZE"]))
}

/// Runs `script` pipelined and then one command at a time; both must print the same (once
/// normalised), on stdout and on stderr, end with the same status and leave as many keys in each
/// database. Returns the pipelined run.
#[track_caller]
fn same_both_ways(srv: &Server, flags: &[&str], script: &str) -> Run {
    same_both_ways_as(srv, flags, script, "", normalise)
}

/// [`same_both_ways`], with clock values and drawn ids in replies made stable too.
#[track_caller]
fn same_both_ways_stable(srv: &Server, flags: &[&str], script: &str, what: &str) -> Run {
    same_both_ways_as(srv, flags, script, what, |out| sorted_sets(&stable_times(&normalise(out))))
}

#[track_caller]
fn same_both_ways_as(
    srv: &Server,
    flags: &[&str],
    script: &str,
    what: &str,
    stable: fn(&str) -> String,
) -> Run {
    let pipelined = run(srv, flags, script, true);
    let state = sizes(srv);
    let sequential = run(srv, flags, script, false);
    assert_same(&format!("{what}stdout"), &stable(&pipelined.stdout), &stable(&sequential.stdout));
    assert_same(&format!("{what}stderr"), &stable(&pipelined.stderr), &stable(&sequential.stderr));
    assert_eq!(pipelined.code, sequential.code, "{what}exit status differs");
    assert_eq!(state, sizes(srv), "{what}the runs left different numbers of keys");
    pipelined
}

#[test]
fn normalise_makes_ids_and_times_stable() {
    let out = "127.0.0.1:1(TX)> HSET session:ZN8WvSVM6ECqDeH0G2-Iag user_id 1 login_time 1795874448 ip x\n\
               127.0.0.1:1(TX)> EXEC\n4) (integer) 1\n5) (integer) 1\n\
               # session ZN8WvSVM6ECqDeH0G2-Iag — a (b)\n(1.02s)\n(integer) 1795874448\n5) (integer) 1\n";
    assert_eq!(
        normalise(out),
        "127.0.0.1:1(TX)> HSET session:<id1> user_id 1 login_time <time> ip x\n\
         127.0.0.1:1(TX)> EXEC\n4) (integer) 1\n5) (integer) <0|1>\n\
         # session <id1> — a (b)\n(integer) 1795874448\n5) (integer) 1\n"
    );
}

#[test]
fn a_mixed_script_prints_the_same_pipelined_and_one_at_a_time() {
    let srv = Server::start();
    let script = "\
# comments and blank lines are skipped

SET greeting \"hello world\"
GET greeting
3 INCR counter
0 PING
LPUSH greeting x
NOSUCHCOMMAND a b
SET \"unclosed
MULTI
SET a 1
INCR a
LPUSH a oops
EXEC
MULTI
SET b 1
DISCARD
SELECT 2
SET in-two 2
login 101 suhel teacher --ip 192.168.1.10
MULTI
INCR c
login 102 amir student --ip 10.0.0.2
EXEC
SELECT 0
BLPOP empty-list 1
login 103 lena admin --ip 10.0.0.3
login 103 lena admin --ip 10.0.0.4 --ttl 60
HGETALL nosuch
whoami nosuch
logout nosuch
2 GET in-two
SELECT 2
GET in-two
MGET a b counter
";
    let run = same_both_ways(&srv, &[], script);
    assert_eq!(run.code, 1, "error replies and bad lines fail the script");
    let out = normalise(&run.stdout);
    let port = srv.port;
    assert!(out.contains(&format!("127.0.0.1:{port}> GET greeting\n\"hello world\"\n")), "{out}");
    assert!(out.contains("(integer) 1\n") && out.contains("(integer) 3\n"), "{out}");
    assert!(out.contains(&format!("127.0.0.1:{port}[2](TX)> INCR c\nQUEUED\n")), "{out}");
    assert!(out.contains("# session <id2> — lena (admin) from 10.0.0.3"), "{out}");
    assert!(out.contains(&format!("127.0.0.1:{port}[2]> GET in-two\n\"2\"\n")), "{out}");
    assert!(run.stderr.contains("line 9: Invalid argument(s)"), "{}", run.stderr);
    assert!(run.stderr.contains("line 23: session commands cannot run inside MULTI"), "{}", run.stderr);
    // One session in db 2 (not the one refused inside MULTI), two in db 0.
    assert_eq!(srv.get(&["-n", "2", "KEYS", "session:*"]).lines().count(), 1);
    assert_eq!(srv.get(&["KEYS", "session:*"]).lines().count(), 2);
}

#[test]
fn the_same_output_as_redis_cli_whether_pipelined_or_not() {
    let srv = Server::start();
    let script =
        "SET k v\nGET k\nLPUSH k x\n2 INCR n\nMULTI\nSET a 1\nEXEC\nHGETALL nosuch\nSELECT 3\nSET x 1\n";
    for pipelined in [true, false] {
        let redsh = run(&srv, &["--no-echo"], script, pipelined);
        srv.flush();
        assert_eq!(redsh.stdout_bytes, srv.cli_stdin(&[], script.as_bytes()), "pipelined: {pipelined}");
    }
}

#[test]
fn a_script_longer_than_one_window_is_answered_in_order() {
    let srv = Server::start();
    let mut script = String::new();
    for i in 0..3000 {
        let _ = writeln!(script, "INCR n\nECHO line-{i}");
        if i % 700 == 0 {
            script.push_str("SET \"bad quoting\n");
        }
        if i % 500 == 0 {
            let _ = writeln!(script, "login {i} user{i} student --ip 10.0.0.1");
        }
    }
    // Larger than one window's bytes, too: 300 values of 8 KiB.
    let big = "v".repeat(8192);
    for i in 0..300 {
        let _ = writeln!(script, "SET big:{i} {big}\nSTRLEN big:{i}");
    }
    script.push_str("GET n\nDBSIZE\n");
    let run = same_both_ways(&srv, &["--no-echo"], &script);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let echoes: Vec<&str> = lines.iter().copied().filter(|l| l.starts_with("\"line-")).collect();
    assert_eq!(echoes.len(), 3000);
    for (i, line) in echoes.iter().enumerate() {
        assert_eq!(*line, format!("\"line-{i}\""));
    }
    assert_eq!(lines[lines.len() - 2], "\"3000\"");
    assert_eq!(srv.get(&["GET", "n"]), "3000");
    assert_eq!(srv.get(&["KEYS", "session:*"]).lines().count(), 6);
    assert_eq!(run.stderr.matches("Invalid argument(s)").count(), 5);
}

#[test]
fn many_logins_in_a_window_are_all_written_and_reported() {
    let srv = Server::start();
    let mut script = String::new();
    for i in 0..1500 {
        let _ = writeln!(script, "login {} user{i} student --ip 10.0.0.9", i % 7);
        if i % 100 == 0 {
            script.push_str("DBSIZE\n");
        }
    }
    let run = same_both_ways(&srv, &[], &script).success();
    assert_eq!(run.stdout.matches("\n# session ").count(), 1500);
    // The DBSIZE after login 1400: 1401 sessions and 7 indexes, so every login before it was written.
    assert!(run.stdout.contains("> DBSIZE\n(integer) 1408\n"));
    assert_eq!(srv.get(&["KEYS", "session:*"]).lines().count(), 1500);
    assert_eq!(srv.get(&["SCARD", "user_sessions:3"]), "214");
}

#[test]
fn a_login_inside_multi_is_refused_across_a_window_boundary() {
    let srv = Server::start();
    // MULTI, then more than a window of queued commands, then a login: the window that holds the
    // login began after MULTI, yet the login must still see the transaction and be refused.
    let mut script = String::from("MULTI\n");
    script.push_str(&"INCR n\n".repeat(1500));
    script.push_str("login 101 suhel teacher\nEXEC\nGET n\n");
    let run = same_both_ways(&srv, &["--no-echo"], &script).code(1);
    assert!(run.stderr.contains("line 1502: session commands cannot run inside MULTI"), "{}", run.stderr);
    assert_eq!(srv.get(&["GET", "n"]), "1500");
    assert_eq!(srv.get(&["DBSIZE"]), "1", "nothing but n: the login wrote nothing");
}

#[test]
fn a_blocking_command_waits_in_its_place() {
    let srv = Server::start();
    let script = "RPUSH q a\nBLPOP q 1\nBLPOP q 1\nLPUSH q b\nLPOP q\n";
    let run = same_both_ways(&srv, &["--no-echo"], script).success();
    assert_eq!(normalise(&run.stdout), "(integer) 1\n1) \"q\"\n2) \"a\"\n(nil)\n(integer) 1\n\"b\"\n");
    // The BLPOP that waited its second out ran alone, so it has redis-cli's timing line.
    let timing = run.stdout.lines().nth(4).unwrap_or_default();
    assert!(timing.starts_with("(1.") && timing.ends_with("s)"), "{}", run.stdout);
}

#[test]
fn stop_on_error_never_runs_a_line_after_the_failing_one() {
    let srv = Server::start();
    let mut lines = String::new();
    lines.push_str(&"INCR before\n".repeat(2000));
    for (failing, what) in [
        ("LPUSH before x", "an error reply"),
        ("SET \"unclosed", "a bad line"),
        ("whoami nosuch", "a failed session command"),
        ("0 PING", "a bad repeat count"),
    ] {
        srv.flush();
        let script = format!("{lines}{failing}\nSET after 1\nlogin 1 a b\n3 INCR after\n");
        let run = Redsh::new().port(srv.port).args(&["-e", "--no-echo"]).stdin(&script).run().code(1);
        assert_eq!(srv.get(&["GET", "before"]), "2000", "{what}: every line before it ran");
        assert_eq!(srv.get(&["DBSIZE"]), "1", "{what}: no line after it ran; stderr: {}", run.stderr);
        // An error reply is its own message (on stdout, as redis-cli prints it); the others name the line.
        let named = run.stderr.contains("line 2001")
            || run
                .stdout
                .ends_with("(error) WRONGTYPE Operation against a key holding the wrong kind of value\n");
        assert!(named, "{what}: {}", run.stderr);
    }
}

/// What redsh says of a command sent on a connection that was lost before its reply came.
const MAY_HAVE_RUN: &str =
    "Error: Server closed the connection; connection lost, the command may have run (not sent again)";

#[test]
fn a_connection_killed_mid_window_fails_what_it_carried_and_never_sends_it_again() {
    let srv = Server::start();
    // EXEC kills this very connection; the lines after it were already sent in the same window.
    let script = "SET n 0\nMULTI\nCLIENT KILL TYPE normal SKIPME no\nEXEC\nINCR n\nINCR n\n\
                  login 1 a b --ip 1.2.3.4\nINCR n\nGET n\n";
    let port = srv.port;
    // One at a time, the INCR sent next is the one lost; the one after reconnects.
    let one = run(&srv, &[], script, false).code(1);
    assert_eq!(normalise(&one.stderr), format!("redsh: line 5: {MAY_HAVE_RUN}\n"));
    assert!(
        one.stdout.contains(&format!("127.0.0.1:{port}> INCR n\n127.0.0.1:{port}> INCR n\n(integer) 1\n"))
    );
    assert_eq!(srv.get(&["GET", "n"]), "2", "the lost INCR was not sent again");
    assert_eq!(srv.get(&["KEYS", "session:*"]).lines().count(), 1, "the login after it ran");
    // Pipelined, every line sent with the lost EXEC may have run (the login, which waits for EXEC's
    // answer, is not among them): each is reported, none is sent again.
    let piped = run(&srv, &[], script, true).code(1);
    assert_eq!(
        normalise(&piped.stderr),
        [5, 6, 8, 9].iter().map(|n| format!("redsh: line {n}: {MAY_HAVE_RUN}\n")).collect::<String>()
    );
    assert_eq!(srv.get(&["GET", "n"]), "0", "no INCR was sent again");
    assert_eq!(srv.get(&["KEYS", "session:*"]).lines().count(), 1, "the login after it ran");
}

#[test]
fn a_server_gone_mid_window_fails_every_line_after_it_aloud() {
    let mut srv = Server::start();
    // The server dies executing EXEC, with the lines after it already sent in the same window.
    let script = "SET n 0\nMULTI\nDEBUG SEGFAULT\nEXEC\nINCR n\nlogin 1 a b --ip 1.2.3.4\nGET n\n";
    for pipelined in [true, false] {
        srv.restart();
        let run = run(&srv, &[], script, pipelined).code(1);
        // While the server writes its crash report it may still accept a connection, then reset it:
        // so a later line fails with a reset or a refusal, but every one of them fails aloud.
        let reported: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(reported.len(), 4, "pipelined: {pipelined}; {}", run.stderr);
        for (line, message) in (4..).zip(&reported) {
            let prefix = format!("redsh: line {line}: ");
            let reason = message.strip_prefix(&prefix).unwrap_or_else(|| panic!("{message}"));
            assert!(reason.starts_with("Error: ") || reason.starts_with("Could not connect"), "{reason}");
        }
        let tail: Vec<&str> = run.stdout.lines().rev().take(4).collect();
        let commands: Vec<&str> =
            tail.iter().rev().map(|l| l.split_once("> ").map_or(*l, |(_, c)| c)).collect();
        assert_eq!(commands, ["EXEC", "INCR n", "MULTI", "GET n"], "pipelined: {pipelined}; {}", run.stdout);
    }
}

#[test]
fn push_messages_never_take_a_replys_place() {
    let srv = Server::start();
    // An invalidation push arrives before SET's reply, a DEBUG PROTOCOL push before its own reply.
    let script = "CLIENT TRACKING on\nGET foo\nSET foo 1\nECHO a\nECHO b\nDEBUG PROTOCOL push\nECHO c\n";
    srv.flush();
    let cli = String::from_utf8(srv.cli_stdin(&["-3"], script.as_bytes())).unwrap();
    assert!(cli.ends_with("\"a\"\n\"b\"\n\"Some real reply following the push reply\"\n\"c\"\n"), "{cli}");
    for pipelined in [true, false] {
        let run = run(&srv, &["-3", "--no-echo", "--no-raw"], script, pipelined).success();
        assert_eq!(run.stdout, cli, "pipelined: {pipelined}");
    }
}

#[test]
fn a_window_lost_mid_way_never_replays_into_another_database() {
    let srv = Server::start();
    // A reply over 1 MB makes the server drop the connection (client-output-buffer-limit), with the
    // INCRs after it already sent in the same window.
    srv.cli(&["CONFIG", "SET", "client-output-buffer-limit", "normal 1mb 1mb 0"]);
    let script = "SELECT 1\nINCR c\nINCR c\nGET big\nINCR c\nINCR c\nBLPOP nothing 0.01\nINCR c\n";
    srv.flush();
    srv.cli(&["-n", "1", "SETRANGE", "big", "2000000", "x"]);
    let run = Redsh::new().port(srv.port).args(&["--no-echo"]).stdin(script).run().code(1);
    // The server drops its unsent replies with the connection: every line of the window ran or may
    // have, and none is sent again.
    assert_eq!(run.stderr, (1..=6).map(|n| format!("redsh: line {n}: {MAY_HAVE_RUN}\n")).collect::<String>());
    assert_eq!(run.stdout, "(nil)\n(integer) 3\n");
    assert_eq!(
        srv.get(&["-n", "1", "GET", "c"]),
        "3",
        "no INCR ran twice; the one after reconnecting ran in db 1"
    );
    assert_eq!(srv.get(&["-n", "0", "EXISTS", "c"]), "0", "nothing went to database 0");
}

#[test]
fn a_login_that_fails_inside_exec_is_undone_in_its_place() {
    let srv = Server::start();
    // The index is a string: SADD fails inside the login's EXEC, and its undo runs before any later
    // line's reply is read.
    let script = "SET user_sessions:101 notaset\nlogin 101 alice admin --ip 1.2.3.4\nPING\nECHO hello\n";
    let run = same_both_ways(&srv, &[], script).code(1);
    let port = srv.port;
    assert!(
        run.stdout
            .ends_with(&format!("127.0.0.1:{port}> PING\nPONG\n127.0.0.1:{port}> ECHO hello\n\"hello\"\n")),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("line 2: login failed"), "{}", run.stderr);
    assert_eq!(srv.get(&["KEYS", "session:*"]), "", "nothing was left behind");
}

/// Durations in summary lines (`29m58s`) and unix milliseconds (`PEXPIREAT k 1795874448123`)
/// depend on the clock, HELLO's client id on the connections made before, a drawn id quoted in a reply on the draw: made stable.
pub fn stable_times(out: &str) -> String {
    let mut after_ttl = false;
    let mut in_exec = false;
    out.split('\n')
        .map(|line| {
            // Inside an EXEC's reply, whether an `EXPIRE … GT` extended a TTL depends on the clock.
            if line.contains("> ") || line.starts_with('#') {
                in_exec = line.ends_with("> EXEC");
            } else if in_exec && (line.ends_with(") (integer) 0") || line.ends_with(") (integer) 1")) {
                return format!("{}<0|1>", &line[..line.len() - 1]);
            }
            // The reply to a TTL-like read is the clock's too.
            let clock_reply = std::mem::replace(
                &mut after_ttl,
                ["> TTL ", "> PTTL ", "> PEXPIRETIME ", "> EXPIRETIME "].iter().any(|c| line.contains(c)),
            );
            if clock_reply && line.starts_with("(integer) ") {
                return "(integer) <clock>".to_owned();
            }
            // HELLO's client id counts the connections made so far.
            if let Some(at) = line.find("# \"id\" => (integer) ") {
                return format!("{}# \"id\" => <client id>", &line[..at]);
            }
            line.split(' ')
                .map(|w| {
                    let core = w.trim_end_matches([',', ')', ':', ';']);
                    let tail = &w[core.len()..];
                    let is_duration = !core.is_empty()
                        && core.chars().all(|c| c.is_ascii_digit() || "hms".contains(c))
                        && core.ends_with(['h', 'm', 's'])
                        && core.starts_with(|c: char| c.is_ascii_digit());
                    let is_ms = core.len() >= 12 && core.chars().all(|c| c.is_ascii_digit());
                    // A drawn id quoted in a reply (SMEMBERS), whose place in a set varies too.
                    let quoted_id = w.len() > 2
                        && w.starts_with('"')
                        && w.ends_with('"')
                        && is_drawn_id(&w[1..w.len() - 1]);
                    // A drawn id shortened in a summary (`0WvKgrtg…`).
                    let short_id = w
                        .strip_suffix('…')
                        .is_some_and(|p| p.len() == 8 && is_drawn_id(&format!("{p}{}", "x".repeat(14))));
                    // Which drawn id is which depends on where it falls in a set's order.
                    let numbered =
                        w.find("<id").filter(|&i| w[i + 3..].starts_with(|c: char| c.is_ascii_digit()));
                    if let Some(i) = numbered {
                        let end = w[i..].find('>').map_or(w.len(), |e| i + e + 1);
                        format!("{}<id>{}", &w[..i], &w[end..])
                    } else if quoted_id {
                        "\"<drawn>\"".to_owned()
                    } else if w.len() == 12
                        && w.starts_with("\"1")
                        && w[1..11].chars().all(|c| c.is_ascii_digit())
                    {
                        // A login_time read back (HGETALL).
                        "\"<time>\"".to_owned()
                    } else if is_drawn_id(core) {
                        format!("<drawn>{tail}")
                    } else if short_id {
                        "<short>…".to_owned()
                    } else if is_duration {
                        format!("<dur>{tail}")
                    } else if is_ms {
                        format!("<ms>{tail}")
                    } else {
                        w.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The elements of each SMEMBERS reply in a stable order (a set's order depends on its members,
/// which include drawn ids).
pub fn sorted_sets(out: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut members: Vec<(String, String)> = Vec::new();
    let mut in_set = false;
    let flush = |lines: &mut Vec<String>, members: &mut Vec<(String, String)>| {
        let mut values: Vec<String> = members.iter().map(|(_, v)| v.clone()).collect();
        values.sort();
        for ((index, _), v) in members.drain(..).zip(values) {
            lines.push(format!("{index}{v}"));
        }
    };
    for line in out.split('\n') {
        let element =
            line.find(") ").filter(|&i| line[..i].trim().chars().all(|c| c.is_ascii_digit()) && i > 0);
        // The sessions `sessions` lists, oldest first: logins of one second come in either order.
        let listed = line.starts_with("#   ");
        match element {
            _ if listed => members.push((String::new(), line.to_owned())),
            Some(i) if in_set => members.push((line[..i + 2].to_owned(), line[i + 2..].to_owned())),
            _ => {
                flush(&mut lines, &mut members);
                in_set = line.contains("> SMEMBERS ");
                lines.push(line.to_owned());
            }
        }
    }
    flush(&mut lines, &mut members);
    lines.join("\n")
}

#[test]
fn generated_scripts_of_session_and_raw_commands_print_the_same_pipelined_and_one_at_a_time() {
    let srv = Server::start();
    let mut rng = crate::harness::Xorshift(0x2545_f491_4f6c_dd1d);
    let mut next = move |n: u64| rng.below(n);
    for round in 0..8 {
        let mut script = String::new();
        for i in 0..70 {
            let (u, s) = (100 + next(4), next(6));
            let line = match next(20) {
                0 | 1 => format!("login {u} user{u} role{} --ip 10.0.0.{u} --id s{s}", next(3)),
                // Ids are given: a drawn id's place in a set (and so the order of `sessions`' reads)
                // would differ from run to run (drawn ids are covered by the tests above).
                2 => format!("login {u} user{u} student --ip 10.0.0.{u} --id t{i}"),
                3 | 4 => format!("whoami s{s}"),
                5 => format!("touch s{s}"),
                6 => format!("logout s{s}"),
                7 => format!("touch s{s}\nwhoami s{s}"),
                8 => format!("sessions {u}"),
                9 => format!("logout-all {u}"),
                10 => format!("HGET session:s{s} username"),
                11 => format!("SCARD user_sessions:{u}"),
                12 => format!("SISMEMBER user_sessions:{u} s{s}"),
                13 => format!("INCR n{}", next(3)),
                14 => "MULTI\nINCR m\nEXISTS session:s1\nEXEC".to_owned(),
                15 => format!("SELECT {}\nINCR db\nSELECT 0", next(2)),
                16 => "NOSUCHCOMMAND x".to_owned(),
                17 => format!("renew s{s}"),
                // The database stays chosen: the WATCHing commands after it must follow.
                18 => format!("SELECT {}", next(3)),
                _ => format!("whoami\nHSET session:s{s} note {i}"),
            };
            script.push_str(&line);
            script.push('\n');
        }
        same_both_ways_stable(&srv, &[], &script, &format!("script {round}:\n{script}\n"));
    }
}

fn watching_commands_follow_the_connection_the_script_set_up(kind: Kind) {
    let srv = Server::start_on(kind);
    // The WATCHing commands of a window run on connections of their own, opened as the main one was
    // set up then: a later SELECT, HELLO or AUTH must reach them too.
    let script = "SELECT 1\nlogin 1 a r --ip 1.2.3.4 --id x1\nSELECT 0\nlogin 2 b r --ip 1.2.3.4 --id x2\n\
                  SELECT 2\nlogin 3 c r --ip 1.2.3.4 --id x3\nrenew x3\nHELLO 3\nlogin 4 d r --ip 1.2.3.4 --id x4\n\
                  renew x4\nSELECT 0\nlogout-all 2\n";
    same_both_ways_stable(&srv, &[], script, "").code(0);
    assert_eq!(srv.get(&["-n", "1", "KEYS", "*x1"]), "session:x1");
    assert_eq!(srv.get(&["-n", "0", "DBSIZE"]), "0", "user 2 logged out in db 0");
    assert_eq!(srv.get(&["-n", "2", "DBSIZE"]), "4", "sessions 3 and 4 (renewed) and their indexes");
    // After AUTH as a user that may not write, a WATCHing login is refused as it is one at a time,
    // not run on a connection still authenticated as the first user.
    srv.cli(&["ACL", "SETUSER", "reader", "on", ">pw", "~*", "+@read", "+@connection", "+@transaction"]);
    let script = "login 1 a r --ip 1.2.3.4 --id y1\nAUTH reader pw\nlogin 2 b r --ip 1.2.3.4 --id y2\n";
    let run = same_both_ways_stable(&srv, &[], script, "").code(1);
    assert!(run.stdout.contains("NOPERM"), "{}", run.stdout);
    assert_eq!(srv.get(&["EXISTS", "session:y2"]), "0");
}
on_each_server!(watching_commands_follow_the_connection_the_script_set_up);

fn connections_of_their_own_killed_mid_window_leave_no_login_half_written(kind: Kind) {
    let srv = Server::start_on(kind);
    // Logins with --id WATCH on connections of their own, each carrying one login's writes and the
    // next one's reads in a single write. A CLIENT KILL in the same window closes them all with
    // batches on their way.
    let mut script = String::new();
    for i in 0..300 {
        if i == 150 {
            script.push_str("CLIENT KILL TYPE normal SKIPME yes\n");
        }
        let _ = writeln!(script, "login {} u{i} r --ip 1.2.3.4 --id s{i}", i % 7);
    }
    let run = run(&srv, &[], &script, true).code(1);
    let mut created = Vec::new();
    for line in run.stdout.lines() {
        if let Some(rest) = line.strip_prefix("# session ") {
            created.push(rest.split(' ').next().unwrap().to_owned());
        }
    }
    let failed: Vec<&str> = run.stderr.lines().collect();
    assert!(!failed.is_empty(), "the kill closed connections with batches on their way");
    for message in &failed {
        assert!(message.ends_with(MAY_HAVE_RUN), "{message}");
    }
    assert_eq!(created.len() + failed.len(), 300, "every login is reported once: {}", run.stderr);
    // Whatever ran, ran whole: a session and its index entry, or neither.
    let mut checks = String::new();
    for i in 0..300 {
        let _ = writeln!(checks, "EXISTS session:s{i}\nSISMEMBER user_sessions:{} s{i}", i % 7);
    }
    let answers = String::from_utf8(srv.cli_stdin(&[], checks.as_bytes())).unwrap();
    let answers: Vec<&str> = answers.lines().collect();
    for i in 0..300 {
        let id = format!("s{i}");
        let (exists, indexed) = (answers[2 * i] == "(integer) 1", answers[2 * i + 1] == "(integer) 1");
        assert_eq!(exists, indexed, "{id}: half written");
        // One reported failed may have run: its reply was lost, not necessarily its command.
        assert!(exists || !created.contains(&id), "{id} was reported created");
    }
}
on_each_server!(connections_of_their_own_killed_mid_window_leave_no_login_half_written);

fn concurrent_scripts_of_watching_commands_leave_every_session_in_its_index(kind: Kind) {
    let srv = Server::start_on(kind);
    // Four processes at once, each pipelining windows of WATCHing commands over the same five users
    // and twelve ids: their WATCHes abort one another's transactions, which start over on another
    // connection while the others go on.
    let scripts: Vec<String> = (0..4u64)
        .map(|p| {
            let mut rng = crate::harness::Xorshift(0x9e37_79b9_7f4a_7c15 ^ (p + 1));
            let mut next = move |n: u64| rng.below(n);
            let mut script = String::new();
            for i in 0..400 {
                let (u, s) = (1 + next(5), next(12));
                let line = match next(6) {
                    0 | 1 => format!("login {u} user{u} r --ip 10.0.0.{u} --id s{s}"),
                    2 => format!("renew s{s}"),
                    3 => format!("logout-all {u}"),
                    4 => format!("logout s{s}"),
                    _ => format!("login {u} user{u} r --ip 10.0.0.{p} --id p{p}x{i}"),
                };
                script.push_str(&line);
                script.push('\n');
            }
            script
        })
        .collect();
    let runs: Vec<Run> = std::thread::scope(|scope| {
        let handles: Vec<_> = scripts
            .iter()
            .map(|script| {
                let port = srv.port;
                scope.spawn(move || Redsh::new().port(port).args(&["--no-echo"]).stdin(script).run())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for run in &runs {
        // A command may find its session gone or its id taken by another process; nothing else.
        for message in run.stderr.lines() {
            assert!(
                message.contains("no such session") || message.contains("already exists"),
                "{message}\n{}",
                run.stderr
            );
        }
        let answered =
            run.stdout.lines().filter(|l| l.starts_with("# ") && !l.contains("trying again")).count();
        assert_eq!(answered + run.stderr.lines().count(), 400, "every line answered once");
    }
    // Every session is in its user's index and every index entry names a live session.
    let sessions = srv.get(&["KEYS", "session:*"]);
    for key in sessions.lines() {
        let id = key.strip_prefix("session:").unwrap();
        let user = srv.get(&["HGET", key, "user_id"]);
        assert_eq!(srv.get(&["SISMEMBER", &format!("user_sessions:{user}"), id]), "1", "{key} not indexed");
    }
    for u in 1..=5 {
        for id in srv.get(&["SMEMBERS", &format!("user_sessions:{u}")]).lines() {
            assert_eq!(srv.get(&["EXISTS", &format!("session:{id}")]), "1", "user {u} lists {id}");
        }
    }
}
on_each_server!(concurrent_scripts_of_watching_commands_leave_every_session_in_its_index);

fn a_pooled_connection_closed_between_windows_is_replaced_not_tried(kind: Kind) {
    let srv = Server::start_on(kind);
    // The first login leaves its connection in the pool; the server closes it while it is idle
    // (CLIENT KILL, as `timeout` would). The next window's login must not be sent on it and
    // reported lost: it gets a new connection and runs, as it does one at a time.
    let script = "login 1 a r --ip 1.2.3.4 --id k1\nBLPOP nothing 0.01\nCLIENT KILL TYPE normal SKIPME yes\n\
                  BLPOP nothing 0.01\nlogin 2 b r --ip 1.2.3.4 --id k2\n";
    let run = run(&srv, &[], script, true).code(0);
    assert_eq!(run.stderr, "");
    assert!(
        run.stdout.contains("SKIPME yes\n(integer) 1\n"),
        "the pooled connection was closed: {}",
        run.stdout
    );
    assert!(
        run.stdout.ends_with("# session k2 — b (r) from 1.2.3.4, expires in 30m idle, 8h at most\n"),
        "{}",
        run.stdout
    );
    assert_eq!(srv.get(&["EXISTS", "session:k2"]), "1");
}
on_each_server!(a_pooled_connection_closed_between_windows_is_replaced_not_tried);

fn watching_commands_refused_by_hostile_data_lift_their_watch_in_place(kind: Kind) {
    let srv = Server::start_on(kind);
    // Another client left keys of the wrong type: each WATCHing command that meets one is refused,
    // lifts its WATCH with an UNWATCH, and the commands after it on the same connection run as
    // they do one at a time.
    let mut script = String::from(
        "SET user_sessions:2 notaset\nHSET user_sessions:3 f v\nlogin 1 a r --ip 1.2.3.4 --id h1\n\
         HSET session:h3 user_id 3 username c role r login_time 1 ip x\nSET session:h4 notahash\n",
    );
    for i in 0..40 {
        let _ = writeln!(
            script,
            "login {u} u r --ip 1.2.3.4 --id w{i}\nrenew h{h}\nlogout-all {u}\nlogin 1 a r --ip 1.2.3.4 --id v{i}",
            u = 1 + i % 4,
            // Only sessions whose renewal is refused: a drawn id would reorder the sets listed.
            h = 3 + i % 2
        );
    }
    let run = same_both_ways_stable(&srv, &[], &script, "").code(1);
    assert!(run.stdout.contains("UNWATCH"), "{}", run.stdout);
    assert!(run.stderr.contains("holds a string, not a set"), "{}", run.stderr);
}
on_each_server!(watching_commands_refused_by_hostile_data_lift_their_watch_in_place);
