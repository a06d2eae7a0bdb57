//! Command-line flags. Connection flags follow redis-cli (`-h` is the host, so help is `--help` only).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, Parser, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyLayout {
    /// `session:<id>` and `user_sessions:<user_id>`, as in the document.
    Plain,
    /// `session:{<user_id>}:<id>` and `user_sessions:{<user_id>}`: one cluster slot per user.
    Tagged,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LimitPolicy {
    /// A login at the limit ends the user's oldest session.
    EvictOldest,
    /// A login at the limit is refused.
    Refuse,
}

/// An interactive shell for Redis session stores: session commands (login, whoami, touch, logout,
/// sessions…) become the Redis commands they stand for, each echoed exactly as redis-cli would show
/// it and answered byte for byte as redis-cli prints replies. Any other line is a plain Redis command.
#[derive(Debug, Parser)]
#[command(name = "redsh", version, disable_help_flag = true, disable_version_flag = true)]
#[command(
    after_help = "Examples:\n  redsh --ephemeral                      a private throwaway server, interactive\n  redsh -p 6380 -f scripts/walkthrough.redsh\n  redsh -n 2 HGETALL session:abc123       one command, then exit\n  cat seed.txt | redsh --no-echo         like redis-cli --no-raw, faster"
)]
pub struct Args {
    /// Server hostname
    #[arg(short = 'h', long, default_value = "127.0.0.1", help_heading = "Connection")]
    pub host: String,

    /// Server port
    #[arg(short = 'p', long, default_value_t = 6379, help_heading = "Connection")]
    pub port: u16,

    /// Server socket (overrides hostname and port)
    #[arg(short = 's', long, value_name = "PATH", help_heading = "Connection")]
    pub socket: Option<PathBuf>,

