//! Redis command documentation for the editor: from the connected server's `COMMAND DOCS` (fetched
//! once, quietly: it is never echoed, since the user did not type it), else a built-in table taken
//! from Redis 7.0's `COMMAND DOCS` (`fallback.tsv`, argument trees included, so that hints follow
//! what was typed without a server too). It feeds completion, hints and `help <REDIS COMMAND>`.
//!
//! To refresh the built-in table from the installed redis-server:
//! `cargo test --test integration regenerate_fallback_docs -- --ignored`.

pub mod args;

use crate::redis::reply::Reply;

use args::{Arg, pairs, text};

/// How an entry knows its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Syntax {
    /// The server's argument tree: hints follow what has been typed (redis-cli 7.2).
    Args(Vec<Arg>),
    /// A fixed synopsis: hints drop one word per typed argument (redis-cli 7.0's static table).
    Text(String),
}

/// One command or subcommand (`GET`, `CONFIG GET`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Upper case, subcommands after a space, as redis-cli completes them.
    pub name: String,
    pub summary: String,
    pub since: String,
    pub group: String,
    pub syntax: Syntax,
}

impl Entry {
    /// The argument synopsis: `key field value [field value ...]`.
    pub fn synopsis(&self) -> String {
        match &self.syntax {
            Syntax::Args(a) => args::synopsis(a),
            Syntax::Text(t) => t.clone(),
        }
    }

    /// What is left to type after `typed` (the words after the command name).
    pub fn remaining(&self, typed: &[&str]) -> Option<String> {
        match &self.syntax {
            Syntax::Args(a) => args::remaining(a, typed),
            Syntax::Text(t) => Some(args::remaining_in_text(t, typed.len()).to_owned()),
        }
    }

    fn words(&self) -> impl Iterator<Item = &str> {
        self.name.split(' ')
    }

    fn word_count(&self) -> usize {
        self.words().count()
    }
}

/// Every documented command, sorted by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Docs {
    entries: Vec<Entry>,
    /// Whether the table came from the server (rather than the built-in one).
    pub from_server: bool,
}

const FALLBACK: &str = include_str!("fallback.tsv");

impl Docs {
    fn new(mut entries: Vec<Entry>, from_server: bool) -> Docs {
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        entries.dedup_by(|a, b| a.name == b.name);
        Docs { entries, from_server }
    }

    /// Reads a `COMMAND DOCS` reply (RESP2 or RESP3); `None` when it is not one.
    pub fn from_reply(reply: &Reply) -> Option<Docs> {
        let mut entries = Vec::new();
        for (name, doc) in pairs(reply) {
            let fields = pairs(doc);
            let subcommands = fields.iter().find(|(k, _)| k == "subcommands").map(|(_, v)| *v);
            match subcommands {
                // A container (CONFIG) is documented by its subcommands (CONFIG GET, …).
                Some(subs) if !pairs(subs).is_empty() => {
                    for (sub, sub_doc) in pairs(subs) {
                        entries.push(entry(&sub.replace('|', " "), sub_doc));
                    }
                }
                _ => entries.push(entry(&name, doc)),
            }
        }
        if entries.is_empty() {
            return None;
        }
        Some(Docs::new(entries, true))
    }

    /// The built-in table (Redis 7.0's commands), for servers without `COMMAND DOCS`.
    pub fn builtin() -> Docs {
        Docs::from_table(FALLBACK)
    }

    /// The built-in table narrowed to (and completed with) the commands a server lists in `COMMAND`.
    pub fn builtin_for(names: &[String]) -> Docs {
        let builtin = Docs::builtin();
        let mut entries: Vec<Entry> = builtin
            .entries
            .iter()
            .filter(|e| e.words().next().is_some_and(|w| names.iter().any(|n| n.eq_ignore_ascii_case(w))))
            .cloned()
            .collect();
        for name in names {
            let upper = name.to_ascii_uppercase();
            if !entries.iter().any(|e| e.words().next() == Some(upper.as_str())) {
                entries.push(Entry {
                    name: upper,
                    summary: String::new(),
                    since: String::new(),
                    group: String::new(),
                    syntax: Syntax::Text(String::new()),
                });
            }
        }
        Docs::new(entries, true)
    }

