//! `--step`: a script walked through at the terminal, for teaching (`redsh --ephemeral --step -f
//! scripts/walkthrough.redsh`). Comments are shown as they come, since they explain the sections;
//! the next command is shown at the prompt before it runs, and one key (no Enter needed) decides:
//! Enter or space runs it, `s` skips it, `:` opens the prompt for a command of your own (then the
//! script goes on where it was), `q` (or Ctrl-C, Ctrl-D) stops.
//!
//! The keys are read by the same line editor as the teacher's own commands, through a binding that
//! catches every key while a command waits: the editor owns the terminal's raw mode (and restores
//! it on every way out), and keys typed ahead are kept for the next read, never lost between two readers.

use std::io::BufRead;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{
    Cmd, ConditionalEventHandler, Editor, Event, EventContext, EventHandler, KeyCode, KeyEvent, Modifiers,
    RepeatCount,
};

use crate::error::Error;
use crate::helper::Helper;
use crate::redis::escape::shown_line;
use crate::repl;
use crate::shell::{Flow, Shell};

/// What the keys do, shown in grey after the waiting command and gone once a key is pressed.
pub const KEYS_HINT: &str = "   [Enter] run  [s] skip  [:] your own  [q] quit";

/// What the person at the terminal chose for the shown command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Run,
    Skip,
    /// Type a command of one's own first, then come back to this one.
    Own,
    Quit,
}

impl Choice {
    fn code(self) -> u8 {
        match self {
            Choice::Run => 1,
            Choice::Skip => 2,
            Choice::Own => 3,
            Choice::Quit => 4,
        }
    }

    fn from_code(code: u8) -> Option<Choice> {
        [Choice::Run, Choice::Skip, Choice::Own, Choice::Quit].into_iter().find(|c| c.code() == code)
    }
}

/// What a key means at a waiting command (pure); `None`: the key does nothing there.
pub fn choice(key: KeyEvent) -> Option<Choice> {
    let KeyEvent(code, mods) = key;
    match (code, mods) {
        (KeyCode::Enter, _) | (KeyCode::Char(' '), Modifiers::NONE) => Some(Choice::Run),
        (KeyCode::Char('J' | 'M'), Modifiers::CTRL) => Some(Choice::Run),
        (KeyCode::Char('s' | 'S'), Modifiers::NONE | Modifiers::SHIFT) => Some(Choice::Skip),
        (KeyCode::Char(':'), Modifiers::NONE | Modifiers::SHIFT) => Some(Choice::Own),
        (KeyCode::Char('q' | 'Q'), Modifiers::NONE | Modifiers::SHIFT) => Some(Choice::Quit),
        (KeyCode::Char('C' | 'D'), Modifiers::CTRL) => Some(Choice::Quit),
        _ => None,
    }
}

/// Catches every key while `active`: a key with a meaning ends the edit (and is remembered), any
/// other key is ignored. While not active, the editor works as usual.
struct KeyCatcher {
    active: Arc<AtomicBool>,
    chosen: Arc<AtomicU8>,
}

impl ConditionalEventHandler for KeyCatcher {
    fn handle(&self, evt: &Event, _n: RepeatCount, _positive: bool, _ctx: &EventContext) -> Option<Cmd> {
        if !self.active.load(Ordering::SeqCst) {
            return None;
        }
        match evt.get(0).copied().and_then(choice) {
            Some(c) => {
                self.chosen.store(c.code(), Ordering::SeqCst);
                Some(Cmd::AcceptLine)
            }
            None => Some(Cmd::Noop),
        }
    }
}

/// One line of a script as `--step` treats it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part<'a> {
    Blank,
    Comment(&'a [u8]),
    Command(&'a [u8]),
}

/// Classifies a script line (pure).
pub fn part(line: &[u8]) -> Part<'_> {
    let line = line.trim_ascii();
    match line.first() {
        None => Part::Blank,
        Some(b'#') => Part::Comment(line),
        Some(_) => Part::Command(line),
    }
}

/// The line editor of a walk-through: keys at a waiting command, and the teacher's own commands.
struct Stepper {
    rl: Editor<Helper, DefaultHistory>,
    active: Arc<AtomicBool>,
    chosen: Arc<AtomicU8>,
}

