//! Secrets in commands: one table of every command that carries one, and where. Everything that
//! shows or keeps a command asks this table: the echo (each secret shown as `(redacted)`),
//! `--dry-run` (a line with a secret becomes a comment saying what to supply), the history file
//! (a line with a secret is never written), and the terminal's `--step` display.
//!
//! The table is redis-cli's `isSensitiveCommand` (valkey-cli's, the longest list) made precise:
//! redis-cli only keeps such lines out of its history file; redsh also has to know which word is
//! the secret, to echo the rest of the command.

use std::borrow::Cow;

use crate::redis::split::{join_args, split_args};

/// What an echo shows in place of a secret.
pub const REDACTED: &[u8] = b"(redacted)";

/// Where a command's secrets are: positions count the command's words, the name included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// No secret in the line itself, but it is kept out of the history file (redis-cli does so
    /// for `ACL GETUSER` and `ACL DELUSER`, whose replies or targets are credentials).
    Nowhere,
    /// `AUTH [username] password`: the last argument; with more arguments than that, all of them.
    AuthArgs,
    /// An option introduced by `token` among the words from `from` on (`HELLO 3 SETNAME x AUTH
    /// user pw`): the secret is the word `offset` words after the token (`AUTH2 user pw`: 2).
    /// Scanning stops at the word `stop` (`MIGRATE … KEYS key …`); `skip` names options whose
    /// one value is skipped, so that a value equal to a token is not taken for it.
    Option {
        from: usize,
        token: &'static str,
        offset: usize,
        stop: Option<&'static str>,
        skip: Option<&'static str>,
    },
    /// `name value` pairs from `from` on (`CONFIG SET p v [p v …]`): the value of each `names`
    /// entry is a secret; the value of each `sensitive` entry (a username) is shown but keeps the
    /// line out of the history file, as redis-cli does.
    Pairs { from: usize, names: &'static [&'static str], sensitive: &'static [&'static str] },
    /// `ACL SETUSER name rule …`: the rules that set a password (`>pw`, `<pw`) or its hash
    /// (`#hash`, `!hash`).
    AclRules { from: usize },
    /// `ACL DRYRUN user command arg …`: the command from `from` on, looked up in this table.
    Nested { from: usize },
}

/// One command (or subcommand) that carries a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// Its name, one or two words, any case.
    pub name: &'static [&'static str],
    pub place: Place,
}

const CONFIG_SECRETS: &[&str] =
    &["masterauth", "primaryauth", "requirepass", "tls-key-file-pass", "tls-client-key-file-pass"];
const CONFIG_USERS: &[&str] = &["masteruser", "primaryuser"];

/// Every command that carries a secret, and where.
pub const TABLE: &[Row] = &[
    Row { name: &["AUTH"], place: Place::AuthArgs },
    Row {
        name: &["HELLO"],
        place: Place::Option { from: 2, token: "AUTH", offset: 2, stop: None, skip: Some("SETNAME") },
    },
    Row {
        name: &["MIGRATE"],
        place: Place::Option { from: 6, token: "AUTH", offset: 1, stop: Some("KEYS"), skip: None },
    },
    Row {
        name: &["MIGRATE"],
        place: Place::Option { from: 6, token: "AUTH2", offset: 2, stop: Some("KEYS"), skip: None },
    },
    Row { name: &["ACL", "SETUSER"], place: Place::AclRules { from: 3 } },
    Row { name: &["ACL", "GETUSER"], place: Place::Nowhere },
    Row { name: &["ACL", "DELUSER"], place: Place::Nowhere },
    Row { name: &["ACL", "DRYRUN"], place: Place::Nested { from: 3 } },
    Row {
        name: &["CONFIG", "SET"],
        place: Place::Pairs { from: 2, names: CONFIG_SECRETS, sensitive: CONFIG_USERS },
    },
    Row {
        name: &["SENTINEL", "SET"],
        place: Place::Pairs { from: 3, names: &["auth-pass"], sensitive: &["auth-user"] },
    },
    Row {
        name: &["SENTINEL", "CONFIG"],
        place: Place::Pairs { from: 3, names: &["sentinel-pass"], sensitive: &["sentinel-user"] },
    },
];

