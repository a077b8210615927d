//! A real PostgreSQL server for the tests of the PostgreSQL storage backend: Debian's server
//! binaries (the newest under `/usr/lib/postgresql/*/bin`), a cluster made by `initdb` in a temp
//! dir with a random password for the superuser `latchkey`, served on a free loopback port.
//!
//! Tests share one server per test binary ([`TestPostgres::shared`]) and each takes a database of
//! its own ([`TestPostgres::fresh_database`]): starting a cluster costs about a second, a
//! database a few milliseconds.
//!
//! PostgreSQL refuses to run as root, so when the tests do (as CI does) the cluster belongs to
//! the `postgres` user and its server commands run as that user.
//!
//! Every server has a watchdog: a small `sh` as the cluster's owner that waits for EOF on a pipe
//! only this process writes to, then stops the server and removes the temp dir. The kernel closes
//! that pipe whenever this process ends (a clean exit, a panic, SIGKILL), so the shared server,
//! which as a static is never dropped, does not outlive the test binary either.
//!
//! `scripts/install-test-deps` installs the `postgresql` package.

use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use rand::Rng;
use tempfile::TempDir;

/// The superuser `initdb` makes; the tests' database URLs log in as it.
pub const USER: &str = "latchkey";

/// Where Debian installs each major version's server binaries.
const INSTALL_ROOT: &str = "/usr/lib/postgresql";

/// The OS user that owns the cluster when the tests run as root.
const OS_USER_WHEN_ROOT: &str = "postgres";

/// How often `pg_ctl start` is tried, each time on a new port: a port free when chosen may be
/// taken by another process before the server binds it.
const START_ATTEMPTS: usize = 5;

/// Settings for a throwaway cluster, appended to its `postgresql.conf` (later lines win). Written
/// to the file rather than passed as `pg_ctl -o`, which goes through a shell: a temp dir's path
/// is then never quoted by hand.
const SETTINGS: &str = "
listen_addresses = '127.0.0.1'
# The data is thrown away: durability only costs time.
fsync = off
synchronous_commit = off
full_page_writes = off
# Every test binary shares one server, and each test's daemon holds a pool of connections.
max_connections = 300
";

/// A running PostgreSQL cluster in a temp dir. Dropping it stops the server and removes the dir.
#[derive(Debug)]
pub struct TestPostgres {
    bin: PathBuf,
    dir: TempDir,
    port: u16,
    password: String,
    /// The cluster's owner when it is not this process's user (the tests run as root).
    owner: Option<OsUser>,
    /// The watchdog `sh`; its stdin is the pipe whose EOF tells it to clean up.
    watchdog: Option<Child>,
    databases: AtomicU32,
}

/// A uid and gid to run the server's commands as.
#[derive(Clone, Copy, Debug)]
struct OsUser {
    uid: u32,
    gid: u32,
}

impl TestPostgres {
    /// Whether the server binaries are installed.
    pub fn installed() -> bool {
        server_bin().is_some()
    }

