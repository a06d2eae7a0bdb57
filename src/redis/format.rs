//! Replies as text, byte for byte as redis-cli prints them: its TTY ("pretty") form and its raw form.

use redis::{PushKind, Value};

use crate::redis::split::push_repr;

/// How replies are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `redis-cli --no-raw`: quoted strings, `(integer)`, numbered aggregates.
    Pretty,
    /// `redis-cli --raw`: bare bytes, one element per line.
    Raw,
}

/// The text form the server gave a RESP3 double in. The parser keeps only the number, so the
/// form is chosen by the command that asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Doubles {
    /// `%.17g`: ZSCORE, ZINCRBY and every other `addReplyDouble` (Redis 7.0).
    G17,
    /// `%.17Lf` without trailing zeros: GEO coordinates (`addReplyHumanLongDouble`).
    Human,
}

/// How the doubles in the reply to `args` are written (see [`Doubles`]).
pub fn doubles_of<A: AsRef<[u8]>>(args: &[A]) -> Doubles {
    const GEO: [&[u8]; 6] = [
        b"geopos",
        b"georadius",
        b"georadius_ro",
        b"georadiusbymember",
        b"georadiusbymember_ro",
        b"geosearch",
    ];
    match args.first() {
        Some(name) if GEO.iter().any(|g| name.as_ref().eq_ignore_ascii_case(g)) => Doubles::Human,
        _ => Doubles::G17,
    }
}

