//! A reply as the server sent it. Nothing is rebuilt from a parsed value: a double keeps the
//! server's own text (`0.1` from Redis 7.2+ and Valkey, `0.10000000000000001` from 7.0), so the
//! printed form is always what that server's own cli prints.

/// One RESP2/RESP3 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`: a status line.
    Status(Vec<u8>),
    /// `-ERR …` or a RESP3 blob error: the wire text, code and detail.
    Error(Vec<u8>),
    Int(i64),
    Bulk(Vec<u8>),
    /// RESP2 `$-1` / `*-1`, RESP3 `_`.
    Nil,
    Array(Vec<Reply>),
    Set(Vec<Reply>),
    Map(Vec<(Reply, Reply)>),
    /// A RESP3 double, as the text the server wrote (`1.5`, `inf`, `1e+300`).
    Double(Vec<u8>),
    Bool(bool),
    /// A RESP3 verbatim string without its `txt:` prefix.
    Verbatim(Vec<u8>),
    /// A RESP3 big number, as its digits.
    BigNumber(Vec<u8>),
    /// A RESP3 push frame; its first element names its kind (`invalidate`, `message`…).
    Push(Vec<Reply>),
}

impl Reply {
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// A status reply with this exact text (`QUEUED`, `OK`).
    pub fn is_status(&self, text: &[u8]) -> bool {
        matches!(self, Reply::Status(s) if s == text)
    }

    /// The error's text (`WRONGTYPE Operation against …`), if this is an error.
    pub fn error_text(&self) -> Option<&[u8]> {
        match self {
            Reply::Error(e) => Some(e),
            _ => None,
        }
    }

    /// The bytes of a string-like reply (bulk, status, verbatim, double's text).
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Reply::Bulk(b) | Reply::Status(b) | Reply::Verbatim(b) | Reply::Double(b) => Some(b),
            _ => None,
        }
    }

    /// A string-like reply as text (lossy), or an integer's digits.
    pub fn text(&self) -> Option<String> {
        match self {
            Reply::Int(i) => Some(i.to_string()),
            other => other.bytes().map(|b| String::from_utf8_lossy(b).into_owned()),
        }
    }

    /// An integer reply, or a string reply that holds exactly an integer.
    pub fn int(&self) -> Option<i64> {
        match self {
            Reply::Int(i) => Some(*i),
            other => std::str::from_utf8(other.bytes()?).ok()?.parse().ok(),
        }
    }

    /// The elements of an array, set or push (a map flattened to key, value, …); none otherwise.
    pub fn elements(&self) -> Vec<&Reply> {
        match self {
            Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => items.iter().collect(),
            Reply::Map(pairs) => pairs.iter().flat_map(|(k, v)| [k, v]).collect(),
            _ => Vec::new(),
        }
    }

    /// Field/value pairs of an HGETALL-like reply (RESP2 flat array or RESP3 map), binary fields only.
    pub fn pairs(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.elements()
            .chunks(2)
            .filter_map(|kv| match kv {
                [Reply::Bulk(k), Reply::Bulk(v)] => Some((k.clone(), v.clone())),
                _ => None,
            })
            .collect()
    }

    /// A push frame's kind (`invalidate`, `message`…), lower-cased.
    pub fn push_kind(&self) -> Option<Vec<u8>> {
        match self {
            Reply::Push(items) => items.first().and_then(Reply::bytes).map(<[u8]>::to_ascii_lowercase),
            _ => None,
        }
    }
}
