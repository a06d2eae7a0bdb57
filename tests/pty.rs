//! The interactive editor in a real pseudo-terminal: completion, hints, Ctrl-C, Ctrl-D, history,
//! colours, the prompt, streaming commands and `--step`. The output holds escape sequences
//! (colours, bracketed paste, repaints), so checks look for substrings.

use std::process::Command;
use std::time::Duration;

use rexpect::session::{PtySession, spawn_command};

use crate::harness::{Server, redsh_bin};

const TIMEOUT_MS: u64 = 10_000;

/// redis-cli's hint colour.
const GREY: &str = "\x1b[0;90;49m";
const RED: &str = "\x1b[31m";

/// redsh on a terminal, talking to `server`, colours allowed unless `env` says otherwise.
#[track_caller]
fn terminal(server: &Server, env: &[(&str, &str)], args: &[&str]) -> PtySession {
    let mut cmd = Command::new(redsh_bin());
    cmd.env("TERM", "xterm")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("REDISCLI_AUTH")
        .env("REDSH_HISTFILE", "/dev/null")
        .arg("-p")
        .arg(server.port.to_string())
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut term = spawn_command(cmd, Some(TIMEOUT_MS)).unwrap();
    term.exp_string(&format!("127.0.0.1:{}> ", server.port)).unwrap();
    term
}

/// Sends keys without a line end (`send` is buffered until flushed).
#[track_caller]
fn keys(term: &mut PtySession, keys: &str) {
    term.send(keys).unwrap();
    term.flush().unwrap();
}

/// Types a line and presses Enter.
#[track_caller]
fn enter(term: &mut PtySession, line: &str) {
    keys(term, &format!("{line}\r"));
}

/// Marks the start of each line edit (bracketed paste on), after the previous line has been read.
const EDIT_STARTS: &str = "\x1b[?2004h";

/// Ctrl-C, then waits for the fresh prompt: keys sent at once would go to the abandoned edit.
#[track_caller]
fn ctrl_c(term: &mut PtySession) {
    term.send_control('c').unwrap();
    term.exp_string(EDIT_STARTS).unwrap();
}

/// Ctrl-D at an empty prompt, then the exit status. A Ctrl-D that arrives after a command's output
/// but before the editor has put the terminal in raw mode is taken by the terminal's line
/// discipline and never reaches the editor (a person would press it again): so does this.
#[track_caller]
fn quit(mut term: PtySession) -> String {
    term.send_control('d').unwrap();
    if term.exp_eof().is_err() {
        term.send_control('d').unwrap();
        term.exp_eof().unwrap();
    }
    format!("{:?}", term.process_mut().wait().unwrap())
}

#[track_caller]
fn assert_exit_0(status: &str) {
    assert!(status.starts_with("Exited(") && status.ends_with(", 0)"), "exit status: {status}");
}

#[test]
fn tab_completes_redis_and_session_commands() {
    let server = Server::start();
    let mut t = terminal(&server, &[], &[]);
    keys(&mut t, "PIN\t");
    t.exp_string("PING").unwrap();
    enter(&mut t, "");
    t.exp_string("PONG").unwrap();
    // Lower case works as in redis-cli; TAB again cycles to the next candidate.
    keys(&mut t, "log\t");
    t.exp_string("login").unwrap();
    keys(&mut t, "\t");
    t.exp_string("logout").unwrap();
    ctrl_c(&mut t);
    keys(&mut t, "config ge\t");
    t.exp_string("CONFIG\x1b[0m GET").unwrap();
    ctrl_c(&mut t);
    assert_exit_0(&quit(t));
}

#[test]
fn tab_completes_session_ids_seen() {
    let server = Server::start();
    let mut t = terminal(&server, &[], &[]);
    enter(&mut t, "login 101 suhel teacher --id abc123");
    t.exp_string("(suhel@abc123)> ").unwrap();
    keys(&mut t, "whoami ab\t");
    // The command word is highlighted, so the line reads `ESC[1;36mwhoamiESC[0m abc123`.
    t.exp_string("whoami\x1b[0m abc123").unwrap();
    enter(&mut t, "");
    // (rexpect reads bytes as Latin-1, so expectations stay ASCII.)
    t.exp_string("suhel (teacher) from").unwrap();
    assert_exit_0(&quit(t));
}

