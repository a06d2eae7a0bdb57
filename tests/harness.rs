//! Test fixtures: throwaway servers on free loopback ports (no persistence, killed by pid on drop) of
//! each kind in the matrix (Redis 7.0 from Debian's packages, Valkey 8.1 from the cache that
//! `scripts/setup.sh` fills), each with its own cli as the reference; and a builder that runs the
//! real `redsh` binary.
//!
//! Valkey's binaries are found through `REDSH_VALKEY_BIN` (a directory holding `valkey-server` and
//! `valkey-cli`; `scripts/test.sh` sets it). Without it a Valkey test fails when `CI` is set, and
//! otherwise passes without running, after one note on stderr: a plain `cargo test` on a machine
//! where `scripts/setup.sh` never ran still tests everything on Redis.

// Each test module uses a different part of the harness.
#![allow(dead_code)]

use std::io::Write;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A server of the matrix: the server binary and the cli that is the reference for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Redis 7.0: Debian's `redis-server` and `redis-cli`, on the `PATH`.
    Redis,
    /// Valkey 8.1: `valkey-server` and `valkey-cli` from `REDSH_VALKEY_BIN`.
    Valkey,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Redis, Kind::Valkey];

    pub fn server_bin(self) -> PathBuf {
        match self {
            Kind::Redis => PathBuf::from("redis-server"),
            Kind::Valkey => valkey_dir().expect("Valkey is not installed").join("valkey-server"),
        }
    }

    /// The server's own cli: the reference redsh's output is compared with.
    pub fn cli_bin(self) -> PathBuf {
        match self {
            Kind::Redis => PathBuf::from("redis-cli"),
            Kind::Valkey => valkey_dir().expect("Valkey is not installed").join("valkey-cli"),
        }
    }

    /// What `HELLO` and `INFO` call the server.
    pub fn server_name(self) -> &'static str {
        match self {
            Kind::Redis => "redis",
            Kind::Valkey => "valkey",
        }
    }

    /// Whether this kind's binaries are here. Redis always is (a test without it fails at start);
    /// for Valkey see the module's documentation.
    pub fn available(self) -> bool {
        self == Kind::Redis || valkey_dir().is_some()
    }
}

/// The directory of Valkey's binaries, from `REDSH_VALKEY_BIN`; `None` (after a note on stderr,
/// once) when it is not set outside CI. A variable that names a directory without the binaries,
/// or no variable in CI, fails the test.
#[track_caller]
pub fn valkey_dir() -> Option<PathBuf> {
    use std::sync::Once;
    static NOTE: Once = Once::new();
    match std::env::var_os("REDSH_VALKEY_BIN").filter(|d| !d.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            for bin in ["valkey-server", "valkey-cli"] {
                assert!(
                    dir.join(bin).is_file(),
                    "REDSH_VALKEY_BIN={} has no {bin}; run scripts/setup.sh --print-valkey-bin",
                    dir.display()
                );
            }
            Some(dir)
        }
        None if std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0") => {
            panic!(
                "CI is set but REDSH_VALKEY_BIN is not: the Valkey tests cannot run. scripts/test.sh \
                 sets it from scripts/setup.sh, which installs Valkey"
            )
        }
        None => {
            NOTE.call_once(|| {
                // Written past the test harness's capture, so that it shows even for a passing test.
                let _ = std::io::stderr().write_all(
                    b"note: REDSH_VALKEY_BIN is not set: the Valkey variants of the tests pass without \
                      running. scripts/test.sh runs them (or: export REDSH_VALKEY_BIN=\"$(scripts/setup.sh \
                      --print-valkey-bin)\")\n",
                );
            });
            None
        }
    }
}

/// Runs `test` on a server kind, or skips it (see [`valkey_dir`]) when that kind is not installed.
pub fn on(kind: Kind, test: impl FnOnce(Kind)) {
    if kind.available() {
        test(kind);
    }
}

