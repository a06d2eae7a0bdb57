//! The seed's key layout (`session:<id>`, `user_sessions:<user_id>`), session ids and their checks.

use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};

/// Longest id or user id we accept, in bytes.
pub const MAX_ID_LEN: usize = 128;

/// Random bytes in a generated id: 128 bits, as OWASP asks of a home-made generator.
const ID_BYTES: usize = 16;

/// Separates the user id from the rest of a session id in the tagged layout (`101~abc123`).
pub const TAG_SEPARATOR: char = '~';

/// How a session's key is derived from its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The key holds SHA-256 of the id (hex), so keys and the index reveal no usable token.
    pub hash_ids: bool,
    /// Hash-tagged keys (`session:{101}:…`, `user_sessions:{101}`): a user's sessions and index
    /// share one cluster slot. Session ids then carry their user: `101~abc123`.
    pub tagged: bool,
}

impl Layout {
    /// What the store keeps for an id (the index member; the key is `session:` + this): the id, or
    /// its SHA-256 in hex; in the tagged layout prefixed by the user's hash tag.
    pub fn stored_id(&self, id: &str) -> String {
        let core = if self.hash_ids { sha256_hex(id.as_bytes()) } else { id.to_owned() };
        match (self.tagged, id.rsplit_once(TAG_SEPARATOR)) {
            (true, Some((user, sid))) => {
                let core = if self.hash_ids { core } else { sid.to_owned() };
                format!("{{{user}}}:{core}")
            }
            _ => core,
        }
    }

    /// The user's index: `user_sessions:<user_id>`, or `user_sessions:{<user_id>}` when tagged.
    pub fn index_key(&self, user_id: &str) -> String {
        if self.tagged { format!("user_sessions:{{{user_id}}}") } else { index_key(user_id) }
    }

    /// The id a user holds for a new session: in the tagged layout it carries the user id.
    pub fn full_id(&self, user_id: &str, id: &str) -> String {
        if self.tagged { format!("{user_id}{TAG_SEPARATOR}{id}") } else { id.to_owned() }
    }

    /// The id a user holds, recovered from an index member (`None` when only its hash is stored).
    pub fn token_of(&self, user_id: &str, member: &str) -> Option<String> {
        if self.hash_ids {
            return None;
        }
        if !self.tagged {
            return Some(member.to_owned());
        }
        member.strip_prefix(&format!("{{{user_id}}}:")).map(|sid| self.full_id(user_id, sid))
    }

    /// Checks that an id names its user when the layout needs it.
    pub fn check(&self, id: &str) -> Result<(), String> {
        match (self.tagged, id.rsplit_once(TAG_SEPARATOR)) {
            (false, _) => Ok(()),
            (true, Some((user, sid))) if !user.is_empty() && !sid.is_empty() => Ok(()),
            (true, _) => Err(format!(
                "session id '{id}' does not name its user: with --key-layout tagged ids look like 101~abc123"
            )),
        }
    }

    /// `session:<id>` (or `session:<sha256(id)>`).
    pub fn session_key(&self, id: &str) -> String {
        session_key_of_stored(&self.stored_id(id))
    }
}

/// The session key for an id as it is stored in the index.
pub fn session_key_of_stored(stored: &str) -> String {
    format!("session:{stored}")
}

/// The session key for an index member as the server gave it: bytes, so that a member that is not
/// UTF-8 (written by another client) still names its own key.
pub fn session_key_of_member(member: &[u8]) -> Vec<u8> {
    [b"session:".as_slice(), member].concat()
}

/// `user_sessions:<user_id>`: the set of a user's session ids.
pub fn index_key(user_id: &str) -> String {
    format!("user_sessions:{user_id}")
}