/// The wire text of a server error: code, then the detail exactly as sent.
pub fn error_text(e: &redis::ServerError) -> String {
    match e.details() {
        Some(d) => format!("{} {}", e.code(), d),
        None => e.code().to_owned(),
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
pub fn push_reply(out: &mut Vec<u8>, v: &Value, mode: Mode, doubles: Doubles) {
    match mode {
        Mode::Pretty => push_tty(out, v, "", doubles),
        Mode::Raw => {
            push_raw(out, v, doubles);
            out.push(b'\n');
        }
    }
}

/// [`push_reply`] for the reply to EXEC: each element's doubles in the form of the command that was
/// queued in its place (`queued`, in order).
pub fn push_exec_reply(out: &mut Vec<u8>, v: &Value, mode: Mode, queued: &[Doubles]) {
    let Value::Array(items) = v else {
        return push_reply(out, v, mode, Doubles::G17);
    };
    match mode {
        Mode::Pretty => {
            push_tty_aggregate(out, Aggregate::List(items, b')', "(empty array)\n"), "", Doubles::G17, queued)
        }
        Mode::Raw => {
            push_raw_list(out, items, Doubles::G17, queued);
            out.push(b'\n');
        }
    }
}

/// A reply formatted for a terminal (`--no-raw`), ending in a newline.
pub fn pretty(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    push_tty(&mut out, v, "", Doubles::G17);
    out
}

/// Appends a reply written verbatim (see [`prints_verbatim`]): no quotes and no added line end.
pub fn push_verbatim(out: &mut Vec<u8>, v: &Value) {
    push_raw(out, v, Doubles::G17);
}

/// A push frame as the array it was on the wire: its kind name first.
fn push_elements(kind: &PushKind, data: &[Value]) -> Vec<Value> {
    let name = match kind {
        PushKind::Disconnection => "disconnection".to_owned(),
        PushKind::Other(s) => s.clone(),
        PushKind::Invalidate => "invalidate".to_owned(),
        PushKind::Message => "message".to_owned(),
        PushKind::PMessage => "pmessage".to_owned(),
        PushKind::SMessage => "smessage".to_owned(),
        PushKind::Unsubscribe => "unsubscribe".to_owned(),
        PushKind::PUnsubscribe => "punsubscribe".to_owned(),
        PushKind::SUnsubscribe => "sunsubscribe".to_owned(),
        PushKind::Subscribe => "subscribe".to_owned(),
        PushKind::PSubscribe => "psubscribe".to_owned(),
        PushKind::SSubscribe => "ssubscribe".to_owned(),
        other => format!("{other:?}").to_ascii_lowercase(),
    };
    let mut all = Vec::with_capacity(data.len() + 1);
    all.push(Value::BulkString(name.into_bytes()));
    all.extend(data.iter().cloned());
    all
}

/// An aggregate's entries in the order redis-cli prints them (maps flattened key, value, …).
enum Aggregate<'a> {
    List(&'a [Value], u8, &'static str),
    Map(&'a [(Value, Value)]),
}

fn is_multiline(v: &Value) -> bool {
    match v {
        Value::Array(items) | Value::Set(items) => match items.as_slice() {
            [] => false,
            [only] => is_multiline(only),
            _ => true,
        },
        Value::Push { data, .. } => !data.is_empty(),
        Value::Map(pairs) => match pairs.as_slice() {
            [] => false,
            [(_, only)] => is_multiline(only),
            _ => true,
        },
        Value::Attribute { data, .. } => is_multiline(data),
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

fn push_tty(out: &mut Vec<u8>, v: &Value, prefix: &str, doubles: Doubles) {
    match v {
        Value::Nil => out.extend_from_slice(b"(nil)\n"),
        Value::Int(i) => out.extend_from_slice(format!("(integer) {i}\n").as_bytes()),
        Value::BulkString(b) => {
            push_repr(out, b);
            out.push(b'\n');
        }
        Value::SimpleString(s) => {
            out.extend_from_slice(s.as_bytes());
            out.push(b'\n');
        }
        Value::Okay => out.extend_from_slice(b"OK\n"),
        Value::Double(d) => {
            out.extend_from_slice(format!("(double) {}\n", fmt_double(*d, doubles)).as_bytes())
        }
        Value::Boolean(b) => out.extend_from_slice(if *b { b"(true)\n" } else { b"(false)\n" }),
        Value::VerbatimString { text, .. } => {
            out.extend_from_slice(text.as_bytes());
            out.push(b'\n');
        }
        // redis-cli exits on these; we print what the server meant.
        Value::BigNumber(n) => {
            out.extend_from_slice(b"(big number) ");
            out.extend_from_slice(n);
            out.push(b'\n');
        }
        Value::Attribute { data, .. } => push_tty(out, data, prefix, doubles),
        Value::ServerError(e) => {
            out.extend_from_slice(b"(error) ");
            out.extend_from_slice(error_text(e).as_bytes());
            out.push(b'\n');
        }
        Value::Array(items) => {
            push_tty_aggregate(out, Aggregate::List(items, b')', "(empty array)\n"), prefix, doubles, &[])
        }
        Value::Set(items) => {
            push_tty_aggregate(out, Aggregate::List(items, b'~', "(empty set)\n"), prefix, doubles, &[])
        }
        Value::Push { kind: PushKind::Invalidate, data } => push_invalidate(out, data),
        Value::Push { kind, data } => {
            let all = push_elements(kind, data);
            push_tty_aggregate(out, Aggregate::List(&all, b')', "(empty push)\n"), prefix, doubles, &[]);
        }
        Value::Map(pairs) => push_tty_aggregate(out, Aggregate::Map(pairs), prefix, doubles, &[]),
        _ => out.extend_from_slice(b"(unknown reply)\n"),
    }
}

/// redis-cli's client-tracking line: `-> invalidate: 'k1', 'k2'`.
fn push_invalidate(out: &mut Vec<u8>, data: &[Value]) {
    out.extend_from_slice(b"-> invalidate: ");
    let keys: Vec<&Value> = match data {
        [Value::Array(keys)] => keys.iter().collect(),
        other => other.iter().collect(),
    };
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.push(b'\'');
        push_raw(out, k, Doubles::G17);
        out.push(b'\'');
    }
    out.push(b'\n');
}

/// An aggregate's elements; `each` (EXEC) overrides the doubles form element by element.
fn push_tty_aggregate(
    out: &mut Vec<u8>,
    agg: Aggregate<'_>,
    prefix: &str,
    doubles: Doubles,
    each: &[Doubles],
) {
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
    for i in 0..count {
        // The first entry follows the parent's own index on the same line.
        let lead = if i == 0 { "" } else { prefix };
        out.extend_from_slice(format!("{lead}{:>width$}", i + 1).as_bytes());
        out.push(marker);
        out.push(b' ');
        match &agg {
            Aggregate::List(items, ..) => {
                push_tty(out, &items[i], &child_prefix, each.get(i).copied().unwrap_or(doubles))
            }
            Aggregate::Map(pairs) => {
                let (k, v) = &pairs[i];
                push_tty(out, k, &child_prefix, doubles);
                out.pop();
                out.extend_from_slice(b" => ");
                if is_multiline(v) {
                    out.push(b'\n');
                    out.extend_from_slice(child_prefix.as_bytes());
                }
                push_tty(out, v, &child_prefix, doubles);
            }
        }
    }
}

fn push_raw(out: &mut Vec<u8>, v: &Value, doubles: Doubles) {
    match v {
        Value::Nil => {}
        Value::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::BulkString(b) => out.extend_from_slice(b),
        Value::SimpleString(s) => out.extend_from_slice(s.as_bytes()),
        Value::Okay => out.extend_from_slice(b"OK"),
        Value::Double(d) => out.extend_from_slice(fmt_double(*d, doubles).as_bytes()),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"(true)" } else { b"(false)" }),
        Value::VerbatimString { text, .. } => out.extend_from_slice(text.as_bytes()),
        Value::BigNumber(n) => out.extend_from_slice(n),
        Value::Attribute { data, .. } => push_raw(out, data, doubles),
        Value::ServerError(e) => {
            out.extend_from_slice(error_text(e).as_bytes());
            out.push(b'\n');
        }
        Value::Array(items) | Value::Set(items) => push_raw_list(out, items, doubles, &[]),
        Value::Push { kind, data } => push_raw_list(out, &push_elements(kind, data), doubles, &[]),
        Value::Map(pairs) => {
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                push_raw(out, k, doubles);
                out.push(b' ');
                push_raw(out, v, doubles);
            }
        }
        _ => {}
    }
}

