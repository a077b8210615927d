//! Tests of the layering as a whole; each layer's own tests sit next to it.

use std::path::{Path, PathBuf};

use clap::Parser;

use super::*;

const EXAMPLE: &str = include_str!("../../../config.example.toml");

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn cli(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("latchkeyd").chain(args.iter().copied())).unwrap()
}

/// A temp dir holding `latchkey.toml` with `text`; its path stands in for `./latchkey.toml`.
fn dir_with_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latchkey.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn load(cli: &Cli, env: Vec<(String, String)>, default_file: &Path) -> Result<Config, ConfigError> {
    Config::load_with_default_file(cli, env, default_file)
}

#[test]
fn defaults() {
    let config = load(
        &Cli::default(),
        Vec::new(),
        Path::new("/nonexistent/latchkey.toml"),
    )
    .unwrap();
    assert_eq!(config, Config::default());
    assert_eq!(config.listen.to_string(), "127.0.0.1:1411");
    assert_eq!(config.public_url.as_str(), "http://localhost:1411");
    assert_eq!(config.data_dir, PathBuf::from("./data"));
    assert_eq!(config.socket, PathBuf::from("./data/latchkey.sock"));
    assert_eq!(config.log, "info");
    assert!(config.trusted_proxies.is_empty());
    assert!(config.warnings.is_empty());
    assert_eq!(config.db_path(), PathBuf::from("./data/latchkey.redb"));
    assert_eq!(
        config.encryption_key_file,
        PathBuf::from("./data/secret.key")
    );
    assert!(config.encryption_key.is_none());
    assert!(config.database_url.is_none());
    assert_eq!(config.data_location(), "./data/latchkey.redb");
}

#[test]
fn the_key_file_follows_data_dir_and_cannot_be_combined_with_an_env_key() {
    let nowhere = Path::new("/nonexistent");
    let config = load(&cli(&["--data-dir", "/srv/l"]), Vec::new(), nowhere).unwrap();
    assert_eq!(
        config.encryption_key_file,
        PathBuf::from("/srv/l/secret.key")
    );
    let config = load(
        &cli(&["--encryption-key-file", "/etc/latchkey/key"]),
        Vec::new(),
        nowhere,
    )
    .unwrap();
    assert_eq!(
        config.encryption_key_file,
        PathBuf::from("/etc/latchkey/key")
    );

    let key = crate::sealing::EncryptionKey::generate().unwrap();
    let with_key = env(&[("LATCHKEY_ENCRYPTION_KEY", &key.to_base64())]);
    let config = load(&Cli::default(), with_key.clone(), nowhere).unwrap();
    assert_eq!(config.encryption_key.unwrap().expose(), &key.to_bytes());
    let err = load(
        &cli(&["--encryption-key-file", "/etc/latchkey/key"]),
        with_key,
        nowhere,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "--encryption-key-file: cannot be used together with LATCHKEY_ENCRYPTION_KEY: set one of them"
    );
}

#[test]
fn load_reads_the_real_environment_shape() {
    // `load` with an environment shaped as `process_env` gives it. The file is named by
    // LATCHKEY_CONFIG, so whatever the working directory holds (a ./latchkey.toml or not) plays
    // no part, and the result is the file's setting over the defaults.
    let (_dir, file) = dir_with_file("log = \"debug\"\n");
    let environment = env(&[("LATCHKEY_CONFIG", file.to_str().unwrap())]);
    let config = Config::load(&Cli::default(), environment).unwrap();
    assert_eq!(
        config,
        Config {
            log: "debug".to_owned(),
            ..Config::default()
        }
    );
    // `process_env` never panics, whatever the environment holds.
    let _ = process_env();
}

