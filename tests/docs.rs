//! Redis command documentation: the built-in table, and `help <REDIS COMMAND>` from the server's docs.

use crate::harness::{Redsh, Server, server_docs};

#[test]
#[ignore = "rewrites src/docs/fallback.tsv from the installed redis-server"]
fn regenerate_fallback_docs() {
    let server = Server::start();
    let docs = server_docs(server.port, None);
    assert!(docs.from_server, "the server gave no COMMAND DOCS");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/docs/fallback.tsv");
    std::fs::write(path, docs.to_table()).unwrap();
}

#[test]
fn help_shows_the_servers_docs_for_a_redis_command() {
    let server = Server::start();
    let run = Redsh::new().port(server.port).args(&["help", "GET"]).run().success();
    assert_eq!(
        run.stdout,
        "\n  GET key\n  summary: Get the value of a key\n  since: 1.0.0\n  group: string\n\n"
    );
    let run = Redsh::new().port(server.port).stdin("help config get\nhelp @hyperloglog\n").run().success();
    assert!(run.stdout.contains("\n  CONFIG GET parameter [parameter ...]\n  summary: "), "{}", run.stdout);
    assert!(run.stdout.contains("\n  PFADD key [element [element ...]]\n  summary: "), "{}", run.stdout);
}

#[test]
fn help_still_explains_session_commands() {
    let run = Redsh::new().args(&["--dry-run", "help", "login"]).run().success();
    assert!(run.stdout.starts_with("login user_id username role"), "{}", run.stdout);
    let run = Redsh::new().args(&["--dry-run", "help", "nosuchthing"]).run().code(1);
    assert!(run.stderr.contains("no session command 'nosuchthing'"), "{}", run.stderr);
}

/// The cases of a redis-cli hint suite file, as redis-cli reads them.
fn hint_suite(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| redsh::redis::split::split_args(l.as_bytes()).ok())
        .filter(|w| !w.is_empty())
        .map(|w| (String::from_utf8_lossy(&w[0]).into_owned(), String::from_utf8_lossy(&w[1]).into_owned()))
        .collect()
}

/// Runs redis-cli's own hint cases with `docs`; the hints that differ, and how many match the
/// suite as listed (the others are where Redis 7.0 documents a command differently).
fn run_hint_suite(docs: &redsh::docs::Docs) -> (Vec<String>, usize) {
    let cases = hint_suite(include_str!("data/hints.txt"));
    assert_eq!(cases.len(), 69);
    let redis_70: std::collections::HashMap<String, String> =
        hint_suite(include_str!("data/hints-redis-7.0.txt")).into_iter().collect();
    let (mut failures, mut as_listed) = (Vec::new(), 0);
    for (input, listed) in &cases {
        let got = redsh::helper::hint_text(input, docs).expect(input);
        let got = got.trim_end();
        let expected = redis_70.get(input).unwrap_or(listed);
        if got != expected {
            failures.push(format!("{input:?}: expected {expected:?}, got {got:?}"));
        }
        as_listed += usize::from(got == listed);
    }
    (failures, as_listed)
}

/// redis-cli's own hint cases, with the argument trees of a live server's COMMAND DOCS.
#[test]
fn redis_clis_own_hint_cases_with_a_servers_docs() {
    let server = Server::start();
    let docs = server_docs(server.port, None);
    assert!(docs.from_server);
    assert!(matches!(docs.find(&["SET"]), Some((e, 1)) if matches!(e.syntax, redsh::docs::Syntax::Args(_))));
    let (failures, as_listed) = run_hint_suite(&docs);
    assert!(failures.is_empty(), "{} differ:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(as_listed, 62);
}

/// An ACL user refused COMMAND DOCS gets the built-in table's argument trees: the same hints.
#[test]
fn redis_clis_own_hint_cases_for_a_user_without_command_docs() {
    let server = Server::start();
    let rule = ["ACL", "SETUSER", "nodocs", "on", ">pw", "~*", "+@all", "-command|docs"];
    assert_eq!(server.get(&rule), "OK");
    let refused = server.get(&["--user", "nodocs", "--pass", "pw", "--no-auth-warning", "COMMAND", "DOCS"]);
    assert!(refused.starts_with("NOPERM"), "{refused}");
    let docs = server_docs(server.port, Some(("nodocs", "pw")));
    let (failures, as_listed) = run_hint_suite(&docs);
    assert!(failures.is_empty(), "{} differ:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(as_listed, 62);
}
