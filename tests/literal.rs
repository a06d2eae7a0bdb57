//! The classroom: literal mode (`--literal`, `literal on|off`), `##` headings in scripts, `use` of a
//! session that is not there, and `redsh events` listening until it is stopped.

use std::io::{BufRead, BufReader};

use crate::harness::{Redsh, Server};

fn redsh(srv: &Server) -> Redsh {
    Redsh::new().port(srv.port)
}

#[test]
fn literal_mode_sends_the_documents_commands_one_at_a_time_and_off_goes_back() {
    let srv = Server::start();
    let p = srv.port;
    let run = redsh(&srv)
        .stdin(
            "literal on\nlogin 101 suhel teacher --ip 192.168.1.10 --id abc123 --ttl 600\n\
             logout abc123\nliteral off\nlogin 101 suhel teacher --id abc124\n",
        )
        .run()
        .success();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[1].starts_with(&format!(
        "127.0.0.1:{p}> HSET session:abc123 user_id 101 username suhel role teacher login_time "
    )));
    assert!(lines[1].ends_with(" ip 192.168.1.10"), "{}", lines[1]);
    assert_eq!(
        lines[..1].iter().chain(&lines[2..]).take(13).copied().collect::<Vec<_>>(),
        [
            "# redsh: literal mode on: session commands send the document's commands, one at a time, not atomic \
             (`literal off` goes back)",
            "(integer) 5",
            &format!("127.0.0.1:{p}> EXPIRE session:abc123 600"),
            "(integer) 1",
            &format!("127.0.0.1:{p}> SADD user_sessions:101 abc123"),
            "(integer) 1",
            "# redsh: session abc123 — suhel (teacher) from 192.168.1.10, expires in 10m idle: 3 separate commands, \
             not one transaction",
            &format!("127.0.0.1:{p}> DEL session:abc123"),
            "(integer) 1",
            &format!("127.0.0.1:{p}> SREM user_sessions:101 abc123"),
            "(integer) 1",
            "# redsh: logged out: session abc123 of user 101 (DEL, then SREM: 2 separate commands)",
            "# redsh: literal mode off: session commands are atomic again (MULTI/EXEC, WATCH)",
        ]
    );
    // Off: the login is a transaction again.
    assert!(run.stdout.contains(&format!("127.0.0.1:{p}> MULTI\nOK\n")), "{}", run.stdout);
    assert_eq!(srv.get(&["SMEMBERS", "user_sessions:101"]), "abc124");
}

#[test]
fn the_literal_flag_turns_it_on_from_the_start_and_whoami_is_three_round_trips() {
    let srv = Server::start();
    let p = srv.port;
    srv.cli(&["HSET", "session:abc123", "user_id", "101", "username", "suhel", "role", "teacher"]);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    srv.cli(&["HSET", "session:abc123", "login_time", &now.to_string(), "ip", "192.168.1.10"]);
    srv.cli(&["EXPIRE", "session:abc123", "1800"]);
    let run = redsh(&srv).args(&["--literal"]).stdin("whoami abc123\n").run().success();
    let echoed: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("127.0.0.1:")).collect();
    assert_eq!(
        echoed,
        [
            format!("127.0.0.1:{p}> EXISTS session:abc123"),
            format!("127.0.0.1:{p}> HGETALL session:abc123"),
            format!("127.0.0.1:{p}> TTL session:abc123"),
        ]
    );
    assert!(run.stdout.contains("# redsh: session abc123 — suhel (teacher) from 192.168.1.10, expires in "));
    // The same with no server command pipelined ahead of a reply: the output is the same.
    let sequential =
        redsh(&srv).args(&["--literal", "--no-pipeline"]).stdin("whoami abc123\n").run().success();
    assert_eq!(sequential.stdout.lines().filter(|l| l.starts_with("127.0.0.1:")).count(), 3);
}

#[test]
fn literal_sessions_lists_with_smembers_and_prunes_a_stale_id() {
    let srv = Server::start();
    let p = srv.port;
    srv.cli(&["SADD", "user_sessions:9", "k1"]);
    let run = redsh(&srv).args(&["--literal"]).stdin("sessions 9\n").run().success();
    assert_eq!(
        run.stdout,
        format!(
            "127.0.0.1:{p}> SMEMBERS user_sessions:9\n1) \"k1\"\n127.0.0.1:{p}> TTL session:k1\n(integer) -2\n\
             127.0.0.1:{p}> SREM user_sessions:9 k1\n(integer) 1\n\
             # redsh: user 9: 0 live session(s) (1 expired id(s) pruned)\n"
        )
    );
}

