//! Text from outside (a server's data, a user's input) made safe for redsh's own lines: nothing in
//! it can move the cursor, retitle the terminal, start a new line or reverse the text that follows.
//! Replies are not shown through this: they stay byte-identical to redis-cli's.

use std::borrow::Cow;
use std::fmt::Write;

/// Control characters as `\n`, `\x1b`… and Unicode format characters (bidi overrides, zero-width,
/// line separators) as `\u{202e}`; everything else as it is.
pub fn escape(text: &str) -> Cow<'_, str> {
    // Printable ASCII, the common case, needs no look at each character's class.
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) || !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && needs_escape(c) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// C0 and C1 controls, DEL, and the invisible characters that change how text around them shows.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00ad}'                      // soft hyphen
            | '\u{061c}'                    // Arabic letter mark
            | '\u{115f}' | '\u{1160}'       // Hangul fillers
            | '\u{180e}'                    // Mongolian vowel separator
            | '\u{200b}'..='\u{200f}'       // zero-width space/joiners, LRM, RLM
            | '\u{2028}'..='\u{202e}'       // line/paragraph separators, bidi embeddings and overrides
            | '\u{2060}'..='\u{206f}'       // word joiner, invisible operators, bidi isolates
            | '\u{feff}'                    // zero-width no-break space
            | '\u{fff9}'..='\u{fffb}'       // interlinear annotations
            | '\u{e0000}'..='\u{e007f}'     // tags
        )
}

/// A line as it is shown again before it runs: a secret redacted as the echo redacts it, control
/// characters made visible (`^G`), so nothing typed or pasted can move the cursor or forge output.
pub fn shown_line(line: &str) -> String {
    let redacted = crate::redis::redact::shown_line(line.as_bytes());
    let line = String::from_utf8_lossy(&redacted);
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        match c {
            '\t' => out.push(c),
            c if (c as u32) < 0x20 => {
                out.push('^');
                out.push(char::from(b'@' + c as u8));
            }
            '\x7f' => out.push_str("^?"),
            c if ('\u{80}'..='\u{9f}').contains(&c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_text_is_kept() {
        assert!(matches!(escape("session abc — suhel (teacher) from 10.0.0.1"), Cow::Borrowed(_)));
        assert_eq!(escape("naïve ユーザー"), "naïve ユーザー");
    }

    #[test]
    fn escapes_and_forged_lines_are_shown_not_run() {
        assert_eq!(escape("evil\x1b[2J\x1b]0;PWNED\x07"), "evil\\x1b[2J\\x1b]0;PWNED\\x07");
        assert_eq!(escape("admin\n# session esc — root"), "admin\\n# session esc — root");
        assert_eq!(escape("a\r\tb\x7f\u{85}"), "a\\r\\tb\\x7f\\u{85}");
        assert_eq!(escape("user\u{202e}nimda"), "user\\u{202e}nimda");
        assert_eq!(escape("x\u{2066}y\u{200b}z\u{feff}"), "x\\u{2066}y\\u{200b}z\\u{feff}");
    }

    proptest! {
        #[test]
        fn output_never_holds_a_control_or_format_character(s in any::<String>()) {
            let e = escape(&s);
            prop_assert!(!e.chars().any(needs_escape), "{:?}", e);
            prop_assert!(!e.bytes().any(|b| b < 0x20 || b == 0x7f));
        }

        #[test]
        fn text_without_them_is_untouched(s in "[ -~é—…]*") {
            prop_assert_eq!(escape(&s), s.as_str());
        }
    }

    #[test]
    fn lines_shown_again_hide_secrets_and_control_characters() {
        assert_eq!(shown_line("SET k v"), "SET k v");
        assert_eq!(shown_line("AUTH hunter2"), "AUTH (redacted)");
        assert_eq!(shown_line("2 auth bob pw"), "auth bob (redacted)");
        assert_eq!(shown_line("ECHO \x1b[2J\x07"), "ECHO ^[[2J^G");
        assert_eq!(shown_line("ECHO \u{9b}x\x7f"), "ECHO \\u{9b}x^?");
        assert_eq!(shown_line("ECHO caf\u{e9}\tx"), "ECHO caf\u{e9}\tx");
    }
}
