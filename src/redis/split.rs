//! redis-cli's argument splitting (`sdssplitargs`) and string quoting (`sdscatrepr`).
//!
//! Arguments are bytes, not text: a line may carry any byte, and `"\xff"` is a valid argument.

use std::fmt;

/// A line redis-cli would refuse with `Invalid argument(s)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitError;

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Invalid argument(s)")
    }
}

/// C's `isspace` in the "C" locale, which redis-cli never changes.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Splits a line into arguments exactly as redis-cli does.
///
/// Unquoted text is literal; `"…"` knows `\n \r \t \b \a \xHH` and `\<c>` → `c`; `'…'` knows only `\'`.
/// A closing quote must be followed by whitespace or the end of the line.
pub fn split_args(line: &[u8]) -> Result<Vec<Vec<u8>>, SplitError> {
    let mut args = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && is_space(line[i]) {
            i += 1;
        }
        if i >= n {
            return Ok(args);
        }
        let mut cur = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            let Some(&c) = line.get(i) else {
                if in_double || in_single {
                    return Err(SplitError);
                }
                break;
            };
            if in_double {
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && let (Some(h), Some(l)) = (hex_value(line[i + 2]), hex_value(line[i + 3]))
                {
                    cur.push(h * 16 + l);
                    i += 4;
                    continue;
                }
                if c == b'\\' && i + 1 < n {
                    cur.push(match line[i + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                    i += 2;
                    continue;
                }
                if c == b'"' {
                    // The closing quote must end the argument.
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return Err(SplitError);
                    }
                    i += 1;
                    break;
                }
                cur.push(c);
                i += 1;
            } else if in_single {
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    cur.push(b'\'');
                    i += 2;
                    continue;
                }
                if c == b'\'' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return Err(SplitError);
                    }
                    i += 1;
                    break;
                }
                cur.push(c);
                i += 1;
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' => {
                        i += 1;
                        break;
                    }
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    _ => cur.push(c),
                }
                i += 1;
            }
        }
        args.push(cur);
    }
}

/// Appends `s` quoted as redis-cli's `sdscatrepr` does: always in double quotes, escaped.
pub fn push_repr(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + 2);
    out.push(b'"');
    for &b in s {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(&[b'\\', b'x', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]),
        }
    }
    out.push(b'"');
}

/// The quoted form of `s` (see [`push_repr`]).
pub fn repr(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 2);
    push_repr(&mut out, s);
    out
}

/// Whether an argument can be echoed bare and still split back to the same bytes.
fn is_bare(arg: &[u8]) -> bool {
    !arg.is_empty() && arg.iter().all(|&b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\'')
}

/// Appends one argument as it is echoed: bare when that is unambiguous, else redis-cli-quoted.
pub fn push_arg(out: &mut Vec<u8>, arg: &[u8]) {
    if is_bare(arg) {
        out.extend_from_slice(arg);
    } else {
        push_repr(out, arg);
    }
}

/// Joins arguments into a line that redis-cli splits back into the same bytes.
pub fn join_args<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        push_arg(&mut out, a.as_ref());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Result<Vec<String>, SplitError> {
        split_args(s.as_bytes())
            .map(|v| v.into_iter().map(|a| String::from_utf8_lossy(&a).into_owned()).collect())
    }

    #[test]
    fn plain_words_and_whitespace() {
        assert_eq!(split("  set  k\tv \r\n").unwrap(), ["set", "k", "v"]);
        assert!(split("").unwrap().is_empty());
        assert!(split(" \x0b\x0c ").unwrap().is_empty());
    }

    #[test]
    fn backslash_is_literal_outside_quotes() {
        assert_eq!(split(r"echo abc\x41 a\ b").unwrap(), ["echo", r"abc\x41", r"a\", "b"]);
    }

    #[test]
    fn double_quotes_escapes() {
        assert_eq!(
            split_args(br#""\x41\x42" "a\nb" "\f" "\xzz" "\"\\""#).unwrap(),
            vec![b"AB".to_vec(), b"a\nb".to_vec(), b"f".to_vec(), b"xzz".to_vec(), b"\"\\".to_vec()]
        );
        assert_eq!(split_args(br#""\xff\x00""#).unwrap(), vec![vec![0xff, 0]]);
    }

    #[test]
    fn single_quotes() {
        assert_eq!(split(r"echo 'it\'s' 'a\nb' ''").unwrap(), ["echo", "it's", r"a\nb", ""]);
    }

    #[test]
    fn quotes_join_a_token_and_must_end_it() {
        assert_eq!(split(r#"echo foo"bar baz""#).unwrap(), ["echo", "foobar baz"]);
        assert_eq!(split(r#"echo "foo"bar"#), Err(SplitError));
        assert_eq!(split("set 'a'b c"), Err(SplitError));
        assert_eq!(split(r#"echo "unbalanced"#), Err(SplitError));
        assert_eq!(split("echo 'x"), Err(SplitError));
        assert_eq!(split(r#"echo "ab\"#), Err(SplitError));
    }

    #[test]
    fn nul_is_an_ordinary_byte() {
        assert_eq!(split_args(b"a\0b c").unwrap(), vec![b"a\0b".to_vec(), b"c".to_vec()]);
    }

    #[test]
    fn repr_matches_redis_cli() {
        assert_eq!(repr(b"a\nb\"c\\d\te\x01\x7f"), br#""a\nb\"c\\d\te\x01\x7f""#.to_vec());
        assert_eq!(repr("héllo 你好".as_bytes()), br#""h\xc3\xa9llo \xe4\xbd\xa0\xe5\xa5\xbd""#.to_vec());
        assert_eq!(repr(b"\x07\x08\x0b\x0c"), br#""\a\b\x0b\x0c""#.to_vec());
    }

    #[test]
    fn join_quotes_only_when_needed() {
        let line =
            join_args(&[&b"HSET"[..], b"session:abc123", b"ip", b"192.168.1.10", b"a b", b"", b"it's"]);
        assert_eq!(line, br#"HSET session:abc123 ip 192.168.1.10 "a b" "" "it's""#.to_vec());
    }

    /// Lines that once broke a splitter (ours or an early draft's): kept as a seed corpus.
    #[test]
    fn past_failures_stay_fixed() {
        // A NUL byte ends a C string: an early draft that stopped there looped forever.
        assert_eq!(split_args(b"\0").unwrap(), vec![b"\0".to_vec()]);
        assert_eq!(split_args(b"\"a\0b\"").unwrap(), vec![b"a\0b".to_vec()]);
        // A backslash as the last byte inside quotes is an unterminated quote, not a panic.
        assert_eq!(split_args(b"\"\\"), Err(SplitError));
        // \x with one hex digit, or none, at the very end.
        assert_eq!(split_args(b"\"\\x4"), Err(SplitError));
        assert_eq!(split_args(b"\"\\x4\"").unwrap(), vec![b"x4".to_vec()]);
        // A lone quote, and a quote right after a quote.
        assert_eq!(split_args(b"'"), Err(SplitError));
        assert_eq!(split_args(b"\"\"\"\""), Err(SplitError));
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn split_of_join_is_identity(args in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..12), 0..6)) {
                prop_assert_eq!(split_args(&join_args(&args)).unwrap(), args);
            }

            #[test]
            fn split_never_panics(line in proptest::collection::vec(any::<u8>(), 0..64)) {
                let _ = split_args(&line);
            }

            #[test]
            fn split_of_repr_is_identity(arg in proptest::collection::vec(any::<u8>(), 0..32)) {
                prop_assert_eq!(split_args(&repr(&arg)).unwrap(), vec![arg]);
            }
        }
    }
}
