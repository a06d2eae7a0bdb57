//! Plain Redis commands: redsh prints every reply byte for byte as the server's own cli does
//! (redis-cli for Redis 7.0, valkey-cli for Valkey 8.1; its terminal form with `--no-raw`, its raw
//! form with `--raw`, RESP2 and RESP3), and with echo on adds exactly one prompt line before each
//! command's replies. Each test runs on every server kind (`name::redis`, `name::valkey`).

use crate::harness::{Kind, Redsh, Run, Server, on_each_server, wait_until};

// The RESP3 tests that print doubles are ignored on Valkey: it sends the shortest form (`0.1`), and
// redsh still prints a double rebuilt from an f64 (`0.10000000000000001`); valkey-cli prints the
// server's text. Redis 7.0 sends `%.17g`, which the rebuilt form happens to equal.

/// Every RESP2 reply form: binary and UTF-8 strings, errors, nested and wide arrays, MULTI, SELECT…
const CORPUS: &[u8] = include_bytes!("data/parity.redis");
/// Maps, sets, doubles, booleans, verbatim strings, as a RESP3 client sees them.
const CORPUS_RESP3: &[u8] = include_bytes!("data/parity_resp3.redis");
/// Scores, increments and GEO replies: every way a command answers with a double.
const CORPUS_DOUBLES: &[u8] = include_bytes!("data/doubles_resp3.redis");

fn lines_of(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.split_inclusive(|&b| b == b'\n')
}

/// The script without redsh's `#` comments, which redis-cli would send to the server.
fn without_comments(script: &[u8]) -> Vec<u8> {
    lines_of(script).filter(|l| !l.trim_ascii_start().starts_with(b"#")).flatten().copied().collect()
}

/// The server's own cli's output for `script` on an empty server (`--no-raw` plus `extra`), with
/// the cli's name in its own messages spelt as redis-cli spells it.
fn redis_cli(srv: &Server, extra: &[&str], script: &[u8]) -> Vec<u8> {
    srv.flush();
    in_redis_cli_words(srv.cli_stdin(extra, &without_comments(script)))
}

/// valkey-cli names itself where redis-cli names itself (`Invalid valkey-cli repeat command option
/// value.`); redsh speaks as redis-cli whatever the server: a deliberate difference, the only one.
fn in_redis_cli_words(out: Vec<u8>) -> Vec<u8> {
    const VALKEY: &[u8] = b"Invalid valkey-cli repeat command option value.\n";
    const REDIS: &[u8] = b"Invalid redis-cli repeat command option value.\n";
    let mut fixed = Vec::with_capacity(out.len());
    let mut rest = &out[..];
    while let Some(at) = rest.windows(VALKEY.len()).position(|w| w == VALKEY) {
        fixed.extend_from_slice(&rest[..at]);
        fixed.extend_from_slice(REDIS);
        rest = &rest[at + VALKEY.len()..];
    }
    fixed.extend_from_slice(rest);
    fixed
}

/// redsh's run of `script` on an empty server.
fn redsh(srv: &Server, flags: &[&str], script: &[u8]) -> Run {
    srv.flush();
    Redsh::new().port(srv.port).args(flags).stdin(script).run()
}

/// Byte equality, shown as text on failure so the first differing line is easy to find.
#[track_caller]
fn assert_same_bytes(actual: &[u8], expected: &[u8]) {
    assert_eq!(String::from_utf8_lossy(actual), String::from_utf8_lossy(expected));
    assert_eq!(actual, expected);
}

fn resp2_replies_print_exactly_as_redis_cli_prints_them(kind: Kind) {
    let srv = Server::start_on(kind);
    let expected = redis_cli(&srv, &[], CORPUS);
    let run = redsh(&srv, &["--no-echo"], CORPUS);
    assert_same_bytes(&run.stdout_bytes, &expected);
    // The corpus has error replies and refused lines, so the script failed; nothing panicked.
    assert_eq!(run.code, 1);
    assert!(!run.stderr.contains("internal error"), "{}", run.stderr);
    assert_eq!(srv.get(&["EXISTS", "after_quit"]), "0");
}
on_each_server!(resp2_replies_print_exactly_as_redis_cli_prints_them);

