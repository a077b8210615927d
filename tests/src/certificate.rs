//! A self-signed test certificate, made at test time with the openssl CLI, for the servers the
//! tests start with TLS (SMTP, LDAP). Nothing trusts it: a client must be told to skip
//! verification, which is what the tests check.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A self-signed server certificate for `localhost` and 127.0.0.1: (cert, key).
pub fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let status = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        // Its own name: a system store may hold another "localhost" (Debian's snakeoil
        // certificate), which a client would then take for this one's issuer.
        .args(["-subj", "/CN=latchkey test server"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        // A server's own certificate, as a real one is, not a CA's (openssl makes a self-signed
        // one a CA by default): a client refuses it for its unknown issuer, not for its kind.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run openssl (apt-get install openssl)");
    assert!(status.success(), "openssl could not make a certificate");
    (cert, key)
}