    /// The server shared by every test of this test binary, started by the first test that asks.
    /// It stops when the test binary exits (the watchdog, see the module docs).
    pub fn shared() -> &'static TestPostgres {
        static SHARED: OnceLock<TestPostgres> = OnceLock::new();
        SHARED.get_or_init(TestPostgres::start)
    }

    /// Makes and starts a cluster of its own. Panics (the test fails) naming the command that
    /// failed and what it printed.
    pub fn start() -> TestPostgres {
        let bin = server_bin().unwrap_or_else(|| {
            panic!(
                "no PostgreSQL server in {INSTALL_ROOT}/*/bin: run scripts/install-test-deps \
                 (Debian package postgresql)"
            )
        });
        let owner = (crate::process::current_uid() == 0).then(postgres_os_user);
        let dir = tempfile::Builder::new()
            .prefix("latchkey-pg-")
            .tempdir()
            .expect("make a temp dir for PostgreSQL");
        if let Some(owner) = owner {
            chown(dir.path(), owner);
        }
        let mut postgres = TestPostgres {
            bin,
            dir,
            port: 0,
            password: random_password(),
            owner,
            watchdog: None,
            databases: AtomicU32::new(0),
        };
        // First, before anything can be left behind.
        postgres.watchdog = Some(postgres.spawn_watchdog());
        postgres.init();
        postgres.start_server();
        postgres
    }

    /// `postgres://latchkey:PASSWORD@127.0.0.1:PORT/postgres`: the superuser on the default
    /// database.
    pub fn url(&self) -> String {
        self.url_of("postgres")
    }

    /// Makes a new, empty database with a name never used before on this server and returns its
    /// URL: tests sharing the server never see each other's tables.
    pub fn fresh_database(&self) -> String {
        let n = self.databases.fetch_add(1, Ordering::Relaxed);
        let name = format!("latchkey_test_{n}");
        self.psql_in("postgres", &format!("CREATE DATABASE {name}"));
        self.url_of(&name)
    }

    /// Runs `sql` with `psql` in the database of `url` (one of this server's URLs) and returns
    /// what it printed: unaligned, tuples only, so one value is just that value and a newline.
    pub fn psql(&self, url: &str, sql: &str) -> String {
        let parsed = url::Url::parse(url).unwrap_or_else(|e| panic!("{url:?} is not a URL: {e}"));
        assert_eq!(
            parsed.port(),
            Some(self.port),
            "{url:?} is not a database of this server (port {})",
            self.port
        );
        let database = parsed.path().trim_start_matches('/');
        self.psql_in(database, sql)
    }

    /// Stops the server as an outage would (`pg_ctl stop -m immediate`: connections cut, no
    /// shutdown checkpoint); [`resume`](Self::resume) brings it back on the same port.
    pub fn pause(&self) {
        let mut pg_ctl = self.command("pg_ctl");
        pg_ctl
            .arg("stop")
            .arg("--pgdata")
            .arg(self.data_dir())
            .args(["--mode", "immediate", "--wait", "--silent"]);
        run(&mut pg_ctl, "pg_ctl stop -m immediate");
    }

    /// Starts the server again after [`pause`](Self::pause), on the same port and data.
    pub fn resume(&self) {
        run(&mut self.pg_ctl_start(self.port), "pg_ctl start (resume)");
    }

    /// The port the server listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The superuser's password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The server's log (for a test's failure message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn url_of(&self, database: &str) -> String {
        format!(
            "postgres://{USER}:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// A command for one of the server's programs, as the cluster's owner, in the temp dir (a
    /// working directory the owner may enter; root's may be closed to it).
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin.join(program));
        command.current_dir(self.dir.path()).stdin(Stdio::null());
        if let Some(owner) = self.owner {
            command.uid(owner.uid).gid(owner.gid);
        }
        command
    }

    /// `sh`, as the cluster's owner, that waits until this process closes its stdin (or ends),
    /// then stops the server and removes the temp dir. In a process group of its own so that a
    /// Ctrl-C to the tests does not kill it before it has cleaned up (the server itself gets the
    /// Ctrl-C and shuts down).
    fn spawn_watchdog(&self) -> Child {
        const SCRIPT: &str = r#"trap '' HUP INT TERM
while read -r _; do :; done
"$0" stop -D "$1" -m immediate -w >/dev/null 2>&1
rm -rf "$2"
"#;
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(SCRIPT)
            .arg(self.bin.join("pg_ctl"))
            .arg(self.data_dir())
            .arg(self.dir.path())
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        if let Some(owner) = self.owner {
            command.uid(owner.uid).gid(owner.gid);
        }
        command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the PostgreSQL watchdog (sh): {e}"))
    }

    /// `initdb`: the superuser `latchkey` with the password, password (SCRAM) authentication
    /// for every connection, then the settings.
    fn init(&self) {
        let pwfile = self.dir.path().join("pwfile");
        std::fs::write(&pwfile, format!("{}\n", self.password)).expect("write the password file");
        std::fs::set_permissions(&pwfile, std::fs::Permissions::from_mode(0o600))
            .expect("make the password file private");
        if let Some(owner) = self.owner {
            chown(&pwfile, owner);
        }
        let mut initdb = self.command("initdb");
        initdb
            .arg("--pgdata")
            .arg(self.data_dir())
            .args(["--username", USER, "--auth", "scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .args(["--encoding", "UTF8", "--no-locale", "--no-sync"]);
        run(&mut initdb, "initdb");
        std::fs::remove_file(&pwfile).expect("remove the password file");

        let conf = self.data_dir().join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).expect("read postgresql.conf");
        text.push_str(SETTINGS);
        // The socket in the temp dir: the default, /var/run/postgresql, may not exist or may
        // not be ours to write.
        text.push_str(&format!(
            "unix_socket_directories = '{}'\n",
            self.dir.path().display()
        ));
        std::fs::write(&conf, text).expect("write postgresql.conf");
    }

    /// `pg_ctl start` on a free port, retried on another port if the server does not come up.
    fn start_server(&mut self) {
        let mut failure = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = crate::smtp::free_port();
            let output = self.pg_ctl_start(port).output().unwrap_or_else(|e| {
                panic!("cannot run {}: {e}", self.bin.join("pg_ctl").display())
            });
            if output.status.success() {
                self.port = port;
                return;
            }
            failure = format!(
                "{}\nserver log:\n{}",
                describe_failure("pg_ctl start", &output),
                self.log()
            );
        }
        panic!("PostgreSQL did not start in {START_ATTEMPTS} attempts; the last: {failure}");
    }

    /// `pg_ctl start` of this cluster on `port`, waiting until it serves.
    fn pg_ctl_start(&self, port: u16) -> Command {
        let mut pg_ctl = self.command("pg_ctl");
        pg_ctl
            .arg("start")
            .arg("--pgdata")
            .arg(self.data_dir())
            // The server's output goes to the log file, never to our pipes: `output()` would
            // otherwise wait for the server to exit.
            .arg("--log")
            .arg(self.log_path())
            .args(["--wait", "--timeout", "60", "--silent"])
            .arg(format!("--options=-p {port}"));
        pg_ctl
    }

    /// Runs `sql` in `database` with `psql` over TCP, the password in `PGPASSWORD` (not on the
    /// command line, which `ps` shows).
    fn psql_in(&self, database: &str, sql: &str) -> String {
        // The client runs as this process's user: only the server refuses root.
        let mut psql = Command::new(self.bin.join("psql"));
        psql.stdin(Stdio::null())
            .env("PGPASSWORD", &self.password)
            // Neither a ~/.psqlrc nor PG* variables of the environment play a part.
            .env_remove("PGSERVICE")
            .env_remove("PGOPTIONS")
            .args(["--no-psqlrc", "--quiet", "--no-align", "--tuples-only"])
            .args(["--set", "ON_ERROR_STOP=1"])
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--username", USER, "--dbname", database])
            .args(["--command", sql]);
        run(&mut psql, &format!("psql -d {database} -c {sql:?}"))
    }

    /// `pg_ctl stop -m fast`; a failure is printed, not raised (this runs in `drop`).
    fn stop(&self) {
        let mut pg_ctl = self.command("pg_ctl");
        pg_ctl
            .arg("stop")
            .arg("--pgdata")
            .arg(self.data_dir())
            .args(["--mode", "fast", "--wait", "--silent"]);
        match pg_ctl.output() {
            Ok(output) if output.status.success() => {}
            Ok(output) => eprintln!("{}", describe_failure("pg_ctl stop", &output)),
            Err(e) => eprintln!("cannot run pg_ctl stop: {e}"),
        }
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if self.port != 0 {
            self.stop();
        }
        // Closing its stdin sets the watchdog off (the server is already stopped: it just
        // removes the temp dir); waiting for it keeps its `rm -rf` from racing `TempDir`'s.
        if let Some(mut watchdog) = self.watchdog.take() {
            drop(watchdog.stdin.take());
            let _ = watchdog.wait();
        }
    }
}

