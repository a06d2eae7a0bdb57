//! redis-cli's modes that walk the whole keyspace: `--scan` and `--bigkeys` / `--memkeys`. Each is
//! a bounded `SCAN` (on every master with `-c`), its output byte for byte redis-cli's.
//!
//! The SCANs (and the TYPE, size and MEMORY USAGE reads of `--bigkeys`) are sent without echo, as
//! `stats` sends its reads: echoing them would bury the keys; with echo on, one line on stderr
//! counts every command shape sent, so stdout stays exactly what redis-cli prints.

use std::time::Duration;

use crate::error::Error;
use crate::exec::conn::Address;
use crate::exec::{Args, Executor};
use crate::interrupt;
use crate::redis::format::Mode;
use crate::redis::reply::Reply;
use crate::redis::split::push_repr;
use crate::session::inspect::scan::Sent;

/// What `--scan`, `--bigkeys` and `--memkeys` scan: `--pattern` (or `--quoted-pattern`),
/// `--count`, and `-i`'s pause.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanSpec {
    pub pattern: Option<Vec<u8>>,
    pub count: Option<u64>,
    /// After each SCAN for `--scan`; for `--bigkeys`, after a SCAN that brings the keys sampled to a
    /// multiple of 100 (as redis-cli does).
    pub pause: Option<Duration>,
}

impl ScanSpec {
    fn command(&self, cursor: &[u8]) -> Args {
        let mut cmd = vec![b"SCAN".to_vec(), cursor.to_vec()];
        if let Some(p) = &self.pattern {
            cmd.extend([b"MATCH".to_vec(), p.clone()]);
        }
        if let Some(n) = self.count {
            cmd.extend([b"COUNT".to_vec(), n.to_string().into_bytes()]);
        }
        cmd
    }

    /// How the SCAN is named in the line that counts what was sent.
    fn shape(&self) -> String {
        let mut shape = "SCAN <cursor>".to_owned();
        if let Some(p) = &self.pattern {
            let mut quoted = Vec::new();
            crate::redis::split::push_arg(&mut quoted, p);
            shape.push_str(&format!(" MATCH {}", String::from_utf8_lossy(&quoted)));
        }
        if let Some(n) = self.count {
            shape.push_str(&format!(" COUNT {n}"));
        }
        shape
    }
}

/// `--bigkeys` (sizes by length) or `--memkeys` (by `MEMORY USAGE`, with `--memkeys-samples`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BigKeys {
    pub memkeys: bool,
    pub samples: Option<u32>,
}

/// One key type's tally, as redis-cli keeps it.
struct TypeInfo {
    name: Vec<u8>,
    size_cmd: Option<&'static str>,
    unit: &'static str,
    biggest: u64,
    biggest_key: Option<Vec<u8>>,
    count: u64,
    total: u64,
}

impl TypeInfo {
    fn new(name: &[u8], size_cmd: Option<&'static str>, unit: &'static str) -> TypeInfo {
        TypeInfo { name: name.to_vec(), size_cmd, unit, biggest: 0, biggest_key: None, count: 0, total: 0 }
    }
}

/// The known types, in the order redis-cli 7.0 lists them in its summary (its hash table's order).
fn known_types() -> Vec<TypeInfo> {
    vec![
        TypeInfo::new(b"list", Some("LLEN"), "items"),
        TypeInfo::new(b"hash", Some("HLEN"), "fields"),
        TypeInfo::new(b"string", Some("STRLEN"), "bytes"),
        TypeInfo::new(b"stream", Some("XLEN"), "entries"),
        TypeInfo::new(b"set", Some("SCARD"), "members"),
        TypeInfo::new(b"zset", Some("ZCARD"), "members"),
    ]
}

/// valkey-cli 8 lists `stream` before `string`; elsewhere the order is the same.
fn valkey_order(types: &mut [TypeInfo]) {
    let find = |types: &[TypeInfo], name: &[u8]| types.iter().position(|t| t.name == name);
    if let (Some(string), Some(stream)) = (find(types, b"string"), find(types, b"stream")) {
        types.swap(string, stream);
    }
}

