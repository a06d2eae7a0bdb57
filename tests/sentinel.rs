//! Replicas and Sentinel: the master found through the sentinels, a failover survived by the same
//! process, `--wait` and `--read-from-replica`, against real master, replica and sentinel processes.

use std::io::Write;

use crate::harness::{Kind, MASTER_NAME, Redsh, Sentinels, Server, on_each_server, wait_until};

fn redsh(s: &Sentinels) -> Redsh {
    let flags = s.flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    Redsh::new().args(&flags)
}

fn connects_through_the_sentinels(kind: Kind) {
    let s = Sentinels::start(kind, 1);
    let run = redsh(&s).stdin("SET k v\nGET k\n").run().success();
    let prompt = format!("{MASTER_NAME}@127.0.0.1:{}> ", s.master.port);
    assert_eq!(run.stdout, format!("{prompt}SET k v\nOK\n{prompt}GET k\n\"v\"\n"));
    assert_eq!(s.master.get(&["GET", "k"]), "v");
}
on_each_server!(connects_through_the_sentinels);

fn the_uri_form_names_sentinels_and_master(kind: Kind) {
    let s = Sentinels::start(kind, 1);
    let nodes: Vec<String> = s.sentinels.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
    let uri = format!("redis+sentinel://{}/{MASTER_NAME}/2", nodes.join(","));
    let run = Redsh::new().args(&["-u", &uri, "SET", "k", "in-db-2"]).run().success();
    assert_eq!(run.stdout, format!("{MASTER_NAME}@127.0.0.1:{}[2]> SET k in-db-2\nOK\n", s.master.port));
    assert_eq!(s.master.get(&["-n", "2", "GET", "k"]), "in-db-2");
}
on_each_server!(the_uri_form_names_sentinels_and_master);

fn wait_says_how_many_replicas_acknowledged(kind: Kind) {
    let s = Sentinels::start(kind, 1);
    let prompt = format!("{MASTER_NAME}@127.0.0.1:{}> ", s.master.port);
    // One replica: WAIT 1 is met, the login is done.
    let run = redsh(&s).args(&["--wait", "1"]).stdin("login 7 ada teacher\n").run().success();
    assert!(run.stdout.contains("(TX)> EXEC\n"), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("{prompt}WAIT 1 1000\n(integer) 1\n# session ")), "{}", run.stdout);
    // WAIT 2 with one replica: the line fails (exit status 1) and says how many did.
    let run = redsh(&s)
        .args(&["--wait", "2", "--wait-timeout", "200"])
        .stdin("login 8 bob student\nPING\n")
        .run()
        .code(1);
    assert!(run.stdout.contains(&format!("{prompt}WAIT 2 200\n(integer) 1\n")), "{}", run.stdout);
    assert_eq!(
        run.stderr,
        "redsh: line 1: only 1 of 2 replicas acknowledged the write within 200 ms (WAIT 2 200): \
         it is on the master but could be lost if the master fails now\n"
    );
    // The script went on: the next line ran.
    assert!(run.stdout.ends_with(&format!("{prompt}PING\nPONG\n")), "{}", run.stdout);
    // Reads are not followed by a WAIT.
    let run = redsh(&s).args(&["--wait", "1"]).stdin("sessions 7\n").run().success();
    assert!(!run.stdout.contains("WAIT"), "{}", run.stdout);
}
on_each_server!(wait_says_how_many_replicas_acknowledged);

fn reads_go_to_a_replica_and_writes_to_the_master(kind: Kind) {
    let s = Sentinels::start(kind, 1);
    let master = format!("{MASTER_NAME}@127.0.0.1:{}(TX)> ", s.master.port);
    let replica = format!("{MASTER_NAME}@127.0.0.1:{}(replica)> ", s.replicas[0].port);
    // WAIT 1 first, so that the replica has the login before it is read there.
    let run = redsh(&s)
        .args(&["--read-from-replica", "--wait", "1"])
        .stdin("login 7 ada teacher\nwhoami\nsessions 7\nstats\n")
        .run()
        .success();
    let out = &run.stdout;
    assert!(out.contains(&format!("{master}HSET session:")), "{out}");
    assert!(out.contains(&format!("{replica}EXISTS session:")), "{out}");
    assert!(out.contains(&format!("{replica}HGETALL session:")), "{out}");
    assert!(out.contains(&format!("{replica}SMEMBERS user_sessions:7")), "{out}");
    assert!(out.contains("# user 7: 1 live session(s)"), "{out}");
    assert!(out.contains("— ada (teacher)"), "{out}");
    // Nothing that writes was sent to the replica.
    for line in out.lines().filter(|l| l.starts_with(&replica)) {
        let word = line[replica.len()..].split(' ').next().unwrap();
        assert!(["EXISTS", "HGETALL", "TTL", "SMEMBERS", "HMGET"].contains(&word), "{line}");
    }
}
on_each_server!(reads_go_to_a_replica_and_writes_to_the_master);

