//! `-c` on a real 3-master Redis Cluster: redirects as redis-cli shows them, and the session store
//! across slots (including while a slot is being resharded).

use std::io::Write;

use crate::harness::{Cluster, Redsh, Server, wait_until};

fn redsh(c: &Cluster) -> Redsh {
    Redsh::new().port(c.nodes[0].port).args(&["-c"])
}

/// `redis-cli -c --no-raw` with `input` on stdin, against the first node.
fn redis_cli(c: &Cluster, input: &[u8]) -> Vec<u8> {
    c.nodes[0].cli_stdin(&["-c"], input)
}

#[test]
fn raw_commands_follow_redirects_exactly_like_redis_cli() {
    let c = Cluster::start();
    // Keys in every slot range, keyless commands, a nested error, a transaction split by a redirect.
    let mut input = String::new();
    for k in ["a", "b", "c", "user_sessions:101", "session:abc123", "{t}x", "{t}y"] {
        input.push_str(&format!("SET {k} v-{k}\nGET {k}\n"));
    }
    input.push_str(
        "MGET {t}x {t}y\nMGET a b\nPING\nDBSIZE\nEVAL \"return {1, redis.error_reply('MYERR inner')}\" 0\n",
    );
    input.push_str("MULTI\nSET c 1\nEXEC\nGET nosuch\n");
    let expected = redis_cli(&c, input.as_bytes());
    c.flush();
    let run = redsh(&c).args(&["--no-echo"]).stdin(&input).run();
    assert_eq!(run.stdout, String::from_utf8_lossy(&expected), "stderr: {}", run.stderr);
    assert!(run.stdout.contains("-> Redirected to slot [15495] located at 127.0.0.1:"));
    assert!(run.stdout.contains("2) (error) MYERR inner"), "nested errors stay intact");
}

#[test]
fn the_echo_prompt_follows_the_node_in_use() {
    let c = Cluster::start();
    let run = redsh(&c).stdin("SET a 1\nGET a\n").run().success();
    let a = c.owner("a").port;
    let first = c.nodes[0].port;
    if a != first {
        assert_eq!(
            run.stdout,
            format!(
                "127.0.0.1:{first}> SET a 1\n-> Redirected to slot [15495] located at 127.0.0.1:{a}\nOK\n127.0.0.1:{a}> GET a\n\"1\"\n"
            )
        );
    } else {
        assert_eq!(run.stdout, format!("127.0.0.1:{a}> SET a 1\nOK\n127.0.0.1:{a}> GET a\n\"1\"\n"));
    }
}

#[test]
fn the_whole_session_lifecycle_works_across_all_nodes() {
    let c = Cluster::start();
    let users = 24;
    let mut input = String::new();
    for u in 0..users {
        input.push_str(&format!(
            "login {u} user{u} student --id s{u}a\nlogin {u} user{u} student --id s{u}b\n"
        ));
        input.push_str(&format!("whoami s{u}a\ntouch s{u}a\nrenew s{u}b\nsessions {u}\n"));
        if u % 2 == 0 {
            input.push_str(&format!("logout s{u}a\n"));
        } else {
            input.push_str(&format!("logout-all {u}\n"));
        }
    }
    let run = redsh(&c).stdin(&input).run().success();
    for bad in ["CROSSSLOT", "MOVED", "ASK ", "(error)"] {
        assert!(!run.stdout.contains(bad), "{bad} in the output:\n{}", run.stdout);
    }
    // A touch sets a session's idle TTL and its absolute deadline in one transaction: no crash
    // between the two can leave it living past the deadline.
    let lines: Vec<&str> = run.stdout.lines().collect();
    let deadlines: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].contains("> PEXPIREAT session:") && lines[i].ends_with(" LT"))
        .collect();
    assert_eq!(deadlines.len(), users, "one touch per user");
    for i in deadlines {
        assert!(
            lines[i].contains("(TX)> ") && lines[i - 2].contains("(TX)> EXPIRE session:"),
            "{}",
            lines[i - 2]
        );
        assert!(lines[i + 2].ends_with("(TX)> EXEC"), "{}", lines[i + 2]);
    }
    // Sessions landed on every node.
    let ports: std::collections::HashSet<u16> =
        (0..users).map(|u| c.owner(&format!("session:s{u}a")).port).collect();
    assert_eq!(ports.len(), 3, "the test's sessions should cover all three nodes");
    // Even users keep exactly their renewed session, listed in their index; odd users have nothing.
    for u in 0..users {
        let members = c.cli(&["SMEMBERS", &format!("user_sessions:{u}")]);
        if u % 2 == 0 {
            let ids: Vec<&str> = members.lines().collect();
            assert_eq!(ids.len(), 1, "user {u}: {members}");
            assert_eq!(c.cli(&["HGET", &format!("session:{}", ids[0]), "user_id"]), u.to_string());
            assert_eq!(c.cli(&["EXISTS", &format!("session:s{u}a")]), "0");
            assert_eq!(c.cli(&["EXISTS", &format!("session:s{u}b")]), "0");
        } else {
            assert_eq!(members, "", "user {u}");
        }
    }
    assert_eq!(c.dbsize(), (users / 2) * 2, "one session and one index per even user, nothing else");
}

