//! The session store against a real server of each kind (`name::redis`, `name::valkey`): echoed
//! commands, and the state left in the server (checked with its own cli, a separate client).

use crate::harness::{Kind, Redsh, Run, Server, on_each_server};

fn redsh(srv: &Server) -> Redsh {
    Redsh::new().port(srv.port)
}

/// Runs a script of session commands.
fn script(srv: &Server, flags: &[&str], input: &str) -> Run {
    redsh(srv).args(flags).stdin(input).run()
}

fn lines(out: &str) -> Vec<&str> {
    out.lines().collect()
}

/// The echoed commands of a transcript, without the prompt.
fn echoed(out: &str, port: u16) -> Vec<String> {
    let prompt = format!("127.0.0.1:{port}");
    out.lines()
        .filter(|l| l.starts_with(&prompt))
        .map(|l| l.split_once("> ").map(|(_, c)| c.to_owned()).unwrap_or_default())
        .collect()
}

fn ttl(srv: &Server, key: &str) -> i64 {
    srv.get(&["TTL", key]).parse().unwrap()
}

fn login_time_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// The id a login printed in its summary (`# session <id> — …`).
fn summary_id(out: &str) -> String {
    let line = out.lines().find(|l| l.starts_with("# session ")).expect("a login summary");
    line["# session ".len()..].split(' ').next().unwrap().to_owned()
}

fn login_sends_the_seeds_commands_in_one_transaction(kind: Kind) {
    let srv = Server::start_on(kind);
    let run = script(&srv, &[], "login 101 suhel teacher --ip 192.168.1.10\n").success();
    let id = summary_id(&run.stdout);
    let cmds = echoed(&run.stdout, srv.port);
    assert_eq!(cmds.len(), 7, "{}", run.stdout);
    assert_eq!(cmds[0], "MULTI");
    let hset = format!("HSET session:{id} user_id 101 username suhel role teacher login_time ");
    assert!(cmds[1].starts_with(&hset) && cmds[1].ends_with(" ip 192.168.1.10"), "{}", cmds[1]);
    assert_eq!(
        cmds[2..],
        [
            format!("EXPIRE session:{id} 1800"),
            format!("SADD user_sessions:101 {id}"),
            "EXPIRE user_sessions:101 1800 NX".to_owned(),
            "EXPIRE user_sessions:101 1800 GT".to_owned(),
            "EXEC".to_owned(),
        ]
    );
    assert!(
        run.stdout
            .contains("\n1) (integer) 5\n2) (integer) 1\n3) (integer) 1\n4) (integer) 1\n5) (integer) ")
    );
    let prompt_tx = format!("127.0.0.1:{}(TX)> HSET", srv.port);
    assert!(run.stdout.contains(&prompt_tx), "commands inside MULTI show (TX)");

    // The state, through another client: the seed's five fields in order, the TTL, the index.
    assert_eq!(id.len(), 22, "128 random bits in base64url");
    let fields = srv.get(&["HGETALL", &format!("session:{id}")]);
    let fields: Vec<&str> = fields.lines().collect();
    assert_eq!(
        [fields[0], fields[2], fields[4], fields[6], fields[8]],
        ["user_id", "username", "role", "login_time", "ip"]
    );
    assert_eq!([fields[1], fields[3], fields[5], fields[9]], ["101", "suhel", "teacher", "192.168.1.10"]);
    let t: u64 = fields[7].parse().unwrap();
    assert!(t.abs_diff(login_time_now()) < 5);
    assert!((1795..=1800).contains(&ttl(&srv, &format!("session:{id}"))));
    assert_eq!(srv.get(&["SMEMBERS", "user_sessions:101"]), id);
    assert!(ttl(&srv, "user_sessions:101") > 1700);
}
on_each_server!(login_sends_the_seeds_commands_in_one_transaction);