fn resp3_replies_print_exactly_as_redis_cli_prints_them(kind: Kind) {
    let srv = Server::start_on(kind);
    let expected = redis_cli(&srv, &["-3"], CORPUS_RESP3);
    let run = redsh(&srv, &["--no-echo", "-3"], CORPUS_RESP3);
    assert_same_bytes(&run.stdout_bytes, &expected);
}
on_each_server!(resp3_replies_print_exactly_as_redis_cli_prints_them);

fn resp3_doubles_print_exactly_as_redis_cli_prints_them(kind: Kind) {
    let srv = Server::start_on(kind);
    let expected = redis_cli(&srv, &["-3"], CORPUS_DOUBLES);
    let run = redsh(&srv, &["--no-echo", "-3"], CORPUS_DOUBLES);
    assert_same_bytes(&run.stdout_bytes, &expected);
    let expected = redis_cli(&srv, &["-3", "--raw"], CORPUS_DOUBLES);
    let run = redsh(&srv, &["--no-echo", "-3", "--raw"], CORPUS_DOUBLES);
    assert_same_bytes(&run.stdout_bytes, &expected);
}
on_each_server!(resp3_doubles_print_exactly_as_redis_cli_prints_them);

/// The doubles corpus under RESP2, where every double is a bulk string: the same on every server.
fn resp2_doubles_print_exactly_as_redis_cli_prints_them(kind: Kind) {
    let srv = Server::start_on(kind);
    let expected = redis_cli(&srv, &[], CORPUS_DOUBLES);
    let run = redsh(&srv, &["--no-echo"], CORPUS_DOUBLES);
    assert_same_bytes(&run.stdout_bytes, &expected);
}
on_each_server!(resp2_doubles_print_exactly_as_redis_cli_prints_them);

fn raw_output_matches_redis_cli_raw(kind: Kind) {
    let srv = Server::start_on(kind);
    let expected = redis_cli(&srv, &["--raw"], CORPUS);
    let run = redsh(&srv, &["--no-echo", "--raw"], CORPUS);
    assert_same_bytes(&run.stdout_bytes, &expected);
}
on_each_server!(raw_output_matches_redis_cli_raw);

fn raw_resp3_output_matches_redis_cli_raw(kind: Kind) {
    let srv = Server::start_on(kind);
    let expected = redis_cli(&srv, &["--raw", "-3"], CORPUS_RESP3);
    let run = redsh(&srv, &["--no-echo", "--raw", "-3"], CORPUS_RESP3);
    assert_same_bytes(&run.stdout_bytes, &expected);
}
on_each_server!(raw_resp3_output_matches_redis_cli_raw);

fn crlf_line_endings_give_the_same_output(kind: Kind) {
    let srv = Server::start_on(kind);
    let crlf: Vec<u8> =
        lines_of(CORPUS).flat_map(|l| [l.strip_suffix(b"\n").unwrap_or(l), b"\r\n"].concat()).collect();
    let expected = redis_cli(&srv, &[], CORPUS);
    assert_same_bytes(&redis_cli(&srv, &[], &crlf), &expected);
    let run = redsh(&srv, &["--no-echo"], &crlf);
    assert_same_bytes(&run.stdout_bytes, &expected);
}
on_each_server!(crlf_line_endings_give_the_same_output);

