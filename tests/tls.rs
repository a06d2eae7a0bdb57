//! TLS against a TLS-only redis-server, with certificates made by the `openssl` CLI for each test:
//! a trusted CA, an unknown CA, `--insecure`, `rediss://`, and client certificates.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{Redsh, Server};

/// A CA, a server certificate for 127.0.0.1 and localhost, a client certificate (both signed by
/// the CA), and a second CA that signed nothing here.
struct Certs {
    dir: tempfile::TempDir,
}

#[track_caller]
fn openssl(dir: &Path, args: &[&str]) {
    let out =
        Command::new("openssl").current_dir(dir).args(args).output().expect("openssl must be installed");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

impl Certs {
    fn new() -> Certs {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        for (ca, name) in [("ca", "redsh test CA"), ("other-ca", "unrelated CA")] {
            let subject = format!("/CN={name}");
            let (key, crt) = (format!("{ca}.key"), format!("{ca}.crt"));
            openssl(
                d,
                &[
                    &["req", "-x509"],
                    &ec[..],
                    &["-keyout", &key, "-out", &crt, "-days", "2", "-subj", &subject],
                ]
                .concat(),
            );
        }
        std::fs::write(d.join("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").unwrap();
        std::fs::write(d.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
        for (who, cn) in [("server", "localhost"), ("client", "redsh client")] {
            let subject = format!("/CN={cn}");
            let (key, csr, crt, ext) =
                (format!("{who}.key"), format!("{who}.csr"), format!("{who}.crt"), format!("{who}.ext"));
            openssl(d, &[&["req"], &ec[..], &["-keyout", &key, "-out", &csr, "-subj", &subject]].concat());
            openssl(
                d,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    "ca.crt",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-out",
                    &crt,
                    "-days",
                    "2",
                    "-extfile",
                    &ext,
                ],
            );
        }
        Certs { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn arg(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_owned()
    }

    /// A server that speaks only TLS with these certificates; `clients` makes it require a
    /// client certificate signed by the CA.
    fn server(&self, clients: bool) -> Server {
        Server::tls_only(&[
            "--tls-cert-file",
            &self.arg("server.crt"),
            "--tls-key-file",
            &self.arg("server.key"),
            "--tls-ca-cert-file",
            &self.arg("ca.crt"),
            "--tls-auth-clients",
            if clients { "yes" } else { "no" },
        ])
    }
}

#[test]
fn tls_with_the_servers_ca_connects() {
    let certs = Certs::new();
    let srv = certs.server(false);
    let p = srv.port.to_string();
    let ca = certs.arg("ca.crt");
    let run =
        Redsh::new().args(&["--tls", "--cacert", &ca, "-p", &p]).stdin("SET k v\nGET k\n").run().success();
    assert_eq!(run.stdout, format!("127.0.0.1:{p}> SET k v\nOK\n127.0.0.1:{p}> GET k\n\"v\"\n"));
    // The certificate names localhost too.
    let run =
        Redsh::new().args(&["--tls", "--cacert", &ca, "-h", "localhost", "-p", &p, "PING"]).run().success();
    assert_eq!(run.stdout, format!("localhost:{p}> PING\nPONG\n"));
    // rediss:// means TLS.
    let uri = format!("rediss://127.0.0.1:{p}/1");
    let run = Redsh::new().args(&["-u", &uri, "--cacert", &ca, "GET", "k"]).run().success();
    assert_eq!(run.stdout, format!("127.0.0.1:{p}[1]> GET k\n(nil)\n"));
}

#[test]
fn tls_insecure_skips_verification() {
    let certs = Certs::new();
    let srv = certs.server(false);
    let p = srv.port.to_string();
    let run = Redsh::new().args(&["--tls", "--insecure", "-p", &p, "PING"]).run().success();
    assert_eq!(run.stdout, format!("127.0.0.1:{p}> PING\nPONG\n"));
    let run = Redsh::new()
        .args(&["--tls", "--insecure", "--cacert", &certs.arg("other-ca.crt"), "-p", &p, "PING"])
        .run();
    assert_eq!(run.success().stdout, format!("127.0.0.1:{p}> PING\nPONG\n"));
}

#[test]
fn tls_refuses_a_server_signed_by_an_unknown_ca() {
    let certs = Certs::new();
    let srv = certs.server(false);
    let p = srv.port.to_string();
    let unknown =
        format!("Could not connect to Redis at 127.0.0.1:{p}: invalid peer certificate: UnknownIssuer\n");
    let run =
        Redsh::new().args(&["--tls", "--cacert", &certs.arg("other-ca.crt"), "-p", &p, "PING"]).run().code(1);
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", unknown.as_str()));
    // Without --cacert the system's roots are used, which do not know this CA either.
    let run = Redsh::new().args(&["--tls", "-p", &p]).stdin("PING\n").run().code(1);
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", unknown.as_str()));
}

#[test]
fn tls_presents_a_client_certificate() {
    let certs = Certs::new();
    let srv = certs.server(true);
    let p = srv.port.to_string();
    let (ca, cert, key) = (certs.arg("ca.crt"), certs.arg("client.crt"), certs.arg("client.key"));
    let run = Redsh::new()
        .args(&["--tls", "--cacert", &ca, "--cert", &cert, "--key", &key, "-p", &p, "PING"])
        .run();
    assert_eq!(run.success().stdout, format!("127.0.0.1:{p}> PING\nPONG\n"));
    // Without one the server ends the handshake; that is a failed connection, not a reply.
    let run = Redsh::new().args(&["--tls", "--cacert", &ca, "-p", &p, "PING"]).run().code(1);
    assert_eq!(run.stdout, "");
    let prefix = format!("Could not connect to Redis at 127.0.0.1:{p}: ");
    assert!(run.stderr.starts_with(&prefix) && run.stderr.lines().count() == 1, "{}", run.stderr);
}

#[test]
fn tls_flags_that_cannot_work_are_usage_errors() {
    let certs = Certs::new();
    let missing = certs.path("nonexistent.crt");
    let run = Redsh::new().args(&["--tls", "--cacert", missing.to_str().unwrap(), "PING"]).run().code(2);
    assert_eq!(run.stderr, format!("redsh: --cacert {}: No such file or directory\n", missing.display()));
    let run = Redsh::new().args(&["--tls", "-s", "/tmp/none.sock", "PING"]).run().code(2);
    assert_eq!(run.stderr, "redsh: --tls cannot be used with a unix socket\n");
}
