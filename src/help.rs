//! `help` with no topic: the session commands and the shell's own words, fitted to the terminal's
//! width (80 columns when the output is not a terminal), so that nothing wraps mid-word.

use crate::session::commands::COMMANDS;

/// The shell's own words: never sent to Redis.
pub const SHELL_WORDS: &[(&str, &str)] = &[
    ("connect HOST PORT", "talk to another server (as redis-cli's connect)"),
    ("literal on|off", "send session commands as the document's plain commands, one at a time"),
    ("clear", "clear the screen"),
    ("help [COMMAND]", "this list; a session command's Redis commands; `help GET`, `help @hash`"),
    ("quit, exit", "leave the shell (also Ctrl-D)"),
];

/// Width used when the output is not a terminal.
pub const DEFAULT_WIDTH: usize = 80;

/// `text` cut into lines of at most `width` columns at spaces, the first line starting after
/// `first` columns already used and the others indented by `indent` spaces. A word longer than a
/// line is cut where the line ends.
pub fn wrap(text: &str, width: usize, first: usize, indent: usize) -> Vec<String> {
    let width = width.max(indent + 10);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = first;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let gap = usize::from(!line.is_empty());
            if used + gap + word.len() <= width {
                if gap == 1 {
                    line.push(' ');
                }
                line.extend(word.iter());
                used += gap + word.len();
                break;
            }
            if !line.is_empty() || used > indent {
                lines.push(std::mem::take(&mut line));
                used = indent;
                continue;
            }
            // A word longer than a whole line.
            let room = width - used;
            line.extend(word.drain(..room));
            lines.push(std::mem::take(&mut line));
            used = indent;
        }
    }
    lines.push(line);
    lines
}

/// The overview: one entry per command, its synopsis on the first line and what it does below,
/// each line at most `width` columns.
pub fn overview(width: usize) -> String {
    let mut out = String::new();
    let heading = |out: &mut String, text: &str| {
        for l in wrap(text, width, 0, 2) {
            out.push_str(&l);
            out.push('\n');
        }
    };
    heading(&mut out, "Session commands (any other line is sent to Redis as a plain command):");
    let entry = |out: &mut String, synopsis: &str, summary: &str| {
        for (i, l) in wrap(synopsis, width, 2, 6).iter().enumerate() {
            out.push_str(if i == 0 { "  " } else { "      " });
            out.push_str(l);
            out.push('\n');
        }
        for l in wrap(summary, width, 6, 6) {
            out.push_str("      ");
            out.push_str(&l);
            out.push('\n');
        }
    };
    for c in COMMANDS.iter().filter(|c| c.name != "help") {
        entry(&mut out, &format!("{} {}", c.name, c.args), c.summary);
    }
    heading(&mut out, "Shell commands:");
    for (synopsis, summary) in SHELL_WORDS {
        entry(&mut out, synopsis, summary);
    }
    heading(&mut out, "Type `help <command>` for the Redis commands a session command sends.");
    out.pop();
    out
}

/// The terminal's width, or [`DEFAULT_WIDTH`] when stdout is not a terminal.
pub fn width() -> usize {
    crate::helper::terminal_width().unwrap_or(DEFAULT_WIDTH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_spaces() {
        assert_eq!(wrap("aa bb cc", 14, 10, 2), ["aa", "bb cc"]);
        assert_eq!(wrap("a b", 80, 0, 0), ["a b"]);
        assert_eq!(wrap("", 80, 0, 0), [""]);
        // A word longer than the line is cut.
        assert_eq!(wrap(&"x".repeat(25), 12, 0, 0), ["x".repeat(12), "x".repeat(12), "x".to_owned()]);
    }

    #[test]
    fn the_overview_lists_every_command_and_the_shell_words() {
        let text = overview(80);
        for c in COMMANDS.iter().filter(|c| c.name != "help") {
            assert!(text.contains(&format!("\n  {} {}", c.name, c.args)), "{}", c.name);
        }
        for word in ["connect HOST PORT", "literal on|off", "clear", "quit, exit", "help [COMMAND]"] {
            assert!(text.contains(&format!("\n  {word}\n")), "{word}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_overview_fits_any_width(width in 20usize..240) {
            for line in overview(width).lines() {
                proptest::prop_assert!(line.chars().count() <= width.max(16), "{} > {width}: {line}", line.len());
            }
        }

        #[test]
        fn wrapping_keeps_every_word(text in "[a-z ]{0,200}", width in 12usize..100) {
            let lines = wrap(&text, width, 2, 2);
            let words: Vec<&str> = text.split_whitespace().collect();
            let joined = lines.join(" ");
            let again: Vec<&str> = joined.split_whitespace().collect();
            if words.iter().all(|w| w.len() + 2 <= width) {
                proptest::prop_assert_eq!(words, again);
            }
            for l in &lines {
                proptest::prop_assert!(l.chars().count() <= width);
            }
        }
    }
}
