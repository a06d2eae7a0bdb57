//! RESP2/RESP3 on the wire: commands packed as clients send them, replies read back exactly as the
//! server wrote them. Pure: a [`Reader`] is fed bytes and hands out complete replies.
//!
//! Reading is in two passes: a resumable scan finds where a reply ends (so a 50 MB reply arriving
//! in 64 KB pieces is scanned once, not once per piece), then one pass builds the [`Reply`].

use crate::redis::reply::Reply;

/// Nesting deeper than this is refused: a hostile server must not overflow our stack.
const MAX_DEPTH: usize = 512;
/// Longest bulk string accepted (Redis's own `proto-max-bulk-len` ceiling is 512 MB by default).
const MAX_BULK: i64 = 1 << 32;

/// The server sent something that is not RESP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Packs one command in RESP (an array of bulk strings), as every client sends it.
pub fn pack_into<A: AsRef<[u8]>>(buf: &mut Vec<u8>, cmd: &[A]) {
    let mut digits = itoa_buf();
    buf.push(b'*');
    buf.extend_from_slice(itoa(&mut digits, cmd.len()));
    buf.extend_from_slice(b"\r\n");
    for a in cmd {
        let a = a.as_ref();
        buf.push(b'$');
        buf.extend_from_slice(itoa(&mut digits, a.len()));
        buf.extend_from_slice(b"\r\n");
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"\r\n");
    }
}

fn itoa_buf() -> [u8; 20] {
    [0; 20]
}

/// The decimal digits of `n`, without allocating.
fn itoa(buf: &mut [u8; 20], mut n: usize) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// Reassembles replies from the bytes read off a connection.
#[derive(Debug, Default)]
pub struct Reader {
    /// Read bytes live in `buf[start..filled]`; the rest is room for the next read.
    buf: Vec<u8>,
    start: usize,
    filled: usize,
    /// How far the reply at `start` has been scanned, and what it still waits for.
    scan: Scan,
}

#[derive(Debug, Default)]
struct Scan {
    pos: usize,
    /// Elements still expected by each open aggregate; `true` marks an attribute, which does not
    /// count as an element of its parent (the reply after it does).
    open: Vec<(u64, bool)>,
}

/// How much room each read asks for.
const READ_CHUNK: usize = 1 << 16;

impl Reader {
    pub fn new() -> Self {
        Reader::default()
    }

    /// Reads once from `src` (as much as it gives, up to a chunk); the bytes read, 0 at its end.
    pub fn read_from<R: std::io::Read>(&mut self, src: &mut R) -> std::io::Result<usize> {
        let room = self.room(READ_CHUNK);
        let n = src.read(room)?;
        self.filled += n;
        Ok(n)
    }

    /// Appends bytes (tests, and callers that read elsewhere).
    pub fn feed(&mut self, bytes: &[u8]) {
        self.room(bytes.len())[..bytes.len()].copy_from_slice(bytes);
        self.filled += bytes.len();
    }

    /// At least `n` bytes of room after the data, moving the data to the front when that frees it.
    fn room(&mut self, n: usize) -> &mut [u8] {
        if self.start > 0 && (self.start == self.filled || self.filled + n > self.buf.len()) {
            self.buf.copy_within(self.start..self.filled, 0);
            self.filled -= self.start;
            self.scan.pos -= self.start;
            self.start = 0;
        }
        if self.filled + n > self.buf.len() {
            let want = (self.filled + n).max(self.buf.len() * 2);
            self.buf.resize(want, 0);
        }
        &mut self.buf[self.filled..]
    }

    /// Whether bytes of an unfinished reply are waiting.
    pub fn has_partial(&self) -> bool {
        self.start < self.filled
    }

    /// The next complete reply, if all of it has arrived.
    pub fn next_reply(&mut self) -> Result<Option<Reply>, ProtocolError> {
        let data = &self.buf[..self.filled];
        let Some(end) = scan(data, &mut self.scan)? else {
            return Ok(None);
        };
        let mut at = self.start;
        let reply = build(data, &mut at)?;
        self.start = end;
        self.scan = Scan { pos: end, open: Vec::new() };
        Ok(Some(reply))
    }
}

/// The end of the line that starts at `from` (the index of its `\r`).
fn line_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 1 < buf.len() {
        match buf[i..buf.len() - 1].iter().position(|&b| b == b'\r') {
            Some(r) => {
                let r = i + r;
                if buf[r + 1] == b'\n' {
                    return Some(r);
                }
                i = r + 1;
            }
            None => return None,
        }
    }
    None
}

fn number(line: &[u8]) -> Result<i64, ProtocolError> {
    std::str::from_utf8(line).ok().and_then(|s| s.parse().ok()).ok_or_else(|| {
        ProtocolError(format!("Protocol error, bad number {:?}", String::from_utf8_lossy(line)))
    })
}