fn is(word: Option<&Vec<u8>>, name: &str) -> bool {
    word.is_some_and(|w| w.eq_ignore_ascii_case(name.as_bytes()))
}

fn is_one_of(word: Option<&Vec<u8>>, names: &[&str]) -> bool {
    names.iter().any(|n| is(word, n))
}

/// What `cmd` carries: the positions of its secrets, and whether the line is sensitive anyway.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Found {
    secrets: Vec<usize>,
    sensitive: bool,
}

fn find(cmd: &[Vec<u8>]) -> Found {
    let mut found = Found::default();
    let n = cmd.len();
    for row in TABLE {
        // `SENTINEL CONFIG SET`: the row's name is two words, the third is checked here.
        let named = row.name.iter().enumerate().all(|(i, w)| is(cmd.get(i), w))
            && (row.name != ["SENTINEL", "CONFIG"] || is(cmd.get(2), "SET"));
        if !named {
            continue;
        }
        match row.place {
            Place::Nowhere => found.sensitive = true,
            Place::AuthArgs => {
                found.sensitive = true;
                match n {
                    0 | 1 => {}
                    2 | 3 => found.secrets.push(n - 1),
                    _ => found.secrets.extend(1..n),
                }
            }
            Place::Option { from, token, offset, stop, skip } => {
                let mut i = from;
                while i < n {
                    let word = cmd.get(i);
                    if stop.is_some_and(|s| is(word, s)) {
                        break;
                    }
                    if skip.is_some_and(|s| is(word, s)) {
                        i += 2;
                        continue;
                    }
                    if is(word, token) {
                        // A short option (`HELLO 3 AUTH pw`) still ends in what is surely a password.
                        let at = (i + offset).min(n - 1);
                        if at > i {
                            found.secrets.push(at);
                        }
                        i = at;
                    }
                    i += 1;
                }
            }
            Place::Pairs { from, names, sensitive } => {
                for i in (from..n).step_by(2) {
                    if is_one_of(cmd.get(i), names) && i + 1 < n {
                        found.secrets.push(i + 1);
                    }
                }
                found.sensitive |= (from..n).step_by(2).any(|i| is_one_of(cmd.get(i), sensitive));
            }
            Place::AclRules { from } => {
                found
                    .secrets
                    .extend((from..n).filter(|&i| matches!(cmd[i].first(), Some(b'>' | b'<' | b'#' | b'!'))));
            }
            Place::Nested { from } => {
                let inner = find(cmd.get(from..).unwrap_or_default());
                found.secrets.extend(inner.secrets.iter().map(|i| i + from));
                found.sensitive |= inner.sensitive;
            }
        }
    }
    // An empty value hides nothing (`CONFIG SET requirepass ""` clears the password).
    found.secrets.retain(|&i| !cmd[i].is_empty());
    found.secrets.sort_unstable();
    found.secrets.dedup();
    found
}

/// Indices of the arguments of `cmd` that are secrets.
pub fn secret_positions(cmd: &[Vec<u8>]) -> Vec<usize> {
    find(cmd).secrets
}

/// Whether a command must be kept out of the history file: it carries a secret, or it is one
/// of the lines redis-cli keeps out anyway (`ACL GETUSER`, `CONFIG SET masteruser …`).
pub fn is_sensitive(cmd: &[Vec<u8>]) -> bool {
    let found = find(cmd);
    found.sensitive || !found.secrets.is_empty()
}

/// The command as it may be shown: every secret replaced by `(redacted)`.
pub fn redacted(cmd: &[Vec<u8>]) -> Cow<'_, [Vec<u8>]> {
    let secrets = secret_positions(cmd);
    if secrets.is_empty() {
        return Cow::Borrowed(cmd);
    }
    let mut shown = cmd.to_vec();
    for i in secrets {
        shown[i] = REDACTED.to_vec();
    }
    Cow::Owned(shown)
}

