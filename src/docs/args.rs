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

/// Writes an argument tree in the built-in table's notation (one line, no tabs): each argument is
/// a kind letter (`s` string, `i` integer, `d` double, `t` pure token, `o` one of, `b` block),
/// flags (`?` optional, `*` multiple, `+` multiple token), its quoted name, `@` and its quoted
/// token if it has one, and its own arguments in braces: `s"key" t?"get"@"GET"`.
pub fn to_notation(args: &[Arg]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push(match arg.kind {
            Kind::Text => 's',
            Kind::Integer => 'i',
            Kind::Double => 'd',
            Kind::PureToken => 't',
            Kind::OneOf(_) => 'o',
            Kind::Block(_) => 'b',
        });
        for (on, flag) in [(arg.optional, '?'), (arg.multiple, '*'), (arg.multiple_token, '+')] {
            if on {
                out.push(flag);
            }
        }
        push_quoted(&mut out, &arg.name);
        if let Some(token) = &arg.token {
            out.push('@');
            push_quoted(&mut out, token);
        }
        if let Kind::OneOf(subs) | Kind::Block(subs) = &arg.kind {
            out.push('{');
            out.push_str(&to_notation(subs));
            out.push('}');
        }
    }
    out
}

fn push_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Reads [`to_notation`]'s text back; `None` when it is not well formed.
pub fn from_notation(text: &str) -> Option<Vec<Arg>> {
    let mut chars = text.chars().peekable();
    let args = read_args(&mut chars)?;
    chars.next().is_none().then_some(args)
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

fn read_args(chars: &mut Chars) -> Option<Vec<Arg>> {
    let mut args = Vec::new();
    loop {
        while chars.next_if_eq(&' ').is_some() {}
        match chars.peek() {
            None | Some('}') => return Some(args),
            Some(_) => args.push(read_arg(chars)?),
        }
    }
}

fn read_arg(chars: &mut Chars) -> Option<Arg> {
    let kind = chars.next()?;
    let mut arg = Arg::text("");
    while let Some(flag) = chars.next_if(|c| matches!(c, '?' | '*' | '+')) {
        match flag {
            '?' => arg.optional = true,
            '*' => arg.multiple = true,
            _ => arg.multiple_token = true,
        }
    }
    arg.name = read_quoted(chars)?;
    if chars.next_if_eq(&'@').is_some() {
        arg.token = Some(read_quoted(chars)?);
    }
    arg.kind = match kind {
        's' => Kind::Text,
        'i' => Kind::Integer,
        'd' => Kind::Double,
        't' => Kind::PureToken,
        'o' | 'b' => {
            chars.next_if_eq(&'{')?;
            let subs = read_args(chars)?;
            chars.next_if_eq(&'}')?;
            if kind == 'o' { Kind::OneOf(subs) } else { Kind::Block(subs) }
        }
        _ => return None,
    };
    Some(arg)
}

fn read_quoted(chars: &mut Chars) -> Option<String> {
    chars.next_if_eq(&'"')?;
    let mut out = String::new();
    loop {
        match chars.next()? {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                't' => out.push('\t'),
                'n' => out.push('\n'),
                c => out.push(c),
            },
            c => out.push(c),
        }
    }
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

/// Whether `word` begins with an integer, as C's `sscanf("%lld")` reads one (redis-cli's test).
fn scans_integer(word: &str) -> bool {
    let w = word.trim_start();
    let w = w.strip_prefix(['+', '-']).unwrap_or(w);
    w.starts_with(|c: char| c.is_ascii_digit())
}

/// Whether `word` begins with a floating-point number, as C's `sscanf("%lf")` reads one
/// (`1.5`, `-2.345`, `1e3`, `inf`, `nan`, and `12abc` for its `12`).
fn scans_double(word: &str) -> bool {
    let w = word.trim_start();
    (1..=w.len()).rev().any(|end| w.is_char_boundary(end) && w[..end].parse::<f64>().is_ok())
}

fn fits(kind: &Kind, word: &str) -> bool {
    match kind {
        Kind::Integer => scans_integer(word),
        Kind::Double => scans_double(word),
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

/// Appends the pieces of a sequence still to type, each followed by `sep` (" " in a block, "|" in
/// a oneof) unless it is the sequence's last argument — redis-cli's rule, whose only visible
/// effect is a trailing separator when the last argument shows nothing (trimmed by the caller).
/// A run of optional arguments may come in any order: the one being typed is shown first, and the
/// others only while the required argument after the run has not been reached.
fn render_seq(args: &[Arg], seen: &[Seen], sep: &str, out: &mut String) {
    let n = args.len();
    let mut mark = out.len();
    let mut emit = |i: usize, last: bool, out: &mut String| {
        render_arg(&args[i], &seen[i], out);
        if out.len() > mark && !last {
            out.push_str(sep);
            mark = out.len();
        }
    };
    let mut i = 0;
    while i < n {
        if !args[i].optional {
            emit(i, i == n - 1, out);
            i += 1;
            continue;
        }
        let end = (i..n).find(|&j| !args[j].optional).unwrap_or(n);
        let typing = (i..end).find(|&j| seen[j].words > 0 && !seen[j].done);
        if let Some(j) = typing {
            // (redis-cli decides "last" by the run's first argument here.)
            emit(j, i == n - 1, out);
        }
        if end == n || seen[end].words == 0 {
            for j in (i..end).filter(|&j| Some(j) != typing) {
                emit(j, j == n - 1, out);
            }
        }
        i = end;
    }
}

/// A token or name as the hint shows it: an empty one as `""` (MIGRATE's `key|""`).
fn push_word(out: &mut String, word: &str) {
    out.push_str(if word.is_empty() { "\"\"" } else { word });
}

fn render_arg(arg: &Arg, seen: &Seen, out: &mut String) {
    if seen.done {
        return;
    }
    let started = seen.words > 0;
    if arg.optional && !started {
        out.push('[');
    }
    if let Some(token) = arg.token.as_ref().filter(|_| !seen.token) {
        push_word(out, token);
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
        _ => push_word(out, &arg.name),
    }
    // redis-cli forgets what was typed of a repeatable argument once its repetition is shown, so
    // an optional one being typed gets a closing bracket without an opening one
    // (`BITFIELD_RO k GET ` → `encoding offset [GET encoding offset ...]]`): so do we.
    let started = started && !arg.multiple;
    if arg.multiple {
        render_repeat(arg, out);
    }
    if arg.optional && !started {
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
        push_word(out, token);
        if arg.kind != Kind::PureToken {
            out.push(' ');
        }
    }
    let fresh = Seen::fresh(arg);
    match &arg.kind {
        Kind::OneOf(alts) => render_seq(alts, &fresh.subs, "|", out),
        Kind::Block(subs) => render_seq(subs, &fresh.subs, " ", out),
        Kind::PureToken => {}
        _ => push_word(out, &arg.name),
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
    out.truncate(out.trim_end().len());
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
    fn the_builtin_notation_round_trips() {
        let mut odd = Arg::text("a \"quoted\"\tname\\");
        odd.token = Some(String::new());
        odd.kind = Kind::PureToken;
        for args in [hset(), set(), vec![odd], vec![]] {
            let text = to_notation(&args);
            assert!(!text.contains(['\t', '\n']), "{text}");
            assert_eq!(from_notation(&text), Some(args), "{text}");
        }
        assert_eq!(to_notation(&hset()), r#"s"key" b*"field_value"{s"field" s"value"}"#);
        for bad in ["x\"a\"", "s\"unterminated", "b\"a\"{s\"b\"", "s\"a\"}", "o\"a\""] {
            assert_eq!(from_notation(bad), None, "{bad}");
        }
    }

    #[test]
    fn numbers_are_read_as_c_reads_them() {
        for (word, int, double) in
            [("12", true, true), ("-3", true, true), ("12abc", true, true), ("-2.345", true, true)]
                .into_iter()
                .chain([("inf", false, true), ("1e3", true, true), ("x", false, false), ("", false, false)])
                .chain([(".5", false, true), ("+", false, false), ("é", false, false)])
        {
            assert_eq!((scans_integer(word), scans_double(word)), (int, double), "{word:?}");
        }
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