#[test]
fn precedence_file_then_env_then_cli() {
    let (_dir, file) = dir_with_file(
        r#"
listen = "127.0.0.1:1001"
public_url = "https://file.example"
data_dir = "/file"
log = "debug"
trusted_proxies = ["10.0.0.1"]
"#,
    );
    let no_cli = Cli::default();
    let from_file = load(&no_cli, Vec::new(), &file).unwrap();
    assert_eq!(from_file.listen.port(), 1001);
    assert_eq!(from_file.public_url.as_str(), "https://file.example");
    assert_eq!(from_file.data_dir, PathBuf::from("/file"));
    assert_eq!(from_file.log, "debug");
    assert_eq!(from_file.trusted_proxies.len(), 1);

    let environment = env(&[
        ("LATCHKEY_LISTEN", "127.0.0.1:1002"),
        ("LATCHKEY_DATA_DIR", "/env"),
        ("LATCHKEY_TRUSTED_PROXIES", ""),
    ]);
    let from_env = load(&no_cli, environment.clone(), &file).unwrap();
    assert_eq!(from_env.listen.port(), 1002);
    assert_eq!(from_env.data_dir, PathBuf::from("/env"));
    assert!(
        from_env.trusted_proxies.is_empty(),
        "an empty variable clears the file's list"
    );
    assert_eq!(
        from_env.public_url.as_str(),
        "https://file.example",
        "file still applies"
    );
    assert_eq!(from_env.log, "debug");

    let flags = cli(&["--listen", "127.0.0.1:1003", "--log", "trace"]);
    let from_cli = load(&flags, environment, &file).unwrap();
    assert_eq!(from_cli.listen.port(), 1003);
    assert_eq!(from_cli.log, "trace");
    assert_eq!(
        from_cli.data_dir,
        PathBuf::from("/env"),
        "environment still applies"
    );
    assert_eq!(
        from_cli.public_url.as_str(),
        "https://file.example",
        "file still applies"
    );
}

#[test]
fn socket_default_follows_the_final_data_dir() {
    let (_dir, file) = dir_with_file("data_dir = \"/file\"\n");
    let config = load(&Cli::default(), Vec::new(), &file).unwrap();
    assert_eq!(config.socket, PathBuf::from("/file/latchkey.sock"));
    assert_eq!(config.db_path(), PathBuf::from("/file/latchkey.redb"));

    let config = load(&cli(&["--data-dir", "/cli"]), Vec::new(), &file).unwrap();
    assert_eq!(config.socket, PathBuf::from("/cli/latchkey.sock"));

    // A socket set in an earlier layer is not moved by a later data_dir.
    let (_dir, file) = dir_with_file("socket = \"/run/latchkey.sock\"\n");
    let config = load(&cli(&["--data-dir", "/cli"]), Vec::new(), &file).unwrap();
    assert_eq!(config.socket, PathBuf::from("/run/latchkey.sock"));
    assert_eq!(config.data_dir, PathBuf::from("/cli"));
}

#[test]
fn socket_too_long_names_its_origin() {
    let long_dir = format!("/{}", "d".repeat(value::MAX_SOCKET_PATH_BYTES));
    let err = load(
        &cli(&["--data-dir", &long_dir]),
        Vec::new(),
        Path::new("/nonexistent"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("socket (default): \"/ddd"), "{err}");
    assert!(
        err.contains("choose a shorter socket path or data directory"),
        "{err}"
    );

    let long_socket = format!("{long_dir}.sock");
    let err = load(
        &Cli::default(),
        env(&[("LATCHKEY_SOCKET", &long_socket)]),
        Path::new("/nonexistent"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("LATCHKEY_SOCKET: "), "{err}");
    let err = load(
        &cli(&["--socket", &long_socket]),
        Vec::new(),
        Path::new("/nonexistent"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("--socket: "), "{err}");
}

#[test]
fn choosing_the_file() {
    let (_dir, implicit) = dir_with_file("log = \"warn\"\n");
    let (_dir2, named) = dir_with_file("log = \"error\"\n");
    let named_str = named.to_str().unwrap();

    assert_eq!(
        load(&Cli::default(), Vec::new(), &implicit).unwrap().log,
        "warn"
    );
    let by_env = env(&[("LATCHKEY_CONFIG", named_str)]);
    assert_eq!(
        load(&Cli::default(), by_env.clone(), &implicit)
            .unwrap()
            .log,
        "error"
    );
    let by_flag = cli(&["--config", named_str]);
    assert_eq!(load(&by_flag, Vec::new(), &implicit).unwrap().log, "error");

    // --config beats LATCHKEY_CONFIG.
    let bogus_env = env(&[("LATCHKEY_CONFIG", "/nonexistent/x.toml")]);
    assert_eq!(
        load(&by_flag, bogus_env.clone(), &implicit).unwrap().log,
        "error"
    );

    // A named file must exist; the implicit one need not.
    let missing = cli(&["--config", "/nonexistent/latchkey.toml"]);
    let err = load(&missing, Vec::new(), &implicit)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "/nonexistent/latchkey.toml: cannot read the configuration file given by --config: "
        ),
        "{err}"
    );
    let err = load(&Cli::default(), bogus_env, &implicit)
        .unwrap_err()
        .to_string();
    assert!(err.contains("given by LATCHKEY_CONFIG"), "{err}");
    assert!(
        load(
            &Cli::default(),
            Vec::new(),
            Path::new("/nonexistent/latchkey.toml")
        )
        .is_ok()
    );
}

#[test]
fn file_errors_surface_through_load() {
    let (_dir, file) = dir_with_file("listen = \"127.0.0.1:1411\"\nlisen = \"x\"\n");
    let err = load(&Cli::default(), Vec::new(), &file).unwrap_err();
    assert!(
        matches!(err, ConfigError::UnknownKey { line: 2, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{} line 2: unknown key \"lisen\", did you mean \"listen\"? (known keys: listen, \
             public_url, data_dir, database_url, encryption_key_file, socket, log, \
             trusted_proxies, header_timeout_secs, idle_timeout_secs, body_timeout_secs, \
             max_connections, tls_cert, tls_key, metrics_listen, log_format, admin_group)",
            file.display()
        )
    );

    let (_dir, file) = dir_with_file("\n\nlisten = \"localhost\"\n");
    let err = load(&Cli::default(), Vec::new(), &file)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "{} line 3: listen: expected an address like 127.0.0.1:1411, got \"localhost\"",
            file.display()
        )
    );
}