impl Stepper {
    fn new(shell: &mut Shell) -> Result<Stepper, Error> {
        let color = shell.ex.out().color;
        let mut rl: Editor<Helper, DefaultHistory> = repl::editor(color)?;
        rl.set_helper(Some(Helper::new(color, shell.docs())));
        let active = Arc::new(AtomicBool::new(false));
        let chosen = Arc::new(AtomicU8::new(0));
        let catcher = KeyCatcher { active: active.clone(), chosen: chosen.clone() };
        rl.bind_sequence(Event::Any, EventHandler::Conditional(Box::new(catcher)));
        Ok(Stepper { rl, active, chosen })
    }

    /// Shows `command` at the prompt, with what the keys do, and waits for one key.
    fn ask(&mut self, shell: &mut Shell, command: &str) -> Result<Choice, Error> {
        let prompt = repl::prompt(shell);
        let shown = format!("{prompt}{}", shown_line(command));
        if let Some(h) = self.rl.helper_mut() {
            h.set_prompt(&shown);
            h.keys_hint = Some(KEYS_HINT.to_owned());
        }
        self.chosen.store(0, Ordering::SeqCst);
        self.active.store(true, Ordering::SeqCst);
        let answer = self.rl.readline(&shown);
        self.active.store(false, Ordering::SeqCst);
        if let Some(h) = self.rl.helper_mut() {
            h.keys_hint = None;
        }
        match answer {
            Ok(_) => Ok(Choice::from_code(self.chosen.load(Ordering::SeqCst)).unwrap_or(Choice::Run)),
            Err(ReadlineError::Interrupted | ReadlineError::Eof) => Ok(Choice::Quit),
            Err(e) => Err(Error::Other(format!("terminal: {e}"))),
        }
    }

    /// The teacher's own commands, read with the shell's usual editor (completion, hints, history):
    /// one line, or each line of a paste; none when they changed their mind (an empty line, Ctrl-C,
    /// Ctrl-D).
    fn own_commands(&mut self, shell: &mut Shell) -> Result<Vec<String>, Error> {
        let prompt = repl::prompt(shell);
        if let Some(h) = self.rl.helper_mut() {
            h.update(&shell.store);
            h.set_prompt(&prompt);
        }
        let text = match self.rl.readline(&prompt) {
            Ok(text) => text,
            Err(ReadlineError::Interrupted | ReadlineError::Eof) => return Ok(Vec::new()),
            Err(e) => return Err(Error::Other(format!("terminal: {e}"))),
        };
        let lines: Vec<String> = repl::split_lines(&text).into_iter().map(str::to_owned).collect();
        if text.contains('\n') {
            repl::erase_edit(shell, &prompt, &text);
        }
        for line in &lines {
            if crate::redis::redact::may_save(line, shell.store.settings.hash_ids) {
                let _ = self.rl.add_history_entry(line.as_str());
            }
        }
        Ok(lines)
    }
}

/// Walks through `script`; returns whether any line failed.
pub fn run(shell: &mut Shell, script: impl BufRead, stop_on_error: bool) -> Result<bool, Error> {
    // The command is on screen already, as the prompt's text: echoing it again would repeat it.
    let echo_typed = std::mem::replace(&mut shell.echo_typed, false);
    let flush_each = std::mem::replace(&mut shell.ex.out().flush_each, true);
    let result = walk(shell, script, stop_on_error);
    shell.ex.out().flush();
    shell.echo_typed = echo_typed;
    shell.ex.out().flush_each = flush_each;
    result
}