fn whoami_validates_with_exists_hgetall_ttl(kind: Kind) {
    let srv = Server::start_on(kind);
    let run =
        script(&srv, &[], "login 101 suhel teacher --ip 192.168.1.10 --id abc123\nwhoami\nwhoami abc123\n")
            .success();
    let cmds = echoed(&run.stdout, srv.port);
    let whoami = ["EXISTS session:abc123", "HGETALL session:abc123", "TTL session:abc123"];
    assert_eq!(cmds[cmds.len() - 6..cmds.len() - 3], whoami);
    assert_eq!(cmds[cmds.len() - 3..], whoami);
    assert!(run.stdout.contains(" 9) \"ip\"\n10) \"192.168.1.10\"\n"));
    assert!(run.stdout.contains("# session abc123 — suhel (teacher) from 192.168.1.10, expires in"));
}
on_each_server!(whoami_validates_with_exists_hgetall_ttl);

fn unknown_sessions_are_errors_and_never_created(kind: Kind) {
    let srv = Server::start_on(kind);
    for cmd in ["whoami nosuch", "touch nosuch", "logout nosuch", "renew nosuch"] {
        let run = script(&srv, &[], &format!("{cmd}\n")).code(1);
        assert_eq!(
            run.stderr, "redsh: line 1: no such session: nosuch (expired, logged out, or never created)\n",
            "{cmd}"
        );
        assert_eq!(srv.get(&["DBSIZE"]), "0", "{cmd} must not create anything");
    }
    let run = script(&srv, &[], "whoami\n").code(1);
    assert!(run.stderr.contains("no current session"), "{}", run.stderr);
}
on_each_server!(unknown_sessions_are_errors_and_never_created);

fn touch_slides_the_idle_timeout(kind: Kind) {
    let srv = Server::start_on(kind);
    script(&srv, &[], "login 101 suhel teacher --id abc123\n").success();
    srv.cli(&["EXPIRE", "session:abc123", "100"]);
    let run = script(&srv, &[], "touch abc123\n").success();
    let login_time: u64 = srv.get(&["HGET", "session:abc123", "login_time"]).parse().unwrap();
    assert_eq!(
        echoed(&run.stdout, srv.port),
        [
            "HMGET session:abc123 user_id login_time".to_owned(),
            "MULTI".to_owned(),
            "EXPIRE user_sessions:101 1800 GT".to_owned(),
            "EXPIRE session:abc123 1800".to_owned(),
            format!("PEXPIREAT session:abc123 {} LT", (login_time + 8 * 3600) * 1000),
            "EXEC".to_owned()
        ]
    );
    assert!(ttl(&srv, "session:abc123") > 1790);
    assert!(run.stdout.contains("# session abc123 extended: expires in 30m\n"));
}
on_each_server!(touch_slides_the_idle_timeout);

fn absolute_timeout_caps_touch(kind: Kind) {
    let srv = Server::start_on(kind);
    script(&srv, &["--ttl", "600", "--absolute-ttl", "100"], "login 101 suhel teacher --id abc123\n")
        .success();
    assert!(ttl(&srv, "session:abc123") <= 100, "the first TTL is already capped");
    let run = script(&srv, &["--ttl", "600", "--absolute-ttl", "100"], "touch abc123\n").success();
    let t = ttl(&srv, "session:abc123");
    assert!(t <= 100 && t > 90, "touch may not extend past login + absolute: {t}");
    assert!(run.stdout.contains("(capped by the absolute timeout)"));
}
on_each_server!(absolute_timeout_caps_touch);

fn touch_past_the_absolute_deadline_ends_the_session(kind: Kind) {
    let srv = Server::start_on(kind);
    let old = (login_time_now() - 9 * 3600).to_string();
    srv.cli(&[
        "HSET",
        "session:old1",
        "user_id",
        "7",
        "username",
        "x",
        "role",
        "r",
        "login_time",
        &old,
        "ip",
        "1.2.3.4",
    ]);
    srv.cli(&["EXPIRE", "session:old1", "1000"]);
    srv.cli(&["SADD", "user_sessions:7", "old1"]);
    let run = script(&srv, &[], "touch old1\n").code(1);
    assert!(run.stderr.contains("session old1 reached its absolute timeout and was ended"), "{}", run.stderr);
    assert_eq!(srv.get(&["EXISTS", "session:old1"]), "0");
    assert_eq!(srv.get(&["EXISTS", "user_sessions:7"]), "0");
}
on_each_server!(touch_past_the_absolute_deadline_ends_the_session);