#[test]
fn hint_appears_after_a_command_name() {
    let server = Server::start();
    let mut t = terminal(&server, &[], &[]);
    keys(&mut t, "HSET ");
    t.exp_string(&format!("{GREY}key field value [field value ...]")).unwrap();
    keys(&mut t, "session:abc123 ");
    t.exp_string(&format!("{GREY}field value [field value ...]")).unwrap();
    ctrl_c(&mut t);
    keys(&mut t, "login ");
    t.exp_string("user_id username role [--ip ADDR] [--id ID] [--ttl SECS]").unwrap();
    ctrl_c(&mut t);
    assert_exit_0(&quit(t));
}

#[test]
fn ctrl_c_clears_the_line_and_the_shell_goes_on() {
    let server = Server::start();
    let mut t = terminal(&server, &[], &[]);
    keys(&mut t, "SET typed-but-dropped 1");
    ctrl_c(&mut t);
    enter(&mut t, "PING");
    t.exp_string("PONG").unwrap();
    assert_eq!(server.get(&["EXISTS", "typed-but-dropped"]), "0");
    assert_exit_0(&quit(t));
}

#[test]
fn ctrl_c_stops_a_blocking_command_and_reconnects() {
    let server = Server::start();
    let mut t = terminal(&server, &[], &[]);
    enter(&mut t, "BLPOP nothing-here 0");
    std::thread::sleep(Duration::from_millis(300));
    ctrl_c(&mut t);
    enter(&mut t, "PING");
    t.exp_string("PONG").unwrap();
    // The interrupted connection was closed: only the new one is left.
    assert_eq!(server.get(&["CLIENT", "LIST", "TYPE", "normal"]).lines().count(), 2);
    assert_exit_0(&quit(t));
}

#[test]
fn subscribe_streams_messages_until_ctrl_c() {
    let server = Server::start();
    let mut t = terminal(&server, &[], &[]);
    enter(&mut t, "SUBSCRIBE news");
    t.exp_string("Reading messages... (press Ctrl-C to quit)").unwrap();
    t.exp_string("3) (integer) 1").unwrap();
    for text in ["first", "second"] {
        assert_eq!(server.get(&["PUBLISH", "news", text]), "1");
        t.exp_string(&format!("3) \"{text}\"")).unwrap();
    }
    ctrl_c(&mut t);
    enter(&mut t, "PING");
    t.exp_string("PONG").unwrap();
    assert_eq!(server.get(&["PUBLISH", "news", "gone"]), "0");
    enter(&mut t, "MONITOR");
    t.exp_string("OK").unwrap();
    server.get(&["SET", "watched", "1"]);
    t.exp_string("\"SET\" \"watched\" \"1\"").unwrap();
    ctrl_c(&mut t);
    enter(&mut t, "PING");
    t.exp_string("PONG").unwrap();
    assert_exit_0(&quit(t));
}

#[test]
fn ctrl_d_exits_0() {
    let server = Server::start();
    let t = terminal(&server, &[], &[]);
    assert_exit_0(&quit(t));
}

#[test]
fn history_holds_typed_commands_but_no_password() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let hist = dir.path().join("history");
    let hist_env = hist.to_str().unwrap();
    let mut t = terminal(&server, &[("REDSH_HISTFILE", hist_env)], &[]);
    enter(&mut t, "SET greeting hello");
    t.exp_string("OK").unwrap();
    enter(&mut t, "AUTH hunter2");
    t.exp_string("(error)").unwrap();
    enter(&mut t, "CONFIG SET requirepass s3cret-pw");
    t.exp_string("OK").unwrap();
    enter(&mut t, "login 101 suhel teacher");
    t.exp_string("(suhel@").unwrap();
    assert_exit_0(&quit(t));
    let saved = std::fs::read_to_string(&hist).unwrap();
    assert!(saved.contains("SET greeting hello"), "{saved}");
    assert!(saved.contains("login 101 suhel teacher"), "{saved}");
    assert!(!saved.contains("hunter2") && !saved.contains("s3cret-pw"), "{saved}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&hist).unwrap().permissions().mode() & 0o777, 0o600);

    // The next shell starts with it: Up recalls the last line.
    let server = Server::start();
    let mut t = terminal(&server, &[("REDSH_HISTFILE", hist_env)], &[]);
    keys(&mut t, "\x1b[A");
    t.exp_string("login\x1b[0m 101 suhel teacher").unwrap();
    ctrl_c(&mut t);
    assert_exit_0(&quit(t));
}

