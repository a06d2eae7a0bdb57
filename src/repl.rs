//! The interactive loop (only when stdin and stdout are both terminals): rustyline, redis-cli's prompt
//! plus the current session, history without secrets.

use std::path::PathBuf;

use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{Config as EditorConfig, Editor};

use crate::error::Error;
use crate::helper::Helper;
use crate::redact::is_sensitive;
use crate::shell::{Flow, Shell};
use crate::split::split_args;

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
            let who = cur.username.clone().unwrap_or_else(|| "?".into());
            let head = base.strip_suffix("> ").unwrap_or(&base);
            format!("{head} ({who}@{})> ", crate::session::keys::short(&cur.id))
        }
        None => base,
    }
}

pub fn run(shell: &mut Shell) -> Result<(), Error> {
    let config = EditorConfig::builder()
        .auto_add_history(false)
        .max_history_size(1000)
        .map_err(|e| Error::Other(e.to_string()))?
        .history_ignore_dups(true)
        .map_err(|e| Error::Other(e.to_string()))?
        .build();
    let mut rl: Editor<Helper, DefaultHistory> =
        Editor::with_config(config).map_err(|e| Error::Other(e.to_string()))?;
    rl.set_helper(Some(Helper::new(shell.ex.out.color)));
    let history = history_path();
    if let Some(path) = &history {
        let _ = rl.load_history(path);
    }
    // First contact: like redis-cli, a server that is down is reported and the prompt says so.
    if !shell.ex.dry_run
        && let Err(e) = shell.ex.conn.ensure()
    {
        shell.ex.out.error(None, &e);
    }
    loop {
        if let Some(h) = rl.helper_mut() {
            h.update(&shell.store);
        }
        shell.ex.out.flush();
        let p = prompt(shell);
        match rl.readline(&p) {
            Ok(line) => {
                if line.trim().is_empty() {
                    continue;
                }
                if may_save(&line) {
                    let _ = rl.add_history_entry(line.as_str());
                    if let Some(path) = &history {
                        let _ = rl.save_history(path);
                        restrict(path);
                    }
                }
                match shell.line(line.as_bytes()) {
                    Ok(Flow::Quit) => break,
                    Ok(Flow::Continue) => {}
                    Err(e) => shell.ex.out.error(None, &e),
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(Error::Other(format!("terminal: {e}"))),
        }
    }
    shell.ex.out.flush();
    Ok(())
}

/// The history file is private (mode 0600), as redis-cli's is.
fn restrict(path: &PathBuf) {
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
        assert!(may_save("login 101 suhel teacher"));
        assert!(may_save("GET k"));
    }
}