    /// Asks the server through `ask` (the executor's quiet path: nothing is echoed or printed):
    /// `COMMAND DOCS`, else `COMMAND` for the names, else the built-in table.
    pub fn fetch(mut send: impl FnMut(crate::exec::Args) -> Option<Reply>) -> Docs {
        let mut ask = |sub: Option<&str>| {
            let mut cmd = vec![b"COMMAND".to_vec()];
            cmd.extend(sub.map(|s| s.as_bytes().to_vec()));
            send(cmd).filter(|v| !v.is_error())
        };
        if let Some(docs) = ask(Some("DOCS")).as_ref().and_then(Docs::from_reply) {
            return docs;
        }
        let names: Vec<String> = match ask(None) {
            Some(Reply::Array(cmds)) => cmds
                .iter()
                .filter_map(|c| match c {
                    Reply::Array(info) => info.first().and_then(text),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        if names.is_empty() { Docs::builtin() } else { Docs::builtin_for(&names) }
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The distinct command groups (`string`, `hash`, …), sorted.
    pub fn groups(&self) -> Vec<&str> {
        let mut groups: Vec<&str> =
            self.entries.iter().map(|e| e.group.as_str()).filter(|g| !g.is_empty()).collect();
        groups.sort_unstable();
        groups.dedup();
        groups
    }

    /// The entry named by the longest run of leading `words` (`CONFIG GET` before `CONFIG`), and
    /// how many words its name has.
    pub fn find(&self, words: &[&str]) -> Option<(&Entry, usize)> {
        self.entries
            .iter()
            .filter_map(|e| {
                let n = e.word_count();
                let matches =
                    n <= words.len() && e.words().zip(words).all(|(a, b)| a.eq_ignore_ascii_case(b));
                matches.then_some((e, n))
            })
            .max_by_key(|(_, n)| *n)
    }

    /// `help <command>` or `help @<group>` as redis-cli prints it; `None` when nothing matches.
    pub fn help(&self, topic: &[&str], color: bool) -> Option<String> {
        let mut out = String::new();
        match topic.first().and_then(|t| t.strip_prefix('@')) {
            Some(group) => {
                for e in self.entries.iter().filter(|e| e.group.eq_ignore_ascii_case(group)) {
                    push_help(&mut out, e, false, color);
                }
            }
            None => {
                for e in self.entries.iter().filter(|e| {
                    topic.len() <= e.word_count()
                        && e.words().zip(topic).all(|(a, b)| a.eq_ignore_ascii_case(b))
                }) {
                    push_help(&mut out, e, true, color);
                }
            }
        }
        if out.is_empty() {
            return None;
        }
        out.push('\n');
        Some(out)
    }

    /// The table as `fallback.tsv` holds it: name, group, since, synopsis, summary, and the argument
    /// tree (see [`args::to_notation`]; `-` for none, empty when only the synopsis is known).
    pub fn to_table(&self) -> String {
        let mut out = String::from(
            "# name\tgroup\tsince\tsynopsis\tsummary\targuments (generated: see src/docs/mod.rs)\n",
        );
        for e in &self.entries {
            let clean = |s: &str| s.replace(['\t', '\n'], " ");
            let tree = match &e.syntax {
                Syntax::Args(a) if a.is_empty() => "-".to_owned(),
                Syntax::Args(a) => args::to_notation(a),
                Syntax::Text(_) => String::new(),
            };
            out.push_str(&format!(
                "{}\t{}\t{}\t{}\t{}\t{}\n",
                e.name,
                clean(&e.group),
                clean(&e.since),
                clean(&e.synopsis()),
                clean(&e.summary),
                tree
            ));
        }
        out
    }

    fn from_table(table: &str) -> Docs {
        let entries = table
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let mut cols = l.split('\t');
                let mut next = || cols.next().unwrap_or_default().to_owned();
                let (name, group, since, synopsis, summary) = (next(), next(), next(), next(), next());
                // The argument tree lets hints follow what was typed, as with a server's docs.
                let syntax = match next().as_str() {
                    "-" => Syntax::Args(Vec::new()),
                    tree => args::from_notation(tree)
                        .filter(|a| !a.is_empty())
                        .map_or(Syntax::Text(synopsis), Syntax::Args),
                };
                (!name.is_empty()).then_some(Entry { name, summary, since, group, syntax })
            })
            .collect();
        Docs::new(entries, false)
    }
}

fn entry(name: &str, doc: &Reply) -> Entry {
    let mut e = Entry {
        name: name.to_ascii_uppercase(),
        summary: String::new(),
        since: String::new(),
        group: String::new(),
        syntax: Syntax::Args(Vec::new()),
    };
    for (key, value) in pairs(doc) {
        match key.as_str() {
            "summary" => e.summary = text(value).unwrap_or_default(),
            "since" => e.since = text(value).unwrap_or_default(),
            "group" => e.group = text(value).unwrap_or_default(),
            "arguments" => e.syntax = Syntax::Args(args::parse_args(value)),
            _ => {}
        }
    }
    e
}

/// One command in redis-cli's help layout: name in bold, synopsis in grey, yellow labels.
fn push_help(out: &mut String, e: &Entry, with_group: bool, color: bool) {
    let paint = |code: &str, s: &str| if color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_owned() };
    out.push_str(&format!("\n  {} {}\n", paint("1", &e.name), paint("90", &e.synopsis())));
    out.push_str(&format!("  {} {}\n", paint("33", "summary:"), e.summary));
    if !e.since.is_empty() {
        out.push_str(&format!("  {} {}\n", paint("33", "since:"), e.since));
    }
    if with_group {
        out.push_str(&format!("  {} {}\n", paint("33", "group:"), e.group));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(s.as_bytes().to_vec())
    }

    fn sample() -> Reply {
        let key = Reply::Array(vec![bulk("name"), bulk("key"), bulk("type"), bulk("key")]);
        let param = Reply::Array(vec![bulk("name"), bulk("parameter"), bulk("type"), bulk("string")]);
        Reply::Array(vec![
            bulk("get"),
            Reply::Array(vec![
                bulk("summary"),
                bulk("Get the value of a key"),
                bulk("since"),
                bulk("1.0.0"),
                bulk("group"),
                bulk("string"),
                bulk("arguments"),
                Reply::Array(vec![key]),
            ]),
            bulk("config"),
            Reply::Array(vec![
                bulk("summary"),
                bulk("A container"),
                bulk("subcommands"),
                Reply::Array(vec![
                    bulk("config|get"),
                    Reply::Array(vec![
                        bulk("summary"),
                        bulk("Get parameters"),
                        bulk("since"),
                        bulk("2.0.0"),
                        bulk("group"),
                        bulk("server"),
                        bulk("arguments"),
                        Reply::Array(vec![param]),
                    ]),
                ]),
            ]),
        ])
    }

    #[test]
    fn reads_command_docs() {
        let docs = Docs::from_reply(&sample()).unwrap();
        let names: Vec<&str> = docs.entries().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["CONFIG GET", "GET"]);
        assert_eq!(
            docs.find(&["config", "get", "x"]).map(|(e, n)| (e.name.as_str(), n)),
            Some(("CONFIG GET", 2))
        );
        assert_eq!(docs.find(&["get"]).map(|(e, _)| e.synopsis()), Some("key".into()));
        assert!(docs.find(&["config"]).is_none());
        assert_eq!(docs.groups(), ["server", "string"]);
        assert!(Docs::from_reply(&Reply::Nil).is_none());
    }