fn walk(shell: &mut Shell, mut script: impl BufRead, stop_on_error: bool) -> Result<bool, Error> {
    let color = shell.ex.out().color;
    let mut stepper = Stepper::new(shell)?;
    let mut failed = false;
    let mut buf = Vec::with_capacity(256);
    let mut line_no = 0;
    'script: loop {
        buf.clear();
        let n = script
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::Other(format!("reading the script: {}", crate::error::io_reason(&e))))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let text = match part(&buf) {
            Part::Blank => {
                shell.ex.out().write(b"\n");
                continue;
            }
            Part::Comment(c) => {
                // Bold, to tell the lesson's text from replies and from `# ` summaries (cyan).
                let c = shown_line(&String::from_utf8_lossy(c));
                if color {
                    shell.ex.out().write(format!("\x1b[1m{c}\x1b[0m\n").as_bytes());
                } else {
                    shell.ex.out().write(format!("{c}\n").as_bytes());
                }
                continue;
            }
            Part::Command(c) => String::from_utf8_lossy(c).into_owned(),
        };
        loop {
            shell.ex.out().flush();
            match stepper.ask(shell, &text)? {
                Choice::Quit => break 'script,
                Choice::Skip => {
                    let note = if color { "\x1b[0;90;49m(skipped)\x1b[0m\n" } else { "(skipped)\n" };
                    shell.ex.out().write(note.as_bytes());
                    continue 'script;
                }
                Choice::Run => break,
                Choice::Own => {
                    // The waiting command leaves the screen while the teacher types; it comes back after.
                    if let Some(cols) = crate::helper::terminal_width() {
                        let shown = format!("{}{}", repl::prompt(shell), shown_line(&text));
                        let rows = repl::rows_used(shown.chars().count(), "", cols);
                        shell.ex.out().write(format!("\x1b[{rows}A\r\x1b[J").as_bytes());
                        shell.ex.out().flush();
                    }
                    let own = stepper.own_commands(shell)?;
                    let pasted = own.len() > 1;
                    for line in own {
                        if pasted {
                            let prompt = repl::prompt(shell);
                            let docs = stepper.rl.helper().map(|h| h.docs().clone());
                            repl::show_at_prompt(shell, &prompt, &line, docs.as_ref());
                        }
                        if repl::is_clear(&line) {
                            shell.ex.out().write(repl::CLEAR_SCREEN);
                            continue;
                        }
                        let (result, interrupted) = repl::run_line(shell, line.as_bytes());
                        match result {
                            Ok(Flow::Quit) => break 'script,
                            Ok(Flow::Continue) => {}
                            Err(e) => {
                                shell.ex.out().error(None, &e);
                                repl::note_typo(shell, &line, &e);
                            }
                        }
                        shell.store.follow_server(&mut shell.ex);
                        // Ctrl-C stops the rest of a paste too.
                        if interrupted {
                            break;
                        }
                    }
                }
            }
        }
        match repl::execute(shell, text.as_bytes()) {
            Ok(Flow::Quit) => break,
            Ok(Flow::Continue) => {}
            Err(e) => {
                failed |= !e.is_success();
                shell.ex.out().error(Some(line_no), &e);
                if stop_on_error {
                    break;
                }
            }
        }
        shell.store.follow_server(&mut shell.ex);
    }
    Ok(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_parts() {
        assert_eq!(part(b"  \r\n"), Part::Blank);
        assert_eq!(part(b"# 3. Creating a login session\n"), Part::Comment(b"# 3. Creating a login session"));
        assert_eq!(part(b"login 101 suhel teacher\r\n"), Part::Command(b"login 101 suhel teacher"));
    }

    #[test]
    fn keys_at_a_step() {
        let key = |c: char| KeyEvent(KeyCode::Char(c), Modifiers::NONE);
        let ctrl = |c: char| KeyEvent(KeyCode::Char(c), Modifiers::CTRL);
        assert_eq!(choice(KeyEvent(KeyCode::Enter, Modifiers::NONE)), Some(Choice::Run));
        assert_eq!(choice(key(' ')), Some(Choice::Run));
        assert_eq!(choice(ctrl('J')), Some(Choice::Run));
        assert_eq!(choice(key('s')), Some(Choice::Skip));
        assert_eq!(choice(KeyEvent(KeyCode::Char('S'), Modifiers::SHIFT)), Some(Choice::Skip));
        assert_eq!(choice(key(':')), Some(Choice::Own));
        assert_eq!(choice(key('q')), Some(Choice::Quit));
        assert_eq!(choice(ctrl('C')), Some(Choice::Quit));
        assert_eq!(choice(ctrl('D')), Some(Choice::Quit));
        assert_eq!(choice(key('x')), None);
        assert_eq!(choice(KeyEvent(KeyCode::Up, Modifiers::NONE)), None);
        for c in [Choice::Run, Choice::Skip, Choice::Own, Choice::Quit] {
            assert_eq!(Choice::from_code(c.code()), Some(c));
        }
        assert_eq!(Choice::from_code(0), None);
    }
}