/// The newest major version's `bin` directory that has the server programs.
fn server_bin() -> Option<PathBuf> {
    let versions = match std::fs::read_dir(INSTALL_ROOT) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return None,
        Err(e) => panic!("cannot list {INSTALL_ROOT}: {e}"),
    };
    versions
        .filter_map(|entry| {
            let entry = entry.ok()?;
            // "15", "16", …; "9.6" sorts as 9.
            let name = entry.file_name().to_string_lossy().into_owned();
            let major: u32 = name.split('.').next()?.parse().ok()?;
            let bin = entry.path().join("bin");
            ["initdb", "pg_ctl", "psql"]
                .iter()
                .all(|program| bin.join(program).is_file())
                .then_some((major, bin))
        })
        .max_by_key(|(major, _)| *major)
        .map(|(_, bin)| bin)
}

/// The `postgres` user's uid and gid (made by the Debian package), asked of `id` so that users
/// from NSS count too.
fn postgres_os_user() -> OsUser {
    let id = |flag: &str| -> u32 {
        let mut command = Command::new("id");
        command.args([flag, OS_USER_WHEN_ROOT]);
        let out = run(&mut command, &format!("id {flag} {OS_USER_WHEN_ROOT}"));
        out.trim().parse().unwrap_or_else(|e| {
            panic!("id {flag} {OS_USER_WHEN_ROOT} printed {out:?}, not a number: {e}")
        })
    };
    OsUser {
        uid: id("-u"),
        gid: id("-g"),
    }
}

fn chown(path: &Path, owner: OsUser) {
    std::os::unix::fs::chown(path, Some(owner.uid), Some(owner.gid)).unwrap_or_else(|e| {
        panic!(
            "cannot give {} to the {OS_USER_WHEN_ROOT} user: {e}",
            path.display()
        )
    });
}

/// Letters and digits only, so the password goes into a URL as it is.
fn random_password() -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}

/// Runs `command` and returns its stdout; panics naming `what`, with its stderr, if it fails.
fn run(command: &mut Command, what: &str) -> String {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    if !output.status.success() {
        panic!("{}", describe_failure(what, &output));
    }
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn describe_failure(what: &str, output: &Output) -> String {
    format!(
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout),
    )
}
