//! The line editor's helper: completion, hints and highlighting. Each is a pure function of the
//! line and of what the shell knows (command docs, session ids), unit-tested without a terminal;
//! the rustyline traits only call them.

use std::borrow::Cow;
use std::rc::Rc;

use rustyline::Context;
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::Validator;

use crate::docs::Docs;
use crate::docs::args::{parse_synopsis, remaining};
use crate::redis::split::split_args;
use crate::session::commands::{self, COMMANDS, Spec};
use crate::session::{Current, Store};

/// Session commands whose one argument is a session id.
const TAKES_ID: &[&str] = &["whoami", "touch", "logout", "renew", "use"];

/// The options of `login`.
const LOGIN_OPTIONS: &[&str] = &["--ip", "--id", "--ttl"];

/// redis-cli's hint colour: grey, not bold.
const HINT_STYLE: &str = "\x1b[0;90;49m";
/// A Redis command word, as redis-cli's help prints command names.
const REDIS_STYLE: &str = "\x1b[1m";
/// A session command word: the calm colour of the session summaries.
const SESSION_STYLE: &str = "\x1b[1;36m";
const RESET: &str = "\x1b[0m";

/// The session command a word names; `touch` only in lower case, as the shell runs it.
fn session_command(word: &str) -> Option<&'static Spec> {
    commands::find(word.as_bytes()).filter(|spec| spec.name != "touch" || word == "touch")
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Session ids worth offering: the current session's first, then the others seen, newest first.
pub fn known_ids<'a>(current: Option<&Current>, newest_first: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut ids: Vec<String> = current.map(|c| c.id.clone()).into_iter().collect();
    for id in newest_first {
        if current.is_none_or(|c| c.id != id) {
            ids.push(id.to_owned());
        }
    }
    ids
}

/// TAB completion: where the replaced text starts, and the candidates in the order TAB cycles.
///
/// As redis-cli: the whole line so far is matched against command names case-insensitively, and
/// Redis commands are offered in upper case (`config g` → `CONFIG GET`); after `help `, help topics.
/// Beyond redis-cli: session commands, session ids after whoami/touch/logout/renew/use, login's options.
pub fn complete(line: &str, pos: usize, docs: &Docs, ids: &[String]) -> (usize, Vec<String>) {
    let head = line.get(..pos).unwrap_or(line);
    // A cursor past the end or inside a character (never from the editor) counts as at the end.
    let pos = head.len();
    // Words are split at ASCII whitespace only, as redis-cli splits them: a non-breaking space is
    // part of a word (and every index below stays on a character boundary).
    let body = head.trim_ascii_start();
    let lead = head.len() - body.len();

    let help_topic =
        ["help ", "? "].iter().find(|p| starts_with_ignore_case(body, p)).map(|p| &body[p.len()..]);
    if let Some(topic) = help_topic {
        let topic = topic.trim_ascii_start();
        let mut found: Vec<String> = COMMANDS
            .iter()
            .filter(|c| starts_with_ignore_case(c.name, topic))
            .map(|c| c.name.to_owned())
            .collect();
        found.extend(
            docs.entries().iter().filter(|e| starts_with_ignore_case(&e.name, topic)).map(|e| e.name.clone()),
        );
        found.extend(
            docs.groups().iter().map(|g| format!("@{g}")).filter(|g| starts_with_ignore_case(g, topic)),
        );
        return (pos - topic.len(), found);
    }

    let mut names: Vec<String> = COMMANDS
        .iter()
        .filter(|c| starts_with_ignore_case(c.name, body))
        .map(|c| c.name.to_owned())
        .collect();
    names.extend(
        docs.entries().iter().filter(|e| starts_with_ignore_case(&e.name, body)).map(|e| e.name.clone()),
    );
    if !names.is_empty() {
        return (lead, names);
    }

    let word_start = body.rfind(|c: char| c.is_ascii_whitespace()).map_or(0, |i| i + 1);
    let word = &body[word_start..];
    let before: Vec<&str> = body[..word_start].split_ascii_whitespace().collect();
    let start = lead + word_start;
    let found = match before.as_slice() {
        [cmd] if TAKES_ID.contains(&cmd.to_ascii_lowercase().as_str()) && session_command(cmd).is_some() => {
            ids.iter().filter(|id| id.starts_with(word)).cloned().collect()
        }
        [cmd, ..] if cmd.eq_ignore_ascii_case("login") && word.starts_with('-') => {
            LOGIN_OPTIONS.iter().filter(|o| o.starts_with(word)).map(|o| (*o).to_owned()).collect()
        }
        _ => Vec::new(),
    };
    (start, found)
}

