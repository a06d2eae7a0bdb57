//! Shell integration generated from the flags themselves, so it can never fall behind them:
//! `redsh --completions bash|zsh|fish|elvish|powershell` and `redsh --man` (a roff manual page).

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Args;

/// Writes the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) {
    clap_complete::generate(shell, &mut Args::command(), "redsh", out);
}

/// Writes the manual page, `redsh.1`, in roff.
pub fn man_page(out: &mut dyn Write) -> std::io::Result<()> {
    clap_mangen::Man::new(Args::command()).render(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_scripts_name_the_flags() {
        for shell in [clap_complete::Shell::Bash, clap_complete::Shell::Zsh, clap_complete::Shell::Fish] {
            let mut out = Vec::new();
            completions(shell, &mut out);
            let text = String::from_utf8(out).unwrap();
            assert!(
                text.contains("redsh") && text.contains("ephemeral") && text.contains("step"),
                "{shell:?}"
            );
        }
    }

    #[test]
    fn man_page_is_roff() {
        let mut out = Vec::new();
        man_page(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with(".ie") || text.contains(".TH redsh"), "{}", &text[..200.min(text.len())]);
        assert!(text.contains("ephemeral"));
    }
}
