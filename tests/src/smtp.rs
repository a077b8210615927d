//! A real SMTP server for the tests: Python's aiosmtpd (`tests/smtp/server.py`)
//! on a loopback port, writing each message it accepts as JSON into a temp
//! dir. Plain, STARTTLS or implicit TLS (a self-signed certificate made with
//! the openssl CLI, [`crate::certificate`]), optionally requiring a user name and password. Killed on
//! drop. `scripts/install-test-deps` installs aiosmtpd into `tests/.venv`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How the server talks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTlsMode {
    None,
    StartTls,
    Tls,
}

/// What to start.
#[derive(Debug, Clone, Default)]
pub struct SmtpOptions {
    pub tls: Option<SmtpTlsMode>,
    /// (user, password) the server requires.
    pub auth: Option<(String, String)>,
    /// A fixed port (to restart "the same server"); a free one when `None`.
    pub port: Option<u16>,
}

/// One message as the server received it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ReceivedMail {
    pub rcpt: Vec<String>,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub content_type: String,
    pub text: Option<String>,
    pub html: Option<String>,
    pub raw: String,
}

/// A running aiosmtpd; killed on drop.
#[derive(Debug)]
pub struct SmtpServer {
    pub port: u16,
    child: Child,
    dir: TempDir,
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local addr").port()
}

/// The Python with aiosmtpd: `$LATCHKEY_TEST_PYTHON`, else `tests/.venv`, else `python3`.
pub fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("LATCHKEY_TEST_PYTHON") {
        return PathBuf::from(python);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python3");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("python3")
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("smtp/server.py")
}

impl SmtpServer {
    /// A plain server without authentication on a free port.
    pub fn start() -> SmtpServer {
        SmtpServer::start_with(SmtpOptions::default())
    }

    pub fn start_with(options: SmtpOptions) -> SmtpServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mail_dir = dir.path().join("mail");
        std::fs::create_dir(&mail_dir).expect("mail dir");
        let port = options.port.unwrap_or_else(free_port);
        let mut command = Command::new(python());
        command
            .arg(script())
            .arg("--port")
            .arg(port.to_string())
            .arg("--dir")
            .arg(&mail_dir);
        let tls = options.tls.unwrap_or(SmtpTlsMode::None);
        if tls != SmtpTlsMode::None {
            let (cert, key) = crate::certificate::self_signed(dir.path());
            let mode = if tls == SmtpTlsMode::Tls {
                "tls"
            } else {
                "starttls"
            };
            command
                .args(["--tls", mode, "--cert"])
                .arg(cert)
                .arg("--key")
                .arg(key);
        }
        if let Some((user, password)) = &options.auth {
            command.args(["--user", user, "--password", password]);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} (run scripts/install-test-deps for aiosmtpd): {e}",
                    python().display()
                )
            });
        let mut server = SmtpServer { port, child, dir };
        server.wait_ready();
        server
    }

    /// Bounded polling until the port accepts connections.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "aiosmtpd exited ({status}) before listening; is it installed for {}? \
                     run scripts/install-test-deps",
                    python().display()
                );
            }
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen on port {} within 15 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every message received so far, in order.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("mail"))
            .expect("read the mail dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p).expect("read a message");
                serde_json::from_str(&text).expect("a message is JSON")
            })
            .collect()
    }

    /// Waits (bounded, polling every 50 ms) until at least `n` messages arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} messages, got {} within 15 s",
                messages.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the server (the port is free again afterwards).
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.kill();
    }
}