/// The grey hint after the cursor: what is left of the command's synopsis, with a leading space
/// when the line does not end with one (as redis-cli shows it). Only at the end of the line.
pub fn hint(line: &str, pos: usize, docs: &Docs) -> Option<String> {
    if pos < line.len() {
        return None;
    }
    let ends_in_space = line.ends_with(char::is_whitespace);
    let text = hint_text(line, docs)?;
    if text.is_empty() {
        return None;
    }
    Some(if ends_in_space { text } else { format!(" {text}") })
}

/// What is left to type after `line`, computed as redis-cli 7.2+ does (its own test cases, in
/// tests/data/hints.txt, hold for it): the word being typed counts only once a space follows it
/// (`SET k v EX` hints as `SET k v `), the typed arguments are matched against the command's
/// argument tree, and a word that fits nowhere leaves nothing to hint. `None`: no command.
/// One addition to redis-cli: a command name just typed (`hset`) already shows its synopsis.
pub fn hint_text(line: &str, docs: &Docs) -> Option<String> {
    let words: Vec<String> =
        split_args(line.as_bytes()).ok()?.iter().map(|w| String::from_utf8_lossy(w).into_owned()).collect();
    let mut words: Vec<&str> = words.iter().map(String::as_str).collect();
    // redis-cli's repeat prefix (`3 INCR x`) is not part of the command.
    if words.len() > 1 && words[0].parse::<i64>().is_ok() {
        words.remove(0);
    }
    let first = *words.first()?;
    let complete = if line.ends_with(char::is_whitespace) { words.len() } else { words.len() - 1 };
    if let Some(spec) = session_command(first) {
        let typed = words.get(1..complete.max(1)).unwrap_or_default();
        return Some(remaining(&parse_synopsis(spec.args), typed).unwrap_or_default());
    }
    let (entry, name_len) = match docs.find(&words[..complete]) {
        Some(found) => found,
        // The command's name itself is being typed: its whole synopsis, once the name is complete.
        None => docs.find(&words).filter(|(_, n)| *n == words.len())?,
    };
    let typed = words.get(name_len..complete).unwrap_or_default();
    Some(entry.remaining(typed).unwrap_or_default())
}

/// A hint cut to the room left on the terminal line (as redis-cli does), so it never wraps.
/// `used` is how many columns the prompt and the line take; `None` when nothing fits.
pub fn fit(hint: String, width: usize, used: usize) -> Option<String> {
    let room = width.checked_sub(used % width.max(1) + 1)?;
    if hint.chars().count() <= room {
        return Some(hint);
    }
    let cut: String = hint.chars().take(room).collect();
    (!cut.trim().is_empty()).then_some(cut)
}

/// The terminal's width in columns, if stdout is a terminal that says.
pub fn terminal_width() -> Option<usize> {
    // SAFETY: TIOCGWINSZ fills the zeroed winsize it is given, or fails and leaves it alone.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    (ok && size.ws_col > 0).then_some(size.ws_col as usize)
}

/// The line with its command word in bold (a Redis command) or bold cyan (a session command);
/// `None` when the first word is not a known command.
pub fn highlight(line: &str, docs: &Docs) -> Option<String> {
    let rest = line.trim_ascii_start();
    let lead = line.len() - rest.len();
    let end = rest.find(|c: char| c.is_ascii_whitespace()).unwrap_or(rest.len());
    let word = &rest[..end];
    if word.is_empty() {
        return None;
    }
    let style = if session_command(word).is_some() {
        SESSION_STYLE
    } else if docs
        .entries()
        .iter()
        .any(|e| e.name.split(' ').next().is_some_and(|w| w.eq_ignore_ascii_case(word)))
    {
        REDIS_STYLE
    } else {
        return None;
    };
    Some(format!("{}{style}{word}{RESET}{}", &line[..lead], &rest[end..]))
}

/// A hint that is only shown: the Right arrow must not paste a synopsis into the line.
pub struct SynopsisHint(pub String);

impl rustyline::hint::Hint for SynopsisHint {
    fn display(&self) -> &str {
        &self.0
    }

    fn completion(&self) -> Option<&str> {
        None
    }
}

pub struct Helper {
    color: bool,
    docs: Rc<Docs>,
    /// Session ids for completion, as [`known_ids`] orders them.
    ids: Vec<String>,
    /// Columns the prompt takes, to keep hints within the terminal line.
    prompt_width: usize,
    /// `--step`: what the keys do, shown instead of a synopsis while a script's command waits.
    pub keys_hint: Option<String>,
}