#[test]
fn session_limits_hold_on_a_cluster() {
    let c = Cluster::start();
    let input = "login 7 x r\n".repeat(6);
    redsh(&c).args(&["--max-sessions", "2", "--no-echo"]).stdin(input).run().success();
    let members = c.cli(&["SMEMBERS", "user_sessions:7"]);
    let ids: Vec<&str> = members.lines().collect();
    assert_eq!(ids.len(), 2, "{members}");
    for id in ids {
        assert_eq!(c.cli(&["EXISTS", &format!("session:{id}")]), "1");
    }
    assert_eq!(c.dbsize(), 3);
}

/// Moves the slot of `key` from its owner to another node, key by key, the way
/// `redis-cli --cluster reshard` does; `during` runs while the slot is MIGRATING/IMPORTING.
fn reshard(c: &Cluster, key: &str, during: impl FnOnce(&Server, &Server)) {
    let slot = c.nodes[0].get(&["CLUSTER", "KEYSLOT", key]);
    let src = c.owner(key);
    let dst = c.nodes.iter().find(|n| n.port != src.port).unwrap();
    let id = |s: &Server| s.get(&["CLUSTER", "MYID"]);
    assert_eq!(dst.get(&["CLUSTER", "SETSLOT", &slot, "IMPORTING", &id(src)]), "OK");
    assert_eq!(src.get(&["CLUSTER", "SETSLOT", &slot, "MIGRATING", &id(dst)]), "OK");
    during(src, dst);
    loop {
        let keys = src.get(&["CLUSTER", "GETKEYSINSLOT", &slot, "100"]);
        if keys.is_empty() {
            break;
        }
        for k in keys.lines() {
            src.get(&["MIGRATE", "127.0.0.1", &dst.port.to_string(), k, "0", "5000"]);
        }
    }
    for n in &c.nodes {
        n.get(&["CLUSTER", "SETSLOT", &slot, "NODE", &id(dst)]);
    }
}

#[test]
fn sessions_keep_working_while_their_slot_moves() {
    let c = Cluster::start();
    redsh(&c).stdin("login 101 suhel teacher --id abc123\n").run().success();
    let port = c.nodes[0].port;
    // An id whose session key hashes to the same slot as abc123's.
    let slot = redsh::redis::cluster::slot(b"session:abc123");
    let twin = (0..)
        .map(|i| format!("twin{i}"))
        .find(|id| redsh::redis::cluster::slot(format!("session:{id}").as_bytes()) == slot)
        .unwrap();
    reshard(&c, "session:abc123", |_, dst| {
        // ASK path: the slot is MIGRATING and abc123 has not moved yet (served by the source), while
        // the twin does not exist on the source, so its writes are redirected with ASK.
        let input =
            format!("whoami abc123\ntouch abc123\nlogin 101 suhel teacher --id {twin}\nwhoami {twin}\n");
        let run = Redsh::new().port(port).args(&["-c"]).stdin(input).run().success();
        assert!(run.stdout.contains("# session abc123 extended"), "{}", run.stdout);
        assert!(run.stdout.contains(&format!("located at 127.0.0.1:{}", dst.port)), "{}", run.stdout);
        assert!(!run.stdout.contains("(error)"), "{}", run.stdout);
    });
    assert_eq!(c.cli(&["HGET", &format!("session:{twin}"), "username"]), "suhel");
    // MOVED path: the slot now lives elsewhere.
    let run = Redsh::new()
        .port(port)
        .args(&["-c"])
        .stdin("whoami abc123\ntouch abc123\nrenew abc123\nsessions 101\n")
        .run()
        .success();
    assert!(run.stdout.contains("# user 101: 2 live session(s)"), "{}", run.stdout);
    assert!(!run.stdout.contains("CROSSSLOT"));
    assert_eq!(c.cli(&["EXISTS", "session:abc123"]), "0", "renewed away");
}

