//! Seeing the store: `events` (keyspace notifications, live), `stats`, `fsck [--repair]` and
//! `--audit-stream`, against real servers. State is checked with redis-cli, a separate client.
//! Waits are bounded only so that a broken build fails instead of hanging: nothing is timed.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command};

use crate::harness::{Cluster, Redsh, Server};

fn redsh(srv: &Server) -> Redsh {
    Redsh::new().port(srv.port)
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// The `# ` summary lines of a transcript, without the `# `.
fn summaries(out: &str) -> Vec<&str> {
    out.lines().filter_map(|l| l.strip_prefix("# ")).collect()
}

/// The echo of the listening connection's SUBSCRIBE, as the shell prints it.
fn subscribe_echo(port: u16) -> String {
    format!(
        "127.0.0.1:{port}> SUBSCRIBE __keyevent@0__:expired __keyevent@0__:evicted __keyevent@0__:del __keyevent@0__:expire\n"
    )
}

#[test]
fn an_expiring_session_is_shown_and_its_index_entry_pruned() {
    let srv = Server::start();
    let p = srv.port;
    let run = redsh(&srv)
        .args(&["--enable-notifications"])
        .stdin(
            "login 101 suhel teacher --id long1 --ttl 100\n\
             login 101 suhel teacher --id abc123 --ttl 1\n\
             events 60 --count 1\n",
        )
        .run()
        .success();
    let out = &run.stdout;
    let expected = [
        format!("127.0.0.1:{p}> CONFIG GET notify-keyspace-events\n1) \"notify-keyspace-events\"\n2) \"\"\n"),
        format!(
            "# events: to turn them on: CONFIG SET notify-keyspace-events Egxe\n\
             127.0.0.1:{p}> CONFIG SET notify-keyspace-events Egxe\nOK\n"
        ),
        subscribe_echo(p),
        format!(
            "# expired: session abc123 of user 101 (suhel, teacher)\n\
             127.0.0.1:{p}> SREM user_sessions:101 abc123\n(integer) 1\n"
        ),
    ];
    let mut at = 0;
    for part in &expected {
        let found =
            out[at..].find(part.as_str()).unwrap_or_else(|| panic!("missing, in order: {part}\nin:\n{out}"));
        at += found + part.len();
    }
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with("# events: stopped after ")
            && last
                .contains(": 1 session event(s), 1 index entry pruned; the listening connection received 1 "),
        "{last}"
    );
    // Through another client: the expired id is gone from the index, the live one stays.
    assert_eq!(srv.get(&["SMEMBERS", "user_sessions:101"]), "long1");
    assert_eq!(srv.get(&["CONFIG", "GET", "notify-keyspace-events"]), "notify-keyspace-events\ngxeE");
}

#[test]
fn events_without_notifications_says_what_to_run_and_changes_nothing() {
    let srv = Server::start();
    let run = redsh(&srv).stdin("events 1\n").run().code(1);
    assert!(
        summaries(&run.stdout).contains(&"events: to turn them on: CONFIG SET notify-keyspace-events Egxe"),
        "{}",
        run.stdout
    );
    assert_eq!(
        run.stderr,
        "redsh: line 1: events needs keyspace notifications on 127.0.0.1:{}: run CONFIG SET \
         notify-keyspace-events Egxe, or start redsh with --enable-notifications\n"
            .replace("{}", &srv.port.to_string())
    );
    assert!(!run.stdout.contains("CONFIG SET notify-keyspace-events Egxe\nOK"));
    assert_eq!(srv.get(&["CONFIG", "GET", "notify-keyspace-events"]), "notify-keyspace-events");
    // Evictions only: it listens, and says what would add them.
    srv.cli(&["CONFIG", "SET", "notify-keyspace-events", "Egx"]);
    let run = redsh(&srv).stdin("events 0.1\n").run().success();
    assert!(
        summaries(&run.stdout).iter().any(|l| l.starts_with("events: evictions will not show")
            && l.ends_with("(CONFIG SET notify-keyspace-events gxEe adds it)")),
        "{}",
        run.stdout
    );
    // In a script, `events` needs a duration.
    let run = redsh(&srv).stdin("events\n").run().code(1);
    assert!(run.stderr.contains("in a script give a duration: events SECONDS"), "{}", run.stderr);
}

