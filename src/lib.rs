//! redsh: an interactive shell for Redis session stores that echoes every Redis command it sends,
//! exactly as redis-cli would show it, and prints every reply byte for byte as redis-cli does.

// Nothing a user or a server sends may crash the shell: no unwrap/expect/panic outside tests.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod cli;
pub mod config;
pub mod docs;
pub mod ephemeral;
pub mod error;
pub mod exec;
pub mod help;
pub mod helper;
pub mod interrupt;
pub mod pager;
pub mod redis;
pub mod repl;
pub mod script;
pub mod session;
pub mod shell;
pub mod shell_integration;
pub mod step;
pub mod suggest;

use std::ffi::OsString;
use std::io::{BufReader, IsTerminal, Write};

use clap::Parser;

use config::{Config, Input};
use error::{EXIT_FAILURE, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, Error};
use exec::conn::{Address, Conn};
use exec::{Executor, Output};
use script::Runner;
use session::Store;
use shell::Shell;

/// Runs redsh with these arguments (the first is the program name); returns the exit status.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args = match cli::Args::try_parse_from(args) {
        Ok(a) => a,
        Err(e) if e.use_stderr() => {
            eprintln!("redsh: {}; try --help", usage_line(&e));
            return EXIT_USAGE;
        }
        // --help and --version.
        Err(e) => {
            let _ = e.print();
            return EXIT_OK;
        }
    };
    if let Some(shell) = args.completions {
        shell_integration::completions(shell, &mut std::io::stdout());
        return EXIT_OK;
    }
    if args.man {
        return match shell_integration::man_page(&mut std::io::stdout()) {
            Ok(()) => EXIT_OK,
            Err(e) => {
                eprintln!("redsh: --man: {}", error::io_reason(&e));
                EXIT_FAILURE
            }
        };
    }
    // A bug must end in a message and a status, not a backtrace in the middle of a transcript.
    std::panic::set_hook(Box::new(|info| {
        let _ = std::io::stdout().flush();
        eprintln!("redsh: internal error: {info}");
    }));
    match std::panic::catch_unwind(move || start(args)) {
        Ok(Ok(code)) => code,
        // redis-cli's own message (a refused connection) is printed as redis-cli prints it.
        Ok(Err(e @ Error::Connect { .. })) => {
            eprintln!("{e}");
            e.exit_code()
        }
        // redis-cli's own message (`Invalid quoted string`), on stdout where it prints it.
        Ok(Err(e)) if e.on_stdout() => {
            println!("{e}");
            e.exit_code()
        }
        Ok(Err(e)) => {
            eprintln!("redsh: {e}");
            e.exit_code()
        }
        Err(_) => EXIT_INTERNAL,
    }
}

/// clap's message on one line, like every other redsh error: without its `error: ` label, usage
/// block and tips.
fn usage_line(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    let text = e.render().to_string();
    let head = text.split("\n\n").next().unwrap_or_default();
    let head = head.strip_prefix("error: ").unwrap_or(head);
    let mut line = head.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
    // clap's "a similar argument exists" tip, kept on the one line.
    let suggested =
        [ContextKind::SuggestedArg, ContextKind::SuggestedValue, ContextKind::SuggestedSubcommand]
            .into_iter()
            .find_map(|kind| match e.get(kind) {
                Some(ContextValue::String(s)) => Some(s.clone()),
                Some(ContextValue::Strings(v)) => v.first().cloned(),
                _ => None,
            });
    if let Some(s) = suggested {
        line.push_str(&format!(" (did you mean '{s}'?)"));
    }
    line
}