/// Everything printed from now until `marker` shows up.
#[track_caller]
fn until(term: &mut PtySession, marker: &str) -> String {
    term.exp_string(marker).unwrap()
}

#[test]
fn colours_only_when_allowed() {
    let server = Server::start();
    let mut t = terminal(&server, &[], &[]);
    enter(&mut t, "whoami");
    let coloured = until(&mut t, "no current session");
    assert!(coloured.ends_with(RED), "no red error: {coloured:?}");
    assert_exit_0(&quit(t));

    for (env, args) in [(vec![("NO_COLOR", "1")], vec![]), (vec![], vec!["--no-color"])] {
        let mut t = terminal(&server, &env, &args);
        enter(&mut t, "whoami");
        let mut seen = until(&mut t, "no current session");
        keys(&mut t, "HSET ");
        seen += &until(&mut t, "key field value [field value ...]");
        ctrl_c(&mut t);
        enter(&mut t, "PING");
        seen += &until(&mut t, "PONG");
        assert!(!seen.contains(RED) && !seen.contains(GREY) && !seen.contains("\x1b[1m"), "{seen:?}");
        assert_exit_0(&quit(t));
    }
}

#[test]
fn prompt_shows_the_session_and_transactions() {
    let server = Server::start();
    let mut t = terminal(&server, &[], &[]);
    enter(&mut t, "login 101 suhel teacher --id abc123");
    t.exp_string(&format!("127.0.0.1:{} (suhel@abc123)> ", server.port)).unwrap();
    enter(&mut t, "MULTI");
    t.exp_string(&format!("127.0.0.1:{}(TX) (suhel@abc123)> ", server.port)).unwrap();
    enter(&mut t, "DISCARD");
    t.exp_string(&format!("127.0.0.1:{} (suhel@abc123)> ", server.port)).unwrap();
    enter(&mut t, "help GET");
    t.exp_string("Get the value of a key").unwrap();
    assert_exit_0(&quit(t));
}

#[test]
fn a_hostile_username_is_escaped_in_the_prompt() {
    let server = Server::start();
    let t0 =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().to_string();
    let name = "evil\x1b]0;PWNED\x07\nroot";
    server.cli(&[
        "HSET",
        "session:h1",
        "user_id",
        "9",
        "username",
        name,
        "role",
        "r",
        "login_time",
        &t0,
        "ip",
        "1",
    ]);
    server.cli(&["EXPIRE", "session:h1", "1000"]);
    let mut t = terminal(&server, &[], &[]);
    enter(&mut t, "use h1");
    t.exp_string("(?@h1)> ").unwrap();
    enter(&mut t, "whoami");
    t.exp_string(&format!("127.0.0.1:{} (evil\\x1b]0;PWNED\\x07\\nroot@h1)> ", server.port)).unwrap();
    assert_exit_0(&quit(t));
}

/// `redsh --step -f SCRIPT` on a terminal, without colours (the keys' hint is then plain text).
fn stepping(server: &Server, script: &str) -> (PtySession, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lesson.redsh");
    std::fs::write(&path, script).unwrap();
    let mut cmd = Command::new(redsh_bin());
    cmd.env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .env("REDSH_HISTFILE", "/dev/null")
        .args(["-p", &server.port.to_string(), "--step", "-f"])
        .arg(&path);
    (spawn_command(cmd, Some(TIMEOUT_MS)).unwrap(), dir)
}

/// What `--step` shows after the waiting command.
const STEP_KEYS: &str = "[Enter] run  [s] skip  [:] your own  [q] quit";

