//! Replies as text, byte for byte as redis-cli prints them: its TTY ("pretty") form, its raw form
//! (with `-d`/`-D` delimiters), and its `--csv`, `--json` and `--quoted-json` forms.
//! Pure; every double, big number and verbatim string is printed from the server's own text.

use crate::redis::reply::Reply;
use crate::redis::split::{push_repr, repr};

/// How replies are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `redis-cli --no-raw`: quoted strings, `(integer)`, numbered aggregates.
    Pretty,
    /// `redis-cli --raw`: bare bytes, one element per line.
    Raw,
    /// `redis-cli --csv`: one line of comma-separated values, strings quoted.
    Csv,
    /// `redis-cli --json`: arrays `[…]`, maps `{…}`, strings JSON-escaped.
    Json,
    /// `redis-cli --quoted-json`: as `--json`, with strings quoted as redis-cli quotes them.
    QuotedJson,
}

/// The delimiters of the raw form (redis-cli's `-d` and `-D`): between the elements of an
/// aggregate, and after each reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delims {
    pub bulk: Vec<u8>,
    pub reply: Vec<u8>,
}

impl Default for Delims {
    fn default() -> Self {
        Delims { bulk: b"\n".to_vec(), reply: b"\n".to_vec() }
    }
}

/// Commands whose reply redis-cli writes verbatim even in pretty mode (help text, INFO…).
pub fn prints_verbatim<A: AsRef<[u8]>>(args: &[A]) -> bool {
    let word = |i: usize| args.get(i).map(|a| a.as_ref().to_ascii_lowercase());
    let (Some(first), n) = (word(0), args.len()) else {
        return false;
    };
    let second = word(1);
    let second = second.as_deref();
    match first.as_slice() {
        b"info" | b"lolwut" => true,
        b"debug" => matches!(second, Some(b"htstats" | b"htstats-key" | b"client-eviction")),
        b"memory" => matches!(second, Some(b"malloc-stats" | b"doctor")),
        b"cluster" => n == 2 && matches!(second, Some(b"nodes" | b"info")),
        b"client" => matches!(second, Some(b"list" | b"info")),
        b"latency" => (n == 3 && second == Some(b"graph")) || (n == 2 && second == Some(b"doctor")),
        b"proxy" => second == Some(b"info"),
        _ => false,
    }
}

/// Appends a top-level reply, followed by its line end, as redis-cli prints it.
pub fn push_reply(out: &mut Vec<u8>, v: &Reply, mode: Mode) {
    push_reply_delimited(out, v, mode, b"\n", b"\n");
}

/// [`push_reply`] with the raw form's delimiters: `bulk` between the elements of an aggregate,
/// `reply` after the reply (redis-cli's `-d` and `-D`; the other forms ignore them).
pub fn push_reply_delimited(out: &mut Vec<u8>, v: &Reply, mode: Mode, bulk: &[u8], reply: &[u8]) {
    match mode {
        Mode::Pretty => push_tty(out, v, ""),
        Mode::Raw => {
            push_raw(out, v, bulk);
            out.extend_from_slice(reply);
        }
        Mode::Csv => {
            push_csv(out, v);
            out.push(b'\n');
        }
        Mode::Json => {
            push_json(out, v, false);
            out.push(b'\n');
        }
        Mode::QuotedJson => {
            push_json(out, v, true);
            out.push(b'\n');
        }
    }
}

/// A reply formatted for a terminal (`--no-raw`), ending in a newline.
pub fn pretty(v: &Reply) -> Vec<u8> {
    let mut out = Vec::new();
    push_tty(&mut out, v, "");
    out
}

/// Appends a reply written verbatim (see [`prints_verbatim`]): no quotes and no added line end;
/// `bulk` between the elements of an aggregate (`-d`).
pub fn push_verbatim(out: &mut Vec<u8>, v: &Reply, bulk: &[u8]) {
    push_raw(out, v, bulk);
}

/// An aggregate's entries in the order redis-cli prints them.
enum Aggregate<'a> {
    List(&'a [Reply], u8, &'static str),
    Map(&'a [(Reply, Reply)]),
}

fn is_multiline(v: &Reply) -> bool {
    match v {
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => match items.as_slice() {
            [] => false,
            [only] => is_multiline(only),
            _ => true,
        },
        Reply::Map(pairs) => match pairs.as_slice() {
            [] => false,
            [(_, only)] => is_multiline(only),
            _ => true,
        },
        _ => false,
    }
}