#[test]
fn bad_sentinel_flags_are_one_clear_line() {
    let run = Redsh::new().args(&["--sentinel", "127.0.0.1:1", "PING"]).run().code(2);
    assert_eq!(
        run.stderr,
        "redsh: --sentinel needs --master NAME: the name the sentinels monitor the master under\n"
    );
    let run = Redsh::new().args(&["--master", "m", "PING"]).run().code(2);
    assert!(run.stderr.starts_with("redsh: --master names the master"), "{}", run.stderr);
    let run = Redsh::new().args(&["--sentinel", "h:x", "--master", "m", "PING"]).run().code(2);
    assert_eq!(run.stderr, "redsh: invalid sentinel address 'h:x': expected HOST:PORT\n");
    let run = Redsh::new().args(&["--wait", "0", "PING"]).run().code(2);
    assert_eq!(run.stderr, "redsh: --wait must be 1 or more replicas\n");
    let run = Redsh::new().args(&["-u", "redis+sentinel://h:1", "PING"]).run().code(2);
    assert!(run.stderr.contains("names the master"), "{}", run.stderr);
}

#[test]
fn no_sentinel_reachable_is_said_without_the_password() {
    let port = crate::harness::free_port();
    let run = Redsh::new()
        .args(&["--sentinel", &format!("127.0.0.1:{port}"), "--master", "m", "--sentinel-pass", "s3cr3t-pw"])
        .args(&["PING"])
        .run()
        .code(1);
    assert_eq!(
        run.stderr,
        format!(
            "redsh: Sentinel: no sentinel answered for master 'm': 127.0.0.1:{port}: Connection refused\n"
        )
    );
    assert!(!run.stderr.contains("s3cr3t") && !run.stdout.contains("s3cr3t"));
}

fn an_unknown_master_name_and_a_wrong_sentinel_password_are_named(kind: Kind) {
    let s = Sentinels::start(kind, 1);
    let port = s.sentinels[0].port;
    let node = format!("127.0.0.1:{port}");
    let run = Redsh::new().args(&["--sentinel", &node, "--master", "nosuch", "PING"]).run().code(1);
    assert_eq!(run.stderr, "redsh: Sentinel: no sentinel knows a master named 'nosuch'\n");
    let run = Redsh::new()
        .args(&["--sentinel", &node, "--master", MASTER_NAME, "PING"])
        .env("REDSH_SENTINEL_AUTH", "s3cr3t-pw")
        .run()
        .code(1);
    assert!(
        run.stderr.starts_with("redsh: Sentinel: no sentinel answered for master 'mymaster'"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("AUTH failed"), "{}", run.stderr);
    assert!(!run.stderr.contains("s3cr3t"), "{}", run.stderr);
}
on_each_server!(an_unknown_master_name_and_a_wrong_sentinel_password_are_named);

/// What one login line of the failover script printed.
struct Login {
    line: usize,
    /// The master port in the prompt its commands were echoed after.
    port: Option<u16>,
    /// The session id, when it was reported done (a summary and no error).
    id: Option<String>,
    error: Option<String>,
    /// How many times its HSET was echoed (sent): never more than once.
    sent: usize,
}

/// Reads lines until the one `done` accepts; fails the test after `secs` (a bound against a hang).
#[track_caller]
fn lines_until(
    rx: &std::sync::mpsc::Receiver<String>,
    secs: u64,
    done: impl Fn(&str) -> bool,
) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let mut got = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let end = done(&line);
                got.push(line);
                if end {
                    return got;
                }
            }
            Err(e) => panic!("redsh stopped answering ({e:?}) after:\n{}", got.join("\n")),
        }
    }
}

