//! `--step`: a script walked through at the terminal, for teaching (`redsh --ephemeral --step -f
//! scripts/walkthrough.redsh`). Comments are shown as they come, since they explain the sections;
//! each command waits at the prompt: Enter runs it, `s` skips it, `q` (or Ctrl-C, Ctrl-D) stops.

use std::borrow::Cow;
use std::io::BufRead;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Editor};

use crate::error::Error;
use crate::helper::SynopsisHint;
use crate::repl;
use crate::shell::{Flow, Shell};

/// What the keys do, shown in grey after the waiting command and gone once a key is pressed.
const KEYS_HINT: &str = "   [Enter] run  [s] skip  [q] quit";

/// What the person at the terminal chose for the shown command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Run,
    Skip,
    Quit,
}

/// Reads an answer typed at the waiting command (pure: the editor's result in, a choice out).
pub fn choice(answer: Result<&str, &ReadlineError>) -> Choice {
    match answer.map(str::trim) {
        Ok("q" | "Q" | "quit" | "exit") => Choice::Quit,
        Ok("s" | "S" | "skip") => Choice::Skip,
        Ok(_) => Choice::Run,
        Err(_) => Choice::Quit,
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

struct StepHelper {
    color: bool,
}

impl Completer for StepHelper {
    type Candidate = Pair;
}

impl Hinter for StepHelper {
    type Hint = SynopsisHint;

    fn hint(&self, line: &str, _pos: usize, _ctx: &Context<'_>) -> Option<SynopsisHint> {
        line.is_empty().then(|| SynopsisHint(KEYS_HINT.to_owned()))
    }
}

impl Highlighter for StepHelper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if self.color { Cow::Owned(format!("\x1b[0;90;49m{hint}\x1b[0m")) } else { Cow::Borrowed(hint) }
    }
}

impl Validator for StepHelper {}

impl rustyline::Helper for StepHelper {}

/// Walks through `script`; returns whether any line failed.
pub fn run(shell: &mut Shell, mut script: impl BufRead, stop_on_error: bool) -> Result<bool, Error> {
    let color = shell.ex.out.color;
    let mut rl: Editor<StepHelper, _> = repl::editor(color)?;
    rl.set_helper(Some(StepHelper { color }));
    // The command is on screen already, as the prompt's text: echoing it again would repeat it.
    let echo_typed = std::mem::replace(&mut shell.echo_typed, false);
    let flush_each = std::mem::replace(&mut shell.ex.out.flush_each, true);
    let mut failed = false;
    let mut buf = Vec::with_capacity(256);
    let mut line_no = 0;
    loop {
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
                shell.ex.out.write(b"\n");
                continue;
            }
            Part::Comment(c) => {
                // Bold, to tell the lesson's text from replies and from `# ` summaries (cyan).
                if color {
                    shell.ex.out.write(b"\x1b[1m");
                    shell.ex.out.write(c);
                    shell.ex.out.write(b"\x1b[0m\n");
                } else {
                    shell.ex.out.write(c);
                    shell.ex.out.write(b"\n");
                }
                continue;
            }
            Part::Command(c) => c.to_vec(),
        };
        shell.ex.out.flush();
        let shown = format!(
            "{}{}",
            repl::prompt(shell),
            String::from_utf8_lossy(&crate::redis::redact::shown_line(&text))
        );
        let answer = rl.readline(&shown);
        match choice(answer.as_deref()) {
            Choice::Quit => break,
            Choice::Skip => continue,
            Choice::Run => {}
        }
        match repl::execute(shell, &text) {
            Ok(Flow::Quit) => break,
            Ok(Flow::Continue) => {}
            Err(e) => {
                failed |= !e.is_success();
                shell.ex.out.error(Some(line_no), &e);
                if stop_on_error {
                    break;
                }
            }
        }
    }
    shell.ex.out.flush();
    shell.echo_typed = echo_typed;
    shell.ex.out.flush_each = flush_each;
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
        assert_eq!(choice(Ok("")), Choice::Run);
        assert_eq!(choice(Ok(" q ")), Choice::Quit);
        assert_eq!(choice(Ok("s")), Choice::Skip);
        assert_eq!(choice(Err(&ReadlineError::Interrupted)), Choice::Quit);
        assert_eq!(choice(Err(&ReadlineError::Eof)), Choice::Quit);
    }
}