fn sessions_really_expire_and_their_ids_are_pruned(kind: Kind) {
    let srv = Server::start_on(kind);
    script(&srv, &[], "login 5 ana dev --id keep1\nlogin 5 ana dev --id gone1 --ttl 1\n").success();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(srv.get(&["EXISTS", "session:gone1"]), "0", "Redis expired it");
    let run = script(&srv, &[], "sessions 5\n").success();
    assert!(
        echoed(&run.stdout, srv.port).contains(&"SREM user_sessions:5 gone1".to_owned()),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("# user 5: 1 live session(s) (1 expired id(s) pruned)\n#   keep1  from "));
    assert_eq!(srv.get(&["SMEMBERS", "user_sessions:5"]), "keep1");
}
on_each_server!(sessions_really_expire_and_their_ids_are_pruned);

fn the_index_expires_with_its_last_session(kind: Kind) {
    let srv = Server::start_on(kind);
    script(&srv, &[], "login 9 bo dev --ttl 2\n").success();
    assert!(ttl(&srv, "user_sessions:9") <= 2);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(srv.get(&["DBSIZE"]), "0");
}
on_each_server!(the_index_expires_with_its_last_session);

fn logout_deletes_the_session_and_its_index_entry(kind: Kind) {
    let srv = Server::start_on(kind);
    let run = script(
        &srv,
        &[],
        "login 101 suhel teacher --id abc123\nlogin 101 suhel teacher --id abc124\nlogout abc123\n",
    )
    .success();
    let cmds = echoed(&run.stdout, srv.port);
    assert_eq!(
        cmds[cmds.len() - 6..],
        [
            "HGET session:abc123 user_id",
            "TYPE user_sessions:101",
            "MULTI",
            "DEL session:abc123",
            "SREM user_sessions:101 abc123",
            "EXEC",
        ]
    );
    assert!(
        run.stdout
            .ends_with("EXEC\n1) (integer) 1\n2) (integer) 1\n# logged out: session abc123 of user 101\n")
    );
    assert_eq!(srv.get(&["EXISTS", "session:abc123"]), "0");
    assert_eq!(srv.get(&["SMEMBERS", "user_sessions:101"]), "abc124");
}
on_each_server!(logout_deletes_the_session_and_its_index_entry);

fn logout_without_an_id_ends_the_current_session(kind: Kind) {
    let srv = Server::start_on(kind);
    let run = script(&srv, &[], "login 1 a b\nlogout\nwhoami\n").code(1);
    assert!(run.stdout.contains("# logged out: session "));
    assert!(run.stderr.contains("line 3: no current session"), "{}", run.stderr);
    assert_eq!(srv.get(&["DBSIZE"]), "0");
}
on_each_server!(logout_without_an_id_ends_the_current_session);

fn logout_all_revokes_every_session_and_the_index(kind: Kind) {
    let srv = Server::start_on(kind);
    script(&srv, &[], "login 3 c r\nlogin 3 c r\nlogin 3 c r\nlogin 4 d r\n").success();
    let run = script(&srv, &[], "logout-all 3\n").success();
    let cmds = echoed(&run.stdout, srv.port);
    assert_eq!(cmds[0], "WATCH user_sessions:3");
    assert_eq!(cmds[1], "SMEMBERS user_sessions:3");
    assert!(cmds[3].starts_with("DEL session:") && cmds[3].ends_with(" user_sessions:3"));
    assert!(run.stdout.contains("# revoked 3 live session(s) of user 3\n"));
    assert_eq!(srv.get(&["EXISTS", "user_sessions:3"]), "0");
    assert_eq!(srv.get(&["DBSIZE"]), "2", "only user 4's session and index are left");
    assert_eq!(srv.get(&["SCARD", "user_sessions:4"]), "1", "other users keep theirs");
}
on_each_server!(logout_all_revokes_every_session_and_the_index);

