//! The demo can never drift from the document: every command/reply pair the session-store document
//! shows in its transcripts (`127.0.0.1:6379> CMD` and the reply lines under it) appears, as
//! consecutive lines, in what `scripts/demo.sh` prints — the walkthrough played on a private server.
//! The document is the copy in `tests/data/` (the seed, unchanged), so the test needs nothing
//! outside the repository.
//!
//! What may differ, and is normalised on both sides: the port of the prompt, the login time (the
//! value after `login_time` in a command, the element after `"login_time"` in a reply), the
//! seconds a `TTL` returns, the order of a `SMEMBERS` reply (a set has none: Redis 7.0 lists a
//! small set in hash order, Valkey in insertion order), and the padding redis-cli puts before the
//! element numbers of a reply of ten or more (` 1)`), which the document leaves out.

use std::path::Path;

use crate::harness::{Redsh, Server};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// One command as echoed and the reply lines printed under it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pair {
    command: String,
    reply: Vec<String>,
}

/// The text after redis-cli's prompt (`127.0.0.1:<port>> `, `(TX)` included), if the line is one.
fn after_prompt(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("127.0.0.1:")?;
    let end = rest.find("> ")?;
    let port = rest[..end].strip_suffix("(TX)").unwrap_or(&rest[..end]);
    port.bytes().all(|b| b.is_ascii_digit()).then(|| &rest[end + 2..])
}

/// Whether a line is shaped like a reply as redis-cli prints one: `(integer) 1`, `OK`, `(nil)`,
/// `"text"`, `(error) …`, `(empty array)`, or an element `N) …` of an array.
fn is_reply(line: &str) -> bool {
    let element =
        line.trim_start().split_once(") ").is_some_and(|(n, _)| n.bytes().all(|b| b.is_ascii_digit()));
    line.starts_with("(integer) ")
        || line.starts_with("(error) ")
        || line.starts_with('"')
        || element
        || ["OK", "(nil)", "(empty array)"].contains(&line)
}

/// The pairs of a transcript: each prompt line with a command, and the reply-shaped lines right
/// under it. A bare prompt, a line before any prompt and anything after the reply are not part
/// of a pair.
fn pairs(lines: &[String]) -> Vec<Pair> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(command) = after_prompt(&lines[i]).filter(|c| !c.trim().is_empty()) else {
            i += 1;
            continue;
        };
        let mut reply = Vec::new();
        i += 1;
        while i < lines.len() && after_prompt(&lines[i]).is_none() && is_reply(&lines[i]) {
            reply.push(lines[i].clone());
            i += 1;
        }
        out.push(normalise(Pair { command: command.to_owned(), reply }));
    }
    out
}

/// Takes out what differs from run to run (see the module's documentation).
fn normalise(mut p: Pair) -> Pair {
    let words: Vec<&str> = p.command.split(' ').collect();
    let name = words[0].to_ascii_uppercase();
    p.command = words
        .iter()
        .enumerate()
        .map(|(i, w)| if i > 0 && words[i - 1] == "login_time" { "<login_time>" } else { w })
        .collect::<Vec<_>>()
        .join(" ");
    let value = |line: &str| line.trim_start().split_once(") ").map(|(_, v)| v.to_owned());
    match name.as_str() {
        "TTL" => {
            for line in &mut p.reply {
                if line.starts_with("(integer) ") {
                    *line = "(integer) <ttl>".into();
                }
            }
        }
        "HGETALL" => {
            for i in 1..p.reply.len() {
                if value(&p.reply[i - 1]).as_deref() == Some("\"login_time\"") {
                    p.reply[i] = format!("{}) \"<login_time>\"", i + 1);
                }
            }
        }
        "SMEMBERS" => {
            let mut members: Vec<String> = p.reply.iter().filter_map(|l| value(l)).collect();
            if members.len() == p.reply.len() {
                members.sort();
                p.reply = members.iter().enumerate().map(|(i, m)| format!("{}) {m}", i + 1)).collect();
            }
        }
        _ => {}
    }
    // redis-cli pads element numbers to the widest (` 1)` … `10)`); the document does not always.
    for line in &mut p.reply {
        *line = line.trim_start().to_owned();
    }
    p
}

/// The lines of the document's fenced blocks, trailing blanks (markdown line breaks) removed.
fn document_blocks(text: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            match current.take() {
                Some(block) => blocks.push(block),
                None => current = Some(Vec::new()),
            }
            continue;
        }
        if let Some(block) = &mut current {
            block.push(line.trim_end().to_owned());
        }
    }
    blocks
}

fn document_pairs() -> Vec<Pair> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("tests/data/redis-session-store.md")).unwrap();
    document_blocks(&text).iter().flat_map(|b| pairs(b)).collect()
}