fn bad_type(b: u8) -> ProtocolError {
    ProtocolError(format!("Protocol error, got {:?} as reply type byte", char::from(b)))
}

/// Scans on from `s.pos`; the end of the reply when all of it is in `buf`.
fn scan(buf: &[u8], s: &mut Scan) -> Result<Option<usize>, ProtocolError> {
    loop {
        let pos = s.pos;
        if pos >= buf.len() {
            return Ok(None);
        }
        let Some(eol) = line_end(buf, pos + 1) else { return Ok(None) };
        let line = &buf[pos + 1..eol];
        let mut next = eol + 2;
        // An aggregate header opens a level; anything else completes one element.
        let mut opened = None;
        match buf[pos] {
            b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => {}
            b'$' | b'!' | b'=' => {
                let len = number(line)?;
                if len > MAX_BULK {
                    return Err(ProtocolError(format!("Protocol error, bulk of {len} bytes")));
                }
                if len < 0 && buf[pos] != b'$' {
                    return Err(ProtocolError(format!("Protocol error, length {len}")));
                }
                if len >= 0 {
                    next += len as usize + 2;
                    if next > buf.len() {
                        return Ok(None);
                    }
                }
            }
            t @ (b'*' | b'~' | b'>' | b'%' | b'|') => {
                let n = number(line)?;
                let per = if matches!(t, b'%' | b'|') { 2 } else { 1 };
                if n > 0 {
                    opened = Some((n as u64 * per, t == b'|'));
                }
            }
            other => return Err(bad_type(other)),
        }
        s.pos = next;
        if let Some(level) = opened {
            if s.open.len() >= MAX_DEPTH {
                return Err(ProtocolError("Protocol error, replies nested too deeply".into()));
            }
            s.open.push(level);
            continue;
        }
        // One element done: close every aggregate it completes.
        loop {
            match s.open.last_mut() {
                None => return Ok(Some(s.pos)),
                Some((left, _)) => {
                    *left -= 1;
                    if *left > 0 {
                        break;
                    }
                    let (_, attribute) = s.open.pop().unwrap_or((0, false));
                    // A finished attribute is no element: the reply it annotates follows.
                    if attribute {
                        break;
                    }
                }
            }
        }
    }
}