/// What to write in place of a secret in a `--dry-run` comment: the rule's prefix kept
/// (`><password>`), a hash named as one.
fn placeholder(secret: &[u8]) -> Vec<u8> {
    match secret.first() {
        Some(b'>' | b'<') => [&secret[..1], b"<password>"].concat(),
        Some(b'#' | b'!') => [&secret[..1], b"<hash>"].concat(),
        _ => b"<password>".to_vec(),
    }
}

/// One line of `--dry-run` output, newline included. A command with a secret becomes a comment
/// naming what to supply (`# AUTH alice <password>: redacted; supply it yourself`): replayed as a
/// script, it is skipped rather than sending a placeholder as the password.
pub fn dry_run_line(cmd: &[Vec<u8>]) -> Vec<u8> {
    let secrets = secret_positions(cmd);
    if secrets.is_empty() {
        let mut line = join_args(cmd);
        line.push(b'\n');
        return line;
    }
    let mut words: Vec<Vec<u8>> = cmd.to_vec();
    for &i in &secrets {
        words[i] = placeholder(&cmd[i]);
    }
    // Placeholders are shown bare (`<password>`), every other word as redis-cli quotes it.
    let mut line = b"# ".to_vec();
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            line.push(b' ');
        }
        if secrets.contains(&i) {
            line.extend_from_slice(w);
        } else {
            line.extend_from_slice(&join_args(std::slice::from_ref(w)));
        }
    }
    line.extend_from_slice(b": redacted; supply it yourself\n");
    line
}

/// A typed line's words without redis-cli's repeat count (`2 auth x` → `auth x`).
fn without_repeat(words: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let counted = words.len() > 1 && std::str::from_utf8(&words[0]).is_ok_and(|w| w.parse::<i64>().is_ok());
    if counted { words[1..].to_vec() } else { words }
}

/// A typed line as it may be shown back (the `--step` walk-through): with each secret redacted.
/// A line that does not split is shown up to its first word when that word may carry a secret.
pub fn shown_line(line: &[u8]) -> Cow<'_, [u8]> {
    match split_args(line) {
        Ok(words) => {
            let words = without_repeat(words);
            if secret_positions(&words).is_empty() {
                Cow::Borrowed(line)
            } else {
                Cow::Owned(join_args(&redacted(&words)))
            }
        }
        Err(_) => match unsplit_command(line) {
            Some(first) if may_carry_secret(first) => Cow::Owned([first, b" ", REDACTED].concat()),
            _ => Cow::Borrowed(line),
        },
    }
}

/// The command word of a line that does not split (`AUTH "pw`), after any repeat count.
fn unsplit_command(line: &[u8]) -> Option<&[u8]> {
    let mut words = line.split(|b| b.is_ascii_whitespace()).filter(|w| !w.is_empty());
    let first = words.next()?;
    let counted = std::str::from_utf8(first).is_ok_and(|w| w.parse::<i64>().is_ok());
    if counted { words.next() } else { Some(first) }
}

/// Whether a command named `first` may carry a secret somewhere (its line cannot be read to tell).
fn may_carry_secret(first: &[u8]) -> bool {
    TABLE.iter().any(|r| r.name[0].as_bytes().eq_ignore_ascii_case(first))
}

/// Session commands whose arguments are session ids (`login` only after `--id`).
const TAKES_ID: &[&str] = &["whoami", "touch", "logout", "renew", "use"];

/// Whether a line names a session id: `whoami ID`, `touch ID`, `logout ID`, `renew ID`, `use ID`,
/// `login … --id ID` (or `--id=ID`), with or without a repeat count.
pub fn names_session_id(words: &[Vec<u8>]) -> bool {
    let Some((first, rest)) = words.split_first() else {
        return false;
    };
    if first.eq_ignore_ascii_case(b"login") {
        return rest.iter().any(|w| w.as_slice() == b"--id" || w.starts_with(b"--id="));
    }
    // `TOUCH key` (any case but lower) is Redis's TOUCH, not the session command.
    let touch_is_redis = first.eq_ignore_ascii_case(b"touch") && first.as_slice() != b"touch";
    !rest.is_empty() && !touch_is_redis && TAKES_ID.iter().any(|c| first.eq_ignore_ascii_case(c.as_bytes()))
}

