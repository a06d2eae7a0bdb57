//! The interactive loop (only when stdin and stdout are both terminals): rustyline with completion,
//! hints and highlighting (see `helper`), redis-cli's prompt plus the current session, history
//! without secrets, and Ctrl-C that stops a running command rather than the shell.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rustyline::config::Configurer;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{ColorMode, CompletionType, Config as EditorConfig, Editor};

use crate::docs::Docs;
use crate::error::Error;
use crate::helper::Helper;
use crate::interrupt;
use crate::pager;
use crate::redis::escape::shown_line;
use crate::redis::redact::may_save;
use crate::redis::split::split_args;
use crate::session::Command;
use crate::session::commands;
use crate::shell::{Flow, Line, Shell, classify, streams};
use crate::suggest::did_you_mean;

/// `$REDSH_HISTFILE`, else `~/.redsh_history`; `/dev/null` (or an empty value) turns the file off.
pub fn history_path() -> Option<PathBuf> {
    match std::env::var_os("REDSH_HISTFILE") {
        Some(p) if p.is_empty() || p == "/dev/null" => None,
        Some(p) => Some(PathBuf::from(p)),
        None => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".redsh_history")),
    }
}

/// The prompt: redis-cli's, with the current session's user and short id when there is one.
/// In literal mode the prompt says so: `127.0.0.1:6379 literal> `.
pub fn prompt(shell: &Shell) -> String {
    let base = shell.ex.prompt();
    let head = base.strip_suffix("> ").unwrap_or(&base);
    let mode = if shell.store.settings.literal { " literal" } else { "" };
    match &shell.store.current {
        Some(cur) => {
            let who = cur.username.as_deref().map(crate::redis::escape::escape).unwrap_or("?".into());
            format!("{head}{mode} ({who}@{})> ", crate::session::keys::short(&cur.id))
        }
        None if mode.is_empty() => base,
        None => format!("{head}{mode}> "),
    }
}

/// A line editor set up as redis-cli's: TAB cycles through candidates, colours only when wanted.
pub fn editor<H: rustyline::Helper>(color: bool) -> Result<Editor<H, DefaultHistory>, Error> {
    let fail = |e: ReadlineError| Error::Other(format!("terminal: {e}"));
    let config = EditorConfig::builder()
        .auto_add_history(false)
        .max_history_size(1000)
        .map_err(fail)?
        .history_ignore_dups(true)
        .map_err(fail)?
        .completion_type(CompletionType::Circular)
        .build();
    let mut rl: Editor<H, DefaultHistory> = Editor::with_config(config).map_err(fail)?;
    // rustyline decides on its own from NO_COLOR and the terminal; --no-color must win too.
    rl.set_color_mode(if color { ColorMode::Enabled } else { ColorMode::Disabled });
    Ok(rl)
}

/// The commands in what the editor returned: one per line. A paste brings several lines at once
/// (bracketed paste puts them in one edit); each runs as its own command, in order. Blank lines
/// are dropped, as a blank typed line is.
pub fn split_lines(text: &str) -> Vec<&str> {
    text.split('\n').map(|l| l.trim_end_matches('\r')).filter(|l| !l.trim().is_empty()).collect()
}

/// How many terminal rows the editor used for `prompt_width` columns of prompt followed by `text`
/// on a terminal `cols` wide, laid out as rustyline lays it out (a line break starts a row; a wide
/// character that does not fit wraps whole; tabs stop every 8 columns).
pub fn rows_used(prompt_width: usize, text: &str, cols: usize) -> usize {
    use unicode_width::UnicodeWidthChar;
    const TAB_STOP: usize = 8;
    if cols == 0 {
        return 1;
    }
    let (mut row, mut col) = (0, prompt_width % cols);
    row += prompt_width / cols;
    for c in text.chars() {
        if c == '\n' {
            row += 1;
            col = 0;
            continue;
        }
        let w = if c == '\t' { TAB_STOP - col % TAB_STOP } else { c.width().unwrap_or(0) };
        col += w;
        if col > cols {
            row += 1;
            col = w;
        }
    }
    if col == cols {
        row += 1;
    }
    row + 1
}