fn renew_rotates_the_id_and_keeps_data_and_time(kind: Kind) {
    let srv = Server::start_on(kind);
    script(&srv, &[], "login 101 suhel teacher --id abc123 --ip 10.1.1.1\n").success();
    srv.cli(&["EXPIRE", "session:abc123", "500"]);
    let before = srv.get(&["HGETALL", "session:abc123"]);
    let run = script(&srv, &[], "use abc123\nrenew\nwhoami\n").success();
    let new_id = run.stdout.lines().find_map(|l| l.strip_prefix("# session abc123 renewed as ")).unwrap();
    let new_id = new_id.split(':').next().unwrap();
    assert_eq!(srv.get(&["EXISTS", "session:abc123"]), "0");
    assert_eq!(srv.get(&["HGETALL", &format!("session:{new_id}")]), before);
    let t = ttl(&srv, &format!("session:{new_id}"));
    assert!((490..=500).contains(&t), "the remaining time is kept: {t}");
    assert_eq!(srv.get(&["SMEMBERS", "user_sessions:101"]), new_id);
    assert!(
        echoed(&run.stdout, srv.port).contains(&format!("EXISTS session:{new_id}")),
        "renew moves `current`"
    );
}
on_each_server!(renew_rotates_the_id_and_keeps_data_and_time);

fn the_session_limit_evicts_the_oldest(kind: Kind) {
    let srv = Server::start_on(kind);
    srv.cli(&[
        "HSET",
        "session:old",
        "user_id",
        "8",
        "username",
        "x",
        "role",
        "r",
        "login_time",
        "1000",
        "ip",
        "1",
    ]);
    srv.cli(&["EXPIRE", "session:old", "1000"]);
    srv.cli(&["SADD", "user_sessions:8", "old", "ghost"]);
    let flags = ["--max-sessions", "1", "--absolute-ttl", "2000000000"];
    let run = script(&srv, &flags, "login 8 x r --id new\n").success();
    let cmds = echoed(&run.stdout, srv.port);
    assert_eq!(
        cmds[..3],
        ["WATCH session:new user_sessions:8", "EXISTS session:new", "SMEMBERS user_sessions:8"]
    );
    let mut reads = cmds[3..5].to_vec();
    reads.sort();
    assert_eq!(
        reads,
        ["HGET session:ghost login_time", "HGET session:old login_time"],
        "one read per indexed id"
    );
    assert!(cmds.contains(&"SREM user_sessions:8 ghost".to_owned()), "dead ids are pruned");
    assert!(cmds.contains(&"DEL session:old".to_owned()), "the oldest is evicted: {cmds:?}");
    assert_eq!(srv.get(&["SMEMBERS", "user_sessions:8"]), "new");
    assert_eq!(srv.get(&["EXISTS", "session:old"]), "0");
}
on_each_server!(the_session_limit_evicts_the_oldest);

fn the_session_limit_can_refuse(kind: Kind) {
    let srv = Server::start_on(kind);
    let flags = ["--max-sessions", "2", "--max-sessions-policy", "refuse"];
    let run = script(&srv, &flags, "login 8 x r\nlogin 8 x r\nlogin 8 x r\n").code(1);
    assert!(
        run.stderr.contains("line 3: user 8 already has 2 live sessions (--max-sessions 2): login refused")
    );
    assert_eq!(srv.get(&["SCARD", "user_sessions:8"]), "2");
}
on_each_server!(the_session_limit_can_refuse);

fn the_session_limit_holds_under_concurrent_logins(kind: Kind) {
    let srv = Server::start_on(kind);
    let input = "login 42 racer r\n".repeat(40);
    let flags = ["--max-sessions", "3", "--no-echo"];
    let port = srv.port;
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let input = input.clone();
            std::thread::spawn(move || Redsh::new().port(port).args(&flags).stdin(input).run())
        })
        .collect();
    for w in workers {
        w.join().unwrap().success();
    }
    let members = srv.get(&["SMEMBERS", "user_sessions:42"]);
    let members: Vec<&str> = members.lines().collect();
    assert_eq!(members.len(), 3, "{members:?}");
    for m in members {
        assert_eq!(srv.get(&["EXISTS", &format!("session:{m}")]), "1", "every index entry is live");
    }
    assert_eq!(
        srv.get(&["EVAL", "return #redis.call('KEYS', 'session:*')", "0"]),
        "3",
        "no session outside the index"
    );
}
on_each_server!(the_session_limit_holds_under_concurrent_logins);

