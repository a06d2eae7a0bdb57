//! The interactive loop (only when stdin and stdout are both terminals): rustyline with completion,
//! hints and highlighting (see `helper`), redis-cli's prompt plus the current session, history
//! without secrets, and Ctrl-C that stops a running command rather than the shell.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use rustyline::config::Configurer;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{ColorMode, CompletionType, Config as EditorConfig, Editor};

use crate::error::Error;
use crate::helper::Helper;
use crate::interrupt;
use crate::redis::redact::is_sensitive;
use crate::redis::split::split_args;
use crate::shell::{Flow, Shell, classify};

/// `$REDSH_HISTFILE`, else `~/.redsh_history`; `/dev/null` (or an empty value) turns the file off.
pub fn history_path() -> Option<PathBuf> {
    match std::env::var_os("REDSH_HISTFILE") {
        Some(p) if p.is_empty() || p == "/dev/null" => None,
        Some(p) => Some(PathBuf::from(p)),
        None => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".redsh_history")),
    }
}

/// Whether a typed line may be written to the history file: never one that carries a secret.
pub fn may_save(line: &str) -> bool {
    match split_args(line.as_bytes()) {
        Ok(words) => {
            let words = match words.first().map(|w| std::str::from_utf8(w).map(|s| s.parse::<i64>().is_ok()))
            {
                Some(Ok(true)) if words.len() > 1 => words[1..].to_vec(),
                _ => words,
            };
            !is_sensitive(&words)
        }
        Err(_) => true,
    }
}

/// The prompt: redis-cli's, with the current session's user and short id when there is one.
pub fn prompt(shell: &Shell) -> String {
    let base = shell.ex.conn.prompt();
    match &shell.store.current {
        Some(cur) => {
            let who = cur.username.as_deref().map(crate::redis::escape::escape).unwrap_or("?".into());
            let head = base.strip_suffix("> ").unwrap_or(&base);
            format!("{head} ({who}@{})> ", crate::session::keys::short(&cur.id))
        }
        None => base,
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

pub fn run(shell: &mut Shell) -> Result<(), Error> {
    let color = shell.ex.out.color;
    let mut rl: Editor<Helper, DefaultHistory> = editor(color)?;
    // First contact: like redis-cli, a server that is down is reported and the prompt says so.
    if !shell.ex.dry_run
        && !shell.ex.conn.is_connected()
        && let Err(e) = shell.ex.conn.ensure()
    {
        shell.ex.out.error(None, &e);
    }
    rl.set_helper(Some(Helper::new(color, shell.docs())));
    // `events` prints above the prompt, from a background thread, without breaking the typed line.
    if let Ok(printer) = rl.create_external_printer() {
        shell.store.attach_printer(&mut shell.ex, Box::new(printer));
    }
    let history = history_path();
    if let Some(path) = &history {
        create_private(path);
        let _ = rl.load_history(path);
    }
    loop {
        if let Some(h) = rl.helper_mut() {
            h.update(&shell.store);
            // The docs of the server in use: asked once it answers (and again after `connect`).
            if shell.ex.conn.is_connected() && !shell.ex.conn.in_transaction() {
                let docs = shell.docs();
                if !Rc::ptr_eq(h.docs(), &docs) {
                    h.set_docs(docs);
                }
            }
        }
        shell.ex.out.flush();
        let p = prompt(shell);
        if let Some(h) = rl.helper_mut() {
            h.set_prompt(&p);
        }
        match rl.readline(&p) {
            Ok(line) => {
                if line.trim().is_empty() {
                    continue;
                }
                if may_save(&line) {
                    let _ = rl.add_history_entry(line.as_str());
                    if let Some(path) = &history {
                        // Appending keeps the lines other shells added meanwhile.
                        let _ = rl.append_history(path);
                        restrict(path);
                    }
                }
                match execute(shell, line.as_bytes()) {
                    Ok(Flow::Quit) => break,
                    Ok(Flow::Continue) => {}
                    Err(e) => shell.ex.out.error(None, &e),
                }
                shell.store.follow_server(&mut shell.ex);
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(Error::Other(format!("terminal: {e}"))),
        }
    }
    shell.ex.out.flush();
    Ok(())
}

/// Runs a line typed at the terminal (or a `--step` line). Ctrl-C stops it and returns to the
/// prompt; SUBSCRIBE and MONITOR print what the server sends until then.
pub fn execute(shell: &mut Shell, line: &[u8]) -> Result<Flow, Error> {
    let line = classify(line)?;
    let guard = interrupt::Guard::install();
    let result = shell.run(line);
    drop(guard);
    if interrupt::take() {
        shell.ex.out.flush();
        // The interrupted command's reply may still arrive: that connection can no longer be trusted.
        shell.ex.conn.drop_connection();
        shell.ex.out.write(b"\n");
        if !shell.ex.dry_run
            && let Err(e) = shell.ex.conn.ensure()
        {
            shell.ex.out.error(None, &e);
        }
        return Ok(Flow::Continue);
    }
    result
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
    fn secrets_stay_out_of_history() {
        assert!(!may_save("AUTH hunter2"));
        assert!(!may_save("2 auth x"));
        assert!(!may_save("config set requirepass x"));
        assert!(!may_save("HELLO 3 AUTH default pw"));
        assert!(!may_save("acl setuser bob on >pw"));
        assert!(!may_save("MIGRATE h 1 \"\" 0 5 AUTH pw KEYS a"));
        assert!(may_save("login 101 suhel teacher"));
        assert!(may_save("GET k"));
        assert!(may_save("\"unbalanced"));
    }
}