fn push_raw_list(out: &mut Vec<u8>, items: &[Value], doubles: Doubles, each: &[Doubles]) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        push_raw(out, item, each.get(i).copied().unwrap_or(doubles));
    }
}

fn fmt_double(d: f64, doubles: Doubles) -> String {
    match doubles {
        Doubles::G17 => fmt_g17(d),
        Doubles::Human => fmt_human(d),
    }
}

/// Redis's `ld2string(…, LD_STR_HUMAN)`: `%.17Lf` of the (exactly widened) double, trailing zeros and
/// a bare point dropped, `-0` as `0`.
pub fn fmt_human(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".to_owned() } else { "-inf".to_owned() };
    }
    let text = format!("{d:.17}");
    match trim_fraction(&text) {
        "-0" => "0".to_owned(),
        t => t.to_owned(),
    }
}

/// C's `printf("%.17g", d)`, the form Redis 7.0 sends doubles in (`inf`, `-inf`, `nan` included).
pub fn fmt_g17(d: f64) -> String {
    if d.is_nan() {
        return "nan".to_owned();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".to_owned() } else { "-inf".to_owned() };
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0".to_owned() } else { "0".to_owned() };
    }
    const P: i32 = 17;
    // Scientific form with P significant digits decides the exponent after rounding.
    let sci = format!("{:.*e}", (P - 1) as usize, d);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..P).contains(&exp) {
        let m = trim_fraction(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (P - 1 - exp).max(0) as usize;
        trim_fraction(&format!("{d:.decimals$}")).to_owned()
    }
}