fn hashed_ids_keep_tokens_out_of_redis(kind: Kind) {
    let srv = Server::start_on(kind);
    let flags = ["--hash-ids"];
    let run =
        script(&srv, &flags, "login 101 suhel teacher --id tok3n\nwhoami tok3n\ntouch tok3n\nlogout tok3n\n")
            .success();
    assert!(!run.stdout.contains("session:tok3n"), "{}", run.stdout);
    let sha = run.stdout.lines().find(|l| l.contains("HSET session:")).unwrap();
    let hashed = sha.split_whitespace().nth(2).unwrap();
    assert!(hashed.starts_with("session:") && hashed.len() == "session:".len() + 64, "{hashed}");
    assert!(hashed["session:".len()..].bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(run.stdout.contains("# logged out: session tok3n of user 101"));
    assert_eq!(srv.get(&["DBSIZE"]), "0");
}
on_each_server!(hashed_ids_keep_tokens_out_of_redis);

fn dry_run_prints_replayable_commands_and_sends_nothing(kind: Kind) {
    let srv = Server::start_on(kind);
    let run =
        script(&srv, &["--dry-run"], "login 101 suhel teacher --ip 1.2.3.4\nSET k v\nwhoami x\n").success();
    assert_eq!(srv.get(&["DBSIZE"]), "0");
    let out = lines(&run.stdout);
    assert_eq!(out[0], "MULTI");
    assert!(out[1].starts_with("HSET session:") && !out[1].contains("> "), "no prompt: {}", out[1]);
    assert_eq!(out[6..], ["EXEC", "SET k v", "EXISTS session:x", "HGETALL session:x", "TTL session:x"]);
    // What it printed, replayed by redis-cli, creates the session.
    srv.cli_stdin(&[], run.stdout.as_bytes());
    assert_eq!(srv.get(&["SCARD", "user_sessions:101"]), "1");
    assert_eq!(srv.get(&["GET", "k"]), "v");
}
on_each_server!(dry_run_prints_replayable_commands_and_sends_nothing);

fn bad_session_commands_name_their_line(kind: Kind) {
    let srv = Server::start_on(kind);
    let input = "login 101 suhel\nlogin 101 a b --ttl 0\nlogin 101 a b --ttl soon\nlogin 101 a b --id 'a b'\n\
                 login 1:2 a b\nwhoami a*b\nsessions\nuse\nlogin 101 a b --id abc\nlogin 101 a b --id abc\n";
    let run = script(&srv, &["--no-echo"], input).code(1);
    assert_eq!(
        lines(&run.stderr),
        [
            "redsh: line 1: usage: login user_id username role [--ip ADDR] [--id ID] [--ttl SECS]",
            "redsh: line 2: --ttl must be greater than 0, not 0",
            "redsh: line 3: --ttl must be a whole number of seconds, not 'soon'",
            "redsh: line 4: session id 'a b' contains whitespace; use letters, digits, '-', '_', '.' or '~'",
            "redsh: line 5: user id '1:2' contains ':'; use letters, digits, '-', '_', '.' or '~'",
            "redsh: line 6: session id 'a*b' contains '*'; use letters, digits, '-', '_', '.' or '~'",
            "redsh: line 7: usage: sessions user_id",
            "redsh: line 8: usage: use ID",
            "redsh: line 10: session abc already exists; choose another id or log it out first",
        ]
    );
    assert_eq!(srv.get(&["KEYS", "*"]).lines().count(), 2, "only the one good login wrote anything");
}
on_each_server!(bad_session_commands_name_their_line);

fn bad_timeout_flags_are_usage_errors(kind: Kind) {
    let srv = Server::start_on(kind);
    for (flag, value) in [("--ttl", "0"), ("--ttl", "-1"), ("--absolute-ttl", "x")] {
        let run = redsh(&srv).args(&[flag, value, "PING"]).run().code(2);
        assert!(run.stderr.contains(flag), "{}", run.stderr);
    }
}
on_each_server!(bad_timeout_flags_are_usage_errors);

fn a_failed_write_inside_exec_is_rolled_back(kind: Kind) {
    let srv = Server::start_on(kind);
    srv.cli(&["SET", "user_sessions:66", "not-a-set"]);
    // A plain login reads nothing first: its transaction fails part-way and is undone. (With
    // --id the reads find the wrong type and nothing is written: see tests/login.rs.)
    let run = script(&srv, &[], "login 66 x r\n").code(1);
    assert!(run.stdout.contains("3) (error) WRONGTYPE"), "{}", run.stdout);
    assert!(run.stderr.contains("login failed: WRONGTYPE"), "{}", run.stderr);
    let cmds = echoed(&run.stdout, srv.port);
    let key = cmds[1].split(' ').nth(1).unwrap().to_owned();
    assert!(cmds.contains(&format!("DEL {key}")), "{cmds:?}");
    assert_eq!(srv.get(&["EXISTS", &key]), "0", "no half-written session");
}
on_each_server!(a_failed_write_inside_exec_is_rolled_back);

fn a_login_refused_by_maxmemory_writes_nothing(kind: Kind) {
    let srv = Server::with_args_on(kind, &["--maxmemory", "1", "--maxmemory-policy", "noeviction"]);
    let run = script(&srv, &[], "login 1 a b\n").code(1);
    assert!(run.stdout.contains("(error) OOM") || run.stdout.contains("EXECABORT"), "{}", run.stdout);
    assert!(run.stderr.contains("login failed, nothing was written"), "{}", run.stderr);
    assert_eq!(srv.get(&["DBSIZE"]), "0");
}
on_each_server!(a_login_refused_by_maxmemory_writes_nothing);

fn session_commands_are_refused_inside_multi(kind: Kind) {
    let srv = Server::start_on(kind);
    let run = script(&srv, &["--no-echo"], "MULTI\nlogin 1 a b\nDISCARD\n").code(1);
    assert!(run.stderr.contains("line 2: session commands cannot run inside MULTI"), "{}", run.stderr);
    assert_eq!(srv.get(&["DBSIZE"]), "0");
}
on_each_server!(session_commands_are_refused_inside_multi);

/// Part one is checked against the document itself (`demo_document`); this is part two, as demo.sh
/// plays it (`--ephemeral`): what goes wrong one command at a time, then the safe mode.
#[test]
fn the_walkthrough_shows_what_can_go_wrong_and_the_safe_mode() {
    let run = Redsh::new().args(&["--ephemeral", "-f", "scripts/walkthrough.redsh"]).run().success();
    assert_eq!(run.stderr, "");
    let out = run.stdout;
    let part_two = &out[out.find("## Part two").expect("a part two")..];
    // The transcript with the port taken out of the prompt.
    let shown: String = part_two
        .lines()
        .map(|l| match l.split_once("> ").filter(|(p, _)| p.starts_with("127.0.0.1:")) {
            Some((p, c)) => format!("{}> {c}\n", if p.ends_with("(TX)") { "(TX)" } else { "" }),
            None => format!("{l}\n"),
        })
        .collect();
    let mut at = 0;
    for step in [
        // (1) A login that dies after HSET: no TTL, not in its index; fsck finds and fixes both.
        "> TTL session:c1\n(integer) -1\n",
        "# no TTL: session c1 of user 7 never expires\n",
        "(TX)> EXPIRE session:c1 1800\n",
        "# not in its index: session c1 of user 7 is missing from its user's index\n",
        // (2) Two clients count, then both add: past the limit.
        "> SCARD user_sessions:8\n(integer) 0\n",
        "> SCARD user_sessions:8\n(integer) 0\n",
        "> SCARD user_sessions:8\n(integer) 2\n",
        // (3) DEL without SREM: the index is stale until `sessions` prunes it.
        "> DEL session:k1\n(integer) 1\n",
        "> SMEMBERS user_sessions:9\n1) \"k1\"\n",
        "> TTL session:k1\n(integer) -2\n> SREM user_sessions:9 k1\n(integer) 1\n",
        // The safe mode: one transaction; a WATCHed index changed by another login aborts EXEC.
        "# redsh: literal mode off",
        "(TX)> HSET session:c2 user_id 7 ",
        "(TX)> EXEC\n(nil)\n",
        "(TX)> DEL session:k2\nQUEUED\n(TX)> SREM user_sessions:9 k2\nQUEUED\n",
    ] {
        let found = shown[at..].find(step).unwrap_or_else(|| panic!("missing, in order: {step:?}\n{shown}"));
        at += found + step.len();
    }
    // The last fsck leaves a clean store: the demo exits 0.
    let last_fsck = shown.lines().rfind(|l| l.starts_with("# fsck: ")).unwrap();
    assert!(last_fsck.ends_with(" repaired"), "{last_fsck}");
}
