//! The bytes' way to a server: TCP, a unix socket, or TLS over TCP (rustls), each with the
//! connect timeout bounding everything up to the first byte of the session (resolution, connect,
//! handshake), so a wrong port or a plain-text server answering a TLS hello can never hang us.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::exec::conn::{Address, Tls};

/// An open byte stream to a server.
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

impl Stream {
    /// Bounds each read (`None`: wait as long as it takes, as redis-cli does by default).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(timeout),
            Stream::Unix(s) => s.set_read_timeout(timeout),
            Stream::Tls(s) => s.sock.set_read_timeout(timeout),
        }
    }

    /// Whether the server has closed this idle connection (a FIN is waiting), seen without
    /// reading anything: a peek that does not block. Unix sockets are never checked.
    pub fn peer_closed(&self) -> bool {
        let sock = match self {
            Stream::Tcp(s) => s,
            Stream::Tls(s) => &s.sock,
            Stream::Unix(_) => return false,
        };
        if sock.set_nonblocking(true).is_err() {
            return false;
        }
        let closed = matches!(sock.peek(&mut [0u8; 1]), Ok(0));
        let _ = sock.set_nonblocking(false);
        closed
    }

    /// A second handle on a plain connection (TCP or a unix socket), for a writer thread of its
    /// own (`--pipe`); none over TLS, whose session cannot be shared.
    pub fn try_clone_plain(&self) -> Option<Stream> {
        match self {
            Stream::Tcp(s) => s.try_clone().ok().map(Stream::Tcp),
            Stream::Unix(s) => s.try_clone().ok().map(Stream::Unix),
            Stream::Tls(_) => None,
        }
    }

    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(timeout),
            Stream::Unix(s) => s.set_write_timeout(timeout),
            Stream::Tls(s) => s.sock.set_write_timeout(timeout),
        }
    }
}

/// Why a connection could not be opened, in the words redis-cli would use.
#[derive(Debug)]
pub struct ConnectError(pub String);

fn io_fail(e: &io::Error) -> ConnectError {
    if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) {
        return ConnectError("Connection timed out".into());
    }
    ConnectError(crate::error::io_reason(e))
}

/// Opens a stream to `address` within `timeout`; with `tls`, completes the handshake too.
pub fn connect(address: &Address, tls: Option<&Tls>, timeout: Duration) -> Result<Stream, ConnectError> {
    let deadline = Instant::now() + timeout;
    match address {
        Address::Unix(path) => {
            let s = UnixStream::connect(path).map_err(|e| io_fail(&e))?;
            Ok(Stream::Unix(s))
        }
        Address::Tcp { host, port } => {
            let addrs: Vec<_> = (host.as_str(), *port)
                .to_socket_addrs()
                .map_err(|e| ConnectError(crate::error::io_reason(&e)))?
                .collect();
            let mut last = ConnectError("no address to connect to".into());
            for addr in addrs {
                let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
                match TcpStream::connect_timeout(&addr, left) {
                    Ok(sock) => {
                        let _ = sock.set_nodelay(true);
                        return match tls {
                            None => Ok(Stream::Tcp(sock)),
                            Some(tls) => handshake(sock, host, tls, deadline),
                        };
                    }
                    Err(e) => last = io_fail(&e),
                }
            }
            Err(last)
        }
    }
}

const HANDSHAKE_TIMED_OUT: &str = "TLS handshake timed out (does the server speak TLS on this port?)";

/// The TLS handshake, bounded by `deadline`: a server that never answers the hello (a plain-text
/// port) times out instead of hanging.
fn handshake(sock: TcpStream, host: &str, tls: &Tls, deadline: Instant) -> Result<Stream, ConnectError> {
    let config = client_config(tls)?;
    let name = tls.sni.as_deref().unwrap_or(host);
    let name = ServerName::try_from(name.to_owned())
        .map_err(|_| ConnectError(format!("invalid TLS server name {name:?}")))?;
    let conn = rustls::ClientConnection::new(Arc::new(config), name)
        .map_err(|e| ConnectError(format!("TLS: {e}")))?;
    let mut stream = rustls::StreamOwned::new(conn, sock);
    while stream.conn.is_handshaking() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ConnectError(HANDSHAKE_TIMED_OUT.into()));
        }
        let _ = stream.sock.set_read_timeout(Some(left));
        let _ = stream.sock.set_write_timeout(Some(left));
        if let Err(e) = stream.conn.complete_io(&mut stream.sock) {
            return Err(ConnectError(match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => HANDSHAKE_TIMED_OUT.to_owned(),
                io::ErrorKind::UnexpectedEof => "TLS handshake: the server closed the connection".to_owned(),
                _ => tls_reason(&e),
            }));
        }
    }
    let _ = stream.sock.set_read_timeout(None);
    let _ = stream.sock.set_write_timeout(None);
    Ok(Stream::Tls(Box::new(stream)))
}

fn tls_reason(e: &io::Error) -> String {
    match e.get_ref() {
        Some(inner) => inner.to_string(),
        None => crate::error::io_reason(e),
    }
}

fn client_config(tls: &Tls) -> Result<rustls::ClientConfig, ConnectError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| ConnectError(format!("{what}: {e}"));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| fail("TLS", &e))?;
    let builder = if tls.insecure {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        match &tls.ca_cert {
            Some(pem) => {
                for cert in CertificateDer::pem_slice_iter(pem) {
                    let cert = cert.map_err(|e| fail("--cacert", &e))?;
                    roots.add(cert).map_err(|e| fail("--cacert", &e))?;
                }
            }
            None => {
                for cert in rustls_native_certs::load_native_certs().certs {
                    let _ = roots.add(cert);
                }
            }
        }
        builder.with_root_certificates(roots)
    };
    match &tls.client_cert {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_slice_iter(cert)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| fail("--cert", &e))?;
            let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| fail("--key", &e))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| fail("--cert/--key", &e))
        }
        None => Ok(builder.with_no_client_auth()),
    }
}

/// `--insecure`: any certificate is accepted (signatures are still checked, so the session is
/// encrypted to whoever holds the key it shows).
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
