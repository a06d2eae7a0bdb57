//! The store's promises under attack (issue 13): all of a change or none of it, destroying a
//! session when Redis is full, the absolute deadline held by the server's clock, repairs that only
//! extend, hostile stored data that cannot reach the terminal raw, malformed data never destroyed.

use crate::harness::{Redsh, Run, Server};

fn redsh(srv: &Server) -> Redsh {
    Redsh::new().port(srv.port)
}

fn script(srv: &Server, flags: &[&str], input: &str) -> Run {
    redsh(srv).args(flags).stdin(input).run()
}

fn int(srv: &Server, args: &[&str]) -> i64 {
    srv.get(args).parse().unwrap_or_else(|_| panic!("{args:?}: {}", srv.get(args)))
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// A session written by another client, with these fields.
fn plant(srv: &Server, id: &str, uid: &str, username: &str, role: &str, login_time: &str, ip: &str) {
    let key = format!("session:{id}");
    srv.cli(&[
        "HSET",
        &key,
        "user_id",
        uid,
        "username",
        username,
        "role",
        role,
        "login_time",
        login_time,
        "ip",
        ip,
    ]);
    srv.cli(&["EXPIRE", &key, "1000"]);
    srv.cli(&["SADD", &format!("user_sessions:{uid}"), id]);
    srv.cli(&["EXPIRE", &format!("user_sessions:{uid}"), "1000"]);
}

#[test]
fn renew_with_a_string_index_changes_nothing_and_says_so() {
    let srv = Server::start();
    script(&srv, &[], "login 101 suhel teacher --id wt1\n").success();
    let before = srv.get(&["HGETALL", "session:wt1"]);
    srv.cli(&["DEL", "user_sessions:101"]);
    srv.cli(&["SET", "user_sessions:101", "notaset"]);
    let run = script(&srv, &[], "renew wt1\n").code(1);
    assert_eq!(
        run.stderr,
        "redsh: line 1: renew failed, nothing was written: user_sessions:101 holds a string, not a set\n"
    );
    assert!(!run.stdout.contains("MULTI"), "nothing was sent to write:\n{}", run.stdout);
    assert_eq!(srv.get(&["HGETALL", "session:wt1"]), before, "the session is as it was");
    assert_eq!(srv.get(&["DBSIZE"]), "2", "no new session");
    // logout refuses too, rather than ending the session while its index cannot be updated.
    let run = script(&srv, &[], "logout wt1\n").code(1);
    assert!(run.stderr.contains("logout failed, nothing was written: user_sessions:101 holds a string"));
    assert_eq!(srv.get(&["EXISTS", "session:wt1"]), "1");
}

#[test]
fn a_string_audit_stream_refuses_every_change_before_it_is_made() {
    let srv = Server::start();
    script(&srv, &[], "login 101 suhel teacher --id a1\n").success();
    srv.cli(&["EXPIRE", "session:a1", "100"]);
    srv.cli(&["SET", "audit", "not-a-stream"]);
    let before = srv.get(&["HGETALL", "session:a1"]);
    for cmd in ["touch a1", "renew a1", "logout a1", "logout-all 101"] {
        let run = script(&srv, &["--audit-stream", "audit"], &format!("{cmd}\n")).code(1);
        let verb = cmd.split(' ').next().unwrap();
        assert_eq!(
            run.stderr,
            format!(
                "redsh: line 1: {verb} failed, nothing was written: audit holds a string, not a stream\n"
            ),
            "{cmd}"
        );
        assert!(!run.stdout.contains("MULTI"), "{cmd}:\n{}", run.stdout);
        assert_eq!(srv.get(&["HGETALL", "session:a1"]), before, "{cmd}");
        assert!(int(&srv, &["TTL", "session:a1"]) <= 100, "{cmd} did not extend the session");
        assert_eq!(srv.get(&["SMEMBERS", "user_sessions:101"]), "a1", "{cmd}");
    }
    // A read that would prune says what it could not do, and prunes nothing.
    srv.cli(&["SADD", "user_sessions:101", "gone"]);
    let run = script(&srv, &["--audit-stream", "audit"], "sessions 101\n").code(1);
    assert!(
        run.stdout.contains("# user 101: 1 live session(s) (1 expired id(s), not pruned)\n"),
        "{}",
        run.stdout
    );
    assert_eq!(int(&srv, &["SCARD", "user_sessions:101"]), 2);
}

#[test]
fn logout_all_revokes_a_session_whose_id_is_not_utf8() {
    let srv = Server::start();
    let plant = b"HSET \"session:\\xff\\xfe\" user_id 7 username a role r login_time 1764600000 ip 1\n\
                  EXPIRE \"session:\\xff\\xfe\" 1000\nSADD user_sessions:7 \"\\xff\\xfe\"\n";
    srv.cli_stdin(&[], plant);
    assert_eq!(srv.get(&["DBSIZE"]), "2");
    let run = script(&srv, &[], "sessions 7\nlogout-all 7\n").success();
    assert!(run.stdout.contains("# user 7: 1 live session(s)\n"), "{}", run.stdout);
    assert!(run.stdout.contains("# revoked 1 live session(s) of user 7\n"), "{}", run.stdout);
    assert_eq!(srv.get(&["DBSIZE"]), "0", "no live session is left outside its index");
}

/// A server with noeviction, filled with data until writes are refused (OOM).
fn full_server() -> Server {
    let srv = Server::with_args(&["--maxmemory", "4mb", "--maxmemory-policy", "noeviction"]);
    script(&srv, &[], "login 101 suhel teacher --id s1\nlogin 7 ann r --id a\nlogin 7 ann r --id b\n")
        .success();
    plant(&srv, "old1", "8", "o", "r", &(now() - 9 * 3600).to_string(), "1");
    let value = "x".repeat(64 * 1024);
    let fill: String = (0..120).map(|i| format!("SET filler:{i} {value}\n")).collect();
    let out = String::from_utf8_lossy(&srv.cli_stdin(&[], fill.as_bytes())).into_owned();
    assert!(out.contains("OOM command not allowed"), "the filler reached maxmemory");
    // Below what is used now: every write that needs memory is refused from here on.
    srv.cli(&["CONFIG", "SET", "maxmemory", "2mb"]);
    let probe = String::from_utf8_lossy(&srv.cli_stdin(&[], b"SET probe 1\n")).into_owned();
    assert!(probe.contains("OOM command not allowed"), "the server refuses writes: {probe}");
    srv
}

#[test]
fn logout_and_logout_all_work_when_redis_is_out_of_memory() {
    let srv = full_server();
    let run = script(&srv, &[], "logout s1\n").success();
    assert!(run.stdout.contains("EXECABORT"), "the transaction was refused:\n{}", run.stdout);
    let p = srv.port;
    assert!(
        run.stdout.contains(&format!(
            "127.0.0.1:{p}> DEL session:s1\n(integer) 1\n127.0.0.1:{p}> SREM user_sessions:101 s1\n(integer) 1\n"
        )),
        "{}",
        run.stdout
    );
    assert!(run.stdout.ends_with(
        "# logged out: session s1 of user 101 (Redis is out of memory: DEL and SREM sent without a transaction)\n"
    ));
    assert_eq!(srv.get(&["EXISTS", "session:s1", "user_sessions:101"]), "0");

    let run = script(&srv, &[], "logout-all 7\n").success();
    assert!(
        run.stdout.contains("# revoked 2 live session(s) of user 7 (Redis is out of memory"),
        "{}",
        run.stdout
    );
    assert_eq!(srv.get(&["EXISTS", "session:a", "session:b", "user_sessions:7"]), "0");

    // A touch past the absolute deadline ends the session, full or not.
    let run = script(&srv, &[], "touch old1\n").code(1);
    assert_eq!(run.stderr, "redsh: line 1: session old1 reached its absolute timeout and was ended\n");
    assert_eq!(srv.get(&["EXISTS", "session:old1", "user_sessions:8"]), "0");
}

/// Writes are held back by the server (`CLIENT PAUSE … WRITE`) for 1.5 s after a command's read:
/// as if the client stalled between its steps. Returns the command's run.
fn stalled(srv: &Server, flags: &[&str], input: &str) -> Run {
    srv.cli(&["CLIENT", "PAUSE", "1500", "WRITE"]);
    script(srv, flags, input)
}

#[test]
fn touch_and_renew_never_pass_the_absolute_deadline_even_after_a_stall() {
    let srv = Server::start();
    // The idle timeout is longer than the absolute one: every touch is capped by the deadline.
    let flags = ["--ttl", "10", "--absolute-ttl", "6"];
    script(&srv, &flags, "login 101 suhel teacher --id t1\n").success();
    let login_time: i64 = int(&srv, &["HGET", "session:t1", "login_time"]);
    let deadline_ms = (login_time + 6) * 1000;
    stalled(&srv, &flags, "touch t1\n").success();
    let at = int(&srv, &["PEXPIRETIME", "session:t1"]);
    assert!(at > 0 && at <= deadline_ms, "touch set {at}, past the deadline {deadline_ms}");
    assert!(int(&srv, &["PEXPIRETIME", "user_sessions:101"]) >= at, "the index outlives the session");

    let run = stalled(&srv, &flags, "renew t1\n").success();
    let new_id = run.stdout.lines().find_map(|l| l.strip_prefix("# session t1 renewed as ")).unwrap();
    let new_id = new_id.split(':').next().unwrap();
    let renewed = int(&srv, &["PEXPIRETIME", &format!("session:{new_id}")]);
    assert!(renewed > 0 && renewed <= at, "renew moved the expiry from {at} to {renewed}");
    assert!(int(&srv, &["PEXPIRETIME", "user_sessions:101"]) >= renewed, "the index outlives the session");
}

#[test]
fn fsck_repairs_only_ever_extend_an_index() {
    let srv = Server::start();
    script(&srv, &[], "login 101 suhel teacher --id f1\n").success();
    srv.cli(&["EXPIRE", "user_sessions:101", "60"]);
    let run = script(&srv, &[], "fsck --repair\n").success();
    let p = srv.port;
    let repairs: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with(&format!("127.0.0.1:{p}")) && l.contains("> EXPIRE user_sessions:101 "))
        .collect();
    assert_eq!(repairs.len(), 2, "{}", run.stdout);
    assert!(repairs[0].ends_with(" NX") && repairs[1].ends_with(" GT"), "{repairs:?}");
    assert!(int(&srv, &["TTL", "user_sessions:101"]) >= int(&srv, &["TTL", "session:f1"]));
}