/// `on_each_server!(name)` makes a test of `fn name(kind: Kind)` for each server kind:
/// `name::redis` and `name::valkey`. `on_each_server!(name, valkey_ignore = "why")` marks the
/// Valkey variant ignored (for a known difference that is being fixed), `ignore = "why"` both.
macro_rules! on_each_server {
    ($name:ident) => {
        mod $name {
            #[test]
            fn redis() {
                $crate::harness::on($crate::harness::Kind::Redis, super::$name);
            }

            #[test]
            fn valkey() {
                $crate::harness::on($crate::harness::Kind::Valkey, super::$name);
            }
        }
    };
    ($name:ident, ignore = $why:literal) => {
        mod $name {
            #[test]
            #[ignore = $why]
            fn redis() {
                $crate::harness::on($crate::harness::Kind::Redis, super::$name);
            }

            #[test]
            #[ignore = $why]
            fn valkey() {
                $crate::harness::on($crate::harness::Kind::Valkey, super::$name);
            }
        }
    };
    ($name:ident, valkey_ignore = $why:literal) => {
        mod $name {
            #[test]
            fn redis() {
                $crate::harness::on($crate::harness::Kind::Redis, super::$name);
            }

            #[test]
            #[ignore = $why]
            fn valkey() {
                $crate::harness::on($crate::harness::Kind::Valkey, super::$name);
            }
        }
    };
}
pub(crate) use on_each_server;

/// A private server (Redis unless made with a [`Kind`]); stopped when dropped.
pub struct Server {
    child: Option<Child>,
    pub kind: Kind,
    pub port: u16,
    pub dir: tempfile::TempDir,
    extra: Vec<String>,
    /// Listen with TLS only: `port` is the `--tls-port` and there is no plain port.
    tls: bool,
}

/// Polls `ready` until it holds; fails the test naming `what` if it does not within `secs` (a bound
/// only so that a hang becomes a failure, not a timing assertion).
#[track_caller]
pub fn wait_until(secs: u64, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ready() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A port for a test server. Not `bind(0)`: a port it hands out is free again the moment it is
/// released, so two servers starting at once could be given the same one, and the second would
/// not start while the test talked to the first. Ports are taken in turn, from a point that differs
/// between test processes, in 20000–22699: below the kernel's ephemeral range (where `bind(0)` and
/// outgoing connections draw), with a cluster node's bus port (+10000) below it too. A port in use,
/// or whose bus port is, is skipped.
pub fn server_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20000;
    const COUNT: u32 = 2700;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let start = std::process::id().wrapping_mul(7919) % COUNT;
    let _ = NEXT.compare_exchange(u32::MAX, start, Ordering::SeqCst, Ordering::SeqCst);
    loop {
        let port = (FIRST + NEXT.fetch_add(1, Ordering::SeqCst) % COUNT) as u16;
        let free = |p: u16| TcpListener::bind((Ipv4Addr::LOCALHOST, p)).is_ok();
        if free(port) && free(port + 10000) {
            return port;
        }
    }
}

/// Whether process `pid` holds a socket listening on 127.0.0.1:`port` (from /proc: the listening
/// socket's inode among the process's file descriptors).
fn listens(pid: u32, port: u16) -> bool {
    let tcp = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let local = format!("0100007F:{port:04X}");
    let inodes: Vec<String> = tcp
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.get(1) == Some(&local.as_str()) && f.get(3) == Some(&"0A"))
        .filter_map(|f| f.get(9).map(|i| format!("socket:[{i}]")))
        .collect();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return false };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .is_ok_and(|target| inodes.iter().any(|i| target.as_os_str() == i.as_str()))
    })
}

/// A small deterministic generator (xorshift): a failing generated script can be rebuilt from its
/// seed.
pub struct Xorshift(pub u64);

impl Xorshift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A loopback port nobody listens on (the OS picked it free an instant ago).
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port()
}

impl Server {
    /// A plain redis-server with the DEBUG command enabled (for `DEBUG PROTOCOL`, `DEBUG SLEEP`).
    pub fn start() -> Server {
        Server::with_args(&[])
    }

    /// A plain server of `kind`, DEBUG enabled.
    #[track_caller]
    pub fn start_on(kind: Kind) -> Server {
        Server::new(kind, &[], false)
    }

    /// A redis-server with extra arguments (`--requirepass x`, `--maxmemory 1mb`…).
    #[track_caller]
    pub fn with_args(extra: &[&str]) -> Server {
        Server::new(Kind::Redis, extra, false)
    }

    /// A server of `kind` with extra arguments (Valkey takes the same ones as Redis).
    #[track_caller]
    pub fn with_args_on(kind: Kind, extra: &[&str]) -> Server {
        Server::new(kind, extra, false)
    }

    /// A redis-server that speaks only TLS on `port`; `extra` names its certificates
    /// (`--tls-cert-file`…).
    #[track_caller]
    pub fn tls_only(extra: &[&str]) -> Server {
        Server::new(Kind::Redis, extra, true)
    }

