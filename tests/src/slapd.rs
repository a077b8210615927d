//! A real OpenLDAP server for the LDAP sync tests: Debian's `slapd`, started
//! from a generated `slapd.conf` in a temp dir (back_mdb, the memberof
//! overlay) on a free loopback port, loaded with ldap3, killed on drop. With
//! TLS it also serves ldaps:// on a second port and StartTLS on the first,
//! with a self-signed certificate made at start ([`crate::certificate`]).
//! `scripts/install-test-deps` installs `slapd` and `ldap-utils`.

use std::collections::HashSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ldap3::{Ldap, LdapConnAsync, Mod};
use tempfile::TempDir;

pub const BASE_DN: &str = "dc=example,dc=org";
pub const ADMIN_DN: &str = "cn=admin,dc=example,dc=org";
pub const ADMIN_PASSWORD: &str = "slapd-test-secret";
pub const PEOPLE: &str = "ou=people,dc=example,dc=org";
pub const GROUPS: &str = "ou=groups,dc=example,dc=org";

const SLAPD: &str = "/usr/sbin/slapd";
const MODULES: &str = "/usr/lib/ldap";
const SCHEMAS: &str = "/etc/ldap/schema";
/// How long slapd may take to accept a bind (it takes well under a second).
const READY_WITHIN: Duration = Duration::from_secs(15);

/// A running slapd with an empty `dc=example,dc=org` plus `ou=people` and
/// `ou=groups`.
#[derive(Debug)]
pub struct Slapd {
    pub dir: TempDir,
    /// ldap:// (and StartTLS, with TLS).
    pub port: u16,
    /// ldaps://, when started with TLS.
    pub tls_port: Option<u16>,
    child: Child,
}

/// The certificate and key slapd serves TLS with.
struct TlsFiles {
    cert: PathBuf,
    key: PathBuf,
}