#[test]
fn hostile_stored_data_never_reaches_the_terminal_raw() {
    let srv = Server::start();
    let t = (now() - 10).to_string();
    plant(
        &srv,
        "h1",
        "9",
        "evil\x1b[2J\x1b]0;PWNED\x07",
        "admin\n# session esc — root (superadmin)",
        &t,
        "1.2.3.4\u{202e}",
    );
    srv.cli(&["SADD", "user_sessions:x\x1b]0;PWNED\x07\n# fsck: no problems", "ghost"]);
    let run = script(&srv, &[], "whoami h1\nsessions 9\nstats\nfsck\n").code(1);
    let ours: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with('#')).collect();
    for line in &ours {
        assert!(
            !line.contains('\x1b') && !line.contains('\x07') && !line.contains('\u{202e}'),
            "raw: {line:?}"
        );
    }
    assert!(
        !ours.iter().any(|l| l.starts_with("# session esc") || l.starts_with("# fsck: no problems")),
        "{ours:?}"
    );
    assert!(
        run.stdout.contains("# session h1 — evil\\x1b[2J\\x1b]0;PWNED\\x07 (admin\\n# session esc — root (superadmin)) from 1.2.3.4\\u{202e}, "),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains('\x1b') && !run.stdout.contains('\x07'),
        "replies are quoted as redis-cli quotes them"
    );
}