    #[track_caller]
    fn new(kind: Kind, extra: &[&str], tls: bool) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Server {
            child: None,
            kind,
            port: server_port(),
            dir,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            tls,
        };
        s.spawn();
        s
    }

    #[track_caller]
    fn spawn(&mut self) {
        let name = self.kind.server_bin();
        let name = name.display();
        let mut cmd = Command::new(self.kind.server_bin());
        if self.tls {
            cmd.args(["--port", "0", "--tls-port", &self.port.to_string()]);
        } else {
            cmd.args(["--port", &self.port.to_string()]);
        }
        cmd.args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--enable-debug-command", "yes", "--daemonize", "no", "--logfile", ""])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("{name} must be installed (scripts/setup.sh installs it): {e}"));
        let (pid, port) = (child.id(), self.port);
        // Ready when this very process listens on the port: a connection alone could reach another.
        wait_until(10, &format!("{name} on port {port} did not start"), || {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{name} on port {port} exited at start: {status}");
            }
            listens(pid, port)
        });
        self.child = Some(child);
    }

    /// The server's process id (for SIGSTOP and SIGCONT).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Kills the server (SIGKILL, by pid) and waits until it is gone.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same port (empty: there is no persistence).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// The server's own cli (`redis-cli` or `valkey-cli`) aimed at this server, not started yet.
    pub fn cli_command(&self) -> Command {
        let mut cmd = Command::new(self.kind.cli_bin());
        cmd.env_remove("REDISCLI_AUTH").env_remove("FAKETTY").arg("-p").arg(self.port.to_string());
        cmd
    }

    /// Runs the server's own cli against it; returns stdout.
    #[track_caller]
    pub fn cli(&self, args: &[&str]) -> String {
        let out = self.cli_command().args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs the server's own cli with `--no-raw` and `input` on stdin (optionally `-3`); returns
    /// stdout bytes.
    pub fn cli_stdin(&self, extra: &[&str], input: &[u8]) -> Vec<u8> {
        let mut child = self
            .cli_command()
            .arg("--no-raw")
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap().stdout
    }

    /// One command through the server's cli in raw mode, trimmed (for checking state).
    pub fn get(&self, args: &[&str]) -> String {
        self.cli(args).trim_end().to_owned()
    }

    pub fn flush(&self) {
        self.cli(&["FLUSHALL"]);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn redsh_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_redsh"))
}

/// A run of the real binary: `Redsh::new().port(p).args(..).stdin(..).run()`.
#[must_use]
pub struct Redsh {
    cmd: Command,
    stdin: Vec<u8>,
}

/// What a run printed and how it ended.
pub struct Run {
    pub stdout: String,
    pub stdout_bytes: Vec<u8>,
    pub stderr: String,
    pub code: i32,
}

impl Redsh {
    pub fn new() -> Redsh {
        let mut cmd = Command::new(redsh_bin());
        cmd.env_remove("REDISCLI_AUTH").env("NO_COLOR", "1").env("REDSH_HISTFILE", "/dev/null");
        Redsh { cmd, stdin: Vec::new() }
    }

    pub fn port(mut self, port: u16) -> Redsh {
        self.cmd.arg("-p").arg(port.to_string());
        self
    }

    pub fn args(mut self, args: &[&str]) -> Redsh {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Redsh {
        self.cmd.env(k, v);
        self
    }

    pub fn current_dir(mut self, dir: &Path) -> Redsh {
        self.cmd.current_dir(dir);
        self
    }

    pub fn stdin(mut self, input: impl AsRef<[u8]>) -> Redsh {
        self.stdin = input.as_ref().to_vec();
        self
    }

    /// Starts redsh with stdin, stdout and stderr piped, for a test that drives it as it runs
    /// (the input given by [`Redsh::stdin`] is not used).
    pub fn spawn(mut self) -> Child {
        self.cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    }

    /// Starts redsh with stdin piped and stdout and stderr into one pipe, so that a test reads what
    /// it printed in the order it printed it (redsh flushes stdout before each error).
    pub fn spawn_merged(mut self) -> (Child, std::io::PipeReader) {
        let (reader, writer) = std::io::pipe().unwrap();
        let child = self
            .cmd
            .stdin(Stdio::piped())
            .stdout(writer.try_clone().unwrap())
            .stderr(writer)
            .spawn()
            .unwrap();
        // `self.cmd` holds copies of the write end: dropped here, so the reader sees the end.
        drop(self);
        (child, reader)
    }

    pub fn run(mut self) -> Run {
        let mut child =
            self.cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let input = std::mem::take(&mut self.stdin);
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let out: Output = child.wait_with_output().unwrap();
        let _ = writer.join();
        Run {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stdout_bytes: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code().unwrap_or(-1),
        }
    }
}

impl Run {
    #[track_caller]
    pub fn success(self) -> Run {
        assert_eq!(self.code, 0, "expected success; stderr:\n{}\nstdout:\n{}", self.stderr, self.stdout);
        self
    }

    #[track_caller]
    pub fn code(self, code: i32) -> Run {
        assert_eq!(self.code, code, "unexpected status; stderr:\n{}\nstdout:\n{}", self.stderr, self.stdout);
        self
    }
}

/// A private 3-master Redis Cluster on loopback ports; stopped when dropped.
pub struct Cluster {
    pub nodes: Vec<Server>,
}

impl Cluster {
    #[track_caller]
    pub fn start() -> Cluster {
        Cluster::build(0, "5000")
    }

    /// Three masters, each with a replica, that fail over within about a second.
    #[track_caller]
    pub fn with_replicas() -> Cluster {
        Cluster::build(1, "1000")
    }

    #[track_caller]
    fn build(replicas: usize, node_timeout: &str) -> Cluster {
        let nodes: Vec<Server> = (0..3 * (1 + replicas))
            .map(|_| {
                Server::with_args(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    node_timeout,
                ])
            })
            .collect();
        let addrs: Vec<String> = nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .output()
            .unwrap();
        assert!(out.status.success(), "cluster create failed: {}", String::from_utf8_lossy(&out.stdout));
        wait_until(20, "the cluster did not become ready", || {
            nodes.iter().all(|n| n.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok"))
                && nodes.iter().all(|n| n.cli(&["CLUSTER", "SLOTS"]).lines().count() > 0)
        });
        // A replica that never synced cannot be promoted: wait until each has its master's data.
        wait_until(20, "the replicas did not sync", || {
            nodes.iter().filter(|n| n.cli(&["ROLE"]).starts_with("slave")).count() == 3 * replicas
                && nodes.iter().all(|n| {
                    let info = n.cli(&["INFO", "replication"]);
                    !info.contains("role:slave") || info.contains("master_link_status:up")
                })
        });
        Cluster { nodes }
    }

    /// The node that serves `key` right now.
    pub fn owner(&self, key: &str) -> &Server {
        let slot: u16 = self.nodes[0].get(&["CLUSTER", "KEYSLOT", key]).parse().unwrap();
        self.nodes
            .iter()
            .find(|n| {
                let nodes = n.get(&["CLUSTER", "NODES"]);
                nodes.lines().any(|l| {
                    l.contains("myself")
                        && l.split_whitespace().skip(8).any(|r| match r.split_once('-') {
                            Some((a, b)) => {
                                a.parse::<u16>().is_ok_and(|a| a <= slot)
                                    && b.parse::<u16>().is_ok_and(|b| slot <= b)
                            }
                            None => r.parse::<u16>() == Ok(slot),
                        })
                })
            })
            .expect("a node serves every slot")
    }

    /// `redis-cli -c` against the first node; returns stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .arg("-c")
            .arg("-p")
            .arg(self.nodes[0].port.to_string())
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
    }

    /// Total keys over all nodes.
    pub fn dbsize(&self) -> usize {
        self.nodes.iter().map(|n| n.get(&["DBSIZE"]).parse::<usize>().unwrap()).sum()
    }

    pub fn flush(&self) {
        for n in &self.nodes {
            n.cli(&["FLUSHALL"]);
        }
    }
}

/// A master, its replicas (`--replicaof`) and three sentinels (`redis-server --sentinel`, a config
/// file each in a temp dir) watching it as `mymaster`, all on loopback; stopped when dropped.
/// Failures are detected fast (`down-after-milliseconds` 1000) so that a failover test is bounded.
pub struct Sentinels {
    pub master: Server,
    pub replicas: Vec<Server>,
    pub sentinels: Vec<SentinelProcess>,
    pub kind: Kind,
}

/// One `redis-server --sentinel`; killed by pid when dropped.
pub struct SentinelProcess {
    child: Option<Child>,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Drop for SentinelProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The name the fixture's sentinels monitor the master under.
pub const MASTER_NAME: &str = "mymaster";

impl Sentinels {
    /// A master with `replicas` replicas and three sentinels that all know each other and every
    /// replica (so that a failover can start as soon as the master is gone).
    #[track_caller]
    pub fn start(kind: Kind, replicas: usize) -> Sentinels {
        let master = Server::with_args_on(kind, &[]);
        let mport = master.port.to_string();
        let replicas: Vec<Server> = (0..replicas)
            .map(|_| {
                // A low replica-priority on none: whichever has the most data is promoted.
                Server::with_args_on(kind, &["--replicaof", "127.0.0.1", &mport])
            })
            .collect();
        wait_until(30, "the replicas did not sync", || {
            replicas.iter().all(|r| r.cli(&["INFO", "replication"]).contains("master_link_status:up"))
        });
        let sentinels: Vec<SentinelProcess> =
            (0..3).map(|_| SentinelProcess::start(kind, master.port)).collect();
        let all = Sentinels { master, replicas, sentinels, kind };
        let n = all.replicas.len();
        wait_until(60, "the sentinels did not discover each other and the replicas", || {
            all.sentinels.iter().all(|s| {
                let known = |what: &str| {
                    all.sentinel_cli(s.port, &["SENTINEL", what, MASTER_NAME])
                        .lines()
                        .filter(|l| *l == "name")
                        .count()
                };
                known("SENTINELS") == 2 && known("REPLICAS") == n
            })
        });
        all
    }

    /// The server's cli aimed at a sentinel; stdout (raw: one line per value).
    pub fn sentinel_cli(&self, port: u16, args: &[&str]) -> String {
        let out = Command::new(self.kind.cli_bin())
            .env_remove("REDISCLI_AUTH")
            .args(["-p", &port.to_string()])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The `--sentinel HOST:PORT` flags naming the three sentinels.
    pub fn flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        for s in &self.sentinels {
            flags.push("--sentinel".to_owned());
            flags.push(format!("127.0.0.1:{}", s.port));
        }
        flags.push("--master".to_owned());
        flags.push(MASTER_NAME.to_owned());
        flags
    }

    /// The port every sentinel names as the master's, once they all agree.
    pub fn agreed_master_port(&self) -> Option<u16> {
        let ports: Vec<Option<u16>> = self
            .sentinels
            .iter()
            .map(|s| {
                let out = self.sentinel_cli(s.port, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME]);
                out.lines().nth(1).and_then(|p| p.trim().parse().ok())
            })
            .collect();
        ports.windows(2).all(|w| w[0] == w[1]).then(|| ports[0]).flatten()
    }
}

impl SentinelProcess {
    #[track_caller]
    fn start(kind: Kind, master_port: u16) -> SentinelProcess {
        let dir = tempfile::tempdir().unwrap();
        let port = server_port();
        let config = dir.path().join("sentinel.conf");
        std::fs::write(
            &config,
            format!(
                "port {port}\nbind 127.0.0.1\ndaemonize no\nlogfile \"\"\ndir {dir}\n\
                 sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n\
                 sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
                 sentinel failover-timeout {MASTER_NAME} 10000\n\
                 sentinel parallel-syncs {MASTER_NAME} 2\n",
                dir = dir.path().display()
            ),
        )
        .unwrap();
        let name = kind.server_bin();
        let mut child = Command::new(&name)
            .arg(&config)
            .arg("--sentinel")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} must be installed: {e}", name.display()));
        let pid = child.id();
        wait_until(10, &format!("sentinel on port {port} did not start"), || {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("sentinel on port {port} exited at start: {status}");
            }
            listens(pid, port)
        });
        SentinelProcess { child: Some(child), port, dir }
    }
}

/// The docs redsh asks the server on `port` for, as the shell asks them (through an executor,
/// quietly), optionally as an ACL user with a password.
pub fn server_docs(port: u16, user: Option<(&str, &str)>) -> redsh::docs::Docs {
    let target = redsh::exec::conn::Target {
        address: redsh::exec::conn::Address::Tcp { host: "127.0.0.1".into(), port },
        tls: None,
        user: user.map(|(u, _)| u.to_owned()),
        password: user.map(|(_, p)| p.to_owned()),
        db: 0,
        resp3: false,
        connect_timeout: Duration::from_secs(5),
        read_timeout: None,
        cluster: false,
        sentinel: None,
    };
    let out = redsh::exec::Output::new(
        Box::new(std::io::sink()),
        false,
        redsh::redis::format::Mode::Pretty,
        false,
        false,
    );
    redsh::exec::Executor::new(redsh::exec::conn::Conn::new(target), out, false).fetch_docs()
}