fn config(dir: &Path, tls: Option<&TlsFiles>) -> String {
    let db = dir.join("db");
    let tls = tls.map_or_else(String::new, |tls| {
        format!(
            "TLSCertificateFile {}\nTLSCertificateKeyFile {}\n",
            tls.cert.display(),
            tls.key.display()
        )
    });
    format!(
        "{tls}\
         include {SCHEMAS}/core.schema\n\
         include {SCHEMAS}/cosine.schema\n\
         include {SCHEMAS}/inetorgperson.schema\n\
         include {SCHEMAS}/nis.schema\n\
         pidfile {pid}\n\
         modulepath {MODULES}\n\
         moduleload back_mdb\n\
         moduleload memberof\n\
         database mdb\n\
         suffix \"{BASE_DN}\"\n\
         rootdn \"{ADMIN_DN}\"\n\
         rootpw {ADMIN_PASSWORD}\n\
         directory {db}\n\
         maxsize 1073741824\n\
         dbnosync\n\
         index objectClass eq\n\
         index uid eq\n\
         overlay memberof\n",
        pid = dir.join("slapd.pid").display(),
        db = db.display(),
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A set of attribute values, as ldap3 takes them.
fn set(values: &[&str]) -> HashSet<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

impl Slapd {
    /// Whether the tests can run here.
    pub fn installed() -> bool {
        Path::new(SLAPD).exists()
    }

    /// Starts slapd and loads the base entries. Panics (the test fails) if
    /// slapd is missing or does not come up.
    pub async fn start() -> Slapd {
        Slapd::start_with(false).await
    }

    /// [`Slapd::start`], also serving ldaps:// and StartTLS with a self-signed
    /// certificate for 127.0.0.1 that nothing trusts.
    pub async fn start_with_tls() -> Slapd {
        Slapd::start_with(true).await
    }

    async fn start_with(tls: bool) -> Slapd {
        assert!(
            Slapd::installed(),
            "{SLAPD} is missing: run scripts/install-test-deps (Debian packages slapd, ldap-utils)"
        );
        let mut dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("db")).expect("db dir");
        let tls = tls.then(|| {
            let (cert, key) = crate::certificate::self_signed(dir.path());
            TlsFiles { cert, key }
        });
        let conf = dir.path().join("slapd.conf");
        std::fs::write(&conf, config(dir.path(), tls.as_ref())).expect("write slapd.conf");
        // The port is free when chosen; another process may take it before
        // slapd binds, so a slapd that exits early is retried on a new one.
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = free_port();
            let tls_port = tls.is_some().then(free_port);
            let mut urls = format!("ldap://127.0.0.1:{port}/");
            if let Some(tls_port) = tls_port {
                urls.push_str(&format!(" ldaps://127.0.0.1:{tls_port}/"));
            }
            let log = std::fs::File::create(dir.path().join("slapd.log")).expect("log file");
            let child = Command::new(SLAPD)
                .arg("-f")
                .arg(&conf)
                .arg("-h")
                .arg(urls)
                .arg("-d")
                .arg("0")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log file"))
                .stderr(log)
                .spawn()
                .expect("start slapd");
            let mut slapd = Slapd {
                dir,
                port,
                tls_port,
                child,
            };
            if slapd.wait_ready().await {
                slapd.load_base().await;
                return slapd;
            }
            last_log =
                std::fs::read_to_string(slapd.dir.path().join("slapd.log")).unwrap_or_default();
            let _ = slapd.child.kill();
            let _ = slapd.child.wait();
            // Take the directory back out of the dead server.
            dir = std::mem::replace(&mut slapd.dir, tempfile::tempdir().expect("temp dir"));
        }
        panic!("slapd did not start; its log:\n{last_log}");
    }

    /// Polls until an admin bind succeeds (true), slapd exits, or
    /// [`READY_WITHIN`] passes (false).
    async fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + READY_WITHIN;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return false;
            }
            if self.try_bind().await.is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    async fn try_bind(&self) -> Result<Ldap, ldap3::LdapError> {
        let (conn, mut ldap) = LdapConnAsync::new(&self.url()).await?;
        ldap3::drive!(conn);
        ldap.simple_bind(ADMIN_DN, ADMIN_PASSWORD)
            .await?
            .success()?;
        Ok(ldap)
    }

    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// The ldaps:// URL (started with TLS only).
    pub fn ldaps_url(&self) -> String {
        let port = self.tls_port.expect("slapd was started with TLS");
        format!("ldaps://127.0.0.1:{port}")
    }

    pub fn user_dn(uid: &str) -> String {
        format!("uid={uid},{PEOPLE}")
    }

    pub fn group_dn(cn: &str) -> String {
        format!("cn={cn},{GROUPS}")
    }

    /// An admin connection for loading and changing entries.
    pub async fn admin(&self) -> Ldap {
        self.try_bind().await.expect("bind to slapd as its admin")
    }

    async fn load_base(&self) {
        let mut ldap = self.admin().await;
        add(
            &mut ldap,
            BASE_DN,
            vec![
                ("objectClass", set(&["top", "dcObject", "organization"])),
                ("dc", set(&["example"])),
                ("o", set(&["Example"])),
            ],
        )
        .await;
        for (dn, ou) in [(PEOPLE, "people"), (GROUPS, "groups")] {
            add(
                &mut ldap,
                dn,
                vec![
                    ("objectClass", set(&["organizationalUnit"])),
                    ("ou", set(&[ou])),
                ],
            )
            .await;
        }
    }

    /// An inetOrgPerson under `ou=people`.
    pub async fn add_user(&self, uid: &str, given: &str, sn: &str, mail: &str) {
        let mut ldap = self.admin().await;
        add_user_with(&mut ldap, uid, given, sn, mail).await;
    }

    /// Many users over one connection (the benchmark).
    pub async fn add_users(&self, users: impl IntoIterator<Item = (String, String)>) {
        let mut ldap = self.admin().await;
        for (uid, mail) in users {
            add_user_with(&mut ldap, &uid, "Bench", &uid, &mail).await;
        }
    }

    /// A groupOfNames under `ou=groups` whose members are the given uids'
    /// DNs (groupOfNames needs at least one member).
    pub async fn add_group(&self, cn: &str, member_uids: &[&str]) {
        let members: Vec<String> = member_uids.iter().map(|u| Slapd::user_dn(u)).collect();
        let members: Vec<&str> = members.iter().map(String::as_str).collect();
        let mut ldap = self.admin().await;
        add(
            &mut ldap,
            &Slapd::group_dn(cn),
            vec![
                ("objectClass", set(&["groupOfNames"])),
                ("cn", set(&[cn])),
                ("member", set(&members)),
            ],
        )
        .await;
    }

    /// A posixGroup whose members are bare uids (`memberUid`).
    pub async fn add_posix_group(&self, cn: &str, gid: u32, member_uids: &[&str]) {
        let gid = gid.to_string();
        let mut attrs = vec![
            ("objectClass", set(&["posixGroup"])),
            ("cn", set(&[cn])),
            ("gidNumber", set(&[gid.as_str()])),
        ];
        if !member_uids.is_empty() {
            attrs.push(("memberUid", set(member_uids)));
        }
        let mut ldap = self.admin().await;
        add(&mut ldap, &Slapd::group_dn(cn), attrs).await;
    }

    /// Replaces every value of `attr` on `dn`.
    pub async fn replace(&self, dn: &str, attr: &str, values: &[&str]) {
        let mut ldap = self.admin().await;
        ldap.modify(dn, vec![Mod::Replace(attr.to_owned(), set(values))])
            .await
            .and_then(ldap3::LdapResult::success)
            .unwrap_or_else(|e| panic!("modify {dn}: {e}"));
    }

    pub async fn delete(&self, dn: &str) {
        let mut ldap = self.admin().await;
        ldap.delete(dn)
            .await
            .and_then(ldap3::LdapResult::success)
            .unwrap_or_else(|e| panic!("delete {dn}: {e}"));
    }

    /// The entryUUID slapd gave an entry.
    pub async fn entry_uuid(&self, dn: &str) -> String {
        let mut ldap = self.admin().await;
        let (entries, _) = ldap
            .search(dn, ldap3::Scope::Base, "(objectClass=*)", vec!["entryUUID"])
            .await
            .and_then(ldap3::SearchResult::success)
            .unwrap_or_else(|e| panic!("read {dn}: {e}"));
        let entry = ldap3::SearchEntry::construct(entries.into_iter().next().expect("the entry"));
        entry
            .attrs
            .get("entryUUID")
            .and_then(|v| v.first())
            .cloned()
            .expect("an entryUUID")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("slapd.conf")
    }
}

async fn add(ldap: &mut Ldap, dn: &str, attrs: Vec<(&str, HashSet<String>)>) {
    let attrs: Vec<(String, HashSet<String>)> = attrs
        .into_iter()
        .map(|(name, values)| (name.to_owned(), values))
        .collect();
    ldap.add(dn, attrs)
        .await
        .and_then(ldap3::LdapResult::success)
        .unwrap_or_else(|e| panic!("add {dn}: {e}"));
}

async fn add_user_with(ldap: &mut Ldap, uid: &str, given: &str, sn: &str, mail: &str) {
    let cn = format!("{given} {sn}");
    add(
        ldap,
        &Slapd::user_dn(uid),
        vec![
            ("objectClass", set(&["inetOrgPerson"])),
            ("uid", set(&[uid])),
            ("givenName", set(&[given])),
            ("sn", set(&[sn])),
            ("cn", set(&[cn.as_str()])),
            ("mail", set(&[mail])),
        ],
    )
    .await;
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