#[test]
fn messages_quoting_a_key_name_are_escaped_too() {
    let srv = Server::start();
    script(&srv, &[], "login 101 suhel teacher --id e1\n").success();
    let stream = "audit\x1b]0;PWNED\x07\nredsh: line 9: forged";
    srv.cli(&["SET", stream, "x"]);
    let run = script(&srv, &["--audit-stream", stream], "touch e1\n").code(1);
    assert_eq!(
        run.stderr,
        "redsh: line 1: touch failed, nothing was written: audit\\x1b]0;PWNED\\x07\\nredsh: line 9: forged holds a string, not a stream\n"
    );
}

#[test]
fn malformed_stored_data_is_reported_never_destroyed() {
    let srv = Server::start();
    plant(&srv, "m1", "5", "ann", "r", "1.7e9", "10.0.0.5");
    let run = script(&srv, &[], "sessions 5\n").success();
    assert!(
        run.stdout.contains("malformed: login_time '1.7e9' is not a number (`fsck` reports it)"),
        "{}",
        run.stdout
    );
    assert_eq!(srv.get(&["SMEMBERS", "user_sessions:5"]), "m1", "a live session stays in its index");
    let run = script(&srv, &[], "touch m1\n").code(1);
    assert!(run.stderr.contains("session m1 is malformed: no login_time"), "{}", run.stderr);
    assert_eq!(srv.get(&["EXISTS", "session:m1"]), "1");

    // A user_id that cannot name an index (written by another client) decides no write.
    plant(&srv, "u1", "5", "ann", "r", &(now() - 10).to_string(), "1");
    srv.cli(&["HSET", "session:u1", "user_id", "1 2"]);
    let keys = srv.get(&["DBSIZE"]);
    for cmd in ["touch u1", "renew u1", "logout u1"] {
        let run = script(&srv, &[], &format!("{cmd}\n")).code(1);
        assert!(
            run.stderr.contains("session u1 is malformed: user_id '1 2' contains whitespace"),
            "{cmd}: {}",
            run.stderr
        );
        assert_eq!(srv.get(&["DBSIZE"]), keys, "{cmd} wrote nothing");
    }

    // The largest --absolute-ttl (100 years; more is a usage error) saturates: the session is
    // extended, not ended.
    script(&srv, &["--absolute-ttl", &i64::MAX.to_string()], "PING\n").code(2);
    script(&srv, &[], "login 6 bo r --id big\n").success();
    let run = script(&srv, &["--absolute-ttl", "3153600000"], "touch big\nwhoami big\n").success();
    assert!(run.stdout.contains("# session big extended: expires in 30m\n"), "{}", run.stdout);
    assert_eq!(srv.get(&["EXISTS", "session:big"]), "1");
}