/// Waits until `command` is shown, waiting for a key.
#[track_caller]
fn waiting_at(term: &mut PtySession, command: &str) {
    term.exp_string(&format!("> {command}   {STEP_KEYS}")).unwrap();
}

#[test]
fn step_runs_skips_and_quits_on_single_keys() {
    let server = Server::start();
    let (mut t, _dir) = stepping(
        &server,
        "# A tiny lesson.\nSET greeting hello\n\n# Now read it back.\nGET greeting\nSET skipped 1\nPING\nSET never-run 1\n",
    );
    t.exp_string("# A tiny lesson.").unwrap();
    waiting_at(&mut t, "SET greeting hello");
    // Nothing runs before a key.
    assert_eq!(server.get(&["EXISTS", "greeting"]), "0");
    keys(&mut t, " ");
    t.exp_string("OK").unwrap();
    t.exp_string("# Now read it back.").unwrap();
    waiting_at(&mut t, "GET greeting");
    keys(&mut t, "\r");
    t.exp_string("\"hello\"").unwrap();
    waiting_at(&mut t, "SET skipped 1");
    keys(&mut t, "s");
    t.exp_string("(skipped)").unwrap();
    waiting_at(&mut t, "PING");
    // A key with no meaning does nothing; `q` needs no Enter.
    keys(&mut t, "x");
    keys(&mut t, "q");
    t.exp_eof().unwrap();
    let status = format!("{:?}", t.process_mut().wait().unwrap());
    assert_exit_0(&status);
    assert_eq!(server.get(&["EXISTS", "skipped"]), "0");
    assert_eq!(server.get(&["EXISTS", "never-run"]), "0");
    assert_eq!(server.get(&["GET", "greeting"]), "hello");
}

#[test]
fn step_colon_runs_a_command_of_your_own_then_goes_on() {
    let server = Server::start();
    let (mut t, _dir) = stepping(&server, "SET lesson 1\nGET mine\n");
    waiting_at(&mut t, "SET lesson 1");
    keys(&mut t, ":");
    // The waiting command gives way to the usual prompt, with its editor.
    t.exp_string("\x1b[?2004l").unwrap();
    t.exp_string(EDIT_STARTS).unwrap();
    enter(&mut t, "clear");
    t.exp_string("\x1b[H\x1b[J").unwrap();
    waiting_at(&mut t, "SET lesson 1");
    keys(&mut t, ":");
    t.exp_string("\x1b[?2004l").unwrap();
    t.exp_string(EDIT_STARTS).unwrap();
    // A paste at that prompt: each line its own command.
    keys(&mut t, "\x1b[200~SET mine \"from the teacher\"\rSET also 2\x1b[201~");
    enter(&mut t, "");
    t.exp_string("> SET mine \"from the teacher\"\r\nOK\r\n").unwrap();
    t.exp_string("> SET also 2\r\nOK\r\n").unwrap();
    assert_eq!(server.get(&["GET", "also"]), "2");
    // Then the script goes on where it was: the same command waits again.
    waiting_at(&mut t, "SET lesson 1");
    assert_eq!(server.get(&["EXISTS", "lesson"]), "0");
    keys(&mut t, " ");
    t.exp_string("OK").unwrap();
    waiting_at(&mut t, "GET mine");
    keys(&mut t, " ");
    t.exp_string("\"from the teacher\"").unwrap();
    t.exp_eof().unwrap();
    assert_exit_0(&format!("{:?}", t.process_mut().wait().unwrap()));
    assert_eq!(server.get(&["GET", "lesson"]), "1");
}