#[test]
fn where_config_is_forbidden_events_says_so_and_still_listens() {
    // Notifications set by whoever runs the server; CONFIG refused to this ACL user.
    let srv = Server::with_args(&["--notify-keyspace-events", "Egxe"]);
    srv.cli(&["ACL", "SETUSER", "app", "on", ">pw", "~*", "&*", "+@all", "-config"]);
    let run = redsh(&srv)
        .args(&["--user", "app", "-a", "pw", "--no-auth-warning", "--enable-notifications"])
        .stdin("login 101 suhel teacher --id abc123 --ttl 1\nevents 60 --count 1\n")
        .run()
        .success();
    assert!(
        run.stdout.contains("(error) NOPERM this user has no permissions to run the 'config|get' command\n")
    );
    assert!(
        summaries(&run.stdout).iter().any(|l| l.starts_with("events: this ACL user may not run CONFIG")
            && l.contains("set notify-keyspace-events to Egxe")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("# expired: session abc123 of user 101 (suhel, teacher)\n"),
        "{}",
        run.stdout
    );

    // CONFIG renamed away, as managed services do.
    let managed = Server::with_args(&["--notify-keyspace-events", "Egxe", "--rename-command", "CONFIG", ""]);
    let run = Redsh::new().port(managed.port).stdin("events 0.1\n").run().success();
    assert!(run.stdout.contains("(error) ERR unknown command 'CONFIG'"), "{}", run.stdout);
    assert!(
        summaries(&run.stdout).iter().any(|l| l.contains("CONFIG is disabled or renamed on this server")),
        "{}",
        run.stdout
    );
}

/// A redsh running a script whose output is read as it comes.
struct Live {
    child: Child,
    out: BufReader<ChildStdout>,
    seen: String,
}

impl Live {
    #[track_caller]
    fn start(port: u16, args: &[&str], script: &str) -> Live {
        let mut child = Redsh::new().port(port).args(args).spawn();
        child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        Live { child, out, seen: String::new() }
    }

    /// Reads lines until one starts with `prefix`; returns it.
    #[track_caller]
    fn until(&mut self, prefix: &str) -> String {
        loop {
            let mut line = String::new();
            let n = self.out.read_line(&mut line).unwrap();
            assert!(n > 0, "ended before a line starting with {prefix:?}:\n{}", self.seen);
            self.seen.push_str(&line);
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    #[track_caller]
    fn finish(mut self) -> String {
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.out, &mut rest).unwrap();
        self.seen.push_str(&rest);
        assert!(self.child.wait().unwrap().success(), "{}", self.seen);
        self.seen
    }
}

#[test]
fn logout_renew_delete_and_eviction_by_other_clients_are_shown_with_their_user() {
    let srv = Server::with_args(&["--notify-keyspace-events", "Egxe", "--maxmemory-policy", "volatile-ttl"]);
    let p = srv.port;
    // The watcher knows a1, b1, c1 from its own logins.
    let mut watcher = Live::start(
        p,
        &[],
        "login 101 suhel teacher --id a1\nlogin 102 bob student --id b1\nlogin 103 carl guest --id c1\n\
         events 120 --count 5\n",
    );
    watcher.until("# events: that SUBSCRIBE runs on a separate connection");
    // d1 it learns by reading it (the TTL its login sets is notified), before b1's logout is.
    redsh(&srv).stdin("login 104 dan staff --id d1\nrenew a1\nlogout b1\n").run().success();
    let renewed = watcher.until("# renewed:");
    assert!(
        renewed.starts_with("# renewed: session a1 is now ")
            && renewed.ends_with(" of user 101 (suhel, teacher)\n"),
        "{renewed}"
    );
    assert_eq!(watcher.until("# deleted:"), "# deleted: session b1 of user 102 (bob, student)\n");
    srv.cli(&["DEL", "session:d1"]);
    assert_eq!(watcher.until("# deleted:"), "# deleted: session d1 of user 104 (dan, staff)\n");
    // Out of memory with volatile-ttl: every key with a TTL is evicted.
    srv.cli(&["CONFIG", "SET", "maxmemory", "1"]);
    srv.cli(&["SET", "filler", "x"]);
    srv.cli(&["CONFIG", "SET", "maxmemory", "0"]);
    let out = watcher.finish();
    assert!(
        out.contains("# evicted: session c1 of user 103 (carl, guest) (the server reached maxmemory)\n"),
        "{out}"
    );
    assert!(out.contains(&format!("127.0.0.1:{p}> SREM user_sessions:103 c1\n")), "{out}");
    assert!(out.contains(": 5 session event(s), "), "{out}");
    assert!(out.contains(" sent 2 HMGET lookup(s)"), "d1 and a1's new id: {out}");
    assert_eq!(srv.get(&["EXISTS", "session:c1"]), "0");
}

#[test]
fn events_listen_on_every_master_of_a_cluster() {
    let c = Cluster::start();
    let mut input = String::new();
    for u in 0..9 {
        input.push_str(&format!("login {u} user{u} student --id s{u} --ttl 1\n"));
        input.push_str(&format!("login {u} user{u} student --id keep{u} --ttl 300\n"));
    }
    input.push_str("events 120 --count 9\n");
    let run = Redsh::new()
        .port(c.nodes[0].port)
        .args(&["-c", "--enable-notifications"])
        .stdin(&input)
        .run()
        .success();
    for n in &c.nodes {
        assert!(run.stdout.contains(&subscribe_echo(n.port)), "no SUBSCRIBE on {}:\n{}", n.port, run.stdout);
        assert_eq!(n.get(&["CONFIG", "GET", "notify-keyspace-events"]), "notify-keyspace-events\ngxeE");
    }
    let ports: BTreeSet<u16> = (0..9).map(|u| c.owner(&format!("session:s{u}")).port).collect();
    assert_eq!(ports.len(), 3, "the expiring sessions should live on every node");
    for u in 0..9 {
        assert!(run.stdout.contains(&format!("# expired: session s{u} of user {u} (user{u}, student)\n")));
        let port = c.owner(&format!("user_sessions:{u}")).port;
        assert!(
            run.stdout.contains(&format!("127.0.0.1:{port}> SREM user_sessions:{u} s{u}\n(integer) 1\n"))
        );
        assert_eq!(c.cli(&["SMEMBERS", &format!("user_sessions:{u}")]), format!("keep{u}"));
    }
}

/// 3000 sessions: users 0..37, roles in turn, a tenth expiring within a minute and another tenth
/// within an hour; and three that never expire.
fn population(srv: &Server) {
    const ROLES: [&str; 3] = ["student", "teacher", "admin"];
    let mut input = String::new();
    for i in 0..3000 {
        let ttl = match i % 10 {
            0 => 59,
            1 => 1000,
            _ => 7200,
        };
        input.push_str(&format!("login {} user{} {} --ttl {ttl}\n", i % 37, i % 37, ROLES[i % 3]));
    }
    for i in 0..3 {
        input.push_str(&format!("login 999 auditor auditor --id forever{i}\n"));
    }
    redsh(srv).args(&["--no-echo"]).stdin(&input).run().success();
    for i in 0..3 {
        srv.cli(&["PERSIST", &format!("session:forever{i}")]);
    }
}

#[test]
fn stats_count_a_known_population_exactly() {
    let srv = Server::start();
    population(&srv);
    let run = redsh(&srv).stdin("stats 5\n").run().success();
    let lines = summaries(&run.stdout);
    assert_eq!(
        lines[..4],
        [
            "stats: 3003 live session(s) in 3003 key(s) matching session:*",
            "  by role: admin 1000, student 1000, teacher 1000, auditor 3",
            // 3000 / 37 = 81, remainder 3: users 0, 1 and 2 have one more.
            "  top 5 of 38 user(s) by sessions: 0 (82), 1 (82), 2 (82), 10 (81), 11 (81)",
            "  expiring within a minute: 300; within an hour: 600",
        ],
        "{}",
        run.stdout
    );
    assert!(
        lines[4].starts_with("  time left: average ")
            && lines[4].ends_with("(over 3000 session(s) with a TTL)")
    );
    assert_eq!(lines[5], "  without a TTL (never expire): 3");
    assert!(
        lines[6].starts_with("  memory: ") && lines[6].contains("(MEMORY USAGE of 100 sampled)"),
        "{}",
        lines[6]
    );
    let sent = lines[7];
    assert!(sent.starts_with("sent without echo (replies summarised above): "), "{sent}");
    assert!(sent.contains(" × SCAN <cursor> MATCH session:* COUNT 1000, "), "{sent}");
    assert!(
        sent.ends_with(
            ", 3003 × HMGET session:<id> user_id role, 3003 × TTL session:<id>, 100 × MEMORY USAGE session:<id>"
        ),
        "{sent}"
    );
    assert_eq!(lines.len(), 8);
    assert!(!run.stdout.contains(&format!("127.0.0.1:{}>", srv.port)), "reads are counted, not echoed");
}

#[test]
fn stats_on_a_cluster_scan_every_master_and_count_what_they_sent() {
    let c = Cluster::start();
    let mut input = String::new();
    for u in 0..30 {
        input.push_str(&format!("login {u} user{u} student --id s{u}\n"));
    }
    Redsh::new().port(c.nodes[0].port).args(&["-c", "--no-echo"]).stdin(&input).run().success();
    let owners: BTreeSet<u16> = (0..30).map(|u| c.owner(&format!("session:s{u}")).port).collect();
    assert_eq!(owners.len(), 3, "the sessions are spread over the three masters");
    let run = Redsh::new().port(c.nodes[0].port).args(&["-c"]).stdin("stats\n").run().success();
    let lines = summaries(&run.stdout);
    assert_eq!(lines[0], "stats: 30 live session(s) in 30 key(s) matching session:*", "{}", run.stdout);
    // Each master scanned once: 30 different users, never one node's ten counted thrice.
    assert!(lines[2].starts_with("  top 10 of 30 user(s) by sessions: 0 (1), 1 (1), "), "{}", lines[2]);
    assert_eq!(
        lines.last().copied(),
        Some(
            "sent without echo (replies summarised above): 3 × SCAN <cursor> MATCH session:* COUNT 1000, \
             30 × HMGET session:<id> user_id role, 30 × TTL session:<id>, 30 × MEMORY USAGE session:<id>"
        )
    );
    assert_eq!(run.stdout.lines().count(), lines.len(), "reads are counted, not echoed:\n{}", run.stdout);
}

/// Seeds one of each kind of damage; returns the findings fsck should print.
fn damage(srv: &Server, flags: &[&str]) -> BTreeSet<String> {
    redsh(srv)
        .args(flags)
        .args(&["--no-echo"])
        .stdin(
            "login 101 suhel teacher --id good1\nlogin 102 amy student --id notidx\n\
             login 103 bob student --id nottl\nlogin 106 eve admin --id misp\n",
        )
        .run()
        .success();
    let old = (now() - 9 * 3600).to_string();
    let mut script = String::new();
    for cmd in [
        vec!["SADD", "user_sessions:101", "ghost"],
        vec!["SADD", "user_sessions:101", "misp"],
        vec!["SREM", "user_sessions:102", "notidx"],
        vec!["PERSIST", "session:nottl"],
        vec![
            "HSET",
            "session:old",
            "user_id",
            "104",
            "username",
            "o",
            "role",
            "r",
            "login_time",
            &old,
            "ip",
            "1",
        ],
        vec!["EXPIRE", "session:old", "600"],
        vec!["SADD", "user_sessions:104", "old"],
        vec!["EXPIRE", "user_sessions:104", "600"],
        vec!["HSET", "session:bad", "user_id", "105", "username", "x"],
        vec!["EXPIRE", "session:bad", "600"],
        vec!["SADD", "user_sessions:105", "bad"],
        vec!["EXPIRE", "user_sessions:105", "600"],
        vec![
            "HSET",
            "session:badtime",
            "user_id",
            "105",
            "username",
            "x",
            "role",
            "r",
            "login_time",
            "soon",
            "ip",
            "1",
        ],
        vec!["EXPIRE", "session:badtime", "600"],
        vec!["SET", "session:str", "x"],
        vec!["SET", "user_sessions:107", "x"],
    ] {
        script.push_str(&cmd.join(" "));
        script.push('\n');
    }
    // In one client, right after the logins: a session without TTL needs its index to live a full
    // idle timeout, so an index more than a second older than the check is a finding of its own.
    srv.cli_stdin(&[], script.as_bytes());
    [
        "stale index entry: user_sessions:101 lists ghost, whose session is gone",
        "misplaced index entry: user_sessions:101 lists misp, a session of user 106",
        "malformed index: user_sessions:107 is a string, not a set",
        "no TTL: session nottl of user 103 never expires",
        "not in its index: session notidx of user 102 is missing from its user's index",
        "past its absolute deadline: session old of user 104, by 1h (login_time + --absolute-ttl)",
        "malformed session: bad: missing role, login_time, ip",
        "malformed session: badtime: login_time is not a number ('soon')",
        "malformed session: session:str is a string, not a hash",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// The finding lines of an fsck transcript (the summary lines that are not its totals).
fn findings(out: &str) -> BTreeSet<String> {
    summaries(out)
        .into_iter()
        .filter(|l| !l.starts_with("fsck: ") && !l.starts_with("sent without echo"))
        // "by 1h3s": the seconds depend on when the check ran.
        .map(|l| match l.find(", by 1h") {
            Some(i) => format!("{}, by 1h (login_time + --absolute-ttl)", &l[..i]),
            None => l.to_owned(),
        })
        .collect()
}

#[test]
fn fsck_finds_each_kind_of_damage_and_repair_fixes_it() {
    let srv = Server::start();
    let p = srv.port;
    let expected = damage(&srv, &[]);
    let check = redsh(&srv).stdin("fsck\n").run().code(1);
    assert_eq!(findings(&check.stdout), expected, "{}", check.stdout);
    assert!(check.stdout.contains(
        "# fsck: checked 6 index(es) and 8 session key(s): 9 problem(s); `fsck --repair` fixes them\n"
    ));
    assert_eq!(check.stderr, "redsh: line 1: fsck found 9 problem(s) and left 9 as they were\n");
    assert!(!check.stdout.contains(&format!("127.0.0.1:{p}>")), "a check writes nothing");

    let fix = redsh(&srv).stdin("fsck --repair\n").run().success();
    assert_eq!(findings(&fix.stdout), expected);
    for write in [
        "SREM user_sessions:101 ghost misp\n(integer) 2",
        "DEL user_sessions:107\n(integer) 1",
        "EXPIRE session:nottl 1800\n",
        "SADD user_sessions:102 notidx\n",
        "DEL session:old\n",
        "SREM user_sessions:104 old\n",
        "DEL session:bad\n",
        "DEL session:badtime\n",
        "DEL session:str\n(integer) 1",
    ] {
        assert!(fix.stdout.contains(&format!("> {write}")), "no echoed {write:?} in:\n{}", fix.stdout);
    }
    assert!(fix.stdout.contains(": 9 problem(s), 9 repaired\n"));

    // The state, through another client.
    assert_eq!(srv.get(&["SMEMBERS", "user_sessions:101"]), "good1");
    assert_eq!(srv.get(&["SMEMBERS", "user_sessions:102"]), "notidx");
    assert!(srv.get(&["TTL", "user_sessions:102"]).parse::<i64>().unwrap() > 1700);
    assert!(srv.get(&["TTL", "session:nottl"]).parse::<i64>().unwrap() > 1700);
    assert_eq!(
        srv.get(&[
            "EXISTS",
            "session:old",
            "session:bad",
            "session:badtime",
            "session:str",
            "user_sessions:107"
        ]),
        "0"
    );
    assert_eq!(srv.get(&["SMEMBERS", "user_sessions:104"]), "");

    let again = redsh(&srv).stdin("fsck\n").run().success();
    assert!(again.stdout.contains(": no problems\n"), "{}", again.stdout);
}

#[test]
fn fsck_reads_tagged_and_hashed_ids_by_their_keys() {
    let srv = Server::start();
    let flags = ["--key-layout", "tagged", "--hash-ids"];
    redsh(&srv)
        .args(&flags)
        .args(&["--no-echo"])
        .stdin("login 7 ann student --id a\nlogin 7 ann student --id b\n")
        .run()
        .success();
    let (a, b) = (format!("{{7}}:{}", sha256("7~a")), format!("{{7}}:{}", sha256("7~b")));
    srv.cli(&["SADD", "user_sessions:{7}", "{7}:ghost"]);
    srv.cli(&["SREM", "user_sessions:{7}", &b]);
    srv.cli(&["PERSIST", &format!("session:{a}")]);
    // Whatever --key-layout says, each key names its layout.
    let fix = redsh(&srv).stdin("fsck --repair\n").run().success();
    assert!(fix.stdout.contains("> SREM user_sessions:{7} {7}:ghost\n"), "{}", fix.stdout);
    assert!(fix.stdout.contains(&format!("> SADD user_sessions:{{7}} {b}\n")), "{}", fix.stdout);
    assert!(fix.stdout.contains(&format!("> EXPIRE session:{a} 1800\n")), "{}", fix.stdout);
    let members: BTreeSet<String> =
        srv.get(&["SMEMBERS", "user_sessions:{7}"]).lines().map(str::to_owned).collect();
    assert_eq!(members, [a, b].into_iter().collect());
    assert!(redsh(&srv).args(&flags).stdin("fsck\n").run().success().stdout.contains(": no problems\n"));
}

/// SHA-256 in hex, as `--hash-ids` stores an id (computed by the system's sha256sum).
fn sha256(id: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(format!("printf %s '{id}' | sha256sum")).output().unwrap();
    String::from_utf8(out.stdout).unwrap().split(' ').next().unwrap().to_owned()
}

/// The field/value lines of an XRANGE in raw form, without the entry ids.
fn stream_fields(xrange: &str) -> Vec<&str> {
    let is_id = |l: &str| {
        l.split_once('-').is_some_and(|(a, b)| a.parse::<u64>().is_ok() && b.parse::<u64>().is_ok())
    };
    xrange.lines().filter(|l| !is_id(l)).collect()
}

#[test]
fn audit_stream_records_each_change_in_its_transaction() {
    let srv = Server::start();
    let p = srv.port;
    let run = redsh(&srv)
        .args(&["--audit-stream", "session_events"])
        .stdin("login 101 suhel teacher --id abc123\nlogout\n")
        .run()
        .success();
    for (event, rest) in [("login", "id abc123 user 101 role teacher"), ("logout", "id abc123 user 101")] {
        let xadd = format!(
            "127.0.0.1:{p}(TX)> XADD session_events MAXLEN ~ 10000 * event {event} {rest}\nQUEUED\n127.0.0.1:{p}(TX)> EXEC\n"
        );
        assert!(run.stdout.contains(&xadd), "{xadd} in:\n{}", run.stdout);
    }
    assert_eq!(
        stream_fields(&srv.get(&["XRANGE", "session_events", "-", "+"])),
        [
            "event", "login", "id", "abc123", "user", "101", "role", "teacher", "event", "logout", "id",
            "abc123", "user", "101"
        ]
    );

    // With --hash-ids the stream holds the stored hash, never the token.
    srv.flush();
    redsh(&srv)
        .args(&["--hash-ids", "--audit-stream", "session_events"])
        .stdin("login 101 suhel teacher --id secret-token\nlogout\n")
        .run()
        .success();
    let entries = srv.get(&["XRANGE", "session_events", "-", "+"]);
    assert!(!entries.contains("secret-token"), "{entries}");
    assert_eq!(
        stream_fields(&entries).iter().filter(|f| **f == sha256("secret-token")).count(),
        2,
        "{entries}"
    );
}

#[test]
fn fsck_repairs_are_audited_in_their_transaction() {
    let srv = Server::start();
    let p = srv.port;
    damage(&srv, &[]);
    let fix =
        redsh(&srv).args(&["--audit-stream", "session_events"]).stdin("fsck --repair\n").run().success();
    assert!(fix.stdout.contains(": 9 problem(s), 9 repaired\n"), "{}", fix.stdout);
    // A repair of one command becomes a transaction with its entry.
    let stale = format!(
        "127.0.0.1:{p}> MULTI\nOK\n127.0.0.1:{p}(TX)> SREM user_sessions:101 ghost misp\nQUEUED\n\
         127.0.0.1:{p}(TX)> XADD session_events MAXLEN ~ 10000 * event repair finding stale-entry index user_sessions:101 id ghost\nQUEUED\n"
    );
    assert!(fix.stdout.contains(&stale), "{stale} in:\n{}", fix.stdout);
    let entries = srv.get(&["XRANGE", "session_events", "-", "+"]);
    let findings: BTreeSet<&str> =
        entries.lines().collect::<Vec<_>>().windows(2).filter(|w| w[0] == "finding").map(|w| w[1]).collect();
    assert_eq!(
        findings,
        [
            "stale-entry",
            "misplaced-entry",
            "malformed-index",
            "no-ttl",
            "not-in-index",
            "past-deadline",
            "malformed-session"
        ]
        .into_iter()
        .collect()
    );
    assert_eq!(srv.get(&["XLEN", "session_events"]), "9");
}

#[test]
fn fsck_repairs_a_cluster_on_every_master_and_audits_each_repair() {
    let c = Cluster::start();
    let mut input = String::new();
    for u in 0..6 {
        input.push_str(&format!("login {u} user{u} student --id s{u}\n"));
    }
    Redsh::new().port(c.nodes[0].port).args(&["-c", "--no-echo"]).stdin(&input).run().success();
    // Damage spread over the nodes: stale entries, sessions without TTL, sessions out of their index.
    // Done and checked at once: a session without TTL needs its index to live a full idle timeout,
    // so an index more than a second older than the check is a finding of its own.
    for u in 0..2 {
        c.cli(&["SADD", &format!("user_sessions:{u}"), "ghost"]);
    }
    for u in 2..4 {
        c.cli(&["PERSIST", &format!("session:s{u}")]);
    }
    for u in 4..6 {
        c.cli(&["SREM", &format!("user_sessions:{u}"), &format!("s{u}")]);
    }
    let run = Redsh::new()
        .port(c.nodes[0].port)
        .args(&["-c", "--audit-stream", "session_events"])
        .stdin("fsck --repair\nfsck\n")
        .run()
        .success();
    assert!(run.stdout.contains(": 6 problem(s), 6 repaired\n"), "{}", run.stdout);
    assert!(run.stdout.contains(": no problems\n"), "{}", run.stdout);
    let nodes: BTreeSet<u16> = (0..6)
        .flat_map(|u| [format!("user_sessions:{u}"), format!("session:s{u}")])
        .map(|k| c.owner(&k).port)
        .collect();
    assert_eq!(nodes.len(), 3, "the damage was spread over the three masters");
    for bad in ["CROSSSLOT", "MOVED", "(error)"] {
        assert!(!run.stdout.contains(bad), "{bad}:\n{}", run.stdout);
    }
    let entries = c.cli(&["XRANGE", "session_events", "-", "+"]);
    let findings: Vec<&str> =
        entries.lines().collect::<Vec<_>>().windows(2).filter(|w| w[0] == "finding").map(|w| w[1]).collect();
    let count = |kind: &str| findings.iter().filter(|f| **f == kind).count();
    assert_eq!((count("stale-entry"), count("no-ttl"), count("not-in-index")), (2, 2, 2), "{entries}");
}

#[test]
fn audit_stream_on_a_cluster_follows_each_change() {
    let c = Cluster::start();
    Redsh::new()
        .port(c.nodes[0].port)
        .args(&["-c", "--audit-stream", "session_events"])
        .stdin("login 101 suhel teacher --id abc123\ntouch\nlogout\n")
        .run()
        .success();
    let entries = c.cli(&["XRANGE", "session_events", "-", "+"]);
    let events: Vec<&str> =
        entries.lines().collect::<Vec<_>>().windows(2).filter(|w| w[0] == "event").map(|w| w[1]).collect();
    assert_eq!(events, ["login", "touch", "logout"]);
}

mod terminal {
    use std::process::Command;

    use rexpect::session::spawn_command;

    use crate::harness::{Server, redsh_bin};

    #[test]
    fn background_events_print_above_the_prompt_and_keep_the_typed_line() {
        let srv = Server::with_args(&["--notify-keyspace-events", "Egxe"]);
        let mut cmd = Command::new(redsh_bin());
        cmd.env("TERM", "xterm")
            .env("NO_COLOR", "1")
            .env("REDSH_HISTFILE", "/dev/null")
            .env_remove("REDISCLI_AUTH")
            .args(["-p", &srv.port.to_string(), "--events"]);
        let mut t = spawn_command(cmd, Some(20_000)).unwrap();
        t.exp_string("events: listening in the background").unwrap();
        t.exp_string(&format!("127.0.0.1:{}> ", srv.port)).unwrap();
        // A session that expires soon, then half a command typed while it does.
        t.send("login 101 suhel teacher --id keep --ttl 300\r").unwrap();
        t.flush().unwrap();
        t.exp_string("(suhel@keep)> ").unwrap();
        t.send("login 101 suhel teacher --id abc123 --ttl 2\r").unwrap();
        t.flush().unwrap();
        t.exp_string("(suhel@abc123)> ").unwrap();
        t.send("GET fo").unwrap();
        t.flush().unwrap();
        // The event, its echoed SREM, then the prompt drawn again with the half-typed line.
        t.exp_string("# expired: session abc123 of user 101 (suhel, teacher)\r\n").unwrap();
        t.exp_string(&format!("127.0.0.1:{}> SREM user_sessions:101 abc123\r\n(integer) 1\r\n", srv.port))
            .unwrap();
        t.exp_string(&format!("127.0.0.1:{} (suhel@abc123)> GET fo", srv.port)).unwrap();
        // The line being typed is still there: finishing it sends GET foo.
        t.send("o\r").unwrap();
        t.flush().unwrap();
        t.exp_string("(nil)").unwrap();
        t.send("events off\r").unwrap();
        t.flush().unwrap();
        t.exp_string("events: stopped: 1 session event(s), 1 index entry pruned").unwrap();
        t.send_control('d').unwrap();
        t.exp_eof().unwrap();
        assert_eq!(srv.get(&["SMEMBERS", "user_sessions:101"]), "keep");
    }

    #[test]
    fn the_background_listener_moves_with_connect_and_select() {
        let a = Server::with_args(&["--notify-keyspace-events", "Egx"]);
        let b = Server::with_args(&["--notify-keyspace-events", "Egx"]);
        let mut cmd = Command::new(redsh_bin());
        cmd.env("TERM", "xterm")
            .env("NO_COLOR", "1")
            .env("REDSH_HISTFILE", "/dev/null")
            .env_remove("REDISCLI_AUTH")
            .args(["-p", &a.port.to_string(), "--events"]);
        let mut t = spawn_command(cmd, Some(20_000)).unwrap();
        t.exp_string(&format!("127.0.0.1:{}> SUBSCRIBE __keyevent@0__:expired", a.port)).unwrap();
        t.exp_string(&format!("127.0.0.1:{}> ", a.port)).unwrap();
        t.send(&format!("connect 127.0.0.1 {}\r", b.port)).unwrap();
        t.flush().unwrap();
        t.exp_string("events: stopped: 0 session event(s)").unwrap();
        t.exp_string(&format!("127.0.0.1:{}> SUBSCRIBE __keyevent@0__:expired", b.port)).unwrap();
        t.exp_string("events: listening in the background").unwrap();
        t.send("SELECT 2\r").unwrap();
        t.flush().unwrap();
        t.exp_string(&format!("127.0.0.1:{}[2]> SUBSCRIBE __keyevent@2__:expired", b.port)).unwrap();
        t.exp_string("events: listening in the background").unwrap();
        // Sessions on the new server and database: an expiry is heard and its entry pruned there.
        t.send("login 101 suhel teacher --id keep --ttl 300\r").unwrap();
        t.flush().unwrap();
        t.exp_string("(suhel@keep)> ").unwrap();
        t.send("login 101 suhel teacher --id abc123 --ttl 1\r").unwrap();
        t.flush().unwrap();
        t.exp_string("# expired: session abc123 of user 101 (suhel, teacher)").unwrap();
        t.exp_string(&format!("127.0.0.1:{}[2]> SREM user_sessions:101 abc123\r\n(integer) 1", b.port))
            .unwrap();
        t.send_control('d').unwrap();
        t.exp_eof().unwrap();
        assert_eq!(b.get(&["-n", "2", "SMEMBERS", "user_sessions:101"]), "keep");
    }

    #[test]
    fn at_the_terminal_events_asks_before_turning_notifications_on_and_ctrl_c_ends_it() {
        let srv = Server::start();
        let mut cmd = Command::new(redsh_bin());
        cmd.env("TERM", "xterm")
            .env("NO_COLOR", "1")
            .env("REDSH_HISTFILE", "/dev/null")
            .env_remove("REDISCLI_AUTH")
            .args(["-p", &srv.port.to_string()]);
        let prompt = format!("127.0.0.1:{}> ", srv.port);
        let mut t = spawn_command(cmd, Some(20_000)).unwrap();
        t.exp_string(&prompt).unwrap();
        t.send("events\r").unwrap();
        t.flush().unwrap();
        t.exp_string("# events: to turn them on: CONFIG SET notify-keyspace-events Egxe").unwrap();
        t.exp_string("Turn them on now with that CONFIG SET? [y/N] ").unwrap();
        t.send("y\r").unwrap();
        t.flush().unwrap();
        t.exp_string(&format!("{prompt}CONFIG SET notify-keyspace-events Egxe\r\nOK\r\n")).unwrap();
        t.exp_string("events: listening in the background").unwrap();
        assert_eq!(srv.get(&["CONFIG", "GET", "notify-keyspace-events"]), "notify-keyspace-events\ngxeE");
        // In the foreground until Ctrl-C, then the shell goes on.
        t.send("events 0\r").unwrap();
        t.flush().unwrap();
        t.exp_string("# events: that SUBSCRIBE runs on a separate connection").unwrap();
        t.send_control('c').unwrap();
        t.exp_string("# events: stopped after ").unwrap();
        t.send("PING\r").unwrap();
        t.flush().unwrap();
        t.exp_string("PONG").unwrap();
        t.send_control('d').unwrap();
        t.exp_eof().unwrap();
    }
}