#[test]
fn a_redirected_raw_command_is_sent_again_with_asking() {
    let c = Cluster::start();
    let port = c.nodes[0].port;
    reshard(&c, "{mig}k", |src, dst| {
        // The key is not on the source, so the source answers ASK and redsh goes to the target.
        let run = Redsh::new()
            .port(port)
            .args(&["-c", "--no-echo"])
            .stdin("SET {mig}k v\nGET {mig}k\n")
            .run()
            .success();
        assert!(run.stdout.contains(&format!("located at 127.0.0.1:{}\nOK\n", dst.port)), "{}", run.stdout);
        let _ = src;
    });
    assert_eq!(c.cli(&["GET", "{mig}k"]), "v");
}

#[test]
fn a_shell_started_before_a_reshard_follows_the_moved_slot() {
    use std::io::Read;
    let c = Cluster::start();
    let mut child = Redsh::new().args(&["-c", "-p", &c.nodes[0].port.to_string()]).spawn();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"login 101 suhel teacher --id abc123\n").unwrap();
    stdin.flush().unwrap();
    wait_until(10, "the first login did not happen", || c.cli(&["EXISTS", "session:abc123"]) == "1");
    // The shell's slot map now names the old owner: its next session commands meet MOVED.
    reshard(&c, "session:abc123", |_, _| {});
    stdin.write_all(b"touch abc123\nwhoami abc123\nlogout abc123\n").unwrap();
    drop(stdin);
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{out}");
    let new_owner = c.owner("session:abc123").port;
    assert!(
        out.contains(&format!(
            "-> Redirected to slot [{}] located at 127.0.0.1:{new_owner}",
            redsh::redis::cluster::slot(b"session:abc123")
        )),
        "{out}"
    );
    assert!(
        out.contains("# session abc123 extended") && out.contains("# logged out: session abc123"),
        "{out}"
    );
    // The three commands are pipelined: the first batch sent to the old owner shows as its redirect
    // line only, as one at a time, and goes again to the new one; the rest go there at once.
    assert_eq!(out.matches("-> Redirected").count(), 1, "{out}");
    let after = out.split("-> Redirected").nth(1).unwrap().lines().nth(1).unwrap_or_default();
    assert_eq!(after, format!("127.0.0.1:{new_owner}> HMGET session:abc123 user_id login_time"), "{out}");
    assert!(!out.contains("(error)"), "{out}");
    assert_eq!(c.dbsize(), 0);
}

#[test]
fn the_tagged_layout_keeps_each_user_in_one_slot_and_every_step_in_one_transaction() {
    let c = Cluster::start();
    let mut input = String::new();
    for u in 0..12 {
        input.push_str(&format!(
            "login {u} user{u} r --id a\nlogin {u} user{u} r\ntouch {u}~a\nrenew {u}~a\nsessions {u}\n"
        ));
    }
    input.push_str("logout-all 3\nwhoami a\n");
    let run = redsh(&c).args(&["--key-layout", "tagged", "--max-sessions", "5"]).stdin(&input).run().code(1);
    assert_eq!(
        run.stderr,
        "redsh: line 62: session id 'a' does not name its user: with --key-layout tagged ids look like 101~abc123\n"
    );
    for bad in ["CROSSSLOT", "MOVED", "(error)", "-> Redirected"] {
        assert!(!run.stdout.contains(bad), "{bad}:\n{}", run.stdout);
    }
    // Every write of a session command is one MULTI/EXEC: no write is echoed outside a transaction.
    for line in run.stdout.lines().filter(|l| l.starts_with("127.0.0.1:")) {
        let cmd = line.split_once("> ").unwrap().1;
        let word = cmd.split(' ').next().unwrap_or_default();
        let write = ["HSET", "EXPIRE", "PEXPIRE", "PEXPIREAT", "SADD", "SREM", "DEL"].contains(&word);
        assert!(!write || line.contains("(TX)> "), "a write outside MULTI: {line}");
    }
    for u in 0..12 {
        let members = c.cli(&["SMEMBERS", &format!("user_sessions:{{{u}}}")]);
        let expected = if u == 3 { 0 } else { 2 };
        assert_eq!(members.lines().count(), expected, "user {u}: {members}");
        for m in members.lines() {
            assert!(m.starts_with(&format!("{{{u}}}:")), "{m}");
            assert_eq!(c.cli(&["HGET", &format!("session:{m}"), "user_id"]), u.to_string());
        }
    }
}