#[test]
fn env_errors_and_warnings_surface_through_load() {
    let none = Path::new("/nonexistent");
    let err = load(
        &Cli::default(),
        env(&[("LATCHKEY_PUBLIC_URL", "ftp://x")]),
        none,
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "LATCHKEY_PUBLIC_URL: \"ftp://x\" is not an http or https URL"
    );

    let config = load(&Cli::default(), env(&[("LATCHKEY_LISTN", "x")]), none).unwrap();
    assert_eq!(
        config.warnings,
        ["ignoring unknown environment variable LATCHKEY_LISTN (did you mean LATCHKEY_LISTEN?)"]
    );
}

#[test]
fn passkey_unfriendly_public_urls_warn() {
    let none = Path::new("/nonexistent");
    let warnings = |url: &str| {
        load(&cli(&["--public-url", url]), Vec::new(), none)
            .unwrap()
            .warnings
    };
    assert!(warnings("https://id.example.com").is_empty());
    assert!(warnings("http://localhost:8080").is_empty());
    assert!(warnings("http://auth.localhost").is_empty());
    let ip = warnings("http://127.0.0.1:1411");
    assert_eq!(ip.len(), 1);
    assert!(ip[0].contains("uses an IP address"), "{ip:?}");
    assert!(ip[0].contains("http://localhost:1411"), "{ip:?}");
    let plain = warnings("http://id.example.com");
    assert_eq!(plain.len(), 1);
    assert!(plain[0].contains("plain http"), "{plain:?}");
}

#[test]
fn example_file_loads_and_matches_the_defaults() {
    let (_dir, file) = dir_with_file(EXAMPLE);
    assert_eq!(
        load(&Cli::default(), Vec::new(), &file).unwrap(),
        Config::default()
    );

    // Uncommenting every setting must give exactly the defaults it documents, but for
    // database_url: it has no default, and its line is an example.
    let uncommented: String = EXAMPLE
        .lines()
        .map(|line| {
            let setting = line.strip_prefix('#').filter(|rest| {
                rest.split_once(" = ")
                    .is_some_and(|(key, _)| Key::from_name(key).is_some())
            });
            format!("{}\n", setting.unwrap_or(line))
        })
        .collect();
    let (_dir, file) = dir_with_file(&uncommented);
    let layer = file::read(&file, FileChoice::Flag).unwrap().unwrap();
    for key in Key::ALL {
        let set = match key {
            Key::Listen => layer.listen.is_some(),
            Key::PublicUrl => layer.public_url.is_some(),
            Key::DataDir => layer.data_dir.is_some(),
            Key::DatabaseUrl => layer.database_url.is_some(),
            Key::EncryptionKeyFile => layer.encryption_key_file.is_some(),
            Key::Socket => layer.socket.is_some(),
            Key::Log => layer.log.is_some(),
            Key::TrustedProxies => layer.trusted_proxies.is_some(),
            Key::HeaderTimeout => layer.header_timeout.is_some(),
            Key::IdleTimeout => layer.idle_timeout.is_some(),
            Key::BodyTimeout => layer.body_timeout.is_some(),
            Key::MaxConnections => layer.max_connections.is_some(),
            Key::TlsCert => layer.tls_cert.is_some(),
            Key::TlsKey => layer.tls_key.is_some(),
            Key::MetricsListen => layer.metrics_listen.is_some(),
            Key::LogFormat => layer.log_format.is_some(),
            Key::AdminGroup => layer.admin_group.is_some(),
        };
        assert!(set, "config.example.toml has no `#{} = …` line", key.name());
    }
    // HTTPS needs an https public URL, and admin_group a socket outside the data directory,
    // which the example leaves at their defaults.
    let without_tls: String = uncommented
        .lines()
        .filter(|line| !line.starts_with("tls_") && !line.starts_with("admin_group"))
        .map(|line| format!("{line}\n"))
        .collect();
    let (_dir, file) = dir_with_file(&without_tls);
    let uncommented = load(&Cli::default(), Vec::new(), &file).unwrap();
    assert_eq!(
        uncommented.database_url.as_ref().map(DatabaseUrl::expose),
        Some("postgres://latchkey:PASSWORD@db.example.com:5432/latchkey")
    );
    assert_eq!(
        uncommented.metrics_listen,
        Some("127.0.0.1:9411".parse().unwrap())
    );
    assert_eq!(
        Config {
            database_url: None,
            metrics_listen: None,
            ..uncommented
        },
        Config::default()
    );
}