/// Takes an accepted edit (the prompt and `text`) off the screen, when the terminal's width is known.
pub fn erase_edit(shell: &mut Shell, prompt: &str, text: &str) {
    if let Some(cols) = crate::helper::terminal_width() {
        let rows = rows_used(prompt.chars().count(), text, cols);
        shell.ex.out().write(format!("\x1b[{rows}A\r\x1b[J").as_bytes());
        shell.ex.out().flush();
    }
}

/// Shows a line of a paste at the prompt as if it had been typed there (secrets redacted, control
/// characters visible, the command word highlighted as the editor does).
pub fn show_at_prompt(shell: &mut Shell, prompt: &str, line: &str, docs: Option<&Rc<Docs>>) {
    let text = shown_line(line);
    let text = match docs {
        Some(docs) if shell.ex.out().color => crate::helper::highlight(&text, docs).unwrap_or(text),
        _ => text,
    };
    shell.ex.out().write(format!("{prompt}{text}\n").as_bytes());
}

/// One more line after redis-cli's "Could not connect…" when no server answers at all: redsh can
/// start a private one.
pub fn ephemeral_hint(e: &Error) -> Option<&'static str> {
    match e {
        Error::Connect { reason, .. }
            if reason.contains("Connection refused") || reason.contains("No such file or directory") =>
        {
            Some("redsh: no Redis server there? `redsh --ephemeral` starts a private throwaway one")
        }
        _ => None,
    }
}

/// `clear` alone on the line clears the screen, as in redis-cli; never sent to Redis.
pub fn is_clear(line: &str) -> bool {
    line.trim().eq_ignore_ascii_case("clear")
}

/// What rustyline (and linenoise) write to clear the screen: cursor home, erase the display.
pub const CLEAR_SCREEN: &[u8] = b"\x1b[H\x1b[J";

/// A short note for a line that Redis refused as an unknown command but that looks like a mistyped
/// session command (`lgoin 101 …` → login). `None` when the first word is a session command or a
/// command the server documents (its error was something else), or when nothing is close.
pub fn typo_note(line: &str, docs: &Docs) -> Option<String> {
    let words = split_args(line.as_bytes()).ok()?;
    let skip = usize::from(
        words.len() > 1 && std::str::from_utf8(&words[0]).is_ok_and(|w| w.parse::<i64>().is_ok()),
    );
    let word = String::from_utf8_lossy(words.get(skip)?).into_owned();
    if commands::find(word.as_bytes()).is_some()
        || docs
            .entries()
            .iter()
            .any(|e| e.name.split(' ').next().is_some_and(|n| n.eq_ignore_ascii_case(&word)))
    {
        return None;
    }
    let meant = did_you_mean(&word, commands::COMMANDS.iter().map(|c| c.name))?;
    Some(format!("redsh: '{}' is not a session command; did you mean {meant}?", shown_line(&word)))
}