#[test]
fn a_pipelined_cluster_script_prints_exactly_what_redis_cli_prints_line_by_line() {
    let c = Cluster::start();
    // Keys all over the slot space, commands of several shapes, keyless ones and cross-slot ones.
    let mut input = String::new();
    let mut rng = crate::harness::Xorshift(0x9e37_79b9_7f4a_7c15);
    let mut next = || rng.next();
    for i in 0..400 {
        let k = format!("k{}", next() % 97);
        let line = match next() % 9 {
            0 => format!("SET {k} v{i}"),
            1 => format!("GET {k}"),
            2 => format!("INCR n:{k}"),
            3 => format!("HSET h:{k} f{i} {i}"),
            4 => format!("LPUSH l:{{{k}}} {i}"),
            5 => format!("LRANGE l:{{{k}}} 0 2"),
            6 => "PING".to_owned(),
            7 => format!("MGET {{{k}}}a {{{k}}}b"),
            _ => format!("EXISTS {k} k{}", next() % 97),
        };
        input.push_str(&line);
        input.push('\n');
    }
    let expected = redis_cli(&c, input.as_bytes());
    for pipelined in [true, false] {
        c.flush();
        let mut sh = redsh(&c).args(&["--no-echo", "--no-raw"]);
        if !pipelined {
            sh = sh.args(&["--no-pipeline"]);
        }
        let run = sh.stdin(&input).run();
        assert_eq!(run.stdout, String::from_utf8_lossy(&expected), "pipelined: {pipelined}; {}", run.stderr);
    }
    assert!(String::from_utf8_lossy(&expected).contains("-> Redirected to slot ["));
}