fn hello_3_switches_to_resp3_forms_midway(kind: Kind) {
    let srv = Server::start_on(kind);
    let script =
        b"HSET h f v\nHGETALL h\nHELLO 3\nHGETALL h\nSMEMBERS nos\nZADD z 0.5 m\nZSCORE z m\nHELLO 2\nHGETALL h\n";
    // HELLO's reply carries the connection id, the one value that differs between two clients.
    let mask = |out: &[u8]| {
        let text = String::from_utf8_lossy(out).into_owned();
        text.lines()
            .map(|l| if l.contains("\"id\"") || l.starts_with(" 8) (integer)") { "(id)" } else { l })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let expected = redis_cli(&srv, &[], script);
    let run = redsh(&srv, &["--no-echo"], script).success();
    assert_eq!(mask(&run.stdout_bytes), mask(&expected));
    let (name, version) = match kind {
        Kind::Redis => ("redis", "7.0.15"),
        Kind::Valkey => ("valkey", "8.1.8"),
    };
    let resp3_hello = format!(
        "1# \"server\" => \"{name}\"\n2# \"version\" => \"{version}\"\n3# \"proto\" => (integer) 3\n(id)\n\
         5# \"mode\" => \"standalone\"\n6# \"role\" => \"master\"\n7# \"modules\" => (empty array)"
    );
    let resp2_hello = format!(
        " 1) \"server\"\n 2) \"{name}\"\n 3) \"version\"\n 4) \"{version}\"\n 5) \"proto\"\n 6) \
         (integer) 2\n(id)\n(id)\n 9) \"mode\"\n10) \"standalone\"\n11) \"role\"\n\
         12) \"master\"\n13) \"modules\"\n14) (empty array)"
    );
    assert_eq!(
        mask(&expected),
        format!(
            "(integer) 1\n1) \"f\"\n2) \"v\"\n{resp3_hello}\n1# \"f\" => \"v\"\n(empty set)\n(integer) 1\n\
             (double) 0.5\n{resp2_hello}\n1) \"f\"\n2) \"v\""
        )
    );
}
on_each_server!(hello_3_switches_to_resp3_forms_midway);

/// RESP3 big numbers and attributes: redis-cli exits on them, redsh prints its documented forms.
fn resp3_big_numbers_and_attributes_print_what_the_server_meant(kind: Kind) {
    let srv = Server::start_on(kind);
    let script = b"DEBUG PROTOCOL bignum\nDEBUG PROTOCOL attrib\n\
                   EVAL \"return {big_number='-12345678901234567890123'}\" 0\nPING\n";
    let run = redsh(&srv, &["--no-echo", "-3"], script).success();
    assert_eq!(
        run.stdout,
        "(big number) 1234567999999999999999999999999999999\n\
         \"Some real reply following the attribute\"\n\
         (big number) -12345678901234567890123\n\
         PONG\n"
    );
    let run = redsh(&srv, &["--no-echo", "--raw", "-3"], script).success();
    assert_eq!(
        run.stdout,
        "1234567999999999999999999999999999999\n\
         Some real reply following the attribute\n\
         -12345678901234567890123\n\
         PONG\n"
    );
}
on_each_server!(resp3_big_numbers_and_attributes_print_what_the_server_meant);

/// One line of the echo corpus: the line, and the echo of each command it sends (`@` is
/// `127.0.0.1:PORT`). A line redis-cli refuses sends nothing and is echoed nowhere.
const ECHO_CORPUS: &[(&str, &[&str])] = &[
    ("SET k v", &["@> SET k v"]),
    ("set   \"two words\"   'x'", &["@> set \"two words\" x"]),
    ("ECHO \"\\xff\\x00\u{e9}\"", &["@> ECHO \"\\xff\\x00\\xc3\\xa9\""]),
    ("ECHO \"\"", &["@> ECHO \"\""]),
    ("ECHO ''", &["@> ECHO \"\""]),
    ("ECHO \"it's\"", &["@> ECHO \"it's\""]),
    ("ECHO 'say \"hi\"'", &["@> ECHO \"say \\\"hi\\\"\""]),
    ("ECHO a\\b", &["@> ECHO a\\b"]),
    ("ECHO \"tab\\there\\n\"", &["@> ECHO \"tab\\there\\n\""]),
    ("ECHO session:abc123 192.168.1.10 a=b {x} ~*", &["@> ECHO session:abc123 192.168.1.10 a=b {x} ~*"]),
    ("ECHO \"unbalanced", &[]),
    ("3 INCR n", &["@> INCR n", "@> INCR n", "@> INCR n"]),
    ("0 PING", &[]),
    ("NOSUCH cmd", &["@> NOSUCH cmd"]),
    ("MULTI", &["@> MULTI"]),
    ("SET t 1", &["@(TX)> SET t 1"]),
    ("EXEC", &["@(TX)> EXEC"]),
    ("SELECT 2", &["@> SELECT 2"]),
    ("PING", &["@[2]> PING"]),
    ("MULTI", &["@[2]> MULTI"]),
    ("SELECT 3", &["@[2](TX)> SELECT 3"]),
    ("DISCARD", &["@[3](TX)> DISCARD"]),
    ("PING", &["@[2]> PING"]),
    ("SELECT 0", &["@[2]> SELECT 0"]),
    ("GET k", &["@> GET k"]),
];

fn echo_adds_one_prompt_line_before_each_reply(kind: Kind) {
    let srv = Server::start_on(kind);
    let lines: Vec<&str> = ECHO_CORPUS.iter().map(|(line, _)| *line).collect();
    // redis-cli's replies to each line: the growth of its output when that line is added.
    let mut replies = Vec::new();
    let mut before = Vec::new();
    for n in 1..=lines.len() {
        let after = redis_cli(&srv, &[], format!("{}\n", lines[..n].join("\n")).as_bytes());
        assert!(after.starts_with(&before), "redis-cli's output is not deterministic");
        replies.push(after[before.len()..].to_vec());
        before = after;
    }
    let at = format!("127.0.0.1:{}", srv.port);
    let mut expected = Vec::new();
    for ((_, echoes), reply) in ECHO_CORPUS.iter().zip(&replies) {
        if echoes.is_empty() {
            expected.extend_from_slice(reply);
            continue;
        }
        // A repeated command: one reply line per run.
        let mut reply_lines = lines_of(reply);
        for echo in *echoes {
            expected.extend_from_slice(echo.replace('@', &at).as_bytes());
            expected.push(b'\n');
            if echoes.len() == 1 {
                expected.extend_from_slice(reply);
            } else {
                expected.extend_from_slice(reply_lines.next().unwrap_or_default());
            }
        }
    }
    let run = redsh(&srv, &[], format!("{}\n", lines.join("\n")).as_bytes());
    assert_same_bytes(&run.stdout_bytes, &expected);
    // Without the echo lines it is redis-cli's output.
    let plain: Vec<u8> =
        lines_of(&run.stdout_bytes).filter(|l| !l.starts_with(at.as_bytes())).flatten().copied().collect();
    assert_same_bytes(&plain, &before);
}
on_each_server!(echo_adds_one_prompt_line_before_each_reply);

fn echo_prompt_names_the_database_given_by_flag_or_uri(kind: Kind) {
    let srv = Server::start_on(kind);
    let p = srv.port;
    let run = Redsh::new().port(p).args(&["-n", "2", "PING"]).run().success();
    assert_eq!(run.stdout, format!("127.0.0.1:{p}[2]> PING\nPONG\n"));
    let uri = format!("redis://127.0.0.1:{p}/3");
    let run = Redsh::new().args(&["-u", &uri, "SET", "k", "in 3"]).run().success();
    assert_eq!(run.stdout, format!("127.0.0.1:{p}[3]> SET k \"in 3\"\nOK\n"));
    assert_eq!(srv.get(&["-n", "3", "GET", "k"]), "in 3");
    let run = Redsh::new().args(&["-h", "localhost", "-p", &p.to_string(), "PING"]).run().success();
    assert_eq!(run.stdout, format!("localhost:{p}> PING\nPONG\n"));
}
on_each_server!(echo_prompt_names_the_database_given_by_flag_or_uri);

fn echo_prompt_over_a_unix_socket_names_the_socket(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("redis.sock");
    let sock = sock.to_str().unwrap();
    let srv = Server::with_args_on(kind, &["--unixsocket", sock, "--unixsocketperm", "700"]);
    let run = Redsh::new().args(&["-s", sock]).stdin("SET k v\nSELECT 1\nGET k\n").run().success();
    assert_eq!(
        run.stdout,
        format!("redis {sock}> SET k v\nOK\nredis {sock}> SELECT 1\nOK\nredis {sock}[1]> GET k\n(nil)\n")
    );
    let run = Redsh::new().args(&["-s", sock, "-n", "5", "PING"]).run().success();
    assert_eq!(run.stdout, format!("redis {sock}[5]> PING\nPONG\n"));
    let uri = format!("unix://{sock}?db=4");
    let run = Redsh::new().args(&["-u", &uri, "PING"]).run().success();
    assert_eq!(run.stdout, format!("redis {sock}[4]> PING\nPONG\n"));
    assert_eq!(srv.get(&["GET", "k"]), "v");
}
on_each_server!(echo_prompt_over_a_unix_socket_names_the_socket);

fn echo_never_shows_a_password(kind: Kind) {
    let srv = Server::with_args_on(kind, &["--requirepass", "s3cret"]);
    let script = "\
AUTH s3cret
AUTH default s3cret
AUTH default wrongpw1
HELLO 3 AUTH default wrongpw2
HELLO 2 SETNAME me AUTH default wrongpw3
ACL SETUSER bob on >bobpw4 ~* +@all
ACL SETUSER bob #0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
CONFIG SET requirepass newpw5
AUTH newpw5
CONFIG SET maxmemory-policy noeviction requirepass s3cret
2 AUTH s3cret
PING
";
    let run = Redsh::new().port(srv.port).env("REDISCLI_AUTH", "s3cret").stdin(script).run();
    let at = format!("127.0.0.1:{}", srv.port);
    let wrongpass = "(error) WRONGPASS invalid username-password pair or user is disabled.";
    assert_eq!(
        run.stdout,
        format!(
            "\
{at}> AUTH (redacted)
OK
{at}> AUTH default (redacted)
OK
{at}> AUTH default (redacted)
{wrongpass}
{at}> HELLO 3 AUTH default (redacted)
{wrongpass}
{at}> HELLO 2 SETNAME me AUTH default (redacted)
{wrongpass}
{at}> ACL SETUSER bob on (redacted) ~* +@all
OK
{at}> ACL SETUSER bob (redacted)
OK
{at}> CONFIG SET requirepass (redacted)
OK
{at}> AUTH (redacted)
OK
{at}> CONFIG SET maxmemory-policy noeviction requirepass (redacted)
OK
{at}> AUTH (redacted)
OK
{at}> AUTH (redacted)
OK
{at}> PING
PONG
"
        )
    );
    assert_eq!(run.code, 1, "three AUTHs failed");
    for secret in ["s3cret", "wrongpw", "bobpw", "newpw", "0123456789abcdef"] {
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret), "{secret} leaked");
    }
}
on_each_server!(echo_never_shows_a_password);