#[test]
fn example_file_documents_env_and_flag_of_every_setting() {
    for key in Key::ALL {
        assert!(
            EXAMPLE.contains(key.env()),
            "{} is not documented",
            key.env()
        );
        assert!(
            EXAMPLE.contains(&format!("flag: {}", key.flag())),
            "{} is not documented",
            key.flag()
        );
    }
    assert!(EXAMPLE.contains(env::CONFIG_VAR));
}

#[test]
fn check_config_output_is_loadable_toml() {
    let flags = cli(&[
        "--listen",
        "[::1]:8443",
        "--public-url",
        "https://id.example.com/auth/",
        "--data-dir",
        "/var/lib/latchkey \"quoted\"",
        "--socket",
        "/run/latchkey.sock",
        "--log",
        "info,latchkey_daemon=debug",
        "--trusted-proxies",
        "10.0.0.1,::1,10.8.0.0/16",
        "--idle-timeout-secs",
        "120",
    ]);
    let config = load(&flags, Vec::new(), Path::new("/nonexistent")).unwrap();
    let rendered = config.to_toml_redacted();
    assert!(
        rendered.starts_with("# Effective latchkeyd configuration"),
        "{rendered}"
    );
    assert!(rendered.contains("listen = \"[::1]:8443\"\n"), "{rendered}");
    assert!(
        rendered.contains("trusted_proxies = [\"10.0.0.1\", \"::1\", \"10.8.0.0/16\"]"),
        "{rendered}"
    );

    let (_dir, file) = dir_with_file(&rendered);
    assert_eq!(load(&Cli::default(), Vec::new(), &file).unwrap(), config);

    let defaults = Config::default().to_toml_redacted();
    assert!(defaults.contains("trusted_proxies = []"), "{defaults}");
    assert!(
        defaults.contains("header_timeout_secs = 10\n"),
        "{defaults}"
    );
    assert!(rendered.contains("idle_timeout_secs = 120\n"), "{rendered}");
}

#[test]
fn secrets_are_redacted_in_check_config_output() {
    // Pins the mechanism `to_toml_redacted` relies on, then checks the real secret.
    #[derive(serde::Serialize)]
    struct WithSecret {
        smtp_password: Secret<String>,
    }
    let rendered = toml::to_string(&WithSecret {
        smtp_password: Secret::new("hunter2".to_owned()),
    })
    .unwrap();
    assert_eq!(rendered, "smtp_password = \"<redacted>\"\n");
    assert!(!Config::default().to_toml_redacted().contains("hunter2"));

    let key = crate::sealing::EncryptionKey::generate().unwrap();
    let config = load(
        &Cli::default(),
        env(&[("LATCHKEY_ENCRYPTION_KEY", &key.to_base64())]),
        Path::new("/nonexistent"),
    )
    .unwrap();
    let rendered = config.to_toml_redacted();
    assert!(!rendered.contains(&key.to_base64()), "{rendered}");
    assert!(!format!("{config:?}").contains(&key.to_base64()));
    assert!(
        rendered.contains("comes from LATCHKEY_ENCRYPTION_KEY"),
        "{rendered}"
    );
    assert!(!rendered.contains("encryption_key_file"), "{rendered}");
}