impl Helper {
    pub fn new(color: bool, docs: Rc<Docs>) -> Self {
        Helper { color, docs, ids: Vec::new(), prompt_width: 0, keys_hint: None }
    }

    /// Refreshes what completion knows from the session store.
    pub fn update(&mut self, store: &Store) {
        self.ids = known_ids(store.current.as_ref(), store.seen.newest_first());
    }

    pub fn set_prompt(&mut self, prompt: &str) {
        self.prompt_width = prompt.chars().count();
    }

    pub fn docs(&self) -> &Rc<Docs> {
        &self.docs
    }

    pub fn set_docs(&mut self, docs: Rc<Docs>) {
        self.docs = docs;
    }
}

impl Completer for Helper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, found) = complete(line, pos, &self.docs, &self.ids);
        Ok((start, found.into_iter().map(|s| Pair { display: s.clone(), replacement: s }).collect()))
    }
}

impl Hinter for Helper {
    type Hint = SynopsisHint;

    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<SynopsisHint> {
        if let Some(keys) = &self.keys_hint {
            if !line.is_empty() {
                return None;
            }
            let keys = match terminal_width() {
                Some(width) => fit(keys.clone(), width, self.prompt_width)?,
                None => keys.clone(),
            };
            return Some(SynopsisHint(keys));
        }
        let text = hint(line, pos, &self.docs)?;
        let text = match terminal_width() {
            Some(width) => fit(text, width, self.prompt_width + line.chars().count())?,
            None => text,
        };
        Some(SynopsisHint(text))
    }
}

impl Highlighter for Helper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        match highlight(line, &self.docs) {
            Some(styled) if self.color => Cow::Owned(styled),
            _ => Cow::Borrowed(line),
        }
    }

    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if self.color { Cow::Owned(format!("{HINT_STYLE}{hint}{RESET}")) } else { Cow::Borrowed(hint) }
    }

    /// The command word's style depends on the whole word, so every edit repaints the line.
    fn highlight_char(&self, line: &str, _pos: usize, _kind: CmdKind) -> bool {
        self.color && !line.is_empty()
    }
}

impl Validator for Helper {}

impl rustyline::Helper for Helper {}

/// A helper that shows every typed character as `*` (for `--askpass`).
pub struct Masked;

impl Completer for Masked {
    type Candidate = Pair;
}

impl Hinter for Masked {
    type Hint = String;
}

impl Highlighter for Masked {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        Cow::Owned("*".repeat(line.chars().count()))
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        true
    }
}

impl Validator for Masked {}