/// Starts `child` reading `script` from a pipe that then closes.
fn feed(mut child: std::process::Child, script: &[u8]) -> std::process::Child {
    use std::io::Write;
    child.stdin.take().unwrap().write_all(script).unwrap();
    child
}

fn a_subscription_streams_messages_as_redis_cli_does_until_the_connection_ends(kind: Kind) {
    let srv = Server::start_on(kind);
    let port = srv.port.to_string();
    let cli = srv
        .cli_command()
        .arg("--no-raw")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let cli = feed(
        cli,
        b"SUBSCRIBE ch
",
    );
    // The line after the subscription waits, as in redis-cli, until the subscription ends.
    let sh = feed(Redsh::new().args(&["-p", &port]).spawn(), b"SUBSCRIBE ch\nPING\n");
    wait_until(10, "both clients did not subscribe", || srv.get(&["PUBSUB", "NUMSUB", "ch"]) == "ch\n2");
    for message in ["hello world", "caf\u{e9} \"quoted\"", ""] {
        assert_eq!(srv.get(&["PUBLISH", "ch", message]), "2");
    }
    assert_eq!(srv.get(&["CLIENT", "KILL", "TYPE", "pubsub"]), "2");
    let cli = cli.wait_with_output().unwrap();
    let sh = sh.wait_with_output().unwrap();
    let at = format!("127.0.0.1:{port}> ");
    let expected =
        [format!("{at}SUBSCRIBE ch\n").as_bytes(), &cli.stdout, format!("{at}PING\nPONG\n").as_bytes()]
            .concat();
    assert!(String::from_utf8_lossy(&cli.stdout).contains("3) \"hello world\"\n"), "{cli:?}");
    assert_same_bytes(&sh.stdout, &expected);
    assert_eq!(String::from_utf8_lossy(&sh.stderr), "redsh: line 1: Error: Server closed the connection\n");
    assert_eq!(sh.status.code(), Some(1));
}
// valkey-cli 8 (like redis-cli 7.2+) keeps reading its input while subscribed, and quits at its end;
// redsh does as redis-cli 7.0 does: the subscription holds the input until the connection ends.
on_each_server!(
    a_subscription_streams_messages_as_redis_cli_does_until_the_connection_ends,
    valkey_ignore =
        "valkey-cli reads its input while subscribed (redis-cli 7.2+); redsh follows redis-cli 7.0"
);