/// C's `%05.2f` (zero-padded to 5, two decimals; `nan` and `inf` padded with spaces).
fn pct(v: f64) -> String {
    if v.is_finite() { format!("{v:05.2}") } else { format!("{:>5}", if v.is_nan() { "nan" } else { "inf" }) }
}

/// The keys of a SCAN reply and the next cursor, or redis-cli's complaint.
fn scan_reply(reply: Reply) -> Result<(Vec<u8>, Vec<Reply>), Error> {
    match reply {
        Reply::Error(e) => Err(Error::Other(format!("SCAN error: {}", String::from_utf8_lossy(&e)))),
        Reply::Array(mut parts) if parts.len() == 2 => {
            let keys = match parts.pop() {
                Some(Reply::Array(keys)) => keys,
                _ => return Err(Error::Other("Invalid reply from SCAN: no array of keys".into())),
            };
            match parts.pop() {
                Some(Reply::Bulk(cursor)) => Ok((cursor, keys)),
                _ => Err(Error::Other("Invalid reply from SCAN: no cursor".into())),
            }
        }
        Reply::Array(_) => Err(Error::Other("Invalid element count from SCAN!".into())),
        _ => Err(Error::Other("Non ARRAY response from SCAN!".into())),
    }
}

impl Executor {
    /// The nodes a keyspace walk visits: every master of a cluster (from the unechoed `CLUSTER
    /// SLOTS` redsh routes with), else the server in use.
    fn walk_nodes(&mut self) -> Result<Vec<Option<Address>>, Error> {
        if !self.conn.target.cluster {
            return Ok(vec![None]);
        }
        self.conn.refresh_slots()?;
        let masters = self.conn.slots.masters();
        if masters.is_empty() {
            return Err(Error::Other("the cluster named no master in CLUSTER SLOTS".into()));
        }
        Ok(masters.into_iter().map(Some).collect())
    }

    /// One SCAN call on the node in use: the next cursor and the keys.
    fn scan_once(
        &mut self,
        spec: &ScanSpec,
        cursor: &[u8],
        sent: &mut Sent,
    ) -> Result<(Vec<u8>, Vec<Reply>), Error> {
        let mut replies = self.run_quiet(&[spec.command(cursor)])?;
        sent.add(&spec.shape(), 1);
        scan_reply(replies.pop().unwrap_or(Reply::Nil))
    }

    /// With echo on, the line (on stderr, so stdout stays redis-cli's) that counts what was sent.
    fn report_sent(&mut self, sent: &Sent) {
        if self.out.echo {
            self.out.flush();
            eprintln!("# {}", sent.line());
        }
    }