impl rustyline::Helper for Masked {}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs() -> Docs {
        Docs::builtin()
    }

    fn cands(line: &str) -> (usize, Vec<String>) {
        complete(line, line.len(), &docs(), &["abc123".into(), "abd456".into(), "zz".into()])
    }

    #[test]
    fn completes_command_names_case_insensitively() {
        assert_eq!(cands("PIN"), (0, vec!["PING".to_owned()]));
        assert_eq!(cands("pin"), (0, vec!["PING".to_owned()]));
        assert_eq!(cands("log"), (0, vec!["login".to_owned(), "logout".into(), "logout-all".into()]));
        let (start, found) = cands("hge");
        assert_eq!((start, &found[..2]), (0, &["HGET".to_owned(), "HGETALL".to_owned()][..]));
        assert_eq!(cands("config ge"), (0, vec!["CONFIG GET".to_owned()]));
        assert_eq!(cands("  sme"), (2, vec!["SMEMBERS".to_owned()]));
        assert_eq!(cands("tou").1, ["touch", "TOUCH"]);
        assert_eq!(cands("nosuch").1, Vec::<String>::new());
    }

    #[test]
    fn completes_session_ids_help_topics_and_login_options() {
        assert_eq!(cands("whoami ab"), (7, vec!["abc123".to_owned(), "abd456".into()]));
        assert_eq!(cands("logout "), (7, vec!["abc123".to_owned(), "abd456".into(), "zz".into()]));
        assert_eq!(cands("use z"), (4, vec!["zz".to_owned()]));
        assert_eq!(cands("TOUCH a").1, Vec::<String>::new());
        assert_eq!(cands("whoami abc123 a").1, Vec::<String>::new());
        assert_eq!(cands("login 1 a b --t"), (12, vec!["--ttl".to_owned()]));
        assert_eq!(cands("help log"), (5, vec!["login".to_owned(), "logout".into(), "logout-all".into()]));
        assert_eq!(cands("help hgeta"), (5, vec!["HGETALL".to_owned()]));
        assert_eq!(cands("? @hyp"), (2, vec!["@hyperloglog".to_owned()]));
    }

    #[test]
    fn a_non_breaking_space_is_part_of_a_word() {
        // It once split the word in the middle of its two bytes and panicked (exit 70).
        assert_eq!(cands("whoami\u{a0}x"), (0, Vec::<String>::new()));
        assert_eq!(cands("whoami\u{a0}"), (0, Vec::<String>::new()));
        assert_eq!(cands("whoami \u{a0}a").1, Vec::<String>::new());
        assert_eq!(cands("login 1 a b \u{a0}--t").1, Vec::<String>::new());
        assert_eq!(cands("\u{a0}PIN"), (0, Vec::<String>::new()));
        assert_eq!(hinted("whoami\u{a0}"), None);
        assert_eq!(highlight("GET\u{a0}k", &docs()), None);
    }

    proptest::proptest! {
        #[test]
        fn completion_and_hints_never_panic(line in "\\PC*", cut in 0usize..64) {
            let docs = docs();
            let ids = ["abc123".to_owned(), "\u{a0}\u{e9}".to_owned()];
            for pos in [cut, line.len(), line.len() + 1, cut % (line.len() + 1)] {
                let (start, found) = complete(&line, pos, &docs, &ids);
                proptest::prop_assert!(start <= line.len() && line.is_char_boundary(start));
                drop(found);
                let _ = hint(&line, pos, &docs);
            }
            let _ = highlight(&line, &docs);
            let _ = fit(line.clone(), 20, cut);
        }

        #[test]
        fn completion_never_panics_on_words_and_odd_spaces(
            words in proptest::collection::vec("(whoami|login|help|\\?|use|--t|ab|\u{a0}|\u{2003}|\t| |\u{e9}|x)", 0..8),
        ) {
            let line: String = words.concat();
            let docs = docs();
            for pos in 0..=line.len() + 1 {
                let (start, _) = complete(&line, pos, &docs, &["abc123".to_owned()]);
                proptest::prop_assert!(line.is_char_boundary(start.min(line.len())));
                let _ = hint(&line, pos, &docs);
            }
        }
    }

    #[test]
    fn session_ids_current_first_then_newest() {
        let cur = Current { id: "b".into(), username: None };
        assert_eq!(known_ids(Some(&cur), ["c", "b", "a"].into_iter()), ["b", "c", "a"]);
        assert_eq!(known_ids(None, ["a"].into_iter()), ["a"]);
    }

    fn hinted(line: &str) -> Option<String> {
        hint(line, line.len(), &docs())
    }

    #[test]
    fn hints_follow_the_typed_arguments() {
        assert_eq!(hinted("HSET ").as_deref(), Some("key field value [field value ...]"));
        assert_eq!(hinted("hset").as_deref(), Some(" key field value [field value ...]"));
        assert_eq!(hinted("HSET k f ").as_deref(), Some("value [field value ...]"));
        assert_eq!(hinted("GET k "), None);
        assert_eq!(hinted("HSE"), None);
        assert_eq!(hinted("3 INCR ").as_deref(), Some("key"));
        assert_eq!(hinted("config set ").as_deref(), Some("parameter value [parameter value ...]"));
        assert_eq!(
            hinted("login ").as_deref(),
            Some("user_id username role [--ip ADDR] [--id ID] [--ttl SECS]")
        );
        assert_eq!(
            hinted("login 101 suhel").as_deref(),
            Some(" username role [--ip ADDR] [--id ID] [--ttl SECS]")
        );
        assert_eq!(hinted("login 101 suhel ").as_deref(), Some("role [--ip ADDR] [--id ID] [--ttl SECS]"));
        assert_eq!(
            hinted("login 101 suhel teacher --id").as_deref(),
            Some(" [--ip ADDR] [--id ID] [--ttl SECS]")
        );
        assert_eq!(hinted("whoami ").as_deref(), Some("[ID]"));
        assert_eq!(hinted("TOUCH ").as_deref(), Some("key [key ...]"));
        assert_eq!(hint("HSET k", 2, &docs()), None);
        assert_eq!(hinted(""), None);
        assert_eq!(hinted("\"unbalanced"), None);
    }

    #[test]
    fn hints_from_the_servers_argument_tree() {
        // With the server's docs, hints drop typed options anywhere, not only leading words.
        use crate::docs::args::{Arg, Kind};
        let tok = |t: &str| Arg {
            token: Some(t.into()),
            kind: Kind::PureToken,
            optional: true,
            ..Arg::text(&t.to_lowercase())
        };
        let bulk = |s: &str| crate::redis::reply::Reply::Bulk(s.as_bytes().to_vec());
        let arg = |name: &str, ty: &str, token: Option<&str>, optional: bool| {
            let mut v = vec![bulk("name"), bulk(name), bulk("type"), bulk(ty)];
            if let Some(t) = token {
                v.extend([bulk("token"), bulk(t)]);
            }
            if optional {
                v.extend([bulk("flags"), crate::redis::reply::Reply::Array(vec![bulk("optional")])]);
            }
            crate::redis::reply::Reply::Array(v)
        };
        let reply = crate::redis::reply::Reply::Array(vec![
            bulk("set"),
            crate::redis::reply::Reply::Array(vec![
                bulk("arguments"),
                crate::redis::reply::Reply::Array(vec![
                    arg("key", "key", None, false),
                    arg("value", "string", None, false),
                    arg("get", "pure-token", Some("GET"), true),
                    arg("keepttl", "pure-token", Some("KEEPTTL"), true),
                ]),
            ]),
        ]);
        let docs = Docs::from_reply(&reply).unwrap();
        assert_eq!(tok("GET").token.as_deref(), Some("GET"));
        assert_eq!(hint("SET k v KEEPTTL ", 16, &docs).as_deref(), Some("[GET]"));
        assert_eq!(hint("SET k v G", 9, &docs).as_deref(), Some(" [GET] [KEEPTTL]"));
    }

    /// The cases of a redis-cli hint suite file: (input, expected hint) pairs, as redis-cli reads
    /// them (comments skipped, a line that does not split skipped).
    fn suite(text: &str) -> Vec<(String, String)> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| split_args(l.as_bytes()).ok())
            .filter(|w| !w.is_empty())
            .map(|w| {
                assert_eq!(w.len(), 2, "a case is an input and its hint: {w:?}");
                (String::from_utf8(w[0].clone()).unwrap(), String::from_utf8(w[1].clone()).unwrap())
            })
            .collect()
    }

    #[test]
    fn redis_clis_own_hint_cases_from_the_builtin_table() {
        let cases = suite(include_str!("../tests/data/hints.txt"));
        assert_eq!(cases.len(), 69);
        let redis_70: std::collections::HashMap<String, String> =
            suite(include_str!("../tests/data/hints-redis-7.0.txt")).into_iter().collect();
        let docs = Docs::builtin();
        let (mut failures, mut as_listed) = (Vec::new(), 0);
        for (input, listed) in &cases {
            let got = hint_text(input, &docs).expect(input);
            // redis-cli's test ignores trailing spaces.
            let got = got.trim_end();
            let expected = redis_70.get(input).unwrap_or(listed);
            if got != expected {
                failures.push(format!("{input:?}: expected {expected:?}, got {got:?}"));
            }
            as_listed += usize::from(got == listed);
        }
        assert!(
            failures.is_empty(),
            "{} of {} differ:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
        // The other 7 are GEORADIUS's and MIGRATE's, which Redis 7.0 documents differently.
        assert_eq!(as_listed, 62);
    }

    #[test]
    fn hints_fit_the_terminal_line() {
        let h = || " key value [NX|XX]".to_owned();
        assert_eq!(fit(h(), 80, 20).as_deref(), Some(" key value [NX|XX]"));
        assert_eq!(fit(h(), 30, 20).as_deref(), Some(" key valu"));
        assert_eq!(fit(h(), 30, 29), None);
        assert_eq!(fit(h(), 30, 30 + 20).as_deref(), Some(" key valu"));
        assert_eq!(fit(h(), 0, 5), None);
    }

    #[test]
    fn highlights_only_the_command_word() {
        assert_eq!(highlight("GET k", &docs()).as_deref(), Some("\x1b[1mGET\x1b[0m k"));
        assert_eq!(highlight(" login 1", &docs()).as_deref(), Some(" \x1b[1;36mlogin\x1b[0m 1"));
        assert_eq!(highlight("config get x", &docs()).as_deref(), Some("\x1b[1mconfig\x1b[0m get x"));
        assert_eq!(highlight("nosuch k", &docs()), None);
        assert_eq!(highlight("   ", &docs()), None);
    }
}
