//! `--ephemeral`: a private redis-server on a free loopback port, with no persistence, stopped on exit.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::Error;

/// A running private server; dropping it stops the server.
pub struct Ephemeral {
    child: Child,
    pub port: u16,
}

const INSTALL_HINT: &str = "redis-server is not installed. On Debian/Ubuntu: sudo apt-get install redis-server; \
                            on Fedora: sudo dnf install redis; on macOS: brew install redis";

fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| Error::Ephemeral(format!("no free loopback port: {}", crate::error::io_reason(&e))))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| Error::Ephemeral(crate::error::io_reason(&e)))
}

impl Ephemeral {
    /// Starts `redis-server` and waits until it accepts connections.
    pub fn start() -> Result<Ephemeral, Error> {
        let mut last = String::new();
        // Another process may take the port between our probe and the server's bind: try a few.
        for _ in 0..5 {
            let port = free_port()?;
            let mut cmd = Command::new("redis-server");
            cmd.args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: Ctrl-C at the terminal interrupts a command, not the server.
            .process_group(0);
            // If redsh dies in any way (even SIGKILL), the kernel stops the server too.
            // SAFETY: prctl is async-signal-safe and touches only the child being set up.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                    Ok(())
                });
            }
            let child = match cmd.spawn() {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(Error::Ephemeral(INSTALL_HINT.into()));
                }
                Err(e) => {
                    return Err(Error::Ephemeral(format!(
                        "cannot start redis-server: {}",
                        crate::error::io_reason(&e)
                    )));
                }
            };
            let mut server = Ephemeral { child, port };
            match server.wait_ready() {
                Ok(()) => return Ok(server),
                Err(e) => last = e,
            }
        }
        Err(Error::Ephemeral(format!("redis-server did not start: {last}")))
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("it exited with {status}"));
            }
            if TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err("it did not accept connections within 10 s".into())
    }
}

impl Drop for Ephemeral {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
