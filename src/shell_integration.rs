//! Shell integration generated from the flags themselves, so it can never fall behind them:
//! `redsh --completions bash|zsh|fish|elvish|powershell` and `redsh --man` (a roff manual page).

use std::io::Write;

use clap::CommandFactory;
use roff::{Inline, Roff, bold, italic, roman};

use crate::cli::Args;
use crate::help::SHELL_WORDS;
use crate::session::commands::COMMANDS;

/// Writes the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) {
    clap_complete::generate(shell, &mut Args::command(), "redsh", out);
}

/// Renders one section of the manual page.
type Section<'a> = dyn Fn(&mut dyn Write) -> std::io::Result<()> + 'a;

/// Writes the manual page, `redsh.1`, in roff: clap's sections from the flags (name, synopsis,
/// description, options), then what the flags cannot tell (session commands, the shell's own words,
/// `--step`'s keys, exit status, environment, files), then the examples and the version.
pub fn man_page(out: &mut dyn Write) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(Args::command());
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    let parts: [&Section; 4] = [
        &|w| man.render_name_section(w),
        &|w| man.render_synopsis_section(w),
        &|w| man.render_description_section(w),
        &|w| man.render_options_section(w),
    ];
    for part in parts {
        page.extend(without_preamble(part)?);
    }
    page.extend(extra_sections().to_roff().into_bytes());
    page.extend(examples().to_roff().into_bytes());
    page.extend(without_preamble(&|w| man.render_version_section(w))?);
    out.write_all(&page)
}

/// A section rendered on its own, without the two lines every roff document starts with (they are
/// written once, with the title).
fn without_preamble(render: &Section) -> std::io::Result<Vec<u8>> {
    const PREAMBLE: &[u8] = b".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";
    let mut part = Vec::new();
    render(&mut part)?;
    Ok(part.strip_prefix(PREAMBLE).map(<[u8]>::to_vec).unwrap_or(part))
}

/// One `.TP` entry: a bold term, then its text.
fn entry(roff: &mut Roff, term: &[Inline], text: &str) {
    roff.control("TP", []);
    roff.text(term.to_vec());
    roff.text([roman(text)]);
}

fn extra_sections() -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["SESSION COMMANDS"]);
    roff.text([roman(
        "Typed at the prompt or in a script; any other line is sent to Redis as a plain command. Each \
         Redis command a session command sends is echoed as redis-cli would show it.",
    )]);
    for c in COMMANDS {
        let term = [bold(c.name), roman(" "), italic(c.args)];
        entry(&mut roff, &term, &format!("{}. Sends: {}.", capitalised(c.summary), c.sends));
    }
    roff.control("SH", ["SHELL COMMANDS"]);
    roff.text([roman("Never sent to Redis.")]);
    for (synopsis, summary) in SHELL_WORDS {
        entry(&mut roff, &[bold(*synopsis)], &format!("{}.", capitalised(summary)));
    }
    roff.control("SH", ["AT THE TERMINAL"]);
    roff.text([roman(
        "TAB completes commands, session ids and help topics; a grey hint shows the rest of a \
         command's synopsis. A paste of several lines runs each line as its own command, in order, \
         and lines typed while a command runs are kept for the prompt. Ctrl-C stops a running command \
         (or clears the line); Ctrl-D on an empty line leaves. A mistyped session command is still \
         sent to Redis; after Redis's error a note names the command that was probably meant. With \
         --pager, output taller than the terminal is shown through $PAGER.",
    )]);
    roff.control("PP", []);
    roff.text([
        roman("With "),
        bold("--step -f FILE"),
        roman(", each command of the script waits for one key:"),
    ]);
    for (key, does) in [
        ("Enter, space", "run it"),
        ("s", "skip it"),
        (":", "type a command of your own at the usual prompt; then the script goes on where it was"),
        ("q, Ctrl-C, Ctrl-D", "stop"),
    ] {
        entry(&mut roff, &[bold(key)], does);
    }
    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in [
        ("0", "Every line succeeded, or the interactive shell was left with quit, exit or Ctrl-D."),
        (
            "1",
            "A line failed (an error reply, a line that cannot be split, a lost connection), the \
             server could not be reached, or a file could not be read. The rest of a script still runs \
             unless -e is given.",
        ),
        ("2", "A usage error: an unknown flag, a bad value, or flags that cannot go together."),
        ("70", "An internal error (a bug): redsh says so on stderr instead of crashing."),
    ] {
        entry(&mut roff, &[bold(code)], meaning);
    }
    roff.control("SH", ["ENVIRONMENT"]);
    for (name, meaning) in [
        ("REDISCLI_AUTH", "The password, when neither -a nor a URI gives one (as redis-cli reads it)."),
        (
            "REDSH_HISTFILE",
            "The history file of the interactive shell; empty or /dev/null keeps no history file.",
        ),
        ("NO_COLOR", "When set, nothing is coloured (as --no-color)."),
        ("PAGER", "The pager --pager runs (through sh -c); less when unset."),
        ("LESS", "Options for less; redsh sets FRX when it is unset."),
        ("HOME", "Where the history file is kept by default."),
    ] {
        entry(&mut roff, &[bold(name)], meaning);
    }
    roff.control("SH", ["FILES"]);
    entry(
        &mut roff,
        &[italic("~/.redsh_history")],
        "Lines typed in the interactive shell (mode 0600, appended after each line). Lines that carry \
         a password (AUTH, HELLO ... AUTH, ACL SETUSER, CONFIG SET requirepass, MIGRATE ... AUTH) are \
         never written.",
    );
    entry(
        &mut roff,
        &[italic("scripts/walkthrough.redsh")],
        "In the source tree: the session store walkthrough, for -f and --step.",
    );
    roff
}

fn examples() -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["EXAMPLES"]);
    let cmd = Args::command();
    let text = cmd.get_after_help().map(|h| h.to_string()).unwrap_or_default();
    for line in text.lines().skip_while(|l| l.trim_end().ends_with(':')) {
        roff.control("TP", []);
        let (command, note) = match line.trim().split_once("  ") {
            Some((c, n)) => (c.trim(), n.trim()),
            None => (line.trim(), ""),
        };
        roff.text([bold(command)]);
        if !note.is_empty() {
            roff.text([roman(capitalised(note))]);
        }
    }
    roff
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
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
        for section in [
            "SESSION COMMANDS",
            "SHELL COMMANDS",
            "AT THE TERMINAL",
            "EXIT STATUS",
            "ENVIRONMENT",
            "FILES",
            "EXAMPLES",
        ] {
            assert!(
                text.contains(&format!(".SH \"{section}\"")) || text.contains(&format!(".SH {section}\n")),
                "{section}"
            );
        }
        for word in
            ["REDISCLI_AUTH", "REDSH_HISTFILE", "NO_COLOR", "redsh_history", "logout\\-all", "literal on|off"]
        {
            assert!(text.contains(word), "{word}");
        }
        // The preamble once, at the top.
        assert_eq!(text.matches(".el .ds Aq").count(), 1);
    }
}