mod cluster {
    use crate::harness::{Cluster, Redsh, Run};

    fn redsh(c: &Cluster, flags: &[&str], input: &str) -> Run {
        Redsh::new().port(c.nodes[0].port).args(&["-c"]).args(flags).stdin(input).run()
    }

    fn int(c: &Cluster, args: &[&str]) -> i64 {
        c.cli(args).parse().unwrap_or_else(|_| panic!("{args:?}: {}", c.cli(args)))
    }

    #[test]
    fn on_a_cluster_keys_of_another_type_are_refused_before_any_write() {
        let c = Cluster::start();
        redsh(&c, &["--no-echo"], "login 101 suhel teacher --id c1\nlogin 202 amy r --id c2\n").success();
        c.cli(&["SET", "audit", "not-a-stream"]);
        for cmd in ["touch c1", "renew c1", "logout c1"] {
            let run = redsh(&c, &["--audit-stream", "audit"], &format!("{cmd}\n")).code(1);
            assert!(
                run.stderr.contains("nothing was written: audit holds a string, not a stream"),
                "{cmd}: {}",
                run.stderr
            );
            assert!(!run.stdout.contains("MULTI") && !run.stdout.contains("DEL "), "{cmd}:\n{}", run.stdout);
        }
        assert_eq!(c.cli(&["SMEMBERS", "user_sessions:101"]), "c1");
        assert_eq!(c.cli(&["EXISTS", "session:c1"]), "1");
        c.cli(&["DEL", "user_sessions:202"]);
        c.cli(&["SET", "user_sessions:202", "notaset"]);
        let run = redsh(&c, &[], "renew c2\n").code(1);
        assert!(
            run.stderr
                .contains("renew failed, nothing was written: user_sessions:202 holds a string, not a set")
        );
        assert_eq!(c.cli(&["EXISTS", "session:c2"]), "1");
        assert_eq!(c.dbsize(), 5, "two sessions, two indexes, the string: nothing new");
    }

