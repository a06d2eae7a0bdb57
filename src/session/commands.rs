//! The table of session commands: names, synopses and help, shared by parsing, help and completion.

/// One session command as the user sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub name: &'static str,
    /// Arguments after the name, in redis-cli's hint style.
    pub args: &'static str,
    pub summary: &'static str,
    /// The Redis commands it sends, for `help <command>`.
    pub sends: &'static str,
}

pub const COMMANDS: &[Spec] = &[
    Spec {
        name: "login",
        args: "user_id username role [--ip ADDR] [--id ID] [--ttl SECS]",
        summary: "create a session (idle and absolute timeouts) and make it current",
        sends: "MULTI, HSET session:<id> user_id … username … role … login_time … ip …, EXPIRE session:<id> <ttl>, \
                SADD user_sessions:<uid> <id>, EXPIRE user_sessions:<uid> <ttl> NX, EXPIRE … GT, EXEC \
                (with --id: WATCH and EXISTS first; with --max-sessions: WATCH, SMEMBERS and HGET login_time first)",
    },
    Spec {
        name: "whoami",
        args: "[ID]",
        summary: "validate and show a session (the current one by default)",
        sends: "EXISTS session:<id>, HGETALL session:<id>, TTL session:<id>",
    },
    Spec {
        name: "touch",
        args: "[ID]",
        summary: "sliding expiry: extend a session on activity, never past its absolute deadline",
        sends: "HMGET session:<id> user_id login_time, then MULTI, EXPIRE user_sessions:<uid> <idle> GT, \
                EXPIRE session:<id> <idle>, PEXPIREAT session:<id> <deadline ms> LT, EXEC",
    },
    Spec {
        name: "logout",
        args: "[ID]",
        summary: "destroy a session and remove it from its user's index",
        sends: "HGET session:<id> user_id, TYPE user_sessions:<uid>, then MULTI, DEL session:<id>, \
                SREM user_sessions:<uid> <id>, EXEC (out of memory: DEL, then SREM, without MULTI)",
    },
    Spec {
        name: "sessions",
        args: "user_id",
        summary: "list a user's live sessions with their time left; prune ids whose session is gone",
        sends: "SMEMBERS user_sessions:<uid>, then HMGET and TTL per session; for dead ids WATCH of the index and \
                their keys, EXISTS each again, then MULTI, SREM of those still gone, EXEC (not on a plain cluster)",
    },
    Spec {
        name: "logout-all",
        args: "user_id",
        summary: "revoke every session of a user, and the index",
        sends: "WATCH user_sessions:<uid>, SMEMBERS user_sessions:<uid>, then MULTI, DEL session:<id>… user_sessions:<uid>, EXEC \
                (out of memory: DEL session:<id>…, then SREM user_sessions:<uid> <id>…, without MULTI)",
    },
    Spec {
        name: "renew",
        args: "[ID]",
        summary: "rotate the session id and keep its data and deadlines (session-fixation defence)",
        sends: "WATCH session:<old>, HGETALL, PTTL, PEXPIRETIME session:<old>, TYPE user_sessions:<uid>, then MULTI, \
                HSET session:<new> …, PEXPIREAT session:<new> <the old one's expiry>, SADD user_sessions:<uid> <new>, \
                PEXPIREAT user_sessions:<uid> <expiry> NX, … GT, SREM user_sessions:<uid> <old>, DEL session:<old>, EXEC",
    },
    Spec { name: "use", args: "ID", summary: "make a session current (client side only)", sends: "nothing" },
    Spec {
        name: "events",
        args: "[SECONDS|off] [--count N]",
        summary: "show sessions expiring, deleted, renewed or evicted, live (keyspace notifications)",
        sends: "CONFIG GET notify-keyspace-events (CONFIG SET with --enable-notifications or your consent), \
                then SUBSCRIBE __keyevent@<db>__:expired :evicted :del :expire on a separate connection \
                (one per master on a cluster), HMGET session:<id> there for sessions not yet known, and \
                SREM user_sessions:<uid> <id> when a known session expires or is evicted",
    },
    Spec {
        name: "stats",
        args: "[TOP]",
        summary: "count live sessions by role and user, time left, memory per session",
        sends: "SCAN <cursor> MATCH session:* COUNT 1000 until the cursor is 0 (on every master), \
                HMGET session:<id> user_id role and TTL per key, MEMORY USAGE on a sample of 100 \
                (not echoed one by one: a count of each is printed)",
    },
    Spec {
        name: "fsck",
        args: "[--repair]",
        summary: "check the store: stale index entries, sessions missing from their index, no TTL, past the deadline, malformed",
        sends: "SCAN … MATCH user_sessions:* and SMEMBERS, HGET user_id and TTL per member; \
                SCAN … MATCH session:*, HMGET (the five fields) and TTL per key, SISMEMBER in its index \
                (counted, not echoed); with --repair the echoed writes: SREM, SADD, EXPIRE, DEL",
    },
    Spec {
        name: "help",
        args: "[COMMAND]",
        summary: "list session commands, or show one with the Redis commands it sends",
        sends: "nothing",
    },
];

/// The spec of a session command by name (case-insensitive).
pub fn find(name: &[u8]) -> Option<&'static Spec> {
    COMMANDS.iter().find(|c| c.name.as_bytes().eq_ignore_ascii_case(name))
}

/// `help` text: every command, or one in detail.
pub fn help(topic: Option<&[u8]>) -> Result<String, String> {
    match topic {
        // The overview, with the shell's own words, fitted to the terminal (see `help`).
        None => Ok(crate::help::overview(crate::help::width())),
        Some(name) => match find(name) {
            Some(c) => Ok(format!("{} {}\n  {}\n  sends: {}", c.name, c.args, c.summary, c.sends)),
            None => Err(format!(
                "no session command '{}'; type `help` for the list",
                String::from_utf8_lossy(name)
            )),
        },
    }
}