/// Sends one login and a marker, and reads what the login printed.
fn login(stdin: &mut impl std::io::Write, rx: &std::sync::mpsc::Receiver<String>, n: usize) -> Login {
    let line = 2 * n + 1;
    writeln!(stdin, "login {n} user{n} student\nECHO mark-{n}").unwrap();
    stdin.flush().unwrap();
    let marker = format!("\"mark-{n}\"");
    let marker_failed = format!("redsh: line {}:", line + 1);
    let out = lines_until(rx, 60, |l| l == marker || l.starts_with(&marker_failed));
    let prefix = format!("{MASTER_NAME}@127.0.0.1:");
    let mut result = Login { line, port: None, id: None, error: None, sent: 0 };
    let failed = format!("redsh: line {line}: ");
    for l in &out {
        if let Some(rest) = l.strip_prefix(&prefix) {
            let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
            result.port = port.parse().ok();
            if rest.contains("> HSET session:") {
                result.sent += 1;
            }
        } else if let Some(rest) = l.strip_prefix("# session ") {
            result.id = rest.split(' ').next().map(str::to_owned);
        } else if let Some(e) = l.strip_prefix(&failed) {
            result.error = Some(e.to_owned());
        }
    }
    if result.error.is_some() {
        result.id = None;
    }
    result
}

/// A long-running script keeps logging in while the master is killed (`kill -9`): the same process
/// goes on on the promoted replica, every login it reported done with `--wait 1` is there, and no
/// line whose outcome was unknown was sent twice.
fn a_failover_is_survived_by_the_same_process(kind: Kind) {
    let mut s = Sentinels::start(kind, 2);
    let old = s.master.port;
    let (mut child, reader) = redsh(&s).args(&["--wait", "1", "-f", "-"]).spawn_merged();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(reader)) {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut stdin = child.stdin.take().unwrap();
    let mut logins = Vec::new();
    let mut n = 0;
    while logins.iter().filter(|l: &&Login| l.id.is_some()).count() < 3 {
        logins.push(login(&mut stdin, &rx, n));
        n += 1;
        assert!(n < 50, "logins before the failover did not succeed");
    }
    assert!(logins.iter().all(|l| l.port == Some(old) && l.error.is_none()));
    let before = logins.len();
    s.master.kill();
    // Bounded generously: an election the sentinels split is retried after a while.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let done_on_new = logins[before..].iter().filter(|l| l.id.is_some() && l.port != Some(old)).count();
        if done_on_new >= 3 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no promotion within 120 s");
        let l = login(&mut stdin, &rx, n);
        n += 1;
        if l.error.is_some() {
            // While the sentinels have not promoted a replica yet every line fails at once: pace them.
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        logins.push(l);
    }
    drop(stdin);
    let status = child.wait().unwrap();
    let errors: Vec<&Login> = logins.iter().filter(|l| l.error.is_some()).collect();
    assert!(!errors.is_empty(), "the master was killed, yet no line failed");
    assert_eq!(status.code(), Some(1));
    // The master the last logins were echoed on: a promoted replica.
    let new_port = logins.last().and_then(|l| l.port).unwrap();
    let new_master = s.replicas.iter().find(|r| r.port == new_port).expect("a replica was promoted");
    assert!(new_master.cli(&["INFO", "replication"]).contains("role:master"));
    for l in &logins {
        assert!(l.sent <= 1, "line {} was sent {} times", l.line, l.sent);
        if let Some(error) = &l.error {
            // Each failure says why; one whose outcome is unknown says it was not sent again.
            let clear = error.starts_with("Could not connect to Redis at 127.0.0.1:")
                || error.ends_with("connection lost, the command may have run (not sent again)")
                || error.starts_with("only 0 of 1 replica acknowledged")
                || error.starts_with("Sentinel: ");
            assert!(clear, "line {}: {error}", l.line);
        }
        if let Some(id) = &l.id {
            assert_eq!(
                new_master.get(&["EXISTS", &format!("session:{id}")]),
                "1",
                "login of line {} was reported done but is not on the new master",
                l.line
            );
        }
    }
}
on_each_server!(a_failover_is_survived_by_the_same_process);