fn digits(mut n: usize) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

fn push_line(out: &mut Vec<u8>, parts: &[&[u8]]) {
    for p in parts {
        out.extend_from_slice(p);
    }
    out.push(b'\n');
}

fn push_tty(out: &mut Vec<u8>, v: &Reply, prefix: &str) {
    match v {
        Reply::Nil => out.extend_from_slice(b"(nil)\n"),
        Reply::Int(i) => {
            let mut digits = itoa::Buffer::new();
            push_line(out, &[b"(integer) ", digits.format(*i).as_bytes()]);
        }
        Reply::Bulk(b) => {
            push_repr(out, b);
            out.push(b'\n');
        }
        Reply::Status(s) | Reply::Verbatim(s) => push_line(out, &[s]),
        Reply::Double(d) => push_line(out, &[b"(double) ", d]),
        Reply::Bool(b) => out.extend_from_slice(if *b { b"(true)\n" } else { b"(false)\n" }),
        // redis-cli exits on this one; we print what the server meant.
        Reply::BigNumber(n) => push_line(out, &[b"(big number) ", n]),
        Reply::Error(e) => push_line(out, &[b"(error) ", e]),
        Reply::Array(items) => {
            push_tty_aggregate(out, Aggregate::List(items, b')', "(empty array)\n"), prefix)
        }
        Reply::Set(items) => push_tty_aggregate(out, Aggregate::List(items, b'~', "(empty set)\n"), prefix),
        Reply::Push(items) if v.push_kind().as_deref() == Some(b"invalidate") => {
            push_invalidate(out, &items[1..])
        }
        Reply::Push(items) => push_tty_aggregate(out, Aggregate::List(items, b')', "(empty push)\n"), prefix),
        Reply::Map(pairs) => push_tty_aggregate(out, Aggregate::Map(pairs), prefix),
    }
}

/// redis-cli's client-tracking line: `-> invalidate: 'k1', 'k2'`.
fn push_invalidate(out: &mut Vec<u8>, data: &[Reply]) {
    out.extend_from_slice(b"-> invalidate: ");
    let keys: Vec<&Reply> = match data {
        [Reply::Array(keys)] => keys.iter().collect(),
        other => other.iter().collect(),
    };
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.push(b'\'');
        push_raw(out, k, b"\n");
        out.push(b'\'');
    }
    out.push(b'\n');
}

fn push_tty_aggregate(out: &mut Vec<u8>, agg: Aggregate<'_>, prefix: &str) {
    let (count, marker, empty) = match &agg {
        Aggregate::List(items, marker, empty) => (items.len(), *marker, *empty),
        Aggregate::Map(pairs) => (pairs.len(), b'#', "(empty hash)\n"),
    };
    if count == 0 {
        out.extend_from_slice(empty.as_bytes());
        return;
    }
    let width = digits(count);
    let child_prefix = format!("{prefix}{:w$}", "", w = width + 2);
    let mut index = itoa::Buffer::new();
    for i in 0..count {
        // The first entry follows the parent's own index on the same line.
        if i > 0 {
            out.extend_from_slice(prefix.as_bytes());
        }
        let n = index.format(i + 1);
        out.extend(std::iter::repeat_n(b' ', width - n.len()));
        out.extend_from_slice(n.as_bytes());
        out.push(marker);
        out.push(b' ');
        match &agg {
            Aggregate::List(items, ..) => push_tty(out, &items[i], &child_prefix),
            Aggregate::Map(pairs) => {
                let (k, v) = &pairs[i];
                push_tty(out, k, &child_prefix);
                out.pop();
                out.extend_from_slice(b" => ");
                if is_multiline(v) {
                    out.push(b'\n');
                    out.extend_from_slice(child_prefix.as_bytes());
                }
                push_tty(out, v, &child_prefix);
            }
        }
    }
}

fn push_raw(out: &mut Vec<u8>, v: &Reply, delim: &[u8]) {
    match v {
        Reply::Nil => {}
        Reply::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        Reply::Bulk(b) | Reply::Status(b) | Reply::Verbatim(b) | Reply::Double(b) | Reply::BigNumber(b) => {
            out.extend_from_slice(b)
        }
        Reply::Bool(b) => out.extend_from_slice(if *b { b"(true)" } else { b"(false)" }),
        Reply::Error(e) => push_line(out, &[e]),
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(delim);
                }
                push_raw(out, item, delim);
            }
        }
        Reply::Map(pairs) => {
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(delim);
                }
                push_raw(out, k, delim);
                out.push(b' ');
                push_raw(out, v, delim);
            }
        }
    }
}

