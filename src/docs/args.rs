//! A command's argument tree (from `COMMAND DOCS`, or a session command's synopsis) and the two
//! things the editor does with it: the synopsis (`key field value [field value ...]`) and the hint,
//! which is the synopsis minus what has been typed — redis-cli 7.2's rules, in our own code.
//!
//! Matching follows redis-cli: required arguments in order; a run of optional arguments may come in
//! any order; a repeatable argument takes as many words as it can; a word that fits nowhere means
//! no hint at all (the line is not what the synopsis describes).

use crate::redis::reply::Reply;

/// One argument of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    /// What the synopsis shows for its value (`display_text`, else `name`).
    pub name: String,
    /// A word that introduces it (`EX` in `EX seconds`).
    pub token: Option<String>,
    pub kind: Kind,
    pub optional: bool,
    pub multiple: bool,
    /// Each repetition repeats the token too (`[GET pattern [GET pattern ...]]`).
    pub multiple_token: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A string, key or pattern: any word fits.
    Text,
    /// An integer or unix time: only a word that parses as one fits.
    Integer,
    Double,
    /// The token alone (`NX`).
    PureToken,
    /// One of these.
    OneOf(Vec<Arg>),
    /// All of these, in order.
    Block(Vec<Arg>),
}

impl Arg {
    /// A plain required argument (for tests and session synopses).
    pub fn text(name: &str) -> Arg {
        Arg {
            name: name.to_owned(),
            token: None,
            kind: Kind::Text,
            optional: false,
            multiple: false,
            multiple_token: false,
        }
    }

    fn children(&self) -> &[Arg] {
        match &self.kind {
            Kind::OneOf(subs) | Kind::Block(subs) => subs,
            _ => &[],
        }
    }
}

/// The text of a string-ish reply element.
pub(crate) fn text(v: &Reply) -> Option<String> {
    match v {
        Reply::Int(_) => None,
        other => other.text(),
    }
}

/// Key/value pairs of a RESP3 map or a RESP2 flat array of alternating keys and values.
pub(crate) fn pairs(v: &Reply) -> Vec<(String, &Reply)> {
    match v {
        Reply::Map(kv) => kv.iter().filter_map(|(k, v)| Some((text(k)?, v))).collect(),
        Reply::Array(items) => items.chunks_exact(2).filter_map(|kv| Some((text(&kv[0])?, &kv[1]))).collect(),
        _ => Vec::new(),
    }
}

fn items(v: &Reply) -> &[Reply] {
    match v {
        Reply::Array(items) | Reply::Set(items) => items,
        _ => &[],
    }
}

/// Parses the `arguments` of a `COMMAND DOCS` entry; arguments it cannot read are left out.
pub fn parse_args(v: &Reply) -> Vec<Arg> {
    items(v).iter().filter_map(parse_arg).collect()
}

