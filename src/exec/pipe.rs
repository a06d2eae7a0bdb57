//! `--pipe`: redis-cli's mass insertion. Standard input (raw RESP or inline commands) is streamed to
//! the server as it is, a random `ECHO` marker after it; replies are read at the same time and
//! counted, each error reply printed on stderr, until the marker's reply comes back.
//!
//! A writer thread copies the input while this thread reads replies, so neither side waits on the
//! other (over TLS, whose session cannot be shared, one thread alternates between the two). Nothing
//! is echoed: the input is not parsed into commands, and redis-cli's own lines are the transcript.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::exec::Executor;
use crate::exec::conn::LinkError;
use crate::redis::reply::Reply;

/// How much of standard input is read and written at once.
const CHUNK: usize = 1 << 20;

/// How long one wait for replies lasts before the timeout and the writer are looked at again.
const TICK: Duration = Duration::from_millis(100);

/// How a `--pipe` run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipeResult {
    pub errors: u64,
    pub replies: u64,
}

/// The replies counted so far, as redis-cli counts them.
struct Tally {
    errors: u64,
    replies: u64,
    last_reply: Instant,
}

/// The marker's command, after an empty line (which ends an inline command left unfinished by the
/// input; the server ignores the empty line itself).
fn marker_command(magic: &[u8; 20]) -> Vec<u8> {
    let mut cmd = b"\r\n*2\r\n$4\r\nECHO\r\n$20\r\n".to_vec();
    cmd.extend_from_slice(magic);
    cmd.extend_from_slice(b"\r\n");
    cmd
}

fn random_magic() -> [u8; 20] {
    let mut magic = [0u8; 20];
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut magic).is_err() {
        // No system randomness: the time still makes a marker no input is likely to hold.
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        for (i, b) in nanos.as_nanos().to_le_bytes().iter().cycle().take(20).enumerate() {
            magic[i] = b ^ (i as u8).wrapping_mul(97);
        }
    }
    magic
}

impl Executor {
    /// Streams `input` to the server and reads every reply; `timeout`: give up when no reply came
    /// for that long after the input ended (`None`: wait for ever).
    pub fn pipe(
        &mut self,
        input: Box<dyn Read + Send>,
        timeout: Option<Duration>,
    ) -> Result<PipeResult, Error> {
        if self.dry_run {
            return Err(Error::Usage("--pipe sends its input as it is: it has no --dry-run".into()));
        }
        let magic = random_magic();
        let link = self.conn.ensure()?;
        let eof = Arc::new(AtomicBool::new(false));
        let (fail_tx, failed) = mpsc::channel::<String>();
        let mut input = Some(input);
        if let Some(mut stream) = link.try_clone_plain() {
            let eof = eof.clone();
            let mut input = input.take();
            std::thread::spawn(move || {
                let Some(input) = input.as_mut() else { return };
                let result = copy_input(input, &mut |chunk| stream.write_all(chunk), &eof, &magic);
                if let Err(e) = result {
                    let _ = fail_tx.send(e);
                }
            });
        }
        let mut tally = Tally { errors: 0, replies: 0, last_reply: Instant::now() };
        let mut announced = false;
        if let Some(mut input) = input {
            // TLS: write a chunk, then take whatever replies have come, and so on.
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = read_some(&mut input, &mut buf)?;
                let chunk = if n == 0 { marker_command(&magic) } else { buf[..n].to_vec() };
                if n == 0 {
                    eof.store(true, Ordering::SeqCst);
                }
                link.send(&chunk).map_err(|e| Error::Other(format!("Error writing to the server: {e}")))?;
                if n == 0 {
                    break;
                }
                link.set_read_timeout(Some(Duration::from_millis(1)));
                loop {
                    match link.recv() {
                        Ok(reply) => {
                            // The marker cannot have come back: it has not been sent.
                            count(&mut tally, reply, None);
                        }
                        Err(LinkError::Timeout) => break,
                        Err(e) => return Err(Error::Other(format!("Error reading from the server: {e}"))),
                    }
                }
            }
        }
        link.set_read_timeout(Some(TICK));
        let out = &mut self.out;
        let mut announce = |announced: &mut bool| {
            if !*announced {
                out.write(b"All data transferred. Waiting for the last reply...\n");
                out.flush();
                *announced = true;
            }
        };
        loop {
            let ended = eof.load(Ordering::SeqCst);
            if ended {
                announce(&mut announced);
            }
            match link.recv() {
                Ok(reply) => {
                    // Raised before the marker is written, so it is up by the time its reply comes.
                    let ended = eof.load(Ordering::SeqCst);
                    if count(&mut tally, reply, ended.then_some(&magic)) {
                        announce(&mut announced);
                        out.write(b"Last reply received from server.\n");
                        break;
                    }
                }
                Err(LinkError::Timeout) => {
                    if let Ok(e) = failed.try_recv() {
                        out.flush();
                        return Err(Error::Other(e));
                    }
                    if let Some(t) = timeout.filter(|_| ended)
                        && tally.last_reply.elapsed() > t
                    {
                        out.flush();
                        eprintln!("No replies for {} seconds: exiting.", t.as_secs());
                        tally.errors += 1;
                        break;
                    }
                }
                Err(e) => {
                    out.flush();
                    if let Ok(e) = failed.try_recv() {
                        return Err(Error::Other(e));
                    }
                    return Err(Error::Other(format!("Error reading from the server: {e}")));
                }
            }
        }
        out.write(format!("errors: {}, replies: {}\n", tally.errors, tally.replies).as_bytes());
        out.flush();
        // The connection may still owe replies (a timeout): it is not used again.
        self.conn.drop_connection();
        Ok(PipeResult { errors: tally.errors, replies: tally.replies })
    }
}