    #[test]
    fn help_like_redis_cli() {
        let docs = Docs::from_reply(&sample()).unwrap();
        assert_eq!(
            docs.help(&["get"], false).unwrap(),
            "\n  GET key\n  summary: Get the value of a key\n  since: 1.0.0\n  group: string\n\n"
        );
        assert_eq!(
            docs.help(&["GET"], true).unwrap(),
            "\n  \x1b[1mGET\x1b[0m \x1b[90mkey\x1b[0m\n  \x1b[33msummary:\x1b[0m Get the value of a key\n  \
             \x1b[33msince:\x1b[0m 1.0.0\n  \x1b[33mgroup:\x1b[0m string\n\n"
        );
        assert!(docs.help(&["config"], false).unwrap().contains("CONFIG GET parameter"));
        assert!(!docs.help(&["@server"], false).unwrap().contains("group:"));
        assert_eq!(docs.help(&["nosuch"], false), None);
    }

    #[test]
    fn builtin_table_round_trips() {
        let docs = Docs::builtin();
        assert!(!docs.from_server);
        let hset = docs.find(&["HSET"]).unwrap().0;
        assert_eq!(hset.synopsis(), "key field value [field value ...]");
        assert_eq!(hset.remaining(&["k"]).as_deref(), Some("field value [field value ...]"));
        for name in ["GET", "SET", "EXPIRE", "DEL", "SADD", "SMEMBERS", "PING", "CONFIG SET", "HGETALL"] {
            assert!(docs.find(&name.split(' ').collect::<Vec<_>>()).is_some(), "{name} missing");
        }
        assert_eq!(Docs::from_table(&docs.to_table()), docs);
        let narrowed = Docs::builtin_for(&["get".into(), "newcmd".into()]);
        let names: Vec<&str> = narrowed.entries().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["GET", "NEWCMD"]);
    }
}
