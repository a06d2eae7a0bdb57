//! Friendlier edges outside the terminal: usage errors for flags that cannot go together, clap's
//! "did you mean" on the one-line usage error, the `--ephemeral` hint when no server answers a
//! script, `help` that lists the shell's own words, and `--pager` staying off when piped.

use crate::harness::{Redsh, Server, free_port};

#[test]
fn conflicting_flags_are_usage_errors() {
    for args in [
        &["--ephemeral", "-p", "6380"][..],
        &["--ephemeral", "-h", "localhost"],
        &["--ephemeral", "-s", "/tmp/redis.sock"],
        &["--ephemeral", "-u", "redis://127.0.0.1:6380"],
        &["-f", "scripts/walkthrough.redsh", "PING"],
    ] {
        let run = Redsh::new().args(args).run().code(2);
        assert!(run.stderr.starts_with("redsh: the argument '"), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("cannot be used with"), "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty());
    }
}

#[test]
fn a_mistyped_flag_gets_a_suggestion_on_its_one_line() {
    let run = Redsh::new().args(&["--ephmeral"]).run().code(2);
    assert_eq!(
        run.stderr,
        "redsh: unexpected argument '--ephmeral' found (did you mean '--ephemeral'?); try --help\n"
    );
    let run = Redsh::new().args(&["--key-layout", "plian"]).run().code(2);
    assert!(run.stderr.contains("(did you mean 'plain'?)"), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1);
}

#[test]
fn no_server_for_a_script_mentions_ephemeral_but_a_one_shot_stays_redis_clis() {
    let port = free_port();
    let refused = format!("Could not connect to Redis at 127.0.0.1:{port}: Connection refused\n");
    let run = Redsh::new().port(port).stdin("PING\n").run().code(1);
    assert_eq!(
        run.stderr,
        format!(
            "{refused}redsh: no Redis server there? `redsh --ephemeral` starts a private throwaway one\n"
        )
    );
    let run = Redsh::new().port(port).args(&["PING"]).run().code(1);
    assert_eq!(run.stderr, refused);
}

#[test]
fn help_lists_the_shell_words_within_80_columns_when_piped() {
    let run = Redsh::new().args(&["--dry-run", "help"]).run().success();
    for word in ["login user_id username role", "connect HOST PORT", "literal on|off", "clear", "quit, exit"]
    {
        assert!(run.stdout.contains(word), "{word}: {}", run.stdout);
    }
    assert!(run.stdout.lines().all(|l| l.chars().count() <= 80), "{}", run.stdout);
}

#[test]
fn the_pager_stays_off_when_output_is_piped() {
    let server = Server::start();
    let items: Vec<String> = (1..=200).map(|i| i.to_string()).collect();
    let mut push = vec!["RPUSH", "tall"];
    push.extend(items.iter().map(String::as_str));
    server.get(&push);
    let plain = Redsh::new().port(server.port).stdin("LRANGE tall 0 -1\n").run().success();
    let paged = Redsh::new()
        .port(server.port)
        .env("PAGER", "sed s/^/paged:/")
        .args(&["--pager"])
        .stdin("LRANGE tall 0 -1\n")
        .run()
        .success();
    assert_eq!(paged.stdout, plain.stdout);
    assert!(plain.stdout.contains("200) \"200\""));
}