#[test]
fn after_a_failover_the_same_process_goes_on_on_the_promoted_replica() {
    let mut c = Cluster::with_replicas();
    let owner = c.owner("a").port;
    let mut sh = redsh(&c).args(&["--no-echo", "--no-raw"]).spawn();
    let mut stdin = sh.stdin.take().unwrap();
    stdin.write_all(b"SET a 1\nGET a\n").unwrap();
    stdin.flush().unwrap();
    // Once the first answers are out, the master of `a` dies and its replica takes over.
    wait_until(10, "redsh did not answer", || c.nodes.iter().any(|n| n.get(&["GET", "a"]) == "1"));
    let i = c.nodes.iter().position(|n| n.port == owner).unwrap();
    c.nodes[i].kill();
    // Promoted: a live node says the cluster is fine and a write to `a`'s slot succeeds (the value
    // of `a` itself may be older than the last write: replication is asynchronous).
    wait_until(60, "no replica was promoted", || {
        c.nodes.iter().filter(|n| n.port != owner).any(|n| {
            n.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok")
                && n.cli(&["-c", "SET", "probe{a}", "1"]).trim() == "OK"
        })
    });
    // The next lines go on, on the new master: at most the first window after the kill fails.
    for n in 2..=4 {
        // Session commands too, whose keys may live on the dead master's slots: one that runs
        // alone, and a pipelined window of two.
        stdin
            .write_all(
                format!("login {n} u r --id fo{n}\nlogin {n} v r\nwhoami\nSET a {n}\nGET a\n").as_bytes(),
            )
            .unwrap();
        stdin.flush().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    drop(stdin);
    let out = sh.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The replies to the SETs and GETs alone (the login summaries are counted apart).
    let logins = stdout.lines().filter(|l| l.starts_with("# session fo")).count();
    let stdout: String = stdout
        .lines()
        .filter(|l| !l.starts_with("-> Redirected") && !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(logins >= 1, "a login after the failover went through: {stdout}");
    assert!(stdout.starts_with("OK\n\"1\"\n"), "{stdout}");
    assert!(
        stdout.ends_with("OK\n\"4\"\n"),
        "the same process went on: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alive = c.nodes.iter().find(|n| n.port != owner).unwrap();
    assert_eq!(alive.cli(&["-c", "GET", "a"]).trim(), "4");
    assert_eq!(alive.cli(&["-c", "EXISTS", "session:fo4"]).trim(), "1", "the last login is there");
    assert_eq!(alive.cli(&["-c", "SCARD", "user_sessions:4"]).trim(), "2", "and the pipelined one");
}

#[test]
fn session_commands_on_a_cluster_print_the_same_pipelined_and_one_at_a_time() {
    let c = Cluster::start();
    // Session commands are pipelined on a cluster too, each batch on the node of its slot (a WATCH
    // on a connection of its own to that node): logins with and without --id, whoami, touch and
    // logout by id and of the current session, sessions and logout-all, between plain commands.
    // User 9's index is a string: its logins fail inside EXEC and are undone by commands in two
    // slots, slot by slot.
    let mut rng = crate::harness::Xorshift(0x2545_f491_4f6c_dd1d);
    let mut next = move |n: u64| rng.below(n);
    let mut script = String::from("SET user_sessions:9 notaset\n");
    for i in 0..160 {
        let (u, f) = (1 + next(9), next(12));
        // Users 10-12 only ever get sessions with given ids: the members a logout-all lists and
        // deletes come in the same order in both runs.
        let g = 10 + u % 3;
        let line = match next(13) {
            0 | 1 => format!("login {u} user{u} r --ip 10.0.0.{u}"),
            2 => "whoami".to_owned(),
            3 => "touch".to_owned(),
            4 => "logout".to_owned(),
            5 => format!("login {u} user{u} r --ip 10.0.0.{u} --id f{f}"),
            6 => format!("touch f{f}\nwhoami f{f}"),
            7 => format!("logout f{f}"),
            8 => format!("INCR n{}", i % 5),
            9 => format!("login {g} user{g} r --ip 10.0.0.{g} --id h{f}"),
            10 => format!("logout-all {g}"),
            11 => format!("sessions {g}"),
            _ => format!("whoami f{f}"),
        };
        script.push_str(&line);
        script.push('\n');
    }
    let ports: Vec<String> = c.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
    // Drawn ids land in different slots from run to run: the node a line names is checked below,
    // not compared, and so is whether a plain command after a drawn id's login is redirected.
    let stable = |out: &str| {
        let mut out = stable_on_a_cluster(out);
        for p in &ports {
            out = out.replace(p.as_str(), "<node>");
        }
        out.lines().filter(|l| !l.starts_with("-> Redirected")).collect::<Vec<_>>().join("\n")
    };
    c.flush();
    let piped = redsh(&c).stdin(&script).run();
    c.flush();
    let one = redsh(&c).args(&["--no-pipeline"]).stdin(&script).run();
    crate::pipeline::assert_same("stdout", &stable(&piped.stdout), &stable(&one.stdout));
    crate::pipeline::assert_same("stderr", &stable(&piped.stderr), &stable(&one.stderr));
    assert_eq!(piped.code, one.code);
    assert!(piped.stderr.contains("WRONGTYPE"), "user 9's logins failed: {}", piped.stderr);
    assert!(!piped.stdout.contains("CROSSSLOT"), "{}", piped.stdout);
    // Every command naming a session or an index went to the node serving it.
    let mut owners: std::collections::HashMap<String, u16> = std::collections::HashMap::new();
    for line in one.stdout.lines().chain(piped.stdout.lines()) {
        let Some((prompt, cmd)) = line.split_once("> ") else { continue };
        let Some(key) =
            cmd.split(' ').nth(1).filter(|k| k.starts_with("session:") || k.starts_with("user_sessions:"))
        else {
            continue;
        };
        let port: u16 = prompt.trim_end_matches("(TX)").rsplit(':').next().unwrap().parse().unwrap();
        let owner = *owners.entry(key.to_owned()).or_insert_with(|| c.owner(key).port);
        assert_eq!(port, owner, "{line}");
    }
    // Without drawn ids the two ways print the same nodes too, and after a window the node in use
    // (where PING goes, and what the prompt names) is the one its last batch went to.
    let mut script = String::new();
    for i in 0..12 {
        script.push_str(&format!("login {i} user{i} r --ip 10.0.0.{i} --id g{i}\n"));
    }
    for i in 0..12 {
        script.push_str(&format!("touch g{i}\nwhoami g{}\nPING\n", (i * 5) % 12));
    }
    c.flush();
    let piped = redsh(&c).stdin(&script).run().success();
    c.flush();
    let one = redsh(&c).args(&["--no-pipeline"]).stdin(&script).run().success();
    crate::pipeline::assert_same(
        "stdout",
        &stable_on_a_cluster(&piped.stdout),
        &stable_on_a_cluster(&one.stdout),
    );
}

/// A transcript with what depends on the clock or the draw of ids made stable (see `pipeline`),
/// and the reply to an `EXPIRE … GT` sent outside a transaction (whether it extended the TTL).
fn stable_on_a_cluster(out: &str) -> String {
    let out = crate::pipeline::sorted_sets(&crate::pipeline::stable_times(&crate::pipeline::normalise(out)));
    let mut after_gt = false;
    out.lines()
        .map(|l| {
            let clock = std::mem::replace(&mut after_gt, l.contains("> EXPIRE ") && l.ends_with(" GT"));
            if clock { "(integer) <0|1>" } else { l }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