#[test]
fn step_ctrl_c_quits_and_gives_the_terminal_back() {
    let server = Server::start();
    let (mut t, _dir) = stepping(&server, "SET never-run 1\n");
    waiting_at(&mut t, "SET never-run 1");
    let tty = t.process().get_file_handle().unwrap();
    t.send_control('c').unwrap();
    t.exp_eof().unwrap();
    assert_exit_0(&format!("{:?}", t.process_mut().wait().unwrap()));
    assert_eq!(server.get(&["EXISTS", "never-run"]), "0");
    // The terminal is back in line mode with signals, as it was before redsh started (rexpect
    // itself turns echo off, so echo tells nothing here).
    use std::os::fd::AsRawFd;
    let mut mode: libc::termios = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::tcgetattr(tty.as_raw_fd(), &mut mode) }, 0);
    assert_ne!(mode.c_lflag & libc::ICANON, 0, "still in raw mode");
    assert_ne!(mode.c_lflag & libc::ISIG, 0, "Ctrl-C still a plain key");
}

#[test]
fn a_paste_of_three_lines_runs_three_commands() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let hist = dir.path().join("history");
    let mut t = terminal(&server, &[("NO_COLOR", "1"), ("REDSH_HISTFILE", hist.to_str().unwrap())], &[]);
    // What a terminal sends for a bracketed paste (lines end in CR), then Enter.
    keys(&mut t, "\x1b[200~SADD user_sessions:101 abc123\rSMEMBERS user_sessions:101\rECHO third\x1b[201~");
    enter(&mut t, "");
    // Each line at its own prompt, followed by its own reply, in order.
    let port = server.port;
    t.exp_string(&format!("{port}> SADD user_sessions:101 abc123\r\n(integer) 1\r\n")).unwrap();
    t.exp_string(&format!("{port}> SMEMBERS user_sessions:101\r\n1) \"abc123\"\r\n")).unwrap();
    t.exp_string(&format!("{port}> ECHO third\r\n\"third\"\r\n")).unwrap();
    assert_eq!(server.get(&["SCARD", "user_sessions:101"]), "1");
    assert_exit_0(&quit(t));
    // Each line is its own history entry.
    let saved = std::fs::read_to_string(&hist).unwrap();
    let lines: Vec<&str> = saved.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(lines, ["SADD user_sessions:101 abc123", "SMEMBERS user_sessions:101", "ECHO third"]);
}

#[test]
fn ctrl_c_stops_the_rest_of_a_paste() {
    let server = Server::start();
    let mut t = terminal(&server, &[("NO_COLOR", "1")], &[]);
    keys(&mut t, "\x1b[200~BLPOP nothing-here 0\rSET after-ctrl-c 1\x1b[201~");
    enter(&mut t, "");
    t.exp_string("> BLPOP nothing-here 0\r\n").unwrap();
    crate::harness::wait_until(10, "BLPOP is not blocked", || {
        server.get(&["CLIENT", "LIST"]).contains("cmd=blpop")
    });
    ctrl_c(&mut t);
    enter(&mut t, "PING");
    t.exp_string("PONG").unwrap();
    assert_eq!(server.get(&["EXISTS", "after-ctrl-c"]), "0");
    assert_exit_0(&quit(t));
}

#[test]
fn lines_typed_before_the_prompt_all_run() {
    let server = Server::start();
    let mut cmd = Command::new(redsh_bin());
    cmd.env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .env("REDSH_HISTFILE", "/dev/null")
        .args(["-p", &server.port.to_string()]);
    let mut t = spawn_command(cmd, Some(TIMEOUT_MS)).unwrap();
    // Typed at once, before redsh has shown its first prompt (and while each command runs).
    keys(&mut t, "HSET session:ahead user_id 101\rEXPIRE session:ahead 1800\rSET ahead:3 c\r");
    t.exp_string("(integer) 1\r\n").unwrap();
    t.exp_string("(integer) 1\r\n").unwrap();
    t.exp_string("OK\r\n").unwrap();
    assert_eq!(server.get(&["GET", "ahead:3"]), "c");
    let ttl: i64 = server.get(&["TTL", "session:ahead"]).parse().unwrap();
    assert!(ttl > 0, "the EXPIRE typed ahead was lost: TTL {ttl}");
    assert_exit_0(&quit(t));
}