/// Builds the reply that starts at `*at` in a buffer known to hold all of it (the scan has
/// checked its nesting depth, so the recursion is bounded).
fn build(buf: &[u8], at: &mut usize) -> Result<Reply, ProtocolError> {
    let pos = *at;
    let eol =
        line_end(buf, pos + 1).ok_or_else(|| ProtocolError("Protocol error, truncated reply".into()))?;
    let line = &buf[pos + 1..eol];
    *at = eol + 2;
    let bulk = |at: &mut usize, len: i64| -> Vec<u8> {
        let start = *at;
        *at = start + len as usize + 2;
        buf[start..start + len as usize].to_vec()
    };
    let items = |at: &mut usize, n: i64| -> Result<Vec<Reply>, ProtocolError> {
        let mut out = Vec::with_capacity((n.max(0) as usize).min(4096));
        for _ in 0..n.max(0) {
            out.push(build(buf, at)?);
        }
        Ok(out)
    };
    Ok(match buf[pos] {
        b'+' => Reply::Status(line.to_vec()),
        b'-' => Reply::Error(line.to_vec()),
        b':' => Reply::Int(number(line)?),
        b'_' => Reply::Nil,
        b',' => Reply::Double(line.to_vec()),
        b'#' => Reply::Bool(line == b"t"),
        b'(' => Reply::BigNumber(line.to_vec()),
        b'$' => match number(line)? {
            n if n < 0 => Reply::Nil,
            n => Reply::Bulk(bulk(at, n)),
        },
        b'!' => Reply::Error(bulk(at, number(line)?)),
        b'=' => {
            let text = bulk(at, number(line)?);
            // `txt:` or `mkd:`: the format is not part of what is shown.
            Reply::Verbatim(if text.len() >= 4 && text[3] == b':' { text[4..].to_vec() } else { text })
        }
        b'*' => match number(line)? {
            n if n < 0 => Reply::Nil,
            n => Reply::Array(items(at, n)?),
        },
        b'~' => Reply::Set(items(at, number(line)?)?),
        b'>' => Reply::Push(items(at, number(line)?)?),
        b'%' => {
            let flat = items(at, number(line)? * 2)?;
            let mut pairs = Vec::with_capacity(flat.len() / 2);
            let mut it = flat.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
            Reply::Map(pairs)
        }
        // An attribute annotates the reply that follows it: shown is that reply alone.
        b'|' => {
            items(at, number(line)? * 2)?;
            build(buf, at)?
        }
        other => return Err(bad_type(other)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(wire: &[u8]) -> Vec<Reply> {
        let mut r = Reader::new();
        r.feed(wire);
        let mut out = Vec::new();
        while let Some(reply) = r.next_reply().unwrap() {
            out.push(reply);
        }
        assert!(!r.has_partial());
        out
    }

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(s.as_bytes().to_vec())
    }

    #[test]
    fn packs_commands() {
        let mut buf = Vec::new();
        pack_into(&mut buf, &["SET", "k", ""]);
        assert_eq!(buf, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
    }

    #[test]
    fn reads_resp2() {
        let replies =
            read_all(b"+OK\r\n-ERR bad \r\n:-5\r\n$3\r\na\r\n\r\n$-1\r\n*-1\r\n*2\r\n$1\r\nx\r\n*0\r\n");
        assert_eq!(
            replies,
            [
                Reply::Status(b"OK".to_vec()),
                Reply::Error(b"ERR bad ".to_vec()),
                Reply::Int(-5),
                Reply::Bulk(b"a\r\n".to_vec()),
                Reply::Nil,
                Reply::Nil,
                Reply::Array(vec![bulk("x"), Reply::Array(vec![])]),
            ]
        );
    }

    #[test]
    fn reads_resp3_keeping_the_servers_text() {
        let wire = b",0.1\r\n,1e+300\r\n,inf\r\n#t\r\n_\r\n(123456789012345678901234567890\r\n=8\r\ntxt:a\nbc\r\n\
                     %1\r\n$1\r\nk\r\n~1\r\n:1\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n!5\r\nERR x\r\n";
        assert_eq!(
            read_all(wire),
            [
                Reply::Double(b"0.1".to_vec()),
                Reply::Double(b"1e+300".to_vec()),
                Reply::Double(b"inf".to_vec()),
                Reply::Bool(true),
                Reply::Nil,
                Reply::BigNumber(b"123456789012345678901234567890".to_vec()),
                Reply::Verbatim(b"a\nbc".to_vec()),
                Reply::Map(vec![(bulk("k"), Reply::Set(vec![Reply::Int(1)]))]),
                Reply::Push(vec![bulk("invalidate"), Reply::Array(vec![bulk("k")])]),
                Reply::Error(b"ERR x".to_vec()),
            ]
        );
    }

    #[test]
    fn an_attribute_annotates_the_next_reply() {
        let wire = b"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.5\r\n*2\r\n:1\r\n:2\r\n+after\r\n";
        assert_eq!(
            read_all(wire),
            [Reply::Array(vec![Reply::Int(1), Reply::Int(2)]), Reply::Status(b"after".to_vec())]
        );
        // Inside an aggregate too: the attribute is not one of the elements.
        let wire = b"*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n";
        assert_eq!(read_all(wire), [Reply::Array(vec![Reply::Int(1), Reply::Int(2)])]);
    }

    #[test]
    fn replies_split_anywhere_are_reassembled() {
        let wire: &[u8] = b"*3\r\n$5\r\nhe\r\nl\r\n%1\r\n+a\r\n,2.5\r\n:7\r\n+OK\r\n";
        let whole = read_all(wire);
        for cut in 0..wire.len() {
            let mut r = Reader::new();
            let mut got = Vec::new();
            r.feed(&wire[..cut]);
            while let Some(x) = r.next_reply().unwrap() {
                got.push(x);
            }
            r.feed(&wire[cut..]);
            while let Some(x) = r.next_reply().unwrap() {
                got.push(x);
            }
            assert_eq!(got, whole, "cut at {cut}");
        }
    }

    #[test]
    fn garbage_and_depth_bombs_are_protocol_errors() {
        let mut r = Reader::new();
        r.feed(b"?what\r\n");
        assert!(r.next_reply().is_err());
        let mut r = Reader::new();
        r.feed(&b"*1\r\n".repeat(MAX_DEPTH + 1));
        assert!(r.next_reply().is_err());
        let mut r = Reader::new();
        r.feed(b"$99999999999\r\n");
        assert!(r.next_reply().is_err());
        for bad in [&b"!-1\r\n"[..], b"=-3\r\n", b":x\r\n"] {
            let mut r = Reader::new();
            r.feed(bad);
            assert!(r.next_reply().is_err());
        }
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn never_panics_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
                let mut r = Reader::new();
                r.feed(&bytes);
                for _ in 0..50 {
                    match r.next_reply() {
                        Ok(Some(_)) => {}
                        _ => break,
                    }
                }
            }

            #[test]
            fn packed_commands_read_back_as_arrays(args in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 1..6)) {
                let mut wire = Vec::new();
                pack_into(&mut wire, &args);
                let mut r = Reader::new();
                r.feed(&wire);
                let back = r.next_reply().unwrap().unwrap();
                prop_assert_eq!(back, Reply::Array(args.into_iter().map(Reply::Bulk).collect()));
            }
        }
    }
}
