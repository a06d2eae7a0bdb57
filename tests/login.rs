//! `login` against real servers: nothing left behind by a failed login, malformed stored data
//! kept, the repeat prefix, and the cluster's write order under concurrent logins and listings.

use crate::harness::{Cluster, Redsh, Run, Server};

fn script(srv: &Server, flags: &[&str], input: &str) -> Run {
    Redsh::new().port(srv.port).args(flags).stdin(input).run()
}

/// The echoed commands of a transcript, without the prompt.
fn echoed(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.starts_with("127.0.0.1:"))
        .map(|l| l.split_once("> ").map(|(_, c)| c.to_owned()).unwrap_or_default())
        .collect()
}

fn session_keys(srv: &Server) -> Vec<String> {
    let keys = srv.get(&["KEYS", "session:*"]);
    keys.lines().map(str::to_owned).collect()
}

#[test]
fn a_wrong_index_type_found_by_the_reads_is_refused_before_writing() {
    let srv = Server::start();
    srv.cli(&["SET", "user_sessions:66", "not-a-set"]);
    for flags in [&[][..], &["--max-sessions", "2"][..]] {
        let run = script(&srv, flags, "login 66 x r --id half\n").code(1);
        assert!(!echoed(&run.stdout).iter().any(|c| c == "MULTI"), "nothing written: {}", run.stdout);
        assert!(
            run.stderr.contains("login refused, nothing was written: user_sessions:66"),
            "{}",
            run.stderr
        );
        assert!(session_keys(&srv).is_empty(), "{flags:?}");
    }
    assert_eq!(srv.get(&["GET", "user_sessions:66"]), "not-a-set");
}

#[test]
fn a_wrong_audit_stream_type_leaves_nothing_behind() {
    let srv = Server::start();
    srv.cli(&["SET", "ev", "not-a-stream"]);
    let flags = ["--audit-stream", "ev"];
    // No reads: the XADD fails inside EXEC and the login is undone.
    let run = script(&srv, &flags, "login 5 x r\n").code(1);
    assert!(run.stdout.contains("(error) WRONGTYPE"), "{}", run.stdout);
    assert!(run.stderr.contains("login failed: WRONGTYPE"), "{}", run.stderr);
    assert!(run.stderr.contains("nothing was left behind"), "{}", run.stderr);
    // With reads: refused before writing.
    let run = script(&srv, &flags, "login 5 x r --id given\n").code(1);
    assert!(run.stderr.contains("login refused, nothing was written: ev holds a string, not a stream"));
    assert!(session_keys(&srv).is_empty());
    assert_eq!(srv.get(&["SCARD", "user_sessions:5"]), "0");
}