fn monitor_given_after_the_flags_streams_until_the_connection_ends(kind: Kind) {
    let srv = Server::start_on(kind);
    let sh = Redsh::new().port(srv.port).args(&["--no-echo", "MONITOR"]).spawn();
    wait_until(10, "MONITOR did not start", || srv.get(&["CLIENT", "LIST"]).contains("cmd=monitor"));
    srv.get(&["SET", "a b", "v\"q"]);
    let id = srv
        .get(&["CLIENT", "LIST"])
        .lines()
        .find(|l| l.contains("cmd=monitor"))
        .and_then(|l| l.split(' ').next())
        .unwrap()
        .trim_start_matches("id=")
        .to_owned();
    srv.get(&["CLIENT", "KILL", "ID", &id]);
    let sh = sh.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&sh.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"OK"), "{out}");
    assert!(lines.iter().any(|l| l.ends_with(r#"] "SET" "a b" "v\"q""#)), "{out}");
    assert_eq!(sh.status.code(), Some(1));
}
on_each_server!(monitor_given_after_the_flags_streams_until_the_connection_ends);

/// Generated commands, from a deterministic generator, so a failing script can be rebuilt from its
/// number.
struct Gen(crate::harness::Xorshift);

impl Gen {
    fn below(&mut self, n: usize) -> usize {
        self.0.below(n as u64) as usize
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }

    /// An argument in one of redis-cli's spellings: bare, double-quoted with escapes, single-quoted,
    /// binary, UTF-8, empty, numeric.
    fn arg(&mut self) -> String {
        match self.below(9) {
            0 => self.pick(&["a", "k", "foo", "bar:1", "x_y"]).to_owned(),
            1 => {
                let n = self.below(6);
                let body: String = (0..n)
                    .map(|_| {
                        self.pick(&[
                            "a", " ", "\\n", "\\t", "\\\"", "\\\\", "\\x41", "\\xff", "\\r", "\\a", "é",
                        ])
                    })
                    .collect();
                format!("\"{body}\"")
            }
            2 => {
                let n = self.below(5);
                let body: String = (0..n).map(|_| self.pick(&["a", " ", "\\'", "\"", "b"])).collect();
                format!("'{body}'")
            }
            3 => {
                let n = 1 + self.below(5);
                let body: String = (0..n)
                    .map(|_| {
                        format!("\\x{:02x}", [1u8, 0x7f, 0x80, 0xc3, 0xa9, 0xff, 0x0a, 0x22][self.below(8)])
                    })
                    .collect();
                format!("\"{body}\"")
            }
            4 => self.pick(&["héllo", "日本", "\"ü ß\"", "😀"]).to_owned(),
            5 => "\"\"".to_owned(),
            6 => self.below(1000).to_string(),
            7 => self.pick(&["1.5", "0.1", "1e300", "-inf", "+inf", "3.0", "1e-5", "nan", "-7"]).to_owned(),
            _ => "x".repeat(50 + self.below(200)),
        }
    }

    fn key(&mut self) -> &'static str {
        self.pick(&["k", "k2", "h", "l", "s", "z", "st", "g"])
    }

    fn line(&mut self) -> String {
        let (k, a, b) = (self.key(), self.arg(), self.arg());
        match self.below(40) {
            0 => format!("SET {k} {a}"),
            1 => format!("GET {k}"),
            2 => format!("APPEND {k} {a}"),
            3 => format!("INCRBYFLOAT {k} {a}"),
            4 => format!("HSET {k} {a} {b}"),
            5 => format!("HGETALL {k}"),
            6 => format!("HMGET {k} {a} {b}"),
            7 => format!("LPUSH {k} {a} {b}"),
            8 => format!("LRANGE {k} 0 -1"),
            9 => format!(
                "RPUSH l {}",
                (0..1 + self.below(120)).map(|i| i.to_string()).collect::<Vec<_>>().join(" ")
            ),
            10 => format!("SADD {k} {a}"),
            11 => format!("SMEMBERS {k}"),
            12 => format!("ZADD {k} {a} {b}"),
            13 => format!("ZRANGE {k} 0 -1 WITHSCORES"),
            14 => format!("ZSCORE {k} {a}"),
            15 => format!("ZINCRBY z {a} m"),
            16 => format!("XADD st 1-{} f {a}", 1 + self.below(99)),
            17 => "XRANGE st - +".to_owned(),
            18 => "XINFO STREAM st".to_owned(),
            19 => format!("GEOADD g 13.361389 38.115556 {a}"),
            20 => "GEOPOS g Palermo nonexisting".to_owned(),
            21 => "GEORADIUS g 15 37 200 km WITHDIST WITHCOORD ASC".to_owned(),
            22 => format!("TYPE {k}"),
            23 => format!("OBJECT ENCODING {k}"),
            24 => "MULTI".to_owned(),
            25 => "EXEC".to_owned(),
            26 => "DISCARD".to_owned(),
            27 => format!("SELECT {}", self.below(3)),
            28 => format!("{} INCR cnt", 2 + self.below(3)),
            29 => "GET".to_owned(),
            30 => "FOOBAR x".to_owned(),
            31 => format!("ECHO {a}"),
            32 => format!("PING {a}"),
            33 => format!("DEL {k}"),
            34 => "\"unbalanced".to_owned(),
            35 => "'bad".to_owned(),
            36 => format!("SET {a} {b} EX 100"),
            37 => "ZRANGEBYSCORE z -inf +inf WITHSCORES LIMIT 0 3".to_owned(),
            38 => "LMPOP 2 l l2 LEFT COUNT 2".to_owned(),
            _ => "SMISMEMBER s a b".to_owned(),
        }
    }

    fn script(&mut self) -> Vec<u8> {
        let mut text: String = (0..20 + self.below(60)).map(|_| self.line() + "\n").collect();
        text.push_str("EXEC\nSELECT 0\n");
        text.into_bytes()
    }
}

/// Runs the 40 generated scripts on `kind` with each pair of (cli flags, redsh flags).
fn generated_scripts_print_the_same(kind: Kind, forms: &[(&[&str], &[&str])]) {
    let srv = Server::start_on(kind);
    for n in 1..=40u64 {
        let script = Gen(crate::harness::Xorshift(0x9e37_79b9_7f4a_7c15 ^ n)).script();
        for (cli_flags, redsh_flags) in forms {
            let expected = redis_cli(&srv, cli_flags, &script);
            let run = redsh(&srv, redsh_flags, &script);
            assert_eq!(
                String::from_utf8_lossy(&run.stdout_bytes),
                String::from_utf8_lossy(&expected),
                "script {n} with {redsh_flags:?}:\n{}",
                String::from_utf8_lossy(&script)
            );
        }
    }
}

/// Generated scripts (every argument spelling, every reply type, transactions, databases, bad
/// lines) print the same in redsh as in the server's cli, in its terminal and raw forms.
fn generated_scripts_print_exactly_as_redis_cli_prints_them(kind: Kind) {
    generated_scripts_print_the_same(kind, &[(&[], &["--no-echo"]), (&["--raw"], &["--no-echo", "--raw"])]);
}
on_each_server!(generated_scripts_print_exactly_as_redis_cli_prints_them);

/// The same scripts as a RESP3 client (`-3`): they print scores and increments as doubles.
fn generated_scripts_in_resp3_print_exactly_as_redis_cli_prints_them(kind: Kind) {
    generated_scripts_print_the_same(
        kind,
        &[(&["-3"], &["--no-echo", "-3"]), (&["--raw", "-3"], &["--no-echo", "--raw", "-3"])],
    );
}
on_each_server!(generated_scripts_in_resp3_print_exactly_as_redis_cli_prints_them);

/// An echoed line pasted into redis-cli sends the very same bytes: every argument spelling the
/// generator knows, and every byte value, stored by redsh and by redis-cli from redsh's echo.
fn echoed_lines_replayed_by_redis_cli_store_the_same_bytes(kind: Kind) {
    let srv = Server::start_on(kind);
    let mut g = Gen(crate::harness::Xorshift(0x2545_f491_4f6c_dd1d));
    let mut script = String::new();
    for i in 0..300 {
        let _ = std::fmt::Write::write_fmt(&mut script, format_args!("SET k{i} {}\n", g.arg()));
    }
    for b in 0..=255u8 {
        let _ = std::fmt::Write::write_fmt(&mut script, format_args!("SET b{b} \"x\\x{b:02x}y\"\n"));
    }
    let keys: Vec<String> =
        (0..300).map(|i| format!("k{i}")).chain((0..=255).map(|b| format!("b{b}"))).collect();
    let mget: Vec<&str> = std::iter::once("MGET").chain(keys.iter().map(String::as_str)).collect();
    srv.flush();
    let run = Redsh::new().port(srv.port).stdin(&script).run().success();
    let stored = srv.cli_stdin(&[], format!("{}\n", mget.join(" ")).as_bytes());
    let at = format!("127.0.0.1:{}> ", srv.port);
    let echoed: Vec<u8> = lines_of(&run.stdout_bytes)
        .filter_map(|l| l.strip_prefix(at.as_bytes()))
        .flatten()
        .copied()
        .collect();
    assert_eq!(lines_of(&echoed).count(), 556);
    srv.flush();
    srv.cli_stdin(&[], &echoed);
    assert_same_bytes(&srv.cli_stdin(&[], format!("{}\n", mget.join(" ")).as_bytes()), &stored);
}
on_each_server!(echoed_lines_replayed_by_redis_cli_store_the_same_bytes);