/// Counts a reply (an error is printed on stderr, as redis-cli prints it); true when it is the
/// marker's, which is not counted.
fn count(tally: &mut Tally, reply: Reply, magic: Option<&[u8; 20]>) -> bool {
    tally.last_reply = Instant::now();
    match &reply {
        Reply::Error(e) => {
            let mut line = e.clone();
            line.push(b'\n');
            let _ = std::io::stderr().write_all(&line);
            tally.errors += 1;
        }
        Reply::Bulk(b) if magic.is_some_and(|m| b.as_slice() == m.as_slice()) => return true,
        _ => {}
    }
    tally.replies += 1;
    false
}

fn read_some(input: &mut dyn Read, buf: &mut [u8]) -> Result<usize, Error> {
    loop {
        match input.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(Error::Other(format!("reading standard input: {}", crate::error::io_reason(&e))));
            }
        }
    }
}

/// The writer's side: all of `input`, then (once `eof` is raised) the marker.
fn copy_input(
    input: &mut dyn Read,
    write: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    eof: &AtomicBool,
    magic: &[u8; 20],
) -> Result<(), String> {
    let mut buf = vec![0u8; CHUNK];
    let to_server =
        |e: std::io::Error| format!("Error writing to the server: {}", crate::error::io_reason(&e));
    loop {
        let n = read_some(input, &mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        write(&buf[..n]).map_err(to_server)?;
    }
    eof.store(true, Ordering::SeqCst);
    write(&marker_command(magic)).map_err(to_server)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_is_an_echo_after_an_empty_line() {
        let magic = *b"abcdefghij0123456789";
        assert_eq!(marker_command(&magic), b"\r\n*2\r\n$4\r\nECHO\r\n$20\r\nabcdefghij0123456789\r\n");
        assert_ne!(random_magic(), random_magic());
    }

    #[test]
    fn errors_and_replies_are_counted_the_marker_is_not() {
        let magic = [7u8; 20];
        let mut tally = Tally { errors: 0, replies: 0, last_reply: Instant::now() };
        assert!(!count(&mut tally, Reply::Status(b"OK".to_vec()), Some(&magic)));
        assert!(!count(&mut tally, Reply::Error(b"ERR x".to_vec()), Some(&magic)));
        // Before the input ended, a reply equal to the marker is an ordinary one.
        assert!(!count(&mut tally, Reply::Bulk(magic.to_vec()), None));
        assert!(count(&mut tally, Reply::Bulk(magic.to_vec()), Some(&magic)));
        assert_eq!((tally.errors, tally.replies), (1, 3));
    }

    #[test]
    fn the_writer_sends_everything_then_the_marker() {
        let magic = [b'm'; 20];
        let eof = AtomicBool::new(false);
        let mut written = Vec::new();
        let mut input: &[u8] = b"PING\r\n";
        let mut write = |c: &[u8]| {
            written.extend_from_slice(c);
            Ok(())
        };
        copy_input(&mut input, &mut write, &eof, &magic).unwrap();
        assert!(eof.load(Ordering::SeqCst));
        let mut expected = b"PING\r\n".to_vec();
        expected.extend(marker_command(&magic));
        assert_eq!(written, expected);
    }
}
