//! `--completions SHELL` and `--man`: generated from the flags, printed, exit 0, no server needed.

use crate::harness::Redsh;

#[test]
fn completions_for_bash_zsh_and_fish() {
    for (shell, marker) in [("bash", "complete -F"), ("zsh", "#compdef redsh"), ("fish", "complete -c redsh")]
    {
        let run = Redsh::new().args(&["--completions", shell]).run().success();
        assert!(run.stdout.contains(marker), "{shell}: {}", &run.stdout[..200.min(run.stdout.len())]);
        assert!(run.stdout.contains("ephemeral") && run.stdout.contains("step"), "{shell}");
    }
    let run = Redsh::new().args(&["--completions", "tcsh"]).run().code(2);
    assert!(run.stderr.contains("tcsh"), "{}", run.stderr);
}

#[test]
fn man_page() {
    let run = Redsh::new().args(&["--man"]).run().success();
    assert!(run.stdout.contains(".TH redsh 1"), "{}", &run.stdout[..300.min(run.stdout.len())]);
    assert!(run.stdout.contains("\\-\\-ephemeral"), "the flags are listed");
}

#[test]
fn step_needs_a_script_file() {
    let run = Redsh::new().args(&["--step"]).run().code(2);
    assert!(run.stderr.contains("--file"), "{}", run.stderr);
    let run = Redsh::new().args(&["--step", "-f", "-"]).run().code(2);
    assert!(run.stderr.contains("--step needs a script file"), "{}", run.stderr);
}
