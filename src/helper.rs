//! The line editor's helper: completion, hints and highlighting.

use std::borrow::Cow;

use rustyline::Context;
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::Validator;

use crate::session::{Store, commands::COMMANDS};

pub struct Helper {
    color: bool,
    /// Session ids this shell has seen, most recent last.
    ids: Vec<String>,
}

impl Helper {
    pub fn new(color: bool) -> Self {
        Helper { color, ids: Vec::new() }
    }

    /// Refreshes what completion knows from the session store.
    pub fn update(&mut self, store: &Store) {
        self.ids = store.seen.clone();
    }
}

/// Session commands that take a session id as their argument.
const TAKES_ID: &[&str] = &["whoami", "touch", "logout", "renew", "use"];

impl Completer for Helper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let head = &line[..pos];
        let start = head.rfind(char::is_whitespace).map_or(0, |i| i + 1);
        let word = &head[start..];
        let pair = |s: &str| Pair { display: s.to_owned(), replacement: s.to_owned() };
        if start == 0 {
            let found = COMMANDS
                .iter()
                .filter(|c| c.name.starts_with(&word.to_ascii_lowercase()))
                .map(|c| pair(c.name))
                .collect();
            return Ok((0, found));
        }
        let first = head.split_whitespace().next().unwrap_or("");
        if TAKES_ID.iter().any(|c| c.eq_ignore_ascii_case(first)) {
            let found = self.ids.iter().rev().filter(|id| id.starts_with(word)).map(|id| pair(id)).collect();
            return Ok((start, found));
        }
        if first.eq_ignore_ascii_case("help") {
            let found = COMMANDS.iter().filter(|c| c.name.starts_with(word)).map(|c| pair(c.name)).collect();
            return Ok((start, found));
        }
        Ok((pos, Vec::new()))
    }
}

impl Hinter for Helper {
    type Hint = String;
}

impl Highlighter for Helper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if self.color { Cow::Owned(format!("\x1b[0;90;49m{hint}\x1b[0m")) } else { Cow::Borrowed(hint) }
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        false
    }
}

impl Validator for Helper {}

impl rustyline::Helper for Helper {}

/// A helper that shows every typed character as `*` (for `--askpass`).
pub struct Masked;

impl Completer for Masked {
    type Candidate = Pair;
}

impl Hinter for Masked {
    type Hint = String;
}

impl Highlighter for Masked {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        Cow::Owned("*".repeat(line.chars().count()))
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        true
    }
}

impl Validator for Masked {}

impl rustyline::Helper for Masked {}
