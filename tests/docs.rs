//! Redis command documentation: the built-in table, and `help <REDIS COMMAND>` from the server's docs.

use crate::harness::{Redsh, Server};

#[test]
#[ignore = "rewrites src/docs/fallback.tsv from the installed redis-server"]
fn regenerate_fallback_docs() {
    let server = Server::start();
    let target = redsh::exec::conn::Target {
        address: redsh::exec::conn::Address::Tcp { host: "127.0.0.1".into(), port: server.port },
        tls: None,
        user: None,
        password: None,
        db: 0,
        resp3: false,
        connect_timeout: std::time::Duration::from_secs(5),
        read_timeout: None,
        cluster: false,
    };
    let mut con = target.connect().unwrap();
    let docs = redsh::docs::Docs::fetch(&mut con);
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