/// Drops trailing zeros of a fraction, and the point if nothing is left after it.
fn trim_fraction(s: &str) -> &str {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Value::*;

    fn bulk(s: &str) -> Value {
        BulkString(s.as_bytes().to_vec())
    }

    fn tty(v: &Value) -> String {
        String::from_utf8(pretty(v)).unwrap()
    }

    fn raw(v: &Value) -> String {
        let mut out = Vec::new();
        push_reply(&mut out, v, Mode::Raw, Doubles::G17);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn scalars() {
        assert_eq!(tty(&Int(5)), "(integer) 5\n");
        assert_eq!(tty(&Nil), "(nil)\n");
        assert_eq!(tty(&Okay), "OK\n");
        assert_eq!(tty(&SimpleString("PONG".into())), "PONG\n");
        assert_eq!(tty(&bulk("")), "\"\"\n");
        assert_eq!(tty(&BulkString(vec![b'a', 0xc3, 0xa9])), "\"a\\xc3\\xa9\"\n");
        assert_eq!(tty(&Boolean(true)), "(true)\n");
        assert_eq!(tty(&Double(2.5)), "(double) 2.5\n");
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
    fn raw_form() {
        assert_eq!(raw(&Int(5)), "5\n");
        assert_eq!(raw(&Nil), "\n");
        assert_eq!(raw(&Array(vec![bulk("a"), bulk("b")])), "a\nb\n");
        assert_eq!(
            raw(&Map(vec![(bulk("k"), Array(vec![Int(1), Int(2)])), (bulk("j"), bulk("v"))])),
            "k 1\n2\nj v\n"
        );
        assert_eq!(raw(&Boolean(false)), "(false)\n");
    }

    #[test]
    fn verbatim_commands() {
        assert!(prints_verbatim(&["INFO"]));
        assert!(prints_verbatim(&["client", "list"]));
        assert!(prints_verbatim(&["cluster", "nodes"]));
        assert!(!prints_verbatim(&["cluster", "nodes", "x"]));
        assert!(!prints_verbatim(&["get", "info"]));
    }

    #[test]
    fn human_long_doubles_as_redis_writes_geo_coordinates() {
        assert_eq!(fmt_human(13.361389338970184), "13.36138933897018433");
        assert_eq!(fmt_human(38.1155563954963), "38.11555639549629859");
        assert_eq!(fmt_human(2.5), "2.5");
        assert_eq!(fmt_human(3.0), "3");
        assert_eq!(fmt_human(-0.0), "0");
        assert_eq!(doubles_of(&["GEOPOS", "g", "m"]), Doubles::Human);
        assert_eq!(doubles_of(&["zscore", "z", "m"]), Doubles::G17);
    }

    #[test]
    fn g17_matches_c() {
        assert_eq!(fmt_g17(0.1), "0.10000000000000001");
        assert_eq!(fmt_g17(1e300), "1.0000000000000001e+300");
        assert_eq!(fmt_g17(2.5), "2.5");
        assert_eq!(fmt_g17(1.0), "1");
        assert_eq!(fmt_g17(-3.0), "-3");
        assert_eq!(fmt_g17(1e-5), "1.0000000000000001e-05");
        assert_eq!(fmt_g17(0.0001), "0.0001");
        assert_eq!(fmt_g17(123456789012345680.0), "1.2345678901234568e+17");
        assert_eq!(fmt_g17(12345678901234567.0), "12345678901234568");
        assert_eq!(fmt_g17(f64::INFINITY), "inf");
        assert_eq!(fmt_g17(f64::NEG_INFINITY), "-inf");
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        /// Any reply a server could send (nesting bounded), including the RESP3 types.
        fn reply() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Nil),
                Just(Value::Okay),
                any::<i64>().prop_map(Value::Int),
                proptest::collection::vec(any::<u8>(), 0..16).prop_map(Value::BulkString),
                "[ -~]{0,12}".prop_map(Value::SimpleString),
                any::<f64>().prop_map(Value::Double),
                any::<bool>().prop_map(Value::Boolean),
                "[0-9]{1,40}".prop_map(|n| Value::BigNumber(n.into_bytes())),
            ];
            leaf.prop_recursive(4, 64, 8, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..12).prop_map(Value::Array),
                    proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Set),
                    proptest::collection::vec((inner.clone(), inner.clone()), 0..6).prop_map(Value::Map),
                    (inner.clone(), proptest::collection::vec((inner.clone(), inner), 0..2))
                        .prop_map(|(d, a)| Value::Attribute { data: Box::new(d), attributes: a }),
                ]
            })
        }

        proptest! {
            #[test]
            fn formatting_any_reply_terminates_with_one_line_end(v in reply()) {
                let out = pretty(&v);
                prop_assert!(out.ends_with(b"\n"));
                let mut raw = Vec::new();
                push_reply(&mut raw, &v, Mode::Raw, Doubles::G17);
                prop_assert!(raw.ends_with(b"\n"));
            }

            #[test]
            fn g17_round_trips(d in any::<f64>().prop_filter("finite", |d| d.is_finite())) {
                prop_assert_eq!(fmt_g17(d).parse::<f64>().unwrap(), d);
            }

            #[test]
            fn bulk_strings_print_back_as_what_the_splitter_reads(b in proptest::collection::vec(any::<u8>(), 0..32)) {
                let out = pretty(&Value::BulkString(b.clone()));
                let line = &out[..out.len() - 1];
                prop_assert_eq!(crate::redis::split::split_args(line).unwrap(), vec![b]);
            }
        }
    }
}