#[test]
fn literal_takes_on_or_off_only() {
    let srv = Server::start();
    let run = redsh(&srv).stdin("literal maybe\nliteral\n").run().code(1);
    assert_eq!(run.stderr, "redsh: line 1: usage: literal on|off\n");
    assert_eq!(
        run.stdout,
        "# redsh: literal mode off: session commands are atomic again (MULTI/EXEC, WATCH)\n"
    );
}

#[test]
fn headings_are_printed_in_their_place_and_plain_comments_stay_silent() {
    let srv = Server::start();
    let p = srv.port;
    // Enough plain commands around a heading that they share a pipelined window.
    let mut script = String::from("# a note for the reader\n## 1. Introduction\n");
    for i in 0..50 {
        script.push_str(&format!("SET k{i} {i}\n"));
    }
    script.push_str("  ## 2. Session Key Design  \nGET k7\n#### deeper\n");
    let run = redsh(&srv).stdin(&script).run().success();
    let mut expected = String::from("## 1. Introduction\n");
    for i in 0..50 {
        expected.push_str(&format!("127.0.0.1:{p}> SET k{i} {i}\nOK\n"));
    }
    expected.push_str(&format!("## 2. Session Key Design\n127.0.0.1:{p}> GET k7\n\"7\"\n#### deeper\n"));
    assert_eq!(run.stdout, expected);
    // Without echo the transcript is redis-cli's: no headings.
    let quiet = redsh(&srv).args(&["--no-echo"]).stdin(&script).run().success();
    assert!(!quiet.stdout.contains('#'), "{}", quiet.stdout);
}

#[test]
fn a_heading_cannot_move_the_cursor() {
    let srv = Server::start();
    let run = redsh(&srv).stdin("## title\x1b[2J\x07\n").run().success();
    assert_eq!(run.stdout, "## title^[[2J^G\n");
}

#[test]
fn use_warns_of_a_session_that_is_not_there_but_still_makes_it_current() {
    let srv = Server::start();
    let p = srv.port;
    srv.cli(&["HSET", "session:here", "user_id", "1"]);
    let run = redsh(&srv).stdin("use gone1\nuse here\n").run().success();
    assert_eq!(
        run.stdout,
        format!(
            "127.0.0.1:{p}> EXISTS session:gone1\n(integer) 0\n\
             # warning: session gone1 does not exist (expired, logged out, or never created); current anyway\n\
             127.0.0.1:{p}> EXISTS session:here\n(integer) 1\n# current session: here\n"
        )
    );
    // Current anyway: the next command acts on it.
    let run = redsh(&srv).stdin("use gone1\nwhoami\n").run().code(1);
    assert!(run.stdout.contains(&format!("127.0.0.1:{p}> EXISTS session:gone1\n(integer) 0\n# warning")));
    assert_eq!(run.stderr, "redsh: line 2: no such session: gone1 (expired, logged out, or never created)\n");
}

#[test]
fn events_after_the_flags_streams_until_sigterm_then_says_what_it_saw_and_exits_0() {
    let srv = Server::with_args(&["--notify-keyspace-events", "Egxe"]);
    let mut child = redsh(&srv).args(&["events"]).spawn();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    let mut until = |prefix: &str, seen: &mut String| loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "ended before {prefix:?}:\n{seen}");
        seen.push_str(&line);
        if line.starts_with(prefix) {
            return line;
        }
    };
    until("# events: that SUBSCRIBE runs on a separate connection", &mut seen);
    let logins =
        "login 101 suhel teacher --id long1 --ttl 100\nlogin 101 suhel teacher --id abc123 --ttl 1\n";
    redsh(&srv).stdin(logins).run().success();
    let expired = until("# expired:", &mut seen);
    assert_eq!(expired, "# expired: session abc123 of user 101 (suhel, teacher)\n");
    // SIGTERM to the child this test started, by its pid.
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let last = until("# events: stopped after ", &mut seen);
    assert!(last.contains(": 1 session event(s), 1 index entry pruned;"), "{last}");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{seen}");
    assert_eq!(srv.get(&["SMEMBERS", "user_sessions:101"]), "long1");
}