/// What demo.sh prints, piped: the walkthrough on a private server (demo.sh adds `--ephemeral`
/// and a release build, neither of which changes a line).
fn demo_output() -> String {
    let demo = std::fs::read_to_string(Path::new(ROOT).join("scripts/demo.sh")).unwrap();
    assert!(
        demo.lines()
            .any(|l| l.starts_with("exec \"$REDSH\" --ephemeral -f scripts/walkthrough.redsh \"$@\"")),
        "demo.sh plays scripts/walkthrough.redsh: this test plays the same"
    );
    let srv = Server::start();
    Redsh::new()
        .port(srv.port)
        .current_dir(Path::new(ROOT))
        .args(&["-f", "scripts/walkthrough.redsh"])
        .run()
        .success()
        .stdout
}

#[test]
fn the_document_transcripts_parse_into_its_fourteen_pairs() {
    let pairs = document_pairs();
    let commands: Vec<&str> = pairs.iter().map(|p| p.command.as_str()).collect();
    assert_eq!(
        commands,
        [
            "HSET session:abc123 user_id 101 username suhel role teacher login_time <login_time> ip 192.168.1.10",
            "EXPIRE session:abc123 1800",
            "EXISTS session:abc123",
            "HGETALL session:abc123",
            "TTL session:abc123",
            "EXPIRE session:abc123 1800",
            "DEL session:abc123",
            "SADD user_sessions:101 abc123",
            "SADD user_sessions:101 abc123",
            "SMEMBERS user_sessions:101",
            "SADD user_sessions:101 abc124",
            "SMEMBERS user_sessions:101",
            "SREM user_sessions:101 abc123",
            "DEL session:abc123",
        ]
    );
    assert_eq!(pairs[3].reply.len(), 10, "HGETALL's ten lines");
    assert_eq!(pairs[12].reply, ["(integer) 1"], "a bare `DEL …` line in the document is no reply");
    assert_eq!(pairs[13].reply, ["(integer) 0"]);
    assert!(pairs.iter().all(|p| !p.reply.is_empty()), "every command has its reply");
}

#[test]
fn every_command_and_reply_of_the_document_is_in_the_demo() {
    let out = demo_output();
    let demo: Vec<String> = out.lines().map(str::to_owned).collect();
    let shown = pairs(&demo);
    let document = document_pairs();
    let missing: Vec<&Pair> = document.iter().filter(|p| !shown.contains(p)).collect();
    assert!(missing.is_empty(), "not in the demo's output: {missing:#?}\n--- demo:\n{out}");
    // Part one is literal: not one MULTI before part two starts.
    let part_two = out.find("## Part two").expect("the walkthrough has a part two");
    assert!(!out[..part_two].contains("MULTI"), "{out}");
    // The document's sections, as headings, in the document's order.
    let mut at = 0;
    for heading in [
        "## 1. Introduction",
        "## 2. Session Key Design",
        "## 3. Creating a Login Session",
        "## 4. Session Validation",
        "## 5. Sliding Session (Extend on Activity)",
        "## 6. Logout (Session Destruction)",
        "## 7. Multiple Sessions per User (Optional)",
        "## 8. Note: Automatic Cleanup",
        "## Advantages of Redis for Session Storage",
    ] {
        let found =
            out[at..].find(&format!("\n{heading}\n")).unwrap_or_else(|| panic!("{heading} in order:\n{out}"));
        at += found + 1;
    }
}

#[test]
fn a_pair_differing_in_anything_but_port_time_and_ttl_is_not_taken_for_the_documents() {
    let lines = |s: &str| s.lines().map(str::to_owned).collect::<Vec<_>>();
    let doc = pairs(&lines("127.0.0.1:6379> TTL session:abc123\n(integer) 1728\n127.0.0.1:6379>"));
    assert_eq!(pairs(&lines("127.0.0.1:41000> TTL session:abc123\n(integer) 1799\n")), doc);
    assert_ne!(pairs(&lines("127.0.0.1:41000> TTL session:abc124\n(integer) 1799\n")), doc);
    let doc = pairs(&lines("127.0.0.1:6379> DEL session:abc123\n(integer) 1\n"));
    assert_ne!(pairs(&lines("127.0.0.1:6379> DEL session:abc123\n(integer) 0\n")), doc);
    let sets = pairs(&lines("127.0.0.1:1> SMEMBERS s\n1) \"b\"\n2) \"a\"\n"));
    assert_eq!(sets, pairs(&lines("127.0.0.1:6379> SMEMBERS s\n1) \"a\"\n2) \"b\"\n")));
}