#[test]
fn a_malformed_or_missing_login_time_is_never_pruned_and_counts_as_the_oldest() {
    let srv = Server::start();
    let fields = ["user_id", "8", "username", "x", "role", "r", "login_time", "1.7e9", "ip", "1"];
    srv.cli(&[&["HSET", "session:odd"][..], &fields[..]].concat());
    srv.cli(&["EXPIRE", "session:odd", "1000"]);
    srv.cli(&["HSET", "session:bare", "user_id", "8", "username", "x"]);
    srv.cli(&["EXPIRE", "session:bare", "1000"]);
    srv.cli(&["SADD", "user_sessions:8", "odd", "bare"]);
    let run = script(&srv, &["--max-sessions", "3"], "login 8 x r --id new\n").success();
    assert!(
        run.stdout.contains(
            "# warning: session odd of user 8 has a malformed login_time (1.7e9): kept, counted as live and as the oldest"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(srv.get(&["SISMEMBER", "user_sessions:8", "odd"]), "1", "a live session stays in its index");
    assert_eq!(srv.get(&["EXISTS", "session:odd"]), "1");
    assert!(
        run.stdout.contains("# warning: session bare of user 8 has no login_time: kept"),
        "{}",
        run.stdout
    );
    assert_eq!(srv.get(&["SISMEMBER", "user_sessions:8", "bare"]), "1", "checked with EXISTS, not pruned");
    // At the limit it is the oldest: the evict policy evicts it, not the newer one.
    script(&srv, &["--max-sessions", "2"], "login 8 x r --id newest\n").success();
    let mut members: Vec<String> =
        srv.get(&["SMEMBERS", "user_sessions:8"]).lines().map(str::to_owned).collect();
    members.sort();
    assert_eq!(members, ["new", "newest"]);
}

#[test]
fn a_huge_absolute_timeout_does_not_overflow() {
    let srv = Server::start();
    // Past 100 years the flag is refused; at the limit, and with a login_time near the end of
    // time written by another client, nothing overflows.
    script(&srv, &["--absolute-ttl", "9223372036854775807"], "PING\n").code(2);
    let flags = ["--absolute-ttl", "3153600000"];
    let run = script(&srv, &flags, "login 1 a b --id big\nwhoami\ntouch\n").success();
    assert!(run.stdout.contains("# session big extended: expires in 30m"), "{}", run.stdout);
    assert_eq!(srv.get(&["EXISTS", "session:big"]), "1", "touch kept the session");
    srv.cli(&["HSET", "session:big", "login_time", "9223372036854775807"]);
    let run = script(&srv, &flags, "whoami big\n").success();
    assert!(run.stdout.contains("# session big — a (b)"), "{}", run.stdout);
}

#[test]
fn a_repeat_prefix_repeats_a_session_command() {
    let srv = Server::start();
    let run = script(&srv, &["--no-echo"], "2 login 1 a b\n3 whoami\n").success();
    assert_eq!(srv.get(&["SCARD", "user_sessions:1"]), "2");
    assert_eq!(run.stdout.lines().filter(|l| l.starts_with("# session ")).count(), 5, "{}", run.stdout);
    // Repeats stop at the first failure.
    let run = script(
        &srv,
        &["--no-echo", "--max-sessions", "3", "--max-sessions-policy", "refuse"],
        "4 login 1 a b\n",
    )
    .code(1);
    assert_eq!(srv.get(&["SCARD", "user_sessions:1"]), "3");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
}

/// Every live session of `uid` on the cluster (by scanning each master).
fn live_sessions(c: &Cluster, uid: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for n in &c.nodes {
        for key in n.get(&["KEYS", "session:*"]).lines() {
            if n.get(&["HGET", key, "user_id"]) == uid {
                ids.push(key["session:".len()..].to_owned());
            }
        }
    }
    ids.sort();
    ids
}

fn index(c: &Cluster, uid: &str) -> Vec<String> {
    let mut ids: Vec<String> =
        c.cli(&["SMEMBERS", &format!("user_sessions:{uid}")]).lines().map(str::to_owned).collect();
    ids.sort();
    ids
}

/// Runs `scripts` as concurrent `redsh -c` processes with `flags`; returns their runs.
fn concurrently(c: &Cluster, flags: &[&str], scripts: Vec<String>) -> Vec<Run> {
    let port = c.nodes[0].port;
    let flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
    let workers: Vec<_> = scripts
        .into_iter()
        .map(|input| {
            let flags = flags.clone();
            std::thread::spawn(move || {
                let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
                Redsh::new().port(port).args(&["-c", "--no-echo"]).args(&flags).stdin(input).run()
            })
        })
        .collect();
    workers.into_iter().map(|w| w.join().unwrap()).collect()
}

#[test]
fn the_session_limit_and_the_index_hold_under_concurrent_logins_on_a_cluster() {
    let c = Cluster::start();
    let runs = concurrently(&c, &["--max-sessions", "2"], vec!["login 950 racer r\n".repeat(5); 8]);
    for run in runs {
        // A login may see its new session evicted by another before it finished: it says so.
        let evicted = "was ended by a concurrent command (evicted at the limit, or logout-all)";
        assert!(run.stderr.lines().all(|l| l.contains(evicted)), "{}", run.stderr);
    }
    let live = live_sessions(&c, "950");
    assert!(!live.is_empty() && live.len() <= 2, "the limit holds: {live:?}");
    assert_eq!(index(&c, "950"), live, "every live session is in its index, and only those");
    let run = Redsh::new().port(c.nodes[0].port).args(&["-c"]).stdin("logout-all 950\n").run().success();
    assert!(
        run.stdout.contains(&format!("# revoked {} live session(s) of user 950", live.len())),
        "{}",
        run.stdout
    );
    assert!(live_sessions(&c, "950").is_empty());
}

#[test]
fn sessions_never_prune_a_session_being_created_on_a_cluster() {
    let c = Cluster::start();
    let mut scripts = vec!["login 951 racer r\n".repeat(15); 4];
    scripts.extend(vec!["sessions 951\n".repeat(30); 4]);
    for run in concurrently(&c, &[], scripts) {
        run.success();
    }
    let live = live_sessions(&c, "951");
    assert_eq!(live.len(), 60, "every login made a live session");
    assert_eq!(index(&c, "951"), live, "no live session was pruned from its index");
    let run = Redsh::new().port(c.nodes[0].port).args(&["-c"]).stdin("logout-all 951\n").run().success();
    assert!(run.stdout.contains("# revoked 60 live session(s) of user 951"), "{}", run.stdout);
}

#[test]
fn a_failed_index_write_on_a_cluster_leaves_nothing_behind() {
    let c = Cluster::start();
    c.cli(&["SET", "user_sessions:66", "not-a-set"]);
    let run = Redsh::new().port(c.nodes[0].port).args(&["-c"]).stdin("login 66 x r\n").run().code(1);
    assert!(run.stderr.contains("login failed: WRONGTYPE"), "{}", run.stderr);
    assert!(run.stderr.contains("nothing was left behind"), "{}", run.stderr);
    for n in &c.nodes {
        assert_eq!(n.get(&["KEYS", "session:*"]), "", "no session left on {}", n.port);
    }
    // With a limit the index is read first: refused, and the provisional session deleted.
    let run = Redsh::new()
        .port(c.nodes[0].port)
        .args(&["-c", "--max-sessions", "2"])
        .stdin("login 66 x r\n")
        .run()
        .code(1);
    assert!(run.stderr.contains("user_sessions:66 is not a set"), "{}", run.stderr);
    assert!(run.stderr.contains("nothing was left"), "{}", run.stderr);
    for n in &c.nodes {
        assert_eq!(n.get(&["KEYS", "session:*"]), "", "no session left on {}", n.port);
    }
}
