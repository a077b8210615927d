//! `DatabaseUrl`: the PostgreSQL database the daemon keeps its data in instead of the embedded
//! file, so that several replicas can share it.
//!
//! The URL usually carries a password, so it is handled like a secret that has a harmless
//! shape: `Debug`, `Display` and every error show it with the password (in the user info or a
//! `password`/`sslpassword` query parameter) replaced by `***`; only [`DatabaseUrl::expose`]
//! gives the real one, to the code that connects.

use std::fmt;
use std::str::FromStr;

/// What a password in a database URL is shown as.
pub const PASSWORD_MASK: &str = "***";

/// The shape expected, for messages.
const EXAMPLE: &str = "postgres://latchkey:PASSWORD@db.example.com:5432/latchkey";

/// Query parameters of a libpq connection URI whose values are secrets.
const SECRET_PARAMETERS: [&str; 2] = ["password", "sslpassword"];

/// A validated `postgres://` or `postgresql://` URL. Its parts (host, port, database, query
/// parameters such as `sslmode`) are left to the PostgreSQL client that connects with it.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    /// As given: the client parses it itself, so it gets exactly what the operator wrote.
    url: String,
    /// For display, with any password masked.
    redacted: String,
    has_password: bool,
}

/// Why a value is not a database URL. No variant holds or prints the value itself, which may
/// contain a password; the scheme is shown because it cannot.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DatabaseUrlError {
    /// Blanks or control characters: never part of a URL, and easily pasted by mistake.
    #[error(
        "expected a PostgreSQL URL like {EXAMPLE}, got a value with whitespace or control \
         characters"
    )]
    Whitespace,
    /// Not a URL at all.
    #[error("expected a PostgreSQL URL like {EXAMPLE}, got a value that is not a URL ({0})")]
    NotUrl(url::ParseError),
    /// A URL of another scheme.
    #[error(
        "expected a postgres:// or postgresql:// URL like {EXAMPLE}, got a URL of scheme \
         {scheme:?}"
    )]
    Scheme {
        /// The scheme given, lower-cased.
        scheme: String,
    },
    /// `postgres:` without `//` and an authority.
    #[error("expected {scheme}:// followed by the server, like {EXAMPLE}")]
    NoAuthority {
        /// The scheme given, lower-cased.
        scheme: String,
    },
}

impl DatabaseUrl {
    /// The URL with its password, for the PostgreSQL client only: never log or print it.
    pub fn expose(&self) -> &str {
        &self.url
    }

    /// Whether the URL carries a password (shown masked).
    pub fn has_password(&self) -> bool {
        self.has_password
    }
}

impl FromStr for DatabaseUrl {
    type Err = DatabaseUrlError;

    fn from_str(input: &str) -> Result<Self, DatabaseUrlError> {
        // The `url` crate would silently drop these; refuse them instead.
        if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(DatabaseUrlError::Whitespace);
        }
        let parsed = url::Url::parse(input).map_err(DatabaseUrlError::NotUrl)?;
        let scheme = parsed.scheme().to_owned();
        if scheme != "postgres" && scheme != "postgresql" {
            return Err(DatabaseUrlError::Scheme { scheme });
        }
        if parsed.cannot_be_a_base() {
            return Err(DatabaseUrlError::NoAuthority { scheme });
        }
        let has_password = parsed.password().is_some()
            || parsed
                .query_pairs()
                .any(|(name, _)| SECRET_PARAMETERS.contains(&name.as_ref()));
        Ok(DatabaseUrl {
            url: input.to_owned(),
            redacted: redact(&parsed),
            has_password,
        })
    }
}