    /// `--scan`: every key matching the spec, one per line; quoted as redis-cli quotes them in the
    /// terminal form, bare otherwise. Ctrl-C ends the walk.
    pub fn scan_keys(&mut self, spec: &ScanSpec) -> Result<(), Error> {
        let _guard = interrupt::Guard::install();
        let mut sent = Sent::default();
        let mut line = Vec::new();
        'nodes: for node in self.walk_nodes()? {
            let mut cursor = b"0".to_vec();
            loop {
                if let Some(address) = &node {
                    self.conn.switch_to(address.clone());
                }
                let (next, keys) = self.scan_once(spec, &cursor, &mut sent)?;
                for key in keys {
                    let Some(key) = key.bytes() else { continue };
                    line.clear();
                    if self.out.mode == Mode::Pretty {
                        push_repr(&mut line, key);
                    } else {
                        line.extend_from_slice(key);
                    }
                    line.push(b'\n');
                    self.out.write(&line);
                }
                if let Some(pause) = spec.pause {
                    self.out.flush();
                    std::thread::sleep(pause);
                }
                if interrupt::pending() {
                    break 'nodes;
                }
                if next == b"0" {
                    break;
                }
                cursor = next;
            }
        }
        self.report_sent(&sent);
        Ok(())
    }

    /// `--bigkeys` / `--memkeys`: redis-cli's progress lines and summary, byte for byte.
    pub fn big_keys(&mut self, spec: &ScanSpec, how: BigKeys) -> Result<(), Error> {
        let _guard = interrupt::Guard::install();
        let mut sent = Sent::default();
        let nodes = self.walk_nodes()?;
        let mut types = known_types();
        let mut total_keys = 0u64;
        let mut valkey = false;
        for node in &nodes {
            if let Some(address) = node {
                self.conn.switch_to(address.clone());
            }
            let replies = self.run_quiet(&[vec![b"DBSIZE".to_vec()], vec![b"HELLO".to_vec()]])?;
            sent.add("DBSIZE", 1);
            sent.add("HELLO", 1);
            match replies.first() {
                Some(Reply::Int(n)) => total_keys += u64::try_from(*n).unwrap_or(0),
                Some(Reply::Error(e)) => {
                    return Err(Error::Other(format!(
                        "Couldn't determine DBSIZE: {}",
                        String::from_utf8_lossy(e)
                    )));
                }
                _ => return Err(Error::Other("Non INTEGER response from DBSIZE!".into())),
            }
            // The summary's order is the cli's: valkey-cli's with a Valkey server, else redis-cli 7.0's.
            if let Some(hello) = replies.get(1) {
                let fields = hello.elements();
                valkey |= fields.chunks(2).any(|kv| {
                    kv[0].bytes() == Some(b"server") && kv.get(1).and_then(|v| v.bytes()) == Some(b"valkey")
                });
            }
        }
        if valkey {
            valkey_order(&mut types);
        }
        self.out.write(
            b"\n# Scanning the entire keyspace to find biggest keys as well as\n\
              # average sizes per key type.  You can use -i 0.1 to sleep 0.1 sec\n\
              # per 100 SCAN commands (not usually needed).\n\n",
        );
        let (mut sampled, mut total_len) = (0u64, 0u64);
        let mut percent = 0.0;
        let mut interrupted = false;
        'nodes: for node in &nodes {
            let mut cursor = b"0".to_vec();
            loop {
                if let Some(address) = node {
                    self.conn.switch_to(address.clone());
                }
                percent = 100.0 * sampled as f64 / total_keys as f64;
                let (next, keys) = self.scan_once(spec, &cursor, &mut sent)?;
                let keys: Vec<Vec<u8>> =
                    keys.into_iter().filter_map(|k| k.bytes().map(<[u8]>::to_vec)).collect();
                let kinds = self.key_types(&keys, &mut types, &mut sent)?;
                let sizes = self.key_sizes(&keys, &kinds, &types, how, &mut sent)?;
                for ((key, kind), size) in keys.iter().zip(&kinds).zip(&sizes) {
                    let Some(t) = kind.map(|i| &mut types[i]) else { continue };
                    t.total += size;
                    t.count += 1;
                    total_len += key.len() as u64;
                    sampled += 1;
                    if t.biggest < *size {
                        let mut quoted = Vec::new();
                        push_repr(&mut quoted, key);
                        let unit = if how.memkeys { "bytes" } else { t.unit };
                        let mut line =
                            format!("[{}%] Biggest {:<6} found so far '", pct(percent), lossy(&t.name))
                                .into_bytes();
                        line.extend_from_slice(&quoted);
                        line.extend_from_slice(format!("' with {size} {unit}\n").as_bytes());
                        self.out.write(&line);
                        t.biggest_key = Some(quoted);
                        t.biggest = *size;
                    }
                    if sampled % 1_000_000 == 0 {
                        self.out
                            .write(format!("[{}%] Sampled {sampled} keys so far\n", pct(percent)).as_bytes());
                    }
                }
                if let Some(pause) = spec.pause.filter(|_| sampled > 0 && sampled % 100 == 0) {
                    self.out.flush();
                    std::thread::sleep(pause);
                }
                if interrupt::pending() {
                    interrupted = true;
                    break 'nodes;
                }
                if next == b"0" {
                    break;
                }
                cursor = next;
            }
        }
        let mut summary = String::from("\n-------- summary -------\n\n");
        if interrupted {
            summary.push_str(&format!("[{}%] ", pct(percent)));
        }
        let avg_len = if total_len > 0 { total_len as f64 / sampled as f64 } else { 0.0 };
        summary.push_str(&format!(
            "Sampled {sampled} keys in the keyspace!\nTotal key length in bytes is {total_len} (avg len {avg_len:.2})\n\n"
        ));
        let mut out = summary.into_bytes();
        for t in &types {
            if let Some(key) = &t.biggest_key {
                let unit = if how.memkeys { "bytes" } else { t.unit };
                out.extend_from_slice(format!("Biggest {:>6} found '", lossy(&t.name)).as_bytes());
                out.extend_from_slice(key);
                out.extend_from_slice(format!("' has {} {unit}\n", t.biggest).as_bytes());
            }
        }
        out.push(b'\n');
        for t in &types {
            let unit = if how.memkeys { "bytes" } else { t.unit };
            let share = if sampled > 0 { 100.0 * t.count as f64 / sampled as f64 } else { 0.0 };
            let avg = if t.count > 0 { t.total as f64 / t.count as f64 } else { 0.0 };
            out.extend_from_slice(
                format!(
                    "{} {}s with {} {unit} ({}% of keys, avg size {avg:.2})\n",
                    t.count,
                    lossy(&t.name),
                    t.total,
                    pct(share)
                )
                .as_bytes(),
            );
        }
        self.out.write(&out);
        self.report_sent(&sent);
        Ok(())
    }

    /// `TYPE` of each key, pipelined: the index of its tally (a type not seen before, a module's,
    /// gets one), or none for a key gone since the SCAN.
    fn key_types(
        &mut self,
        keys: &[Vec<u8>],
        types: &mut Vec<TypeInfo>,
        sent: &mut Sent,
    ) -> Result<Vec<Option<usize>>, Error> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let cmds: Vec<Args> = keys.iter().map(|k| vec![b"TYPE".to_vec(), k.clone()]).collect();
        let replies = self.run_quiet(&cmds)?;
        sent.add("TYPE <key>", keys.len() as u64);
        let mut kinds = Vec::with_capacity(keys.len());
        for (key, reply) in keys.iter().zip(replies) {
            let name = match reply {
                Reply::Status(name) => name,
                Reply::Error(e) => {
                    return Err(Error::Other(format!(
                        "TYPE returned an error: {}",
                        String::from_utf8_lossy(&e)
                    )));
                }
                _ => {
                    return Err(Error::Other(format!(
                        "Invalid reply type for TYPE on key '{}'!",
                        lossy(key)
                    )));
                }
            };
            if name == b"none" {
                kinds.push(None);
                continue;
            }
            let index = match types.iter().position(|t| t.name == name) {
                Some(i) => i,
                None => {
                    types.push(TypeInfo::new(&name, None, "?"));
                    types.len() - 1
                }
            };
            kinds.push(Some(index));
        }
        Ok(kinds)
    }

    /// The size of each key, pipelined: its length, or with `--memkeys` its `MEMORY USAGE`; 0 for a
    /// key gone or of a type without a length command (as redis-cli, with its warning).
    fn key_sizes(
        &mut self,
        keys: &[Vec<u8>],
        kinds: &[Option<usize>],
        types: &[TypeInfo],
        how: BigKeys,
        sent: &mut Sent,
    ) -> Result<Vec<u64>, Error> {
        let mut cmds = Vec::new();
        let mut asked = Vec::with_capacity(keys.len());
        for (key, kind) in keys.iter().zip(kinds) {
            let size_cmd = kind.and_then(|i| types[i].size_cmd);
            let cmd = match (how.memkeys, size_cmd, kind) {
                (true, _, Some(_)) => {
                    let mut cmd = vec![b"MEMORY".to_vec(), b"USAGE".to_vec(), key.clone()];
                    if let Some(n) = how.samples.filter(|n| *n > 0) {
                        cmd.extend([b"SAMPLES".to_vec(), n.to_string().into_bytes()]);
                    }
                    sent.add(
                        &match how.samples.filter(|n| *n > 0) {
                            Some(n) => format!("MEMORY USAGE <key> SAMPLES {n}"),
                            None => "MEMORY USAGE <key>".to_owned(),
                        },
                        1,
                    );
                    Some(cmd)
                }
                (false, Some(name), _) => {
                    sent.add(&format!("{name} <key>"), 1);
                    Some(vec![name.as_bytes().to_vec(), key.clone()])
                }
                _ => None,
            };
            asked.push(cmd.is_some());
            cmds.extend(cmd);
        }
        let mut replies = if cmds.is_empty() { Vec::new() } else { self.run_quiet(&cmds)? }.into_iter();
        let mut sizes = Vec::with_capacity(keys.len());
        for ((key, kind), asked) in keys.iter().zip(kinds).zip(asked) {
            if !asked {
                sizes.push(0);
                continue;
            }
            match replies.next() {
                Some(Reply::Int(n)) => sizes.push(u64::try_from(n).unwrap_or(0)),
                _ => {
                    let what = match (how.memkeys, kind.and_then(|i| types[i].size_cmd)) {
                        (false, Some(name)) => name,
                        _ => "MEMORY USAGE",
                    };
                    self.out.flush();
                    eprintln!("Warning:  {what} on '{}' failed (may have changed type)", lossy(key));
                    sizes.push(0);
                }
            }
        }
        Ok(sizes)
    }
}

fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_print_as_c_prints_them() {
        assert_eq!(pct(0.0), "00.00");
        assert_eq!(pct(12.5), "12.50");
        assert_eq!(pct(100.0), "100.00");
        assert_eq!(pct(f64::NAN), "  nan");
        assert_eq!(pct(f64::INFINITY), "  inf");
    }

    #[test]
    fn scan_commands_and_their_shapes() {
        let spec = ScanSpec { pattern: Some(b"a b*".to_vec()), count: Some(7), pause: None };
        assert_eq!(
            spec.command(b"42"),
            vec![
                b"SCAN".to_vec(),
                b"42".to_vec(),
                b"MATCH".to_vec(),
                b"a b*".to_vec(),
                b"COUNT".to_vec(),
                b"7".to_vec()
            ]
        );
        assert_eq!(spec.shape(), "SCAN <cursor> MATCH \"a b*\" COUNT 7");
        assert_eq!(ScanSpec::default().command(b"0"), vec![b"SCAN".to_vec(), b"0".to_vec()]);
    }

    #[test]
    fn scan_replies() {
        let ok =
            Reply::Array(vec![Reply::Bulk(b"17".to_vec()), Reply::Array(vec![Reply::Bulk(b"k".to_vec())])]);
        assert_eq!(scan_reply(ok).unwrap(), (b"17".to_vec(), vec![Reply::Bulk(b"k".to_vec())]));
        let e = scan_reply(Reply::Error(b"ERR invalid cursor".to_vec())).unwrap_err();
        assert_eq!(e.to_string(), "SCAN error: ERR invalid cursor");
        assert!(scan_reply(Reply::Int(1)).is_err());
        assert!(scan_reply(Reply::Array(vec![])).is_err());
    }

    #[test]
    fn valkey_lists_stream_before_string() {
        let mut types = known_types();
        valkey_order(&mut types);
        let names: Vec<&[u8]> = types.iter().map(|t| t.name.as_slice()).collect();
        assert_eq!(names, [&b"list"[..], b"hash", b"stream", b"string", b"set", b"zset"]);
    }
}