const DB_URL: &str = "postgres://latchkey:hunter2@db.example.com:5432/latchkey";

#[test]
fn database_url_from_each_source() {
    let nowhere = Path::new("/nonexistent");
    let (_dir, file) = dir_with_file(&format!("database_url = \"{DB_URL}\"\n"));
    let from_file = load(&Cli::default(), Vec::new(), &file).unwrap();
    assert_eq!(
        from_file.database_url.as_ref().map(DatabaseUrl::expose),
        Some(DB_URL)
    );

    let from_env = load(
        &Cli::default(),
        env(&[("LATCHKEY_DATABASE_URL", DB_URL)]),
        nowhere,
    )
    .unwrap();
    assert_eq!(from_env.database_url, from_file.database_url);

    let from_cli = load(&cli(&["--database-url", DB_URL]), Vec::new(), nowhere).unwrap();
    assert_eq!(from_cli.database_url, from_file.database_url);
    assert_eq!(
        from_cli.data_location(),
        "PostgreSQL postgres://latchkey:***@db.example.com:5432/latchkey"
    );
    // The embedded database's directory still holds the key file and the socket.
    assert_eq!(from_cli.socket, PathBuf::from("./data/latchkey.sock"));
}

#[test]
fn database_url_precedence_file_then_env_then_cli() {
    let url = |host: &str| format!("postgresql://latchkey:hunter2@{host}/latchkey");
    let (_dir, file) = dir_with_file(&format!("database_url = \"{}\"\n", url("file")));
    let expose = |config: &Config| config.database_url.as_ref().unwrap().expose().to_owned();

    let environment = env(&[("LATCHKEY_DATABASE_URL", &url("env"))]);
    let config = load(&Cli::default(), environment.clone(), &file).unwrap();
    assert_eq!(expose(&config), url("env"));

    let flags = cli(&["--database-url", &url("cli")]);
    let config = load(&flags, environment, &file).unwrap();
    assert_eq!(expose(&config), url("cli"));

    // A layer that does not set it leaves the earlier one's.
    let config = load(&cli(&["--log", "debug"]), Vec::new(), &file).unwrap();
    assert_eq!(expose(&config), url("file"));
}

#[test]
fn a_database_url_of_another_scheme_is_refused_naming_its_source() {
    let nowhere = Path::new("/nonexistent");
    let bad = "mysql://root:hunter2@db/latchkey";
    let expected = "expected a postgres:// or postgresql:// URL like \
                    postgres://latchkey:PASSWORD@db.example.com:5432/latchkey, got a URL of \
                    scheme \"mysql\"";

    let (_dir, file) = dir_with_file(&format!("log = \"info\"\ndatabase_url = \"{bad}\"\n"));
    let err = load(&Cli::default(), Vec::new(), &file)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!("{} line 2: database_url: {expected}", file.display())
    );

    let err = load(
        &Cli::default(),
        env(&[("LATCHKEY_DATABASE_URL", bad)]),
        nowhere,
    )
    .unwrap_err()
    .to_string();
    assert_eq!(err, format!("LATCHKEY_DATABASE_URL: {expected}"));

    let err = load(&cli(&["--database-url", bad]), Vec::new(), nowhere)
        .unwrap_err()
        .to_string();
    assert_eq!(err, format!("--database-url: {expected}"));

    // Neither a wrong type in the file nor a mangled variable repeats the value.
    let (_dir, file) = dir_with_file(&format!("database_url = [\"{DB_URL}\"]\n"));
    let err = load(&Cli::default(), Vec::new(), &file)
        .unwrap_err()
        .to_string();
    assert!(err.ends_with("database_url: expected a string like \"postgres://latchkey:PASSWORD@db.example.com:5432/latchkey\", got array"), "{err}");
    let err = load(
        &Cli::default(),
        env(&[("LATCHKEY_DATABASE_URL", "postgres://u:hunter2\u{fffd}@db/x")]),
        nowhere,
    )
    .unwrap_err()
    .to_string();
    assert_eq!(err, "LATCHKEY_DATABASE_URL: the value is not valid UTF-8");
}