pub fn run(shell: &mut Shell) -> Result<(), Error> {
    let color = shell.ex.out().color;
    let mut rl: Editor<Helper, DefaultHistory> = editor(color)?;
    // First contact: like redis-cli, a server that is down is reported and the prompt says so.
    if !shell.ex.dry_run()
        && !shell.ex.is_connected()
        && let Err(e) = shell.ex.connect()
    {
        shell.ex.out().error(None, &e);
        if let Some(hint) = ephemeral_hint(&e) {
            eprintln!("{hint}");
        }
    }
    rl.set_helper(Some(Helper::new(color, shell.docs())));
    // `events` prints above the prompt, from a background thread, without breaking the typed line.
    if let Ok(printer) = rl.create_external_printer() {
        shell.store.attach_printer(&mut shell.ex, Box::new(printer));
    }
    // Lines of a multi-line paste still to run.
    let mut pasted: VecDeque<String> = VecDeque::new();
    let history = history_path();
    if let Some(path) = &history {
        create_private(path);
        let _ = rl.load_history(path);
    }
    loop {
        if let Some(h) = rl.helper_mut() {
            h.update(&shell.store);
            // The docs of the server in use: asked once it answers (and again after `connect`).
            if shell.ex.is_connected() && !shell.ex.in_transaction() {
                let docs = shell.docs();
                if !Rc::ptr_eq(h.docs(), &docs) {
                    h.set_docs(docs);
                }
            }
        }
        shell.ex.out().flush();
        let p = prompt(shell);
        if let Some(h) = rl.helper_mut() {
            h.set_prompt(&p);
        }
        let line = match pasted.pop_front() {
            // The next line of a paste, shown at its own prompt as if typed there: the screen reads
            // command, reply, command, reply.
            Some(line) => {
                show_at_prompt(shell, &p, &line, rl.helper().map(Helper::docs));
                line
            }
            None => match rl.readline(&p) {
                Ok(text) if text.contains('\n') => {
                    // A paste of several lines, accepted as one edit: it is taken off the screen
                    // and each line then runs at its own prompt (above).
                    erase_edit(shell, &p, &text);
                    pasted.extend(split_lines(&text).into_iter().map(str::to_owned));
                    continue;
                }
                Ok(text) => text,
                Err(ReadlineError::Interrupted) => continue,
                Err(ReadlineError::Eof) => break,
                Err(e) => return Err(Error::Other(format!("terminal: {e}"))),
            },
        };
        if line.trim().is_empty() {
            continue;
        }
        if may_save(&line, shell.store.settings.hash_ids) {
            let _ = rl.add_history_entry(line.as_str());
            if let Some(path) = &history {
                // Appending keeps the lines other shells added meanwhile.
                let _ = rl.append_history(path);
                restrict(path);
            }
        }
        if is_clear(&line) {
            let _ = rl.clear_screen();
            continue;
        }
        let paged = pager::enabled() && pageable(line.as_bytes());
        if paged {
            pager::begin(pager::terminal_size());
        }
        let (result, interrupted) = run_line(shell, line.as_bytes());
        if paged {
            shell.ex.out().flush();
            pager::end();
        }
        if interrupted {
            // Ctrl-C stops the rest of a paste too.
            pasted.clear();
        }
        match result {
            Ok(Flow::Quit) => break,
            Ok(Flow::Continue) => {}
            Err(e) => {
                shell.ex.out().error(None, &e);
                note_typo(shell, &line, &e);
            }
        }
        shell.store.follow_server(&mut shell.ex);
    }
    shell.ex.out().flush();
    Ok(())
}

/// Whether a line's output may go through the pager: not a command that keeps printing until
/// Ctrl-C (SUBSCRIBE, MONITOR, `events`), which must show as it comes, nor one that asks a question.
pub fn pageable(line: &[u8]) -> bool {
    match classify(line) {
        Ok(Line::Redis { cmd, .. }) => streams(&cmd).is_none(),
        Ok(Line::Session(Command::Events(_))) => false,
        Ok(_) => true,
        Err(_) => false,
    }
}

/// After Redis's own error reply to a line (never changing it), the [`typo_note`] on stderr.
pub fn note_typo(shell: &mut Shell, line: &str, e: &Error) {
    if !matches!(e, Error::Reply(_)) {
        return;
    }
    if let Some(note) = typo_note(line, &shell.docs()) {
        shell.ex.out().flush();
        eprintln!("{note}");
    }
}

/// Runs a line typed at the terminal (or a `--step` line). Ctrl-C stops it and returns to the
/// prompt; SUBSCRIBE and MONITOR print what the server sends until then.
pub fn execute(shell: &mut Shell, line: &[u8]) -> Result<Flow, Error> {
    run_line(shell, line).0
}

/// [`execute`], and whether Ctrl-C stopped the line.
pub fn run_line(shell: &mut Shell, line: &[u8]) -> (Result<Flow, Error>, bool) {
    let line = match classify(line) {
        Ok(line) => line,
        Err(e) => return (Err(e), false),
    };
    let guard = interrupt::Guard::install();
    let result = shell.run(line);
    drop(guard);
    if !interrupt::take() {
        return (result, false);
    }
    shell.ex.out().flush();
    // The interrupted command's reply may still arrive: that connection can no longer be trusted.
    shell.ex.disconnect();
    shell.ex.out().write(b"\n");
    if !shell.ex.dry_run()
        && let Err(e) = shell.ex.connect()
    {
        shell.ex.out().error(None, &e);
    }
    (Ok(Flow::Continue), true)
}