    #[test]
    fn on_a_cluster_touch_and_renew_hold_the_deadline_and_the_index_covers_them() {
        let c = Cluster::start();
        let flags = ["--ttl", "10", "--absolute-ttl", "6"];
        for layout in ["plain", "tagged"] {
            let id = if layout == "tagged" { "101~t1" } else { "t1" };
            let key = if layout == "tagged" { "session:{101}:t1" } else { "session:t1" };
            let index = if layout == "tagged" { "user_sessions:{101}" } else { "user_sessions:101" };
            let with_layout = [&flags[..], &["--key-layout", layout]].concat();
            redsh(&c, &with_layout, "login 101 suhel teacher --id t1\n").success();
            let deadline_ms = (int(&c, &["HGET", key, "login_time"]) + 6) * 1000;
            let run = redsh(&c, &with_layout, &format!("touch {id}\nrenew {id}\n")).success();
            let new_id = run
                .stdout
                .lines()
                .find_map(|l| l.strip_prefix(&format!("# session {id} renewed as ")))
                .unwrap();
            let new_id = new_id.split(':').next().unwrap();
            let new_key = match new_id.split_once('~') {
                Some((u, sid)) => format!("session:{{{u}}}:{sid}"),
                None => format!("session:{new_id}"),
            };
            let at = int(&c, &["PEXPIRETIME", &new_key]);
            assert!(at > 0 && at <= deadline_ms, "{layout}: {at} past {deadline_ms}");
            assert!(int(&c, &["PEXPIRETIME", index]) >= at, "{layout}: the index outlives the session");
            c.flush();
        }
    }

    #[test]
    fn on_a_full_cluster_logout_and_logout_all_still_destroy_sessions() {
        let c = Cluster::start();
        redsh(&c, &["--no-echo"], "login 1 a r --id p1\nlogin 2 b r --id p2\nlogin 2 b r --id p3\n")
            .success();
        let tagged = ["--key-layout", "tagged", "--no-echo"];
        redsh(&c, &tagged, "login 3 c r --id q1\nlogin 4 d r --id q2\n").success();
        for n in &c.nodes {
            n.cli(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
            n.cli(&["CONFIG", "SET", "maxmemory", "1"]);
        }
        let probe = String::from_utf8_lossy(&c.nodes[0].cli_stdin(&["-c"], b"SET {x}probe 1\n")).into_owned();
        assert!(probe.contains("OOM"), "{probe}");
        redsh(&c, &[], "logout p1\nlogout-all 2\n").success();
        redsh(&c, &["--key-layout", "tagged"], "logout 3~q1\nlogout-all 4\n").success();
        assert_eq!(c.dbsize(), 0, "every session and index is gone");
    }
}