/// redis-cli's `--csv` form of a reply (no line end): aggregates flattened, maps too.
fn push_csv(out: &mut Vec<u8>, v: &Reply) {
    match v {
        Reply::Error(e) => {
            out.extend_from_slice(b"ERROR,");
            push_repr(out, e);
        }
        Reply::Status(s) | Reply::Bulk(s) | Reply::Verbatim(s) => push_repr(out, s),
        Reply::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        // redis-cli stops at a big number ("Unknown reply type"); its digits are what the server meant.
        Reply::Double(d) | Reply::BigNumber(d) => out.extend_from_slice(d),
        Reply::Nil => out.extend_from_slice(b"NULL"),
        Reply::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_csv(out, item);
            }
        }
        Reply::Map(pairs) => {
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_csv(out, k);
                out.push(b',');
                push_csv(out, v);
            }
        }
    }
}

/// redis-cli's `--json` (or, `quoted`, `--quoted-json`) form of a reply, without a line end.
/// Errors print as `error:"…"`, which is not JSON: redis-cli prints them so.
fn push_json(out: &mut Vec<u8>, v: &Reply, quoted: bool) {
    match v {
        Reply::Error(e) => {
            out.extend_from_slice(b"error:");
            push_json_string(out, e, quoted);
        }
        Reply::Status(s) | Reply::Bulk(s) | Reply::Verbatim(s) => push_json_string(out, s, quoted),
        Reply::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        Reply::Double(d) | Reply::BigNumber(d) => out.extend_from_slice(d),
        Reply::Nil => out.extend_from_slice(b"null"),
        Reply::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_json(out, item, quoted);
            }
            out.push(b']');
        }
        Reply::Map(pairs) => {
            out.push(b'{');
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match k {
                    Reply::Error(s) | Reply::Status(s) | Reply::Bulk(s) | Reply::Verbatim(s) => {
                        push_json_string(out, s, quoted)
                    }
                    // A JSON key must be a string: another type is printed, then quoted if it is not yet.
                    other => {
                        let mut key = Vec::new();
                        push_json(&mut key, other, quoted);
                        if key.first() == Some(&b'"') {
                            out.extend_from_slice(&key);
                        } else {
                            out.push(b'"');
                            out.extend_from_slice(&key);
                            out.push(b'"');
                        }
                    }
                }
                out.push(b':');
                push_json(out, v, quoted);
            }
            out.push(b'}');
        }
    }
}