/// `SENTINEL FAILOVER`: the old master is demoted (the sentinels close its clients' connections) and
/// the same process's next command goes to the new master without an error: nothing had been sent
/// on the closed connection.
fn a_demoted_master_is_left_for_the_new_one(kind: Kind) {
    let s = Sentinels::start(kind, 1);
    let old = s.master.port;
    let new = s.replicas[0].port;
    let (mut child, reader) = redsh(&s).args(&["-f", "-"]).spawn_merged();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(reader)) {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "SET before 1").unwrap();
    let out = lines_until(&rx, 30, |l| l == "OK");
    assert_eq!(out[0], format!("{MASTER_NAME}@127.0.0.1:{old}> SET before 1"));
    assert!(s.sentinel_cli(s.sentinels[0].port, &["SENTINEL", "FAILOVER", MASTER_NAME]).contains("OK"));
    wait_until(60, "the failover did not complete", || {
        s.agreed_master_port() == Some(new)
            && s.master.cli(&["INFO", "replication"]).contains("role:slave")
            && s.replicas[0].cli(&["INFO", "replication"]).contains("role:master")
    });
    writeln!(stdin, "SET after 2").unwrap();
    drop(stdin);
    let out = lines_until(&rx, 30, |l| l == "OK" || l.starts_with("redsh: "));
    assert_eq!(out, [format!("{MASTER_NAME}@127.0.0.1:{new}> SET after 2"), "OK".to_owned()]);
    assert!(child.wait().unwrap().success());
    assert_eq!(s.replicas[0].get(&["GET", "after"]), "2");
}
on_each_server!(a_demoted_master_is_left_for_the_new_one);

/// Without Sentinel: `--wait` and `--read-from-replica` against a master given with `-p`, its
/// replicas found with `ROLE`.
fn a_master_without_sentinel_has_its_replicas_found_by_role(kind: Kind) {
    let master = Server::with_args_on(kind, &[]);
    let replica = Server::with_args_on(kind, &["--replicaof", "127.0.0.1", &master.port.to_string()]);
    wait_until(30, "the replica did not sync", || {
        replica.cli(&["INFO", "replication"]).contains("master_link_status:up")
    });
    let run = Redsh::new()
        .port(master.port)
        .args(&["--wait", "1", "--read-from-replica"])
        .stdin("login 7 ada teacher\nsessions 7\n")
        .run()
        .success();
    let m = master.port;
    let r = replica.port;
    assert!(run.stdout.contains(&format!("127.0.0.1:{m}> WAIT 1 1000\n(integer) 1\n")), "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!("127.0.0.1:{r}(replica)> SMEMBERS user_sessions:7\n")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("# user 7: 1 live session(s)"), "{}", run.stdout);
}
on_each_server!(a_master_without_sentinel_has_its_replicas_found_by_role);

fn no_replica_is_a_clear_error(kind: Kind) {
    let master = Server::with_args_on(kind, &[]);
    let run = Redsh::new().port(master.port).args(&["--read-from-replica", "sessions", "7"]).run().code(1);
    assert_eq!(
        run.stderr,
        "redsh: line 1: --read-from-replica: no replica of the master can be reached: it has none\n"
    );
    // The line is echoed where it would have gone.
    assert_eq!(run.stdout, "not connected(replica)> SMEMBERS user_sessions:7\n");
    // WAIT on a master without replicas: 0 acknowledged, the login fails, and says so.
    let run = Redsh::new()
        .port(master.port)
        .args(&["--wait", "1", "--wait-timeout", "50", "login", "1", "a", "b"])
        .run()
        .code(1);
    assert!(run.stderr.contains("only 0 of 1 replica acknowledged the write within 50 ms"), "{}", run.stderr);
}
on_each_server!(no_replica_is_a_clear_error);

/// At the terminal the prompt names the master and its address, as the issue asks.
#[test]
fn the_interactive_prompt_names_the_master() {
    let s = Sentinels::start(Kind::Redis, 1);
    let mut cmd = std::process::Command::new(crate::harness::redsh_bin());
    cmd.env("TERM", "xterm").env("NO_COLOR", "1").env("REDSH_HISTFILE", "/dev/null").args(s.flags());
    let mut term = rexpect::session::spawn_command(cmd, Some(10_000)).unwrap();
    let prompt = format!("{MASTER_NAME}@127.0.0.1:{}> ", s.master.port);
    term.exp_string(&prompt).unwrap();
    term.send("PING\r").unwrap();
    term.flush().unwrap();
    term.exp_string("PONG").unwrap();
    term.exp_string(&prompt).unwrap();
    term.send_control('d').unwrap();
    term.exp_eof().unwrap();
}