    /// Password to use when connecting (prefer REDISCLI_AUTH or --askpass: arguments are visible to other users)
    #[arg(
        short = 'a',
        long = "pass",
        visible_alias = "password",
        value_name = "PASSWORD",
        help_heading = "Connection"
    )]
    pub pass: Option<String>,

    /// ACL username to authenticate with
    #[arg(long, value_name = "USERNAME", help_heading = "Connection")]
    pub user: Option<String>,

    /// Read the password from the terminal, masked
    #[arg(long, help_heading = "Connection")]
    pub askpass: bool,

    /// Server URI: redis://[[user:]pass@]host[:port][/db], rediss:// for TLS, unix://path[?db=N],
    /// redis+sentinel://[[user:]pass@]host:port[,host:port…]/NAME[/db] through Redis Sentinel
    #[arg(short = 'u', long = "uri", value_name = "URI", help_heading = "Connection")]
    pub uri: Option<String>,

    /// Database number
    #[arg(short = 'n', long = "db", value_name = "DB", help_heading = "Connection")]
    pub db: Option<i64>,

    /// Start the session in RESP3 protocol mode (HELLO 3)
    #[arg(short = '3', help_heading = "Connection")]
    pub resp3: bool,

    /// Cluster mode: follow MOVED and ASK redirections, and route session commands by slot
    #[arg(short = 'c', conflicts_with = "socket", help_heading = "Connection")]
    pub cluster: bool,

    /// Start the session in RESP2 protocol mode (the default)
    #[arg(short = '2', conflicts_with = "resp3", help_heading = "Connection")]
    pub resp2: bool,

    /// Seconds to wait for a connection to be established
    #[arg(
        short = 't',
        long = "connect-timeout",
        value_name = "SECS",
        default_value_t = 5.0,
        allow_negative_numbers = true,
        help_heading = "Connection"
    )]
    pub connect_timeout: f64,

    /// Seconds to wait for a reply before giving up on it (default: wait as long as it takes)
    #[arg(long = "timeout", value_name = "SECS", allow_negative_numbers = true, help_heading = "Connection")]
    pub timeout: Option<f64>,

    /// Do not warn when a password is given with -a or -u
    #[arg(long, help_heading = "Connection")]
    pub no_auth_warning: bool,

    /// Start a private redis-server on a free loopback port without persistence, and stop it on exit
    #[arg(long, conflicts_with_all = ["host", "port", "socket", "uri"], help_heading = "Connection")]
    pub ephemeral: bool,

    /// Ask this Redis Sentinel where the master is (repeat for each sentinel; needs --master). After a
    /// failover the next command goes to the new master
    #[arg(long = "sentinel", value_name = "HOST:PORT", help_heading = "Replicas and Sentinel")]
    pub sentinels: Vec<String>,

    /// The name the sentinels monitor the master under
    #[arg(long, value_name = "NAME", help_heading = "Replicas and Sentinel")]
    pub master: Option<String>,

    /// ACL username for the sentinels
    #[arg(long, value_name = "USERNAME", help_heading = "Replicas and Sentinel")]
    pub sentinel_user: Option<String>,

    /// Password for the sentinels (prefer REDSH_SENTINEL_AUTH: arguments are visible to other users)
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "REDSH_SENTINEL_AUTH",
        hide_env_values = true,
        help_heading = "Replicas and Sentinel"
    )]
    pub sentinel_pass: Option<String>,

    /// After each write of a session command, send WAIT N: the line fails unless N replicas
    /// acknowledged it
    #[arg(long = "wait", value_name = "N", help_heading = "Replicas and Sentinel")]
    pub wait: Option<u32>,

    /// How long WAIT waits for the replicas, in milliseconds
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 1000,
        requires = "wait",
        help_heading = "Replicas and Sentinel"
    )]
    pub wait_timeout: u64,

    /// whoami, sessions and stats read from a replica of the master; writes still go to the master
    #[arg(long, help_heading = "Replicas and Sentinel")]
    pub read_from_replica: bool,

    /// Establish a secure TLS connection
    #[arg(long, help_heading = "TLS")]
    pub tls: bool,

    /// CA certificate file to verify the server with
    #[arg(long, value_name = "FILE", help_heading = "TLS")]
    pub cacert: Option<PathBuf>,

    /// Client certificate file to authenticate with
    #[arg(long, value_name = "FILE", requires = "key", help_heading = "TLS")]
    pub cert: Option<PathBuf>,

    /// Private key file to authenticate with
    #[arg(long, value_name = "FILE", requires = "cert", help_heading = "TLS")]
    pub key: Option<PathBuf>,

    /// Allow insecure TLS connection by skipping certificate validation
    #[arg(long, help_heading = "TLS")]
    pub insecure: bool,

    /// Server name indication for TLS (must match the host: the name is checked against the certificate)
    #[arg(long, value_name = "HOST", help_heading = "TLS")]
    pub sni: Option<String>,

    /// Run the commands of FILE ("-" for standard input), then exit
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE",
        conflicts_with = "command",
        help_heading = "Input and output"
    )]
    pub file: Option<PathBuf>,

    /// After the script of -f, stay in the interactive shell on the same server (on a terminal)
    #[arg(long, requires = "file", help_heading = "Input and output")]
    pub interactive: bool,

    /// Walk through the script of -f at the terminal, for teaching: show each command (and the
    /// comments before it) and wait for one key: Enter or space runs it, s skips it, : runs a
    /// command of your own first, q quits
    #[arg(long, requires = "file", help_heading = "Input and output")]
    pub step: bool,

    /// Stop at the first line that fails (exit status 1); never run a line after it
    #[arg(short = 'e', long = "stop-on-error", help_heading = "Input and output")]
    pub stop_on_error: bool,

    /// Send each command of a script only after the previous reply (slower; the output is the same)
    #[arg(long, help_heading = "Input and output")]
    pub no_pipeline: bool,

    /// Read standard input to its end (binary-safe) as the last argument of the command
    #[arg(short = 'x', help_heading = "Input and output")]
    pub stdin_last: bool,

    /// Read standard input to its end as the argument of the command that equals TAG
    #[arg(short = 'X', value_name = "TAG", conflicts_with = "stdin_last", help_heading = "Input and output")]
    pub stdin_tag: Option<OsString>,

    /// Run the command N times (a negative N: until interrupted)
    #[arg(short = 'r', value_name = "N", allow_negative_numbers = true, help_heading = "Input and output")]
    pub repeat: Option<i64>,

    /// Seconds to wait between the runs of -r, after each SCAN of --scan, and every 100 keys of
    /// --bigkeys/--memkeys (fractions allowed)
    #[arg(
        short = 'i',
        value_name = "SECS",
        allow_negative_numbers = true,
        help_heading = "Input and output"
    )]
    pub interval: Option<f64>,

    /// Parse each word of the command after the flags with redis-cli's quoting rules ("\x41" is A)
    #[arg(long, help_heading = "Input and output")]
    pub quoted_input: bool,

    /// Run the Lua script of FILE with EVAL: `--eval FILE key1 key2 , arg1 arg2` (keys before the
    /// lone comma, arguments after it)
    #[arg(long, value_name = "FILE", conflicts_with = "file", help_heading = "Input and output")]
    pub eval: Option<PathBuf>,

    /// In the interactive shell, show output taller than the terminal through $PAGER (less by default)
    #[arg(long, help_heading = "Input and output")]
    pub pager: bool,

    /// Do not echo the Redis commands that are sent
    #[arg(long, help_heading = "Input and output")]
    pub no_echo: bool,

    /// Print replies in redis-cli's raw form (no quotes, no types)
    #[arg(long, conflicts_with = "no_raw", overrides_with = "raw", help_heading = "Input and output")]
    pub raw: bool,

    /// Print replies in redis-cli's terminal form (the default, even when piped)
    #[arg(long, overrides_with = "no_raw", help_heading = "Input and output")]
    pub no_raw: bool,

    /// Print replies as redis-cli's --csv does: one line of comma-separated values (wins over
    /// --raw and --no-raw)
    #[arg(long, conflicts_with_all = ["json", "quoted_json"], help_heading = "Input and output")]
    pub csv: bool,

    /// Print replies as JSON, as redis-cli's --json does, and ask for RESP3 (HELLO 3) unless -2
    /// is given (wins over --raw and --no-raw)
    #[arg(long, conflicts_with = "quoted_json", help_heading = "Input and output")]
    pub json: bool,

    /// As --json, with strings quoted as redis-cli quotes them (binary-safe)
    #[arg(long, help_heading = "Input and output")]
    pub quoted_json: bool,

    /// In the raw form, put DELIM between the elements of a reply (default: a newline)
    #[arg(short = 'd', value_name = "DELIM", allow_hyphen_values = true, help_heading = "Input and output")]
    pub bulk_delim: Option<OsString>,

    /// In the raw form, put DELIM after each reply (default: a newline)
    #[arg(short = 'D', value_name = "DELIM", allow_hyphen_values = true, help_heading = "Input and output")]
    pub reply_delim: Option<OsString>,

    /// Never colour the output (also: NO_COLOR, or stdout not a terminal)
    #[arg(long, help_heading = "Input and output")]
    pub no_color: bool,

    /// Print the Redis commands that would be sent, one per line, and send nothing
    #[arg(long, help_heading = "Input and output")]
    pub dry_run: bool,

    /// List every key with a bounded SCAN (on every master with -c), one per line
    #[arg(long, help_heading = "Keyspace tools (as redis-cli)")]
    pub scan: bool,

    /// Only keys matching this glob, for --scan, --bigkeys and --memkeys
    #[arg(
        long,
        value_name = "PATTERN",
        allow_hyphen_values = true,
        help_heading = "Keyspace tools (as redis-cli)"
    )]
    pub pattern: Option<OsString>,

    /// As --pattern, written with redis-cli's quoting rules ("\x00" for a zero byte)
    #[arg(
        long,
        value_name = "PATTERN",
        conflicts_with = "pattern",
        allow_hyphen_values = true,
        help_heading = "Keyspace tools (as redis-cli)"
    )]
    pub quoted_pattern: Option<OsString>,

    /// SCAN's COUNT hint for --scan, --bigkeys and --memkeys (default: the server's, 10)
    #[arg(
        long,
        value_name = "N",
        value_parser = clap::value_parser!(u64).range(1..),
        help_heading = "Keyspace tools (as redis-cli)"
    )]
    pub count: Option<u64>,

    /// Find the biggest key of each type, with the average sizes, by length
    #[arg(long, help_heading = "Keyspace tools (as redis-cli)")]
    pub bigkeys: bool,

    /// As --bigkeys, by memory (MEMORY USAGE)
    #[arg(long, help_heading = "Keyspace tools (as redis-cli)")]
    pub memkeys: bool,

    /// With --memkeys: how many elements of a collection MEMORY USAGE samples (implies --memkeys)
    #[arg(long, value_name = "N", help_heading = "Keyspace tools (as redis-cli)")]
    pub memkeys_samples: Option<u32>,

    /// Mass insertion: send standard input (RESP or inline commands) to the server as it is, count
    /// the replies and print the errors, as redis-cli --pipe
    #[arg(long, help_heading = "Keyspace tools (as redis-cli)")]
    pub pipe: bool,

    /// With --pipe: give up when no reply came for SECS after the input ended (0: wait for ever)
    #[arg(long, value_name = "SECS", default_value_t = 30, help_heading = "Keyspace tools (as redis-cli)")]
    pub pipe_timeout: u64,

    /// Idle timeout of sessions, in seconds (sliding; renewed by touch)
    #[arg(
        long,
        value_name = "SECS",
        default_value = "1800",
        allow_negative_numbers = true,
        help_heading = "Sessions"
    )]
    pub ttl: String,

    /// Absolute timeout of sessions, in seconds after login, that no touch can extend
    #[arg(
        long,
        value_name = "SECS",
        default_value = "28800",
        allow_negative_numbers = true,
        help_heading = "Sessions"
    )]
    pub absolute_ttl: String,

    /// Most live sessions one user may have (0: no limit)
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        allow_negative_numbers = true,
        help_heading = "Sessions"
    )]
    pub max_sessions: u32,

    /// What a login at --max-sessions does
    #[arg(
        long,
        value_enum,
        value_name = "POLICY",
        default_value = "evict-oldest",
        help_heading = "Sessions"
    )]
    pub max_sessions_policy: LimitPolicy,

    /// Key layout: plain (the document's keys) or tagged (session:{uid}:id and user_sessions:{uid} share a
    /// cluster slot, so every session command is one atomic transaction on a cluster; ids become uid~id)
    #[arg(long, value_enum, value_name = "LAYOUT", default_value = "plain", help_heading = "Sessions")]
    pub key_layout: KeyLayout,

    /// Store SHA-256 of each session id as its key, so a dump or MONITOR trace reveals no usable token
    #[arg(long, help_heading = "Sessions")]
    pub hash_ids: bool,

    /// Append every session command's change to this capped Redis stream (XADD … MAXLEN ~ 10000),
    /// in the same MULTI/EXEC on one server, right after it on a cluster
    #[arg(long, value_name = "STREAM", help_heading = "Sessions")]
    pub audit_stream: Option<String>,

    /// Session commands send the document's own commands, one at a time and not atomic, each reply
    /// under its command (for teaching; `literal on|off` switches in the shell and in scripts)
    #[arg(long, help_heading = "Sessions")]
    pub literal: bool,

    /// In the interactive shell, show session events (expired, deleted, renewed, evicted) from the start
    #[arg(long, help_heading = "Sessions")]
    pub events: bool,

    /// Let `events` turn keyspace notifications on when they are off (CONFIG SET notify-keyspace-events)
    #[arg(long, help_heading = "Sessions")]
    pub enable_notifications: bool,

    /// Print a completion script for SHELL (bash, zsh, fish, elvish, powershell), then exit
    #[arg(long, value_name = "SHELL", help_heading = "Shell integration")]
    pub completions: Option<clap_complete::Shell>,

    /// Print the manual page (roff), then exit: redsh --man > redsh.1
    #[arg(long, help_heading = "Shell integration")]
    pub man: bool,

    /// Print help
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,

    /// Print version
    #[arg(short = 'V', long, action = ArgAction::Version)]
    pub version: Option<bool>,

    /// A command to run instead of reading commands (e.g. `PING`, or `login 101 suhel teacher`)
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}