/// Whether a typed line may be written to the history file: never one carrying a secret, and
/// under `--hash-ids` (whose point is that no usable token is stored anywhere) never one naming a
/// session id. Such lines are kept out of the in-memory history too (redis-cli 7.0's behaviour),
/// so nothing can write them later. A line that does not split is kept, as redis-cli keeps it,
/// unless its command may carry a secret or a session id (`AUTH "hunter2` is kept out: redis-cli
/// would write it).
pub fn may_save(line: &str, hash_ids: bool) -> bool {
    match split_args(line.as_bytes()) {
        Ok(words) => {
            let words = without_repeat(words);
            let names_token = hash_ids && names_session_id(&words);
            !is_sensitive(&words) && !names_token
        }
        Err(_) => match unsplit_command(line.as_bytes()) {
            Some(first) => {
                let takes_id = hash_ids && names_session_id(&[first.to_vec(), Vec::new()]);
                !may_carry_secret(first) && !takes_id
            }
            None => true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn a(s: &str) -> Vec<Vec<u8>> {
        split_args(s.as_bytes()).unwrap()
    }

    fn shown(s: &str) -> String {
        String::from_utf8(join_args(&redacted(&a(s)))).unwrap()
    }

    fn dry(s: &str) -> String {
        String::from_utf8(dry_run_line(&a(s))).unwrap()
    }

    #[test]
    fn auth() {
        assert_eq!(shown("AUTH s3cret"), "AUTH (redacted)");
        assert_eq!(shown("auth alice s3cret"), "auth alice (redacted)");
        assert_eq!(shown("AUTH a b c"), "AUTH (redacted) (redacted) (redacted)");
        assert_eq!(shown("AUTH"), "AUTH");
        assert!(is_sensitive(&a("AUTH")));
    }

    #[test]
    fn hello() {
        assert_eq!(shown("HELLO 3 AUTH alice pw SETNAME x"), "HELLO 3 AUTH alice (redacted) SETNAME x");
        assert_eq!(shown("HELLO 3 SETNAME x AUTH default pw"), "HELLO 3 SETNAME x AUTH default (redacted)");
        assert_eq!(shown("hello 2 setname auth auth u pw"), "hello 2 setname auth auth u (redacted)");
        assert_eq!(shown("HELLO 3 AUTH pw"), "HELLO 3 AUTH (redacted)");
        assert_eq!(shown("HELLO 3 SETNAME auth"), "HELLO 3 SETNAME auth");
        assert!(!is_sensitive(&a("HELLO 3")));
    }

    #[test]
    fn migrate() {
        assert_eq!(
            shown("MIGRATE h 1 \"\" 0 5 AUTH pw KEYS a"),
            "MIGRATE h 1 \"\" 0 5 AUTH (redacted) KEYS a"
        );
        assert_eq!(
            shown("migrate h 1 \"\" 0 5 COPY REPLACE auth2 user pw keys a auth"),
            "migrate h 1 \"\" 0 5 COPY REPLACE auth2 user (redacted) keys a auth"
        );
        assert_eq!(shown("MIGRATE h 1 auth 0 5"), "MIGRATE h 1 auth 0 5");
        assert_eq!(shown("MIGRATE h 1 k 0 5 KEYS auth x"), "MIGRATE h 1 k 0 5 KEYS auth x");
        assert!(!is_sensitive(&a("MIGRATE h 1 k 0 5 REPLACE")));
    }

    #[test]
    fn acl() {
        assert_eq!(
            shown("ACL SETUSER bob on >pw <old #abc !def ~* +@all"),
            "ACL SETUSER bob on (redacted) (redacted) (redacted) (redacted) ~* +@all"
        );
        assert!(is_sensitive(&a("acl getuser bob")));
        assert!(is_sensitive(&a("acl deluser bob")));
        assert_eq!(shown("acl getuser bob"), "acl getuser bob");
        assert_eq!(shown("ACL DRYRUN bob AUTH pw"), "ACL DRYRUN bob AUTH (redacted)");
        assert_eq!(
            shown("ACL DRYRUN bob CONFIG SET requirepass pw"),
            "ACL DRYRUN bob CONFIG SET requirepass (redacted)"
        );
        assert!(!is_sensitive(&a("ACL DRYRUN bob GET k")));
        assert!(!is_sensitive(&a("ACL WHOAMI")));
    }

    #[test]
    fn config_set() {
        assert_eq!(
            shown("CONFIG SET maxmemory 1 requirepass pw"),
            "CONFIG SET maxmemory 1 requirepass (redacted)"
        );
        for name in CONFIG_SECRETS {
            assert_eq!(shown(&format!("config set {name} pw")), format!("config set {name} (redacted)"));
        }
        assert_eq!(
            shown("CONFIG SET masterauth a primaryauth b"),
            "CONFIG SET masterauth (redacted) primaryauth (redacted)"
        );
        // A username is shown, but the line stays out of the history file.
        assert_eq!(shown("CONFIG SET masteruser bob"), "CONFIG SET masteruser bob");
        assert!(is_sensitive(&a("CONFIG SET primaryuser bob")));
        // Only names are looked at, not values: `maxmemory-policy requirepass` names nothing.
        assert_eq!(shown("CONFIG SET appendfilename requirepass"), "CONFIG SET appendfilename requirepass");
        assert_eq!(shown("CONFIG SET requirepass \"\""), "CONFIG SET requirepass \"\"");
        assert_eq!(dry("CONFIG SET requirepass \"\""), "CONFIG SET requirepass \"\"\n");
        assert!(!is_sensitive(&a("config set maxmemory 1")));
        assert!(!is_sensitive(&a("config get requirepass")));
    }

    #[test]
    fn sentinel() {
        assert_eq!(shown("SENTINEL SET m auth-pass pw"), "SENTINEL SET m auth-pass (redacted)");
        assert_eq!(
            shown("SENTINEL SET m quorum 2 auth-pass pw"),
            "SENTINEL SET m quorum 2 auth-pass (redacted)"
        );
        assert!(is_sensitive(&a("SENTINEL SET m auth-user bob")));
        assert_eq!(
            shown("sentinel config set sentinel-pass pw"),
            "sentinel config set sentinel-pass (redacted)"
        );
        assert!(is_sensitive(&a("SENTINEL CONFIG SET sentinel-user bob")));
        assert!(!is_sensitive(&a("SENTINEL CONFIG GET sentinel-pass")));
        assert!(!is_sensitive(&a("SENTINEL SET m quorum 2")));
    }

    #[test]
    fn commands_without_secrets() {
        for line in ["SET auth x", "GET requirepass", "PING", "HSET h AUTH pw", "CLIENT SETNAME auth"] {
            assert_eq!(shown(line), line);
            assert!(!is_sensitive(&a(line)), "{line}");
        }
        assert_eq!(secret_positions(&[]), Vec::<usize>::new());
    }

    #[test]
    fn dry_run_comments_say_what_to_supply() {
        assert_eq!(dry("AUTH s3cret"), "# AUTH <password>: redacted; supply it yourself\n");
        assert_eq!(dry("AUTH alice s3cret"), "# AUTH alice <password>: redacted; supply it yourself\n");
        assert_eq!(
            dry("ACL SETUSER bob on >pw #abc"),
            "# ACL SETUSER bob on ><password> #<hash>: redacted; supply it yourself\n"
        );
        assert_eq!(
            dry("MIGRATE h 1 \"\" 0 5 AUTH2 u pw KEYS \"a b\""),
            "# MIGRATE h 1 \"\" 0 5 AUTH2 u <password> KEYS \"a b\": redacted; supply it yourself\n"
        );
        assert_eq!(dry("SET k \"a b\""), "SET k \"a b\"\n");
        // Replayed as a script, the comment is skipped: nothing of it is sent.
        assert!(dry("auth x").starts_with('#'));
    }

    #[test]
    fn shown_lines() {
        assert_eq!(&*shown_line(b"2 auth hunter2"), b"auth (redacted)");
        assert_eq!(&*shown_line(b"GET k"), b"GET k");
        assert_eq!(&*shown_line(b"AUTH \"hunter2"), b"AUTH (redacted)");
        assert_eq!(&*shown_line(b"GET \"k"), b"GET \"k");
        assert_eq!(&*shown_line(b"2 auth \"hunter2"), b"auth (redacted)");
    }

    #[test]
    fn history() {
        assert!(!may_save("AUTH hunter2", false));
        assert!(!may_save("2 auth x", false));
        assert!(!may_save("HELLO 3 SETNAME x AUTH default pw", false));
        assert!(!may_save("MIGRATE h 1 \"\" 0 5 AUTH2 u pw", false));
        assert!(!may_save("acl getuser bob", false));
        assert!(may_save("GET k", true));
        assert!(may_save("\"unbalanced", false));
        assert!(may_save("GET \"k", true));
        assert!(!may_save("AUTH \"hunter2", false));
        assert!(!may_save("3 config set requirepass \"pw", false));
        assert!(!may_save("whoami \"tok", true));
        assert!(may_save("whoami \"tok", false));
        // Session ids: kept out under --hash-ids only.
        for line in ["whoami abc", "touch abc", "logout abc", "renew abc", "use abc", "2 WHOAMI abc"] {
            assert!(may_save(line, false), "{line}");
            assert!(!may_save(line, true), "{line}");
        }
        assert!(!may_save("login 1 a b --id abc", true));
        assert!(!may_save("login 1 a b --id=abc", true));
        for line in ["login 1 a b", "whoami", "touch", "logout", "TOUCH k", "sessions 1", "logout-all 1"] {
            assert!(may_save(line, true), "{line}");
        }
    }

    fn secret() -> impl Strategy<Value = Vec<u8>> {
        // Any bytes, long enough not to occur by chance in the rest of the line.
        proptest::collection::vec(any::<u8>(), 12..40)
    }

    proptest! {
        #[test]
        fn the_echo_never_contains_the_secret(pw in secret(), user in "[a-z]{1,8}", shape in 0usize..9) {
            let b = |s: &str| s.as_bytes().to_vec();
            let cmd: Vec<Vec<u8>> = match shape {
                0 => vec![b("AUTH"), pw.clone()],
                1 => vec![b("auth"), b(&user), pw.clone()],
                2 => vec![b("HELLO"), b("3"), b("SETNAME"), b("x"), b("AUTH"), b(&user), pw.clone()],
                3 => vec![b("MIGRATE"), b("h"), b("1"), b(""), b("0"), b("5"), b("AUTH"), pw.clone(), b("KEYS"), b("k")],
                4 => vec![b("MIGRATE"), b("h"), b("1"), b(""), b("0"), b("5"), b("AUTH2"), b(&user), pw.clone()],
                5 => vec![b("ACL"), b("SETUSER"), b(&user), b("on"), [b">".as_slice(), &pw].concat()],
                6 => vec![b("CONFIG"), b("SET"), b("maxmemory"), b("1"), b("requirepass"), pw.clone()],
                7 => vec![b("SENTINEL"), b("SET"), b("m"), b("auth-pass"), pw.clone()],
                _ => vec![b("SENTINEL"), b("CONFIG"), b("SET"), b("sentinel-pass"), pw.clone()],
            };
            let echo = join_args(&redacted(&cmd));
            let dry = dry_run_line(&cmd);
            let quoted = join_args(std::slice::from_ref(&pw));
            for out in [&echo, &dry] {
                prop_assert!(!out.windows(pw.len()).any(|w| w == pw.as_slice()));
                prop_assert!(!out.windows(quoted.len()).any(|w| w == quoted.as_slice()));
            }
            prop_assert!(is_sensitive(&cmd));
            prop_assert!(dry.starts_with(b"# "));
        }

        #[test]
        fn never_panics(words in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..6), 0..10)) {
            let _ = redacted(&words);
            let _ = dry_run_line(&words);
            let _ = is_sensitive(&words);
            let _ = names_session_id(&words);
        }
    }
}
