//! The real `latchkeyd` as a separate process: its own multi-thread runtime, its configuration
//! from `LATCHKEY_*` environment variables (as a service manager or a container gives it), its
//! signals. Tests that signal or kill it, or reach it as another Unix user, need a process, not
//! the in-process daemon.
//!
//! The binary path comes from the caller (`env!("CARGO_BIN_EXE_latchkeyd-under-test")`: Cargo
//! tells integration tests where their package's binaries are, and only them).

use std::fs::File;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use latchkey_protocol::Client;

use crate::CliOutput;

/// How long a starting daemon may take before the test gives up (a debug build on a busy
/// two-core machine opens its database and binds in well under a second).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A `latchkeyd` process serving `data_dir` on a loopback port.
#[derive(Debug)]
pub struct DaemonProcess {
    child: Child,
    pub data_dir: PathBuf,
    pub port: u16,
    pub log: PathBuf,
    /// `https` when the daemon serves TLS itself.
    scheme: &'static str,
}

impl DaemonProcess {
    /// Starts `bin` on `data_dir` (made if missing) and returns once the admin socket answers
    /// a handshake. Its output goes to `<data_dir>/../latchkeyd-<port>.log`.
    pub async fn start(bin: &Path, data_dir: &Path) -> DaemonProcess {
        DaemonProcess::start_with_env(bin, data_dir, &[]).await
    }

    /// [`DaemonProcess::start`] with more `LATCHKEY_*` variables. The listen address, public URL,
    /// data directory and log level come from the environment too, never from flags.
    pub async fn start_with_env(
        bin: &Path,
        data_dir: &Path,
        env: &[(&str, &str)],
    ) -> DaemonProcess {
        let mut daemon = DaemonProcess::spawn(bin, data_dir, env);
        daemon.wait_until_serving().await;
        daemon
    }

    /// [`DaemonProcess::start_with_env`] serving HTTPS with the PEM files `cert` and `key`
    /// (`LATCHKEY_TLS_CERT`, `LATCHKEY_TLS_KEY`), at an https public URL.
    pub async fn start_https(
        bin: &Path,
        data_dir: &Path,
        cert: &Path,
        key: &Path,
        env: &[(&str, &str)],
    ) -> DaemonProcess {
        let (cert, key) = (cert.display().to_string(), key.display().to_string());
        let mut all = vec![
            ("LATCHKEY_TLS_CERT", cert.as_str()),
            ("LATCHKEY_TLS_KEY", key.as_str()),
        ];
        all.extend_from_slice(env);
        let mut daemon = DaemonProcess::spawn_as(bin, data_dir, &all, "https");
        daemon.wait_until_serving().await;
        daemon
    }

    /// Starts `bin` as [`DaemonProcess::start_with_env`] does, without waiting for anything.
    pub fn spawn(bin: &Path, data_dir: &Path, env: &[(&str, &str)]) -> DaemonProcess {
        DaemonProcess::spawn_as(bin, data_dir, env, "http")
    }

    fn spawn_as(
        bin: &Path,
        data_dir: &Path,
        env: &[(&str, &str)],
        scheme: &'static str,
    ) -> DaemonProcess {
        let port = free_port();
        let log = data_dir
            .parent()
            .unwrap_or(data_dir)
            .join(format!("latchkeyd-{port}.log"));
        let out = File::create(&log).expect("create the daemon's log file");
        let err = out.try_clone().expect("clone the log file handle");
        let child = command(bin)
            .env("LATCHKEY_LISTEN", format!("127.0.0.1:{port}"))
            .env(
                "LATCHKEY_PUBLIC_URL",
                format!("{scheme}://localhost:{port}"),
            )
            .env("LATCHKEY_DATA_DIR", data_dir)
            .env("LATCHKEY_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        DaemonProcess {
            child,
            data_dir: data_dir.to_path_buf(),
            port,
            log,
            scheme,
        }
    }

    pub fn socket(&self) -> PathBuf {
        self.data_dir.join("latchkey.sock")
    }

    pub fn base_url(&self) -> String {
        format!("{}://localhost:{}", self.scheme, self.port)
    }