fn askpass() -> Result<String, Error> {
    if std::io::stdin().is_terminal() {
        let mut rl = rustyline::Editor::<helper::Masked, rustyline::history::DefaultHistory>::new()
            .map_err(|e| Error::Other(e.to_string()))?;
        rl.set_helper(Some(helper::Masked));
        return rl.readline("Please input password: ").map_err(|e| Error::Other(format!("--askpass: {e}")));
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| Error::Other(format!("--askpass: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Opens a script file; a directory is refused here rather than failing at the first read.
fn open_script(path: &std::path::Path) -> Result<std::fs::File, Error> {
    let fail = |reason: String| Error::File { path: path.display().to_string(), reason };
    let file = std::fs::File::open(path).map_err(|e| fail(error::io_reason(&e)))?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(fail("Is a directory".into()));
    }
    Ok(file)
}

/// Runs the script input (the command after the flags, standard input, or the opened `-f` file);
/// whether any line failed.
fn run_script(shell: &mut Shell, config: &Config, file: Option<std::fs::File>) -> Result<bool, Error> {
    let mut runner = Runner::new(shell, config.stop_on_error, config.pipeline);
    match (&config.input, file) {
        (Input::Command(words), _) => match shell::classify_words(words.clone()).map(shell::one_shot) {
            Ok(line) => runner.repeat(line, config.repeat.times, config.repeat.pause),
            Err(e) => runner.report_error(None, &e),
        },
        (Input::Stdin, _) => {
            runner.run_lines(BufReader::with_capacity(1 << 16, std::io::stdin().lock()))?;
        }
        (Input::File(_), Some(file)) => {
            runner.run_lines(BufReader::with_capacity(1 << 16, file))?;
        }
        (Input::File(_), None) | (Input::Interactive, _) => {}
    }
    Ok(runner.failed)
}

/// One of redis-cli's modes (`--scan`, `--bigkeys`, `--memkeys`, `--pipe`); its exit status.
fn run_special(ex: &mut Executor, special: &config::Special) -> Result<i32, Error> {
    use config::Special;
    let result = match special {
        Special::Scan(spec) => ex.scan_keys(spec).map(|_| EXIT_OK),
        Special::BigKeys(spec, how) => ex.big_keys(spec, *how).map(|_| EXIT_OK),
        Special::Pipe(timeout) => ex
            .pipe(Box::new(std::io::stdin()), *timeout)
            .map(|r| if r.errors > 0 { EXIT_FAILURE } else { EXIT_OK }),
    };
    ex.out().flush();
    if let Some(reason) = ex.out().take_failure() {
        return Err(Error::Other(format!("writing output: {reason}")));
    }
    match result {
        // --dry-run: the first command was printed instead of sent; nothing can follow it.
        Err(Error::DryRun) => Ok(EXIT_OK),
        other => other,
    }
}

fn start(args: cli::Args) -> Result<i32, Error> {
    // Lets the test suite prove the panic guard in `run`; debug builds only.
    if cfg!(debug_assertions) && std::env::var_os("REDSH_PANIC_FOR_TEST").is_some() {
        #[allow(clippy::panic)]
        {
            panic!("REDSH_PANIC_FOR_TEST is set");
        }
    }
    // A closed pipe (`redsh … | head -1`, `2>&1 | head -1`) ends redsh quietly, as it ends any tool a
    // pipe reader stops reading: by SIGPIPE, not by a panic on the next write to stderr. Sockets are
    // written with MSG_NOSIGNAL by std, so a server gone away is still an error, never a signal.
    // SAFETY: restoring a signal's default disposition, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = Config::from_args(args, askpass)?;
    if let (Input::Command(words), Some(how)) = (&config.input, &config.stdin_arg) {
        let mut input = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut input)
            .map_err(|e| Error::Other(format!("reading standard input: {}", error::io_reason(&e))))?;
        config.input = Input::Command(config::with_stdin(words.clone(), how, input)?);
    }
    colored::control::set_override(config.color);
    if config.auth_warning {
        eprintln!(
            "Warning: Using a password with '-a' or '-u' option on the command line interface may not be safe."
        );
    }
    let _server = if config.ephemeral {
        let server = ephemeral::Ephemeral::start()?;
        config.target.address = Address::Tcp { host: "127.0.0.1".into(), port: server.port };
        Some(server)
    } else {
        None
    };
    let interactive = config.input == Input::Interactive;
    let stdout: Box<dyn Write> = if config.pager {
        pager::enable();
        Box::new(std::io::BufWriter::with_capacity(1 << 16, pager::Pageable))
    } else {
        Box::new(std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock()))
    };
    let mut out = Output::new(stdout, config.echo, config.mode, config.color, interactive);
    out.delims = config.delims.clone();
    out.errors_to_stderr = config.errors_to_stderr;
    // redis-cli follows a redirect silently for a command after the flags.
    out.show_redirects = !matches!(config.input, Input::Command(_));
    let mut ex = Executor::new(Conn::new(config.target.clone()), out, config.dry_run);
    ex.set_replication(config.wait, config.read_from_replica);
    if let Some(special) = &config.special {
        return run_special(&mut ex, special);
    }
    let mut shell = Shell::new(ex, Store::new(config.sessions.clone()), !interactive);
    shell.stop_on_error = config.stop_on_error;

    if interactive {
        repl::run(&mut shell)?;
        return Ok(EXIT_OK);
    }
    // A script that cannot be read is reported as such, whether or not the server is there.
    let script = match &config.input {
        Input::File(path) => Some(open_script(path)?),
        _ => None,
    };
    // A script against a server that is not there fails at once, with redis-cli's message.
    if !config.dry_run
        && let Err(e) = shell.ex.connect()
    {
        // A script (not a one-shot command, whose output stays redis-cli's) also hears of --ephemeral.
        if let (false, Some(hint)) = (matches!(config.input, Input::Command(_)), repl::ephemeral_hint(&e)) {
            eprintln!("{e}");
            eprintln!("{hint}");
            return Ok(e.exit_code());
        }
        return Err(e);
    }
    let failed = match script {
        Some(file) if config.step => step::run(&mut shell, BufReader::new(file), config.stop_on_error)?,
        script => run_script(&mut shell, &config, script)?,
    };
    shell.ex.out().flush();
    if config.then_interactive {
        shell.ex.out().flush_each = true;
        shell.echo_typed = false;
        repl::run(&mut shell)?;
    }
    // Output that could not be written (a full disk) is a failure, said once.
    if let Some(reason) = shell.ex.out().take_failure() {
        return Err(Error::Other(format!("cannot write the output: {reason}")));
    }
    // The process ends now, its output written: freeing the thousands of ids and owners a long
    // script remembered, one by one, would only delay the exit (5% of a script of whoamis).
    std::mem::forget(shell);
    Ok(if failed { EXIT_FAILURE } else { EXIT_OK })
}
