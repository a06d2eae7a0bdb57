//! Secrets in commands: which lines carry a password (never written to history), and the echo with
//! each password replaced by `(redacted)`.

/// What an echo shows in place of a secret.
pub const REDACTED: &[u8] = b"(redacted)";

fn is(a: Option<&Vec<u8>>, word: &str) -> bool {
    a.is_some_and(|a| a.eq_ignore_ascii_case(word.as_bytes()))
}

/// CONFIG SET parameters whose values are secrets (redis-cli's list, 7.4+).
fn is_secret_config(name: &[u8]) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_slice(),
        b"masterauth"
            | b"masteruser"
            | b"primaryauth"
            | b"primaryuser"
            | b"requirepass"
            | b"tls-key-file-pass"
            | b"tls-client-key-file-pass"
    )
}

/// ACL SETUSER rules that carry a password or its hash.
fn is_secret_acl_rule(rule: &[u8]) -> bool {
    matches!(rule.first(), Some(b'>' | b'<' | b'#' | b'!'))
}

/// Indices of the arguments of `cmd` that are secrets.
pub fn secret_positions(cmd: &[Vec<u8>]) -> Vec<usize> {
    let n = cmd.len();
    let first = cmd.first();
    let second = cmd.get(1);
    if is(first, "auth") {
        return (1..n).rev().take(1).collect();
    }
    if is(first, "hello") {
        if let Some(i) = cmd.iter().position(|a| a.eq_ignore_ascii_case(b"auth"))
            && i + 2 < n
        {
            return vec![i + 2];
        }
        return vec![];
    }
    if is(first, "acl") && is(second, "setuser") {
        return (3..n).filter(|&i| is_secret_acl_rule(&cmd[i])).collect();
    }
    if is(first, "config") && is(second, "set") {
        return (2..n)
            .step_by(2)
            .filter(|&i| is_secret_config(&cmd[i]) && i + 1 < n)
            .map(|i| i + 1)
            .collect();
    }
    if is(first, "migrate") {
        let mut out = Vec::new();
        for i in 0..n {
            if is(cmd.get(i), "keys") {
                break;
            }
            if is(cmd.get(i), "auth") && i + 1 < n {
                out.push(i + 1);
            }
            if is(cmd.get(i), "auth2") && i + 2 < n {
                out.push(i + 2);
            }
        }
        return out;
    }
    if is(first, "sentinel") {
        let secret_name = |a: Option<&Vec<u8>>| {
            a.is_some_and(|a| {
                let a = a.to_ascii_lowercase();
                matches!(a.as_slice(), b"auth-pass" | b"sentinel-pass")
            })
        };
        if is(second, "set") && secret_name(cmd.get(3)) && n > 4 {
            return vec![4];
        }
        if is(second, "config") && is(cmd.get(2), "set") && secret_name(cmd.get(3)) && n > 4 {
            return vec![4];
        }
    }
    vec![]
}

/// Whether a line must be kept out of the history file (redis-cli's `isSensitiveCommand`, plus any
/// command with a secret we recognise).
pub fn is_sensitive(cmd: &[Vec<u8>]) -> bool {
    let first = cmd.first();
    let second = cmd.get(1);
    is(first, "auth")
        || (is(first, "acl") && (is(second, "setuser") || is(second, "getuser") || is(second, "deluser")))
        || !secret_positions(cmd).is_empty()
}

/// The command as it may be shown: every secret replaced.
pub fn redacted(cmd: &[Vec<u8>]) -> std::borrow::Cow<'_, [Vec<u8>]> {
    let secrets = secret_positions(cmd);
    if secrets.is_empty() {
        return std::borrow::Cow::Borrowed(cmd);
    }
    let mut shown = cmd.to_vec();
    for i in secrets {
        shown[i] = REDACTED.to_vec();
    }
    std::borrow::Cow::Owned(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Vec<Vec<u8>> {
        s.split(' ').map(|w| w.as_bytes().to_vec()).collect()
    }

    fn shown(s: &str) -> String {
        redacted(&a(s)).iter().map(|w| String::from_utf8_lossy(w).into_owned()).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(shown("AUTH s3cret"), "AUTH (redacted)");
        assert_eq!(shown("auth alice s3cret"), "auth alice (redacted)");
        assert_eq!(shown("HELLO 3 AUTH alice pw SETNAME x"), "HELLO 3 AUTH alice (redacted) SETNAME x");
        assert_eq!(shown("ACL SETUSER bob on >pw ~* +@all"), "ACL SETUSER bob on (redacted) ~* +@all");
        assert_eq!(
            shown("CONFIG SET maxmemory 1 requirepass pw"),
            "CONFIG SET maxmemory 1 requirepass (redacted)"
        );
        assert_eq!(
            shown("MIGRATE h 1 \"\" 0 5 AUTH pw KEYS a"),
            "MIGRATE h 1 \"\" 0 5 AUTH (redacted) KEYS a"
        );
        assert_eq!(shown("SENTINEL SET m auth-pass pw"), "SENTINEL SET m auth-pass (redacted)");
        assert_eq!(shown("SET auth x"), "SET auth x");
    }

    #[test]
    fn sensitive_lines() {
        assert!(is_sensitive(&a("auth x")));
        assert!(is_sensitive(&a("acl getuser bob")));
        assert!(is_sensitive(&a("config set requirepass x")));
        assert!(!is_sensitive(&a("config set maxmemory 1")));
        assert!(!is_sensitive(&a("get auth")));
    }
}
