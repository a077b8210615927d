//! What the mailer connects with: the `smtp.*` settings, typed. idm reads
//! them from the database (`idm::mail_settings`); this adapter only uses them.

/// `smtp.tls`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text (local relays only).
    None,
    /// Connect in plain text, then upgrade with STARTTLS (required).
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

/// The SMTP settings, once a host and a sender are set. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    pub from: String,
    pub tls: SmtpTls,
    pub skip_cert_verify: bool,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .field("tls", &self.tls)
            .field("skip_cert_verify", &self.skip_cert_verify)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_password() {
        let smtp = SmtpSettings {
            host: "h".into(),
            port: 1,
            username: None,
            password: Some("hunter2".into()),
            from: "f".into(),
            tls: SmtpTls::None,
            skip_cert_verify: false,
        };
        assert!(!format!("{smtp:?}").contains("hunter2"));
    }
}