#[test]
fn ctrl_c_leaves_the_ephemeral_server_running() {
    let mut cmd = Command::new(redsh_bin());
    cmd.env("TERM", "xterm").env("NO_COLOR", "1").env("REDSH_HISTFILE", "/dev/null").arg("--ephemeral");
    let mut t = spawn_command(cmd, Some(TIMEOUT_MS)).unwrap();
    t.exp_string("> ").unwrap();
    enter(&mut t, "BLPOP nothing-here 0");
    std::thread::sleep(Duration::from_millis(300));
    ctrl_c(&mut t);
    // The private server is in a process group of its own, so the terminal's SIGINT missed it.
    enter(&mut t, "PING");
    t.exp_string("PONG").unwrap();
    assert_exit_0(&quit(t));
}

/// Gives the terminal a size, as a real one has (the test terminal starts with none).
fn resize(term: &PtySession, cols: u16, rows: u16) {
    use std::os::fd::AsRawFd;
    let tty = term.process().get_file_handle().unwrap();
    let size = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    assert_eq!(unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCSWINSZ, &size) }, 0);
}

#[test]
fn a_mistyped_session_command_still_goes_to_redis_then_gets_a_note() {
    let server = Server::start();
    let mut t = terminal(&server, &[("NO_COLOR", "1")], &[]);
    enter(&mut t, "lgoin 101 suhel teacher");
    // Redis's reply first, unchanged; then the note.
    t.exp_string(
        "(error) ERR unknown command 'lgoin', with args beginning with: '101' 'suhel' 'teacher' \r\n",
    )
    .unwrap();
    t.exp_string("redsh: 'lgoin' is not a session command; did you mean login?").unwrap();
    // A Redis command's error gets no note.
    enter(&mut t, "SET k v");
    t.exp_string("OK").unwrap();
    enter(&mut t, "HGET k f");
    let seen = until(&mut t, "WRONGTYPE");
    enter(&mut t, "PING");
    let seen = seen + &until(&mut t, "PONG");
    assert!(!seen.contains("did you mean"), "{seen:?}");
    assert_exit_0(&quit(t));
}

#[test]
fn clear_clears_the_screen_and_sends_nothing() {
    let server = Server::start();
    let mut t = terminal(&server, &[("NO_COLOR", "1")], &[]);
    enter(&mut t, "clear");
    t.exp_string("\x1b[H\x1b[J").unwrap();
    enter(&mut t, "PING");
    let seen = until(&mut t, "PONG");
    assert!(!seen.contains("unknown command"), "{seen:?}");
    assert_exit_0(&quit(t));
}

#[test]
fn help_fits_a_narrow_terminal() {
    let server = Server::start();
    let mut t = terminal(&server, &[("NO_COLOR", "1")], &[]);
    resize(&t, 40, 24);
    enter(&mut t, "help");
    t.exp_string("Session commands").unwrap();
    let text = until(&mut t, "sends.");
    for word in ["connect HOST PORT", "literal on|off", "quit, exit"] {
        assert!(text.contains(word), "{word}: {text}");
    }
    for line in text.split("\r\n") {
        assert!(line.chars().count() <= 40, "wider than the terminal: {line:?}");
    }
    assert_exit_0(&quit(t));
}

#[test]
fn no_server_at_start_mentions_ephemeral() {
    let mut cmd = Command::new(redsh_bin());
    let port = crate::harness::free_port();
    cmd.env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .env("REDSH_HISTFILE", "/dev/null")
        .args(["-p", &port.to_string()]);
    let mut t = spawn_command(cmd, Some(TIMEOUT_MS)).unwrap();
    t.exp_string(&format!("Could not connect to Redis at 127.0.0.1:{port}: Connection refused")).unwrap();
    t.exp_string("`redsh --ephemeral` starts a private throwaway one").unwrap();
    t.exp_string("not connected> ").unwrap();
    assert_exit_0(&quit(t));
}