pub fn sha256_hex(data: &[u8]) -> String {
    let d = digest::digest(&digest::SHA256, data);
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A new id from the OS's CSPRNG: 128 bits in base64url (22 characters, key- and URL-safe).
pub fn new_id() -> Result<String, String> {
    let mut bytes = [0u8; ID_BYTES];
    random_bytes(&mut bytes)?;
    Ok(base64url(&bytes))
}

/// Bytes of the OS's CSPRNG, fetched a block at a time: one system call per 256 ids instead of
/// one each (a window of logins draws thousands). Bytes handed out are wiped from the block.
fn random_bytes(out: &mut [u8]) -> Result<(), String> {
    const BLOCK: usize = 4096;
    thread_local! {
        static DRAWN: std::cell::RefCell<(Box<[u8; BLOCK]>, usize)> =
            std::cell::RefCell::new((Box::new([0; BLOCK]), BLOCK));
    }
    DRAWN.with_borrow_mut(|(block, used)| {
        if BLOCK - *used < out.len() {
            SystemRandom::new()
                .fill(&mut block[..])
                .map_err(|_| "the system random generator failed".to_owned())?;
            *used = 0;
        }
        let taken = &mut block[*used..*used + out.len()];
        out.copy_from_slice(taken);
        taken.fill(0);
        *used += out.len();
        Ok(())
    })
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// Characters allowed in ids and user ids: URL-unreserved, so they are safe in keys, URLs and cookies,
/// and can never be a glob pattern, a hash tag or a key separator.
fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~')
}

/// Checks an id (or user id) before it goes near a key; `what` names it in the message.
pub fn check_id(what: &str, id: &[u8]) -> Result<String, String> {
    let shown = String::from_utf8_lossy(id);
    if id.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if id.len() > MAX_ID_LEN {
        return Err(format!("{what} is {} bytes long; at most {MAX_ID_LEN} are allowed", id.len()));
    }
    let text = std::str::from_utf8(id).map_err(|_| format!("{what} '{shown}' is not valid UTF-8"))?;
    if let Some(bad) = text.chars().find(|&c| !is_id_char(c)) {
        return Err(format!(
            "{what} '{}' contains {}; use letters, digits, '-', '_', '.' or '~'",
            text.escape_default(),
            describe_char(bad)
        ));
    }
    Ok(text.to_owned())
}

fn describe_char(c: char) -> String {
    match c {
        ' ' | '\t' | '\n' | '\r' => "whitespace".to_owned(),
        '"' | '\'' => "a quote".to_owned(),
        c if c.is_control() => format!("a control character ({})", c.escape_default()),
        c => format!("'{c}'"),
    }
}

/// Checks a free-text field (username, role, ip): any bytes but empty or huge.
pub fn check_field(what: &str, value: &[u8]) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if value.len() > 1024 {
        return Err(format!("{what} is {} bytes long; at most 1024 are allowed", value.len()));
    }
    Ok(())
}

/// A short form of an id for summaries: whole when short, else its first 8 characters and `…`.
pub fn short(id: &str) -> String {
    if id.chars().count() <= 12 {
        id.to_owned()
    } else {
        format!("{}…", id.chars().take(8).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_long_random_and_safe() {
        let a = new_id().unwrap();
        let b = new_id().unwrap();
        assert_eq!(a.len(), 22);
        assert_ne!(a, b);
        assert!(check_id("id", a.as_bytes()).is_ok());
        // Across several blocks of drawn bytes: never the same id twice, never a wiped (zero) one.
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_id().unwrap()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(!ids.contains(&base64url(&[0; ID_BYTES])));
    }

    #[test]
    fn base64url_known_vectors() {
        assert_eq!(base64url(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn bad_ids_are_refused() {
        assert!(check_id("session id", b"abc123").is_ok());
        assert!(check_id("session id", b"a b").unwrap_err().contains("whitespace"));
        assert!(check_id("session id", b"a:b").unwrap_err().contains("':'"));
        assert!(check_id("session id", b"a*").unwrap_err().contains("'*'"));
        assert!(check_id("session id", b"it's").unwrap_err().contains("quote"));
        assert!(check_id("session id", &[b'a'; 129]).unwrap_err().contains("129 bytes"));
        assert!(check_id("session id", b"").is_err());
        assert!(check_id("session id", b"{tag}").is_err());
        assert!(check_id("session id", &[0xff]).is_err());
    }

    #[test]
    fn keys_follow_the_seed() {
        let plain = Layout { hash_ids: false, tagged: false };
        assert_eq!(plain.session_key("abc123"), "session:abc123");
        assert_eq!(index_key("101"), "user_sessions:101");
        let hashed = Layout { hash_ids: true, tagged: false };
        assert_eq!(
            hashed.session_key("abc"),
            "session:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let tagged = Layout { hash_ids: false, tagged: true };
        assert_eq!(tagged.full_id("101", "abc123"), "101~abc123");
        assert_eq!(tagged.session_key("101~abc123"), "session:{101}:abc123");
        assert_eq!(tagged.index_key("101"), "user_sessions:{101}");
        assert!(tagged.check("abc123").is_err());
        assert!(tagged.check("101~abc123").is_ok());
        assert_eq!(tagged.token_of("101", "{101}:abc123").as_deref(), Some("101~abc123"));
        assert_eq!(plain.token_of("101", "abc123").as_deref(), Some("abc123"));
        assert_eq!(hashed.token_of("101", "ab12"), None);
        let both = Layout { hash_ids: true, tagged: true };
        assert_eq!(both.session_key("7~x"), format!("session:{{7}}:{}", sha256_hex(b"7~x")));
    }
}