    /// A handshaken admin-socket client.
    pub async fn client(&self) -> Client {
        Client::connect(&self.socket(), "latchkey-tests")
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "connect to {}: {e}\n{}",
                    self.socket().display(),
                    self.output()
                )
            })
    }

    /// Runs `latchkey --socket <this daemon's socket> <args…>` in-process.
    pub async fn cli(&self, args: &[&str]) -> CliOutput {
        crate::cli_at(&self.socket(), args).await
    }

    /// [`DaemonProcess::cli`], which must succeed.
    pub async fn cli_ok(&self, args: &[&str]) -> CliOutput {
        let out = self.cli(args).await;
        assert_eq!(out.code, 0, "latchkey {args:?}: {out:?}");
        out
    }

    /// Signs `username` in with a fresh login code, in a new cookie-keeping client, and
    /// checks that the account page then shows them.
    pub async fn signed_in_with_code(&self, username: &str) -> reqwest::Client {
        let out = self
            .cli(&["login-code", "create", username, "--json"])
            .await;
        assert_eq!(out.code, 0, "{out:?}");
        let link = out.json()["url"].as_str().expect("a login link").to_owned();
        let code = link.rsplit('/').next().unwrap_or_default().to_owned();
        let client = crate::http::browser();
        let (_, _, page) = crate::http::get(&client, &link).await;
        let res = client
            .post(format!("{}/lc", self.base_url()))
            .form(&[
                ("_csrf", crate::http::csrf_of(&page).as_str()),
                ("code", code.as_str()),
            ])
            .send()
            .await
            .expect("POST /lc");
        assert_eq!(res.status(), reqwest::StatusCode::SEE_OTHER);
        let (status, _, account) =
            crate::http::get(&client, &format!("{}/account", self.base_url())).await;
        assert_eq!(status, reqwest::StatusCode::OK);
        assert!(account.contains(username), "{account}");
        client
    }

    /// Creates the user `username` through the CLI, with the address `<username>@example.com`.
    pub async fn create_user(&self, username: &str) {
        let email = format!("{username}@example.com");
        self.cli_ok(&["user", "create", "--username", username, "--email", &email])
            .await;
    }

    /// Registers a confidential client named `name` through the CLI: (client id, secret).
    pub async fn create_client(&self, name: &str) -> (String, String) {
        let out = self
            .cli(&[
                "client",
                "create",
                "--name",
                name,
                "--redirect-uri",
                "https://app.example.com/cb",
                "--json",
            ])
            .await;
        assert_eq!(out.code, 0, "{out:?}");
        let created = out.json();
        let field = |key: &str| {
            created["client"][key]
                .as_str()
                .or_else(|| created[key].as_str())
                .unwrap_or_else(|| panic!("no {key} in {created}"))
                .to_owned()
        };
        (field("client_id"), field("client_secret"))
    }

    /// The status of a `client_credentials` token request by the client `id` with `secret`.
    pub async fn client_credentials(&self, id: &str, secret: &str) -> reqwest::StatusCode {
        reqwest::Client::new()
            .post(format!("{}/token", self.base_url()))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .status()
    }

    /// What the daemon has printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn wait_until_serving(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the daemon") {
                panic!(
                    "latchkeyd exited with {status} while starting:\n{}",
                    self.output()
                );
            }
            if Client::connect(&self.socket(), "latchkey-tests")
                .await
                .is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "latchkeyd did not serve within {START_TIMEOUT:?}:\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL: no shutdown code runs, nothing is flushed that was not already.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL the daemon");
        self.child.wait().expect("reap the daemon");
    }

    /// SIGTERM, then waits for the process to end; returns whether it exited successfully.
    pub fn terminate(mut self) -> bool {
        self.signal("TERM");
        self.child.wait().expect("reap the daemon").success()
    }

    /// Sends the signal `name` (`TERM`, `INT`, …) and returns at once.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits (blocking) for the process to end and returns how it ended.
    pub fn wait(mut self) -> ExitStatus {
        self.child.wait().expect("reap the daemon")
    }
}

/// `bin` with an environment of only `PATH`: the tests' own environment must not configure the
/// daemon under test.
fn command(bin: &Path) -> Command {
    let mut command = Command::new(bin);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    command
}

/// Runs `bin` with `args` and only the `env` given (and `PATH`) to its end: for a run that is
/// meant to stop at once, such as a refused configuration or `--check-config`.
pub fn run(bin: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    command(bin)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()))
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        // A failed test must not leave a daemon running; after kill()/terminate() this fails
        // harmlessly.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port free a moment ago. The daemon binds it a few milliseconds later; another
/// process taking it in between fails the start loudly, never silently.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("find a free loopback port")
        .port()
}

/// The effective uid of this process (the owner of `/proc/self`), without `unsafe`.
pub fn current_uid() -> u32 {
    std::fs::metadata("/proc/self")
        .expect("read /proc/self")
        .uid()
}