#[test]
fn the_database_password_is_redacted_everywhere_it_is_shown() {
    let config = load(
        &Cli::default(),
        env(&[("LATCHKEY_DATABASE_URL", DB_URL)]),
        Path::new("/nonexistent"),
    )
    .unwrap();
    let url = config.database_url.as_ref().unwrap();
    assert_eq!(url.expose(), DB_URL);
    assert_eq!(
        url.to_string(),
        "postgres://latchkey:***@db.example.com:5432/latchkey"
    );
    assert_eq!(
        format!("{url:?}"),
        "DatabaseUrl(\"postgres://latchkey:***@db.example.com:5432/latchkey\")"
    );
    assert!(!format!("{config:?}").contains("hunter2"));
    assert!(!config.data_location().contains("hunter2"));

    let rendered = config.to_toml_redacted();
    assert!(!rendered.contains("hunter2"), "{rendered}");
    assert!(
        rendered.contains(
            "data_dir = \"./data\"\n\
             database_url = \"postgres://latchkey:***@db.example.com:5432/latchkey\"\n"
        ),
        "{rendered}"
    );
    assert!(
        rendered.contains("# The password in database_url is shown as ***.\n"),
        "{rendered}"
    );
    // Still loadable: everything but the password comes back.
    let (_dir, file) = dir_with_file(&rendered);
    let reloaded = load(&Cli::default(), Vec::new(), &file).unwrap();
    assert_eq!(
        reloaded.database_url.as_ref().unwrap().to_string(),
        url.to_string()
    );
    assert_eq!(
        Config {
            database_url: None,
            ..reloaded
        },
        Config {
            database_url: None,
            ..config
        }
    );

    // Unset, it is not printed at all; without a password, there is no note.
    assert!(
        !Config::default()
            .to_toml_redacted()
            .contains("database_url")
    );
    let no_password = load(
        &cli(&[
            "--database-url",
            "postgresql:///latchkey?host=/run/postgresql",
        ]),
        Vec::new(),
        Path::new("/nonexistent"),
    )
    .unwrap()
    .to_toml_redacted();
    assert!(!no_password.contains("shown as ***"), "{no_password}");
}

#[test]
fn tls_needs_both_files_and_an_https_public_url() {
    let none = Path::new("/nonexistent");
    let err = load(&cli(&["--tls-cert", "/c.pem"]), Vec::new(), none)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "--tls-cert: needs tls_key too (the certificate's private key)"
    );
    let err = load(
        &Cli::default(),
        env(&[("LATCHKEY_TLS_KEY", "/k.pem")]),
        none,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("LATCHKEY_TLS_KEY: needs tls_cert too"),
        "{err}"
    );
    let both = ["--tls-cert", "/c.pem", "--tls-key", "/k.pem"];
    let err = load(&cli(&both), Vec::new(), none).unwrap_err().to_string();
    assert!(
        err.contains("public_url is http://localhost:1411: set public_url to the https://"),
        "{err}"
    );
    let args = [&both[..], &["--public-url", "https://id.example.com"]].concat();
    let config = load(&cli(&args), Vec::new(), none).unwrap();
    assert_eq!(
        config.tls,
        Some(TlsFiles {
            cert: PathBuf::from("/c.pem"),
            key: PathBuf::from("/k.pem"),
        })
    );
    assert!(config.to_toml_redacted().contains("tls_key = \"/k.pem\""));
}

#[test]
fn metrics_log_format_and_admin_group_are_checked() {
    let none = Path::new("/nonexistent");
    let err = load(
        &cli(&["--metrics-listen", "127.0.0.1:1411"]),
        Vec::new(),
        none,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("is also the listen address"), "{err}");
    let err = load(
        &Cli::default(),
        env(&[("LATCHKEY_LOG_FORMAT", "yaml")]),
        none,
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "LATCHKEY_LOG_FORMAT: expected \"text\" or \"json\", got \"yaml\""
    );
    assert!(Cli::try_parse_from(["latchkeyd", "--admin-group", "a b"]).is_err());
    let err = load(&cli(&["--admin-group", "lk-admins"]), Vec::new(), none)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "--admin-group: the admin socket ./data/latchkey.sock is in the data directory"
        ),
        "{err}"
    );
    let config = load(
        &cli(&[
            "--log-format",
            "json",
            "--admin-group",
            "lk-admins",
            "--socket",
            "/run/latchkey/latchkey.sock",
        ]),
        env(&[("LATCHKEY_METRICS_LISTEN", "127.0.0.1:9411")]),
        none,
    )
    .unwrap();
    assert_eq!(config.log_format, LogFormat::Json);
    assert_eq!(config.admin_group.as_deref(), Some("lk-admins"));
    assert_eq!(
        config.metrics_listen,
        Some("127.0.0.1:9411".parse().unwrap())
    );
}