#[test]
fn the_pager_shows_output_taller_than_the_terminal() {
    let server = Server::start();
    let items: Vec<String> = (1..=60).map(|i| i.to_string()).collect();
    let mut push = vec!["RPUSH", "tall"];
    push.extend(items.iter().map(String::as_str));
    server.get(&push);
    let mut t = terminal(&server, &[("NO_COLOR", "1"), ("PAGER", "sed 's/^/paged: /'")], &["--pager"]);
    resize(&t, 80, 24);
    enter(&mut t, "LRANGE tall 0 -1");
    t.exp_string("paged:  1) \"1\"\r\n").unwrap();
    t.exp_string("paged: 60) \"60\"\r\n").unwrap();
    // A short reply goes straight to the terminal.
    enter(&mut t, "LRANGE tall 0 2");
    let seen = until(&mut t, "3) \"3\"");
    assert!(!seen.contains("paged:"), "{seen:?}");
    assert_exit_0(&quit(t));
}

#[test]
fn the_prompt_shows_literal_mode_and_session_commands_then_send_the_documents_commands() {
    let server = Server::start();
    let p = server.port;
    let mut t = terminal(&server, &[("NO_COLOR", "1")], &[]);
    enter(&mut t, "literal on");
    t.exp_string("# redsh: literal mode on").unwrap();
    t.exp_string(&format!("127.0.0.1:{p} literal> ")).unwrap();
    enter(&mut t, "login 101 suhel teacher --ip 192.168.1.10 --id abc123");
    t.exp_string("(integer) 5").unwrap();
    t.exp_string(&format!("127.0.0.1:{p}> EXPIRE session:abc123 1800\r\n(integer) 1")).unwrap();
    t.exp_string(&format!("127.0.0.1:{p}> SADD user_sessions:101 abc123\r\n(integer) 1")).unwrap();
    t.exp_string(&format!("127.0.0.1:{p} literal (suhel@abc123)> ")).unwrap();
    enter(&mut t, "literal off");
    t.exp_string(&format!("127.0.0.1:{p} (suhel@abc123)> ")).unwrap();
    assert_exit_0(&quit(t));
    assert_eq!(server.get(&["TTL", "session:abc123"]), "1800");
}

#[test]
fn literal_from_the_flag_shows_in_the_first_prompt() {
    let server = Server::start();
    let mut cmd = Command::new(redsh_bin());
    cmd.env("TERM", "xterm").env("NO_COLOR", "1").env("REDSH_HISTFILE", "/dev/null").args([
        "-p",
        &server.port.to_string(),
        "--literal",
    ]);
    let mut t = spawn_command(cmd, Some(TIMEOUT_MS)).unwrap();
    t.exp_string(&format!("127.0.0.1:{} literal> ", server.port)).unwrap();
    enter(&mut t, "touch abc123");
    t.exp_string("EXPIRE session:abc123 1800\r\n(integer) 0").unwrap();
    t.exp_string("no such session: abc123").unwrap();
    assert_exit_0(&quit(t));
}

#[test]
fn the_prompt_drops_a_session_seen_gone_and_use_warns_of_one_that_is_not_there() {
    let server = Server::start();
    let p = server.port;
    let mut t = terminal(&server, &[("NO_COLOR", "1")], &[]);
    enter(&mut t, "login 101 suhel teacher --id abc123");
    t.exp_string(&format!("127.0.0.1:{p} (suhel@abc123)> ")).unwrap();
    // Another client ends it; whoami sees it gone and the shell stops acting as it.
    server.cli(&["DEL", "session:abc123"]);
    enter(&mut t, "whoami");
    t.exp_string("no such session: abc123").unwrap();
    t.exp_string(&format!("127.0.0.1:{p}> ")).unwrap();
    enter(&mut t, "use nothere");
    t.exp_string(&format!("127.0.0.1:{p}> EXISTS session:nothere\r\n(integer) 0")).unwrap();
    t.exp_string(
        "# warning: session nothere does not exist (expired, logged out, or never created); current anyway",
    )
    .unwrap();
    t.exp_string(&format!("127.0.0.1:{p} (?@nothere)> ")).unwrap();
    // In literal mode too: a touch that finds it gone drops it.
    enter(&mut t, "literal on");
    enter(&mut t, "touch");
    t.exp_string("EXPIRE session:nothere 1800\r\n(integer) 0").unwrap();
    t.exp_string(&format!("127.0.0.1:{p} literal> ")).unwrap();
    assert_exit_0(&quit(t));
}