/// Creates the history file private (mode 0600) before anything is written to it.
fn create_private(path: &Path) {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::OpenOptions::new().append(true).create(true).mode(0o600).open(path);
}

/// The history file is private (mode 0600), as redis-cli's is, even if it was created otherwise.
fn restrict(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mistyped_session_commands_get_a_note() {
        let docs = Docs::builtin();
        assert_eq!(
            typo_note("lgoin 101 suhel teacher", &docs).as_deref(),
            Some("redsh: 'lgoin' is not a session command; did you mean login?")
        );
        assert_eq!(
            typo_note("3 whomai", &docs).as_deref(),
            Some("redsh: 'whomai' is not a session command; did you mean whoami?")
        );
        assert!(typo_note("sesions 101", &docs).is_some_and(|n| n.ends_with("did you mean sessions?")));
        // A session command, a Redis command, or nothing close: no note.
        assert_eq!(typo_note("login 101 a b", &docs), None);
        assert_eq!(typo_note("GET k", &docs), None);
        assert_eq!(typo_note("TOUCH k", &docs), None);
        assert_eq!(typo_note("RENAME a b", &docs), None);
        assert_eq!(typo_note("frobnicate", &docs), None);
        assert_eq!(typo_note("\"unbalanced", &docs), None);
        assert_eq!(typo_note("", &docs), None);
        // What the user typed is escaped in redsh's own line.
        assert_eq!(
            typo_note("\"log\x07n\"", &docs).as_deref(),
            Some("redsh: 'log^Gn' is not a session command; did you mean login?")
        );
    }

    #[test]
    fn streaming_commands_never_go_through_the_pager() {
        assert!(pageable(b"LRANGE l 0 -1") && pageable(b"sessions 101") && pageable(b"help"));
        assert!(!pageable(b"SUBSCRIBE news") && !pageable(b"monitor") && !pageable(b"events 3"));
        assert!(!pageable(b"\"unbalanced"));
    }

    #[test]
    fn clear_and_the_ephemeral_hint() {
        assert!(is_clear("clear") && is_clear(" CLEAR ") && !is_clear("clear x"));
        let refused = Error::Connect { addr: "127.0.0.1:6379".into(), reason: "Connection refused".into() };
        assert!(ephemeral_hint(&refused).is_some_and(|h| h.contains("--ephemeral")));
        let other = Error::Connect { addr: "h:1".into(), reason: "Timeout".into() };
        assert_eq!(ephemeral_hint(&other), None);
        assert_eq!(ephemeral_hint(&Error::Reply("ERR x".into())), None);
    }

    #[test]
    fn a_paste_is_one_command_per_line() {
        assert_eq!(
            split_lines("SADD user_sessions:101 abc123\nSMEMBERS user_sessions:101"),
            ["SADD user_sessions:101 abc123", "SMEMBERS user_sessions:101"]
        );
        assert_eq!(split_lines("PING\r\n\n  \nECHO a\n"), ["PING", "ECHO a"]);
        assert_eq!(split_lines("GET k"), ["GET k"]);
        assert!(split_lines("\n\n").is_empty());
    }

    #[test]
    fn rows_of_an_edit_as_the_editor_lays_them_out() {
        // `127.0.0.1:6379> ` is 16 columns.
        assert_eq!(rows_used(16, "PING", 80), 1);
        assert_eq!(rows_used(16, "PING\nPING", 80), 2);
        assert_eq!(rows_used(16, "PING\nPING\n", 80), 3);
        // Filling the row exactly puts the cursor on the next one.
        assert_eq!(rows_used(16, &"x".repeat(64), 80), 2);
        assert_eq!(rows_used(16, &"x".repeat(63), 80), 1);
        assert_eq!(rows_used(16, &"x".repeat(65), 80), 2);
        // A wide character that does not fit wraps whole.
        assert_eq!(rows_used(0, "xxx\u{4e2d}", 4), 2);
        assert_eq!(rows_used(0, "a\tb", 80), 1);
        assert_eq!(rows_used(5, "x", 0), 1);
    }
}