fn parse_arg(v: &Reply) -> Option<Arg> {
    let mut name = None;
    let mut display = None;
    let mut kind = None;
    let mut token = None;
    let mut subs = Vec::new();
    let (mut optional, mut multiple, mut multiple_token) = (false, false, false);
    for (key, value) in pairs(v) {
        match key.as_str() {
            "name" => name = text(value),
            "display_text" => display = text(value),
            "type" => kind = text(value),
            "token" => token = text(value),
            "arguments" => subs = parse_args(value),
            "flags" => {
                for flag in items(value).iter().filter_map(text) {
                    match flag.as_str() {
                        "optional" => optional = true,
                        "multiple" => multiple = true,
                        "multiple_token" => multiple_token = true,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let kind = match kind?.as_str() {
        "integer" | "unix-time" => Kind::Integer,
        "double" => Kind::Double,
        "pure-token" => Kind::PureToken,
        "oneof" => Kind::OneOf(subs),
        "block" => Kind::Block(subs),
        _ => Kind::Text,
    };
    Some(Arg { name: display.or(name)?, token, kind, optional, multiple, multiple_token })
}

/// Parses a synopsis written the simple way session commands are (`user_id [--ip ADDR] [ID]`):
/// words, and bracketed optional words where a leading `--flag` is the token.
pub fn parse_synopsis(synopsis: &str) -> Vec<Arg> {
    let mut args = Vec::new();
    let mut rest = synopsis.trim();
    while !rest.is_empty() {
        if let Some(inner) = rest.strip_prefix('[') {
            let end = inner.find(']').unwrap_or(inner.len());
            let mut words = inner[..end].split_whitespace();
            let mut arg = Arg::text("");
            arg.optional = true;
            let first = words.next().unwrap_or_default();
            let value: Vec<&str> = words.collect();
            if first.starts_with("--") {
                arg.token = Some(first.to_owned());
                if value.is_empty() {
                    arg.kind = Kind::PureToken;
                }
                arg.name = value.join(" ");
            } else {
                arg.name = std::iter::once(first).chain(value).collect::<Vec<_>>().join(" ");
            }
            args.push(arg);
            rest = inner.get(end + 1..).unwrap_or("").trim_start();
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            args.push(Arg::text(&rest[..end]));
            rest = rest[end..].trim_start();
        }
    }
    args
}

/// How far the typed words got into one argument.
#[derive(Debug, Clone, Default)]
struct Seen {
    /// Words it took (0: untouched).
    words: usize,
    token: bool,
    value: bool,
    /// Fully typed: nothing of it is left to hint.
    done: bool,
    subs: Vec<Seen>,
}

impl Seen {
    fn fresh(arg: &Arg) -> Seen {
        Seen { subs: arg.children().iter().map(Seen::fresh).collect(), ..Seen::default() }
    }
}

fn fresh_all(args: &[Arg]) -> Vec<Seen> {
    args.iter().map(Seen::fresh).collect()
}

fn fits(kind: &Kind, word: &str) -> bool {
    match kind {
        Kind::Integer => word.parse::<i64>().is_ok(),
        Kind::Double => word.parse::<f64>().is_ok() || matches!(word, "+inf" | "-inf"),
        _ => true,
    }
}

/// Matches what follows the token (or the whole argument when it has none); false when it does not fit.
fn match_value(arg: &Arg, seen: &mut Seen, words: &[&str]) -> bool {
    match &arg.kind {
        Kind::Block(subs) => {
            seen.words += match_seq(subs, &mut seen.subs, words).unwrap_or(0);
            seen.done = seen.subs.iter().all(|s| s.done);
        }
        Kind::OneOf(alts) => {
            for (alt, sub) in alts.iter().zip(seen.subs.iter_mut()) {
                let mut trial = Seen::fresh(alt);
                let n = match_arg(alt, &mut trial, words);
                if n > 0 {
                    seen.words += n;
                    seen.done = trial.done;
                    *sub = trial;
                    break;
                }
            }
        }
        Kind::PureToken => seen.done = true,
        kind => match words.first() {
            Some(word) if fits(kind, word) => {
                seen.words += 1;
                seen.value = true;
                seen.done = true;
            }
            _ => return false,
        },
    }
    seen.words > 0
}

/// Matches one occurrence of `arg`; the words it took (0: it does not fit here).
fn match_once(arg: &Arg, seen: &mut Seen, words: &[&str]) -> usize {
    let Some(first) = words.first() else {
        return 0;
    };
    let mut rest = words;
    if let Some(token) = &arg.token {
        if !first.eq_ignore_ascii_case(token) {
            return 0;
        }
        seen.token = true;
        seen.words = 1;
        if arg.kind == Kind::PureToken {
            seen.done = true;
            return 1;
        }
        rest = &words[1..];
        if rest.is_empty() {
            return 1;
        }
    }
    if !match_value(arg, seen, rest) {
        *seen = Seen::fresh(arg);
        return 0;
    }
    seen.words
}

/// Matches `arg`, as many times as it may repeat; the words it took.
fn match_arg(arg: &Arg, seen: &mut Seen, words: &[&str]) -> usize {
    let mut used = match_once(arg, seen, words);
    if !arg.multiple {
        return used;
    }
    while seen.done && used < words.len() {
        let mut next = Seen::fresh(arg);
        let n = if arg.token.is_some() && !arg.multiple_token {
            // The token comes once, before the first repetition.
            next.token = match_value(arg, &mut next, &words[used..]);
            next.words
        } else {
            match_once(arg, &mut next, &words[used..])
        };
        *seen = next;
        used += n;
        if n == 0 {
            break;
        }
    }
    // A repeatable argument can always take more.
    seen.done = false;
    used
}

/// Matches a run of optional arguments, in any order, each at most once; the words taken.
fn match_optionals(args: &[Arg], seen: &mut [Seen], words: &[&str]) -> usize {
    let mut used = 0;
    let mut last: Option<usize> = None;
    while used < words.len() {
        let found = (0..args.len()).filter(|&k| seen[k].words == 0).find_map(|k| {
            let mut trial = Seen::fresh(&args[k]);
            let n = match_arg(&args[k], &mut trial, &words[used..]);
            (n > 0).then_some((k, n, trial))
        });
        let Some((k, n, trial)) = found else { break };
        seen[k] = trial;
        // Moving on to another optional argument finishes the previous one.
        if let Some(l) = last {
            seen[l].done = true;
        }
        last = Some(k);
        used += n;
    }
    used
}

/// Matches words against a sequence of arguments; `None` when a required one does not fit.
fn match_seq(args: &[Arg], seen: &mut [Seen], words: &[&str]) -> Option<usize> {
    let (mut i, mut used) = (0, 0);
    while used < words.len() && i < args.len() {
        if args[i].optional {
            let end = (i..args.len()).find(|&j| !args[j].optional).unwrap_or(args.len());
            used += match_optionals(&args[i..end], &mut seen[i..end], &words[used..]);
            i = end;
        } else {
            let n = match_arg(&args[i], &mut seen[i], &words[used..]);
            if n == 0 {
                return None;
            }
            used += n;
            i += 1;
        }
    }
    Some(used)
}

/// Appends the pieces of a sequence still to type, joined by `sep` (" " in a block, "|" in a oneof).
fn render_seq(args: &[Arg], seen: &[Seen], sep: &str, out: &mut String) {
    let mut emitted = 0;
    let mut emit = |i: usize, out: &mut String| {
        let mark = out.len();
        if emitted > 0 {
            out.push_str(sep);
        }
        let body = out.len();
        render_arg(&args[i], &seen[i], out);
        if out.len() == body {
            out.truncate(mark);
        } else {
            emitted += 1;
        }
    };
    let mut i = 0;
    while i < args.len() {
        if !args[i].optional {
            emit(i, out);
            i += 1;
            continue;
        }
        let end = (i..args.len()).find(|&j| !args[j].optional).unwrap_or(args.len());
        // The optional argument being typed comes first; the others of its run are still possible
        // only while the required argument after the run has not been reached.
        let typing = (i..end).find(|&j| seen[j].words > 0 && !seen[j].done);
        if let Some(j) = typing {
            emit(j, out);
        }
        if end == args.len() || seen[end].words == 0 {
            for j in (i..end).filter(|&j| Some(j) != typing) {
                emit(j, out);
            }
        }
        i = end;
    }
}

fn render_arg(arg: &Arg, seen: &Seen, out: &mut String) {
    if seen.done {
        return;
    }
    let started = seen.words > 0;
    let bracket = arg.optional && !started;
    if bracket {
        out.push('[');
    }
    if let Some(token) = arg.token.as_ref().filter(|_| !seen.token) {
        out.push_str(token);
        if arg.kind != Kind::PureToken {
            out.push(' ');
        }
    }
    match &arg.kind {
        Kind::OneOf(alts) if started => {
            for (alt, sub) in alts.iter().zip(&seen.subs) {
                if sub.words > 0 {
                    render_arg(alt, sub, out);
                }
            }
        }
        Kind::OneOf(alts) => render_seq(alts, &seen.subs, "|", out),
        Kind::Block(subs) => render_seq(subs, &seen.subs, " ", out),
        Kind::PureToken => {}
        _ if seen.value => {}
        _ => out.push_str(&arg.name),
    }
    if arg.multiple {
        render_repeat(arg, out);
    }
    if bracket {
        out.push(']');
    }
}

/// The repetition of a repeatable argument, always whole: ` [field value ...]`.
fn render_repeat(arg: &Arg, out: &mut String) {
    if !out.is_empty() {
        out.push(' ');
    }
    out.push('[');
    if let Some(token) = arg.token.as_ref().filter(|_| arg.multiple_token) {
        out.push_str(token);
        if arg.kind != Kind::PureToken {
            out.push(' ');
        }
    }
    let fresh = Seen::fresh(arg);
    match &arg.kind {
        Kind::OneOf(alts) => render_seq(alts, &fresh.subs, "|", out),
        Kind::Block(subs) => render_seq(subs, &fresh.subs, " ", out),
        Kind::PureToken => {}
        _ => out.push_str(&arg.name),
    }
    out.push_str(" ...]");
}

/// The whole synopsis: `key field value [field value ...]`.
pub fn synopsis(args: &[Arg]) -> String {
    let mut out = String::new();
    render_seq(args, &fresh_all(args), " ", &mut out);
    out
}

/// What is left to type after `words` (the arguments typed after the command name), or `None`
/// when the words do not fit the synopsis.
pub fn remaining(args: &[Arg], words: &[&str]) -> Option<String> {
    let mut seen = fresh_all(args);
    let used = match_seq(args, &mut seen, words).unwrap_or(0);
    if used != words.len() {
        return None;
    }
    let mut out = String::new();
    render_seq(args, &seen, " ", &mut out);
    Some(out)
}

/// redis-cli 7.0's hint from a fixed synopsis: one leading word dropped per typed argument,
/// stopping at the first optional part.
pub fn remaining_in_text(synopsis: &str, typed: usize) -> &str {
    let mut rest = synopsis;
    for _ in 0..typed {
        if rest.is_empty() || rest.starts_with('[') {
            break;
        }
        rest = rest.find(' ').map_or("", |i| &rest[i + 1..]);
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(token: &str) -> Arg {
        Arg { token: Some(token.into()), kind: Kind::PureToken, ..Arg::text(&token.to_lowercase()) }
    }

    fn opt(mut a: Arg) -> Arg {
        a.optional = true;
        a
    }

    fn many(mut a: Arg) -> Arg {
        a.multiple = true;
        a
    }

    fn int(name: &str, token: &str) -> Arg {
        Arg { token: Some(token.into()), kind: Kind::Integer, ..Arg::text(name) }
    }

    fn hset() -> Vec<Arg> {
        vec![
            Arg::text("key"),
            many(Arg {
                kind: Kind::Block(vec![Arg::text("field"), Arg::text("value")]),
                ..Arg::text("field_value")
            }),
        ]
    }

    fn set() -> Vec<Arg> {
        vec![
            Arg::text("key"),
            Arg::text("value"),
            opt(Arg { kind: Kind::OneOf(vec![tok("NX"), tok("XX")]), ..Arg::text("condition") }),
            opt(tok("GET")),
            opt(Arg {
                kind: Kind::OneOf(vec![
                    int("seconds", "EX"),
                    int("milliseconds", "PX"),
                    int("unix-time-seconds", "EXAT"),
                    int("unix-time-milliseconds", "PXAT"),
                    tok("KEEPTTL"),
                ]),
                ..Arg::text("expiration")
            }),
        ]
    }

    fn left(args: &[Arg], line: &str) -> Option<String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        remaining(args, &words)
    }

    #[test]
    fn synopses_read_like_redis_cli() {
        assert_eq!(synopsis(&hset()), "key field value [field value ...]");
        assert_eq!(
            synopsis(&set()),
            "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|\
             PXAT unix-time-milliseconds|KEEPTTL]"
        );
        assert_eq!(synopsis(&[many(Arg::text("key"))]), "key [key ...]");
        let sort_get =
            Arg { token: Some("GET".into()), multiple_token: true, ..opt(many(Arg::text("pattern"))) };
        assert_eq!(synopsis(&[Arg::text("key"), sort_get]), "key [GET pattern [GET pattern ...]]");
    }

    #[test]
    fn typed_arguments_leave_the_hint() {
        let h = hset();
        assert_eq!(left(&h, "").as_deref(), Some("key field value [field value ...]"));
        assert_eq!(left(&h, "k").as_deref(), Some("field value [field value ...]"));
        assert_eq!(left(&h, "k f").as_deref(), Some("value [field value ...]"));
        assert_eq!(left(&h, "k f v").as_deref(), Some("[field value ...]"));
        assert_eq!(left(&h, "k f v f2").as_deref(), Some("value [field value ...]"));
        let s = set();
        assert_eq!(
            left(&s, "k v").as_deref(),
            Some(
                "[NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|\
                 PXAT unix-time-milliseconds|KEEPTTL]"
            )
        );
        assert_eq!(
            left(&s, "k v nx").as_deref(),
            Some(
                "[GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]"
            )
        );
        assert_eq!(
            left(&s, "k v GET").as_deref(),
            Some(
                "[NX|XX] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]"
            )
        );
        assert_eq!(left(&s, "k v EX").as_deref(), Some("seconds [NX|XX] [GET]"));
        assert_eq!(left(&s, "k v EX 10").as_deref(), Some("[NX|XX] [GET]"));
        assert_eq!(left(&s, "k v EX ten"), None);
        assert_eq!(left(&s, "k v bogus"), None);
        assert_eq!(left(&[many(Arg::text("key"))], "a b c").as_deref(), Some("[key ...]"));
    }

    #[test]
    fn session_synopses() {
        let login = parse_synopsis("user_id username role [--ip ADDR] [--id ID] [--ttl SECS]");
        assert_eq!(login.len(), 6);
        assert_eq!(synopsis(&login), "user_id username role [--ip ADDR] [--id ID] [--ttl SECS]");
        assert_eq!(left(&login, "101 suhel").as_deref(), Some("role [--ip ADDR] [--id ID] [--ttl SECS]"));
        assert_eq!(left(&login, "101 suhel teacher --ttl 60").as_deref(), Some("[--ip ADDR] [--id ID]"));
        assert_eq!(left(&login, "101 suhel teacher --id").as_deref(), Some("ID [--ip ADDR] [--ttl SECS]"));
        let whoami = parse_synopsis("[ID]");
        assert_eq!(left(&whoami, "").as_deref(), Some("[ID]"));
        assert_eq!(left(&whoami, "abc").as_deref(), Some(""));
        assert_eq!(left(&whoami, "abc def"), None);
    }

    #[test]
    fn fixed_synopsis_drops_words_until_an_option() {
        let s = "key value [NX|XX] [GET]";
        assert_eq!(remaining_in_text(s, 0), s);
        assert_eq!(remaining_in_text(s, 1), "value [NX|XX] [GET]");
        assert_eq!(remaining_in_text(s, 2), "[NX|XX] [GET]");
        assert_eq!(remaining_in_text(s, 5), "[NX|XX] [GET]");
        assert_eq!(remaining_in_text("key", 3), "");
    }

    #[test]
    fn parses_command_docs_arguments() {
        let bulk = |s: &str| Reply::Bulk(s.as_bytes().to_vec());
        let field = Reply::Array(vec![bulk("name"), bulk("field"), bulk("type"), bulk("string")]);
        let value = Reply::Array(vec![bulk("name"), bulk("value"), bulk("type"), bulk("string")]);
        let reply = Reply::Array(vec![
            Reply::Array(vec![bulk("name"), bulk("key"), bulk("type"), bulk("key")]),
            Reply::Array(vec![
                bulk("name"),
                bulk("field_value"),
                bulk("type"),
                bulk("block"),
                bulk("flags"),
                Reply::Array(vec![Reply::Status("multiple".into())]),
                bulk("arguments"),
                Reply::Array(vec![field, value]),
            ]),
        ]);
        assert_eq!(parse_args(&reply), hset());
        assert!(parse_args(&Reply::Nil).is_empty());
    }
}