/// A string in JSON: escaped as JSON (bytes from 0x20 up are kept as they are, so UTF-8 stays
/// readable), or with `quoted` redis-cli's quoting with every backslash doubled.
fn push_json_string(out: &mut Vec<u8>, s: &[u8], quoted: bool) {
    if quoted {
        for b in repr(s) {
            if b == b'\\' {
                out.extend_from_slice(b"\\\\");
            } else {
                out.push(b);
            }
        }
        return;
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &b in s {
        match b {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', b]),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0..=0x1f => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ]),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use Reply::*;

    fn bulk(s: &str) -> Reply {
        Bulk(s.as_bytes().to_vec())
    }

    fn tty(v: &Reply) -> String {
        String::from_utf8(pretty(v)).unwrap()
    }

    fn raw(v: &Reply) -> String {
        let mut out = Vec::new();
        push_reply(&mut out, v, Mode::Raw);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn scalars() {
        assert_eq!(tty(&Int(5)), "(integer) 5\n");
        assert_eq!(tty(&Int(i64::MIN)), "(integer) -9223372036854775808\n");
        assert_eq!(tty(&Nil), "(nil)\n");
        assert_eq!(tty(&Status(b"OK".to_vec())), "OK\n");
        assert_eq!(tty(&bulk("")), "\"\"\n");
        assert_eq!(tty(&Bulk(vec![b'a', 0xc3, 0xa9])), "\"a\\xc3\\xa9\"\n");
        assert_eq!(tty(&Bool(true)), "(true)\n");
        assert_eq!(tty(&Error(b"ERR x ".to_vec())), "(error) ERR x \n");
    }

    #[test]
    fn doubles_print_the_servers_text() {
        assert_eq!(tty(&Double(b"0.1".to_vec())), "(double) 0.1\n");
        assert_eq!(tty(&Double(b"0.10000000000000001".to_vec())), "(double) 0.10000000000000001\n");
        assert_eq!(raw(&Double(b"1e+300".to_vec())), "1e+300\n");
    }

    #[test]
    fn nested_arrays_staircase() {
        let v = Array(vec![
            Int(1),
            Array(vec![Int(2), Array(vec![bulk("x"), bulk("y")])]),
            bulk("z"),
            Array(vec![]),
        ]);
        assert_eq!(
            tty(&v),
            "1) (integer) 1\n2) 1) (integer) 2\n   2) 1) \"x\"\n      2) \"y\"\n3) \"z\"\n4) (empty array)\n"
        );
    }

    #[test]
    fn index_width_grows_with_count() {
        let v = Array((1..=10).map(|i| Array(vec![Int(i), bulk("a")])).collect());
        let out = tty(&v);
        assert!(out.starts_with(" 1) 1) (integer) 1\n    2) \"a\"\n 2) "));
        assert!(out.ends_with("10) 1) (integer) 10\n    2) \"a\"\n"));
    }

    #[test]
    fn maps_and_sets() {
        assert_eq!(
            tty(&Map(vec![(bulk("f1"), bulk("v1")), (bulk("f2"), bulk("v2"))])),
            "1# \"f1\" => \"v1\"\n2# \"f2\" => \"v2\"\n"
        );
        assert_eq!(tty(&Map(vec![(bulk("k"), Array(vec![Int(5)]))])), "1# \"k\" => 1) (integer) 5\n");
        assert_eq!(
            tty(&Map(vec![(bulk("k"), Array(vec![Array(vec![Int(1), Int(2)]), Int(3)]))])),
            "1# \"k\" => \n   1) 1) (integer) 1\n      2) (integer) 2\n   2) (integer) 3\n"
        );
        assert_eq!(tty(&Set(vec![bulk("y"), bulk("x")])), "1~ \"y\"\n2~ \"x\"\n");
        assert_eq!(tty(&Map(vec![])), "(empty hash)\n");
        assert_eq!(tty(&Set(vec![])), "(empty set)\n");
    }

    #[test]
    fn pushes() {
        let inv = Push(vec![bulk("invalidate"), Array(vec![bulk("a"), bulk("b")])]);
        assert_eq!(tty(&inv), "-> invalidate: 'a', 'b'\n");
        let msg = Push(vec![bulk("message"), bulk("ch"), bulk("hi")]);
        assert_eq!(tty(&msg), "1) \"message\"\n2) \"ch\"\n3) \"hi\"\n");
    }

    #[test]
    fn raw_form() {
        assert_eq!(raw(&Int(5)), "5\n");
        assert_eq!(raw(&Nil), "\n");
        assert_eq!(raw(&Array(vec![bulk("a"), bulk("b")])), "a\nb\n");
        assert_eq!(
            raw(&Map(vec![(bulk("k"), Array(vec![Int(1), Int(2)])), (bulk("j"), bulk("v"))])),
            "k 1\n2\nj v\n"
        );
        assert_eq!(raw(&Bool(false)), "(false)\n");
        assert_eq!(raw(&Error(b"ERR x".to_vec())), "ERR x\n\n");
    }

    fn form(v: &Reply, mode: Mode) -> String {
        let mut out = Vec::new();
        push_reply(&mut out, v, mode);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn raw_delimiters() {
        let mut out = Vec::new();
        let v = Array(vec![bulk("a"), Array(vec![bulk("b"), bulk("c")]), Nil]);
        push_reply_delimited(&mut out, &v, Mode::Raw, b",", b"|");
        assert_eq!(out, b"a,b,c,|");
        out.clear();
        let m = Map(vec![(bulk("k"), Int(1)), (bulk("j"), bulk("v"))]);
        push_reply_delimited(&mut out, &m, Mode::Raw, b"", b"");
        assert_eq!(out, b"k 1j v");
        out.clear();
        // The terminal form ignores both.
        push_reply_delimited(&mut out, &Int(1), Mode::Pretty, b",", b"|");
        assert_eq!(out, b"(integer) 1\n");
    }

    #[test]
    fn csv_form() {
        let v = Map(vec![(Int(0), Bool(false)), (Int(1), Bool(true))]);
        assert_eq!(form(&v, Mode::Csv), "0,false,1,true\n");
        assert_eq!(
            form(&Array(vec![bulk("a\"b"), Nil, Double(b"3.141".to_vec())]), Mode::Csv),
            "\"a\\\"b\",NULL,3.141\n"
        );
        assert_eq!(form(&Error(b"ERR x".to_vec()), Mode::Csv), "ERROR,\"ERR x\"\n");
        assert_eq!(form(&Status(b"PONG".to_vec()), Mode::Csv), "\"PONG\"\n");
        assert_eq!(form(&Array(vec![]), Mode::Csv), "\n");
    }

    #[test]
    fn json_of_nested_resp3_replies() {
        let v = Map(vec![
            (bulk("scores"), Array(vec![Array(vec![bulk("a"), Double(b"0.1".to_vec())])])),
            (Int(7), Set(vec![bulk("x"), Bool(true)])),
            (Nil, Map(vec![])),
            (Double(b"1.5".to_vec()), Nil),
            (bulk("v"), Verbatim(b"line\nnext".to_vec())),
        ]);
        assert_eq!(
            form(&v, Mode::Json),
            "{\"scores\":[[\"a\",0.1]],\"7\":[\"x\",true],\"null\":{},\"1.5\":null,\"v\":\"line\\nnext\"}\n"
        );
        assert_eq!(form(&Array(vec![]), Mode::Json), "[]\n");
        assert_eq!(form(&Error(b"ERR \"x\"".to_vec()), Mode::Json), "error:\"ERR \\\"x\\\"\"\n");
    }

    #[test]
    fn json_strings_escape_as_redis_cli_does() {
        let s = Bulk(b"a/\t\"\\\x00\x1f\x7f\xc3\xa9".to_vec());
        assert_eq!(form(&s, Mode::Json).into_bytes(), b"\"a/\\t\\\"\\\\\\u0000\\u001f\x7f\xc3\xa9\"\n");
        assert_eq!(
            form(&s, Mode::QuotedJson),
            "\"a/\\\\t\\\\\"\\\\\\\\\\\\x00\\\\x1f\\\\x7f\\\\xc3\\\\xa9\"\n"
        );
    }

    #[test]
    fn verbatim_commands() {
        assert!(prints_verbatim(&["INFO"]));
        assert!(prints_verbatim(&["client", "list"]));
        assert!(prints_verbatim(&["cluster", "nodes"]));
        assert!(!prints_verbatim(&["cluster", "nodes", "x"]));
        assert!(!prints_verbatim(&["get", "info"]));
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        /// Any reply a server could send (nesting bounded), including the RESP3 types.
        fn reply() -> impl Strategy<Value = Reply> {
            let leaf = prop_oneof![
                Just(Reply::Nil),
                any::<i64>().prop_map(Reply::Int),
                proptest::collection::vec(any::<u8>(), 0..16).prop_map(Reply::Bulk),
                "[ -~]{0,12}".prop_map(|s| Reply::Status(s.into_bytes())),
                "[ -~]{0,12}".prop_map(|s| Reply::Error(s.into_bytes())),
                "-?[0-9.e+]{1,12}".prop_map(|s| Reply::Double(s.into_bytes())),
                any::<bool>().prop_map(Reply::Bool),
                "[0-9]{1,40}".prop_map(|n| Reply::BigNumber(n.into_bytes())),
            ];
            leaf.prop_recursive(4, 64, 8, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..12).prop_map(Reply::Array),
                    proptest::collection::vec(inner.clone(), 0..6).prop_map(Reply::Set),
                    proptest::collection::vec(inner.clone(), 0..4).prop_map(Reply::Push),
                    proptest::collection::vec((inner.clone(), inner), 0..6).prop_map(Reply::Map),
                ]
            })
        }

        proptest! {
            #[test]
            fn formatting_any_reply_terminates_with_one_line_end(v in reply()) {
                let out = pretty(&v);
                prop_assert!(out.ends_with(b"\n"));
                let mut raw = Vec::new();
                push_reply(&mut raw, &v, Mode::Raw);
                prop_assert!(raw.ends_with(b"\n"));
            }

            #[test]
            fn bulk_strings_print_back_as_what_the_splitter_reads(b in proptest::collection::vec(any::<u8>(), 0..32)) {
                let out = pretty(&Reply::Bulk(b.clone()));
                let line = &out[..out.len() - 1];
                prop_assert_eq!(crate::redis::split::split_args(line).unwrap(), vec![b]);
            }
        }
    }
}