/// `url` with the password and secret query parameters replaced by [`PASSWORD_MASK`].
fn redact(url: &url::Url) -> String {
    let mut shown = url.clone();
    // Only a URL with a host can hold a password, and so be given a masked one; if that still
    // fails, show nothing but the scheme rather than risk showing the password.
    if shown.password().is_some() && shown.set_password(Some(PASSWORD_MASK)).is_err() {
        return format!("{}://{PASSWORD_MASK}", url.scheme());
    }
    if shown
        .query_pairs()
        .any(|(name, _)| SECRET_PARAMETERS.contains(&name.as_ref()))
    {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(name, value)| {
                let value = if SECRET_PARAMETERS.contains(&name.as_ref()) {
                    PASSWORD_MASK.to_owned()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    shown.into()
}

impl fmt::Display for DatabaseUrl {
    /// The URL with its password masked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Debug for DatabaseUrl {
    /// `DatabaseUrl("postgres://latchkey:***@db/latchkey")`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl").field(&self.redacted).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str) -> Result<DatabaseUrl, DatabaseUrlError> {
        input.parse()
    }

    #[test]
    fn accepts_both_schemes_and_keeps_the_url_as_given() {
        let url = parse("postgres://latchkey:hunter2@db.example.com:5432/latchkey").unwrap();
        assert_eq!(
            url.expose(),
            "postgres://latchkey:hunter2@db.example.com:5432/latchkey"
        );
        assert!(url.has_password());
        let url = parse("postgresql://db/latchkey?sslmode=require").unwrap();
        assert_eq!(url.expose(), "postgresql://db/latchkey?sslmode=require");
        assert_eq!(url.to_string(), url.expose());
        assert!(!url.has_password());
        // A socket directory instead of a host, as libpq allows.
        assert!(parse("postgresql:///latchkey?host=/run/postgresql").is_ok());
        assert!(parse("POSTGRES://db/x").is_ok());
    }

    #[test]
    fn the_password_never_shows() {
        let url = parse("postgres://latchkey:hunter2@db:5432/latchkey?sslmode=require").unwrap();
        assert_eq!(
            url.to_string(),
            "postgres://latchkey:***@db:5432/latchkey?sslmode=require"
        );
        assert_eq!(
            format!("{url:?}"),
            "DatabaseUrl(\"postgres://latchkey:***@db:5432/latchkey?sslmode=require\")"
        );
        assert_eq!(
            format!("{:?}", Some(&url)),
            "Some(DatabaseUrl(\"postgres://latchkey:***@db:5432/latchkey?sslmode=require\"))"
        );

        // libpq also takes the password, and a client key's passphrase, as query parameters.
        let url = parse(
            "postgresql://latchkey@db/latchkey?password=hunter2&sslmode=verify-full\
             &sslpassword=swordfish",
        )
        .unwrap();
        assert!(url.has_password());
        let shown = url.to_string();
        assert!(
            !shown.contains("hunter2") && !shown.contains("swordfish"),
            "{shown}"
        );
        assert_eq!(
            shown,
            "postgresql://latchkey@db/latchkey?password=***&sslmode=verify-full&sslpassword=***"
        );
        // Percent-encoded passwords are masked too.
        let url = parse("postgres://u:p%40ss%3Aword@db/x").unwrap();
        assert_eq!(url.to_string(), "postgres://u:***@db/x");
    }

    #[test]
    fn refusals_explain_without_repeating_the_value() {
        let cases = [
            (
                "mysql://root:hunter2@db/x",
                "expected a postgres:// or postgresql:// URL like \
                 postgres://latchkey:PASSWORD@db.example.com:5432/latchkey, got a URL of scheme \
                 \"mysql\"",
            ),
            ("root:hunter2@db", "got a URL of scheme \"root\""),
            ("hunter2@db/x", "got a value that is not a URL"),
            (
                "postgres:hunter2",
                "expected postgres:// followed by the server",
            ),
            (
                "postgres://u:hunter2 @db/x",
                "whitespace or control characters",
            ),
            ("", "got a value that is not a URL"),
        ];
        for (input, expected) in cases {
            let message = parse(input).unwrap_err().to_string();
            assert!(message.contains(expected), "{input}: {message}");
            assert!(!message.contains("hunter2"), "{input}: {message}");
        }
    }
}
