//! Outgoing mail: the only module that imports lettre.
//!
//! - `templates` — the messages, askama templates compiled into the binary;
//! - [`Mailer`] — the boundary to the SMTP server (a trait, so the delivery
//!   logic can be driven without one), [`SmtpMailer`] the real one, which
//!   sends with the typed [`SmtpSettings`] idm reads from the database.
//!
//! Mail the daemon sends on its own is queued in the outbox (`idm`) and
//! delivered by `jobs::mail_delivery`; only the admin's test message is sent
//! directly, so that the admin sees the SMTP server's own answer. Nothing
//! here knows about idm.

mod smtp_settings;
pub mod templates;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart, header};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncTransport, Message, Tokio1Executor};
use tokio::sync::Notify;

pub use smtp_settings::{SmtpSettings, SmtpTls};

/// How long one SMTP conversation may take before it counts as failed.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// One message to send: a plain-text and an HTML alternative.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl std::fmt::Debug for OutgoingMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingMail")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Why a message was not sent: the SMTP server's or the network's own
/// words, with every cause in the chain (never the password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MailError(pub String);

/// What the boxed future of [`Mailer::send`] is.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), MailError>> + Send + 'a>>;

/// Sends one message through the SMTP server `smtp` describes.
pub trait Mailer: Send + Sync + std::fmt::Debug {
    fn send<'a>(&'a self, smtp: &'a SmtpSettings, mail: &'a OutgoingMail) -> SendFuture<'a>;
}

/// The real mailer: one lettre SMTP connection per message (mail is rare:
/// sign-in links, codes, notices), with TLS by rustls.
#[derive(Debug, Default, Clone, Copy)]
pub struct SmtpMailer;

impl Mailer for SmtpMailer {
    fn send<'a>(&'a self, smtp: &'a SmtpSettings, mail: &'a OutgoingMail) -> SendFuture<'a> {
        Box::pin(async move {
            let message = build_message(smtp, mail)?;
            let transport = transport(smtp)?;
            transport
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| MailError(with_hint(smtp, &e)))
        })
    }
}

/// The daemon's mail service: the mailer and the worker's wake-up call.
#[derive(Debug, Clone)]
pub struct MailService {
    pub mailer: Arc<dyn Mailer>,
    pub wake: Arc<Notify>,
}

impl MailService {
    pub fn new(mailer: Arc<dyn Mailer>) -> MailService {
        MailService {
            mailer,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Makes the worker look at the outbox now (mail was queued, settings
    /// changed, or a test moved its clock).
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// An error and its causes, joined: lettre's own text is short ("Connection
/// error"), the cause says what happened ("Connection refused").
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if more.starts_with(&text) {
            text = more;
        } else if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// The error, plus what to check when it is a TLS mismatch: a server that
/// does not speak TLS where `smtp.tls` expects it (or the other way round)
/// shows up as a garbled handshake, which says little by itself.
fn with_hint(smtp: &SmtpSettings, error: &lettre::transport::smtp::Error) -> String {
    let text = describe(error);
    let lower = text.to_lowercase();
    let garbled = lower.contains("corrupt message")
        || lower.contains("invalidcontenttype")
        || lower.contains("wrong version number")
        || lower.contains("unexpected eof")
        || lower.contains("handshake");
    let hint = match smtp.tls {
        SmtpTls::Tls if garbled || error.is_tls() => Some(
            "smtp.tls is \"tls\" (TLS from the first byte, usually port 465), but the server \
             did not answer with TLS; if it expects STARTTLS (usually port 587) set smtp.tls to \
             \"starttls\"",
        ),
        SmtpTls::StartTls if lower.contains("certificate") => Some(
            "the server's certificate is not trusted; fix the certificate, or set \
             smtp.skip_cert_verify to true if you accept the risk",
        ),
        SmtpTls::StartTls if garbled || error.is_tls() => Some(
            "smtp.tls is \"starttls\"; if the server expects TLS from the first byte (usually \
             port 465) set smtp.tls to \"tls\"",
        ),
        SmtpTls::None if lower.contains("starttls") || lower.contains("530") => Some(
            "the server wants an encrypted connection; set smtp.tls to \"starttls\" or \"tls\"",
        ),
        _ => None,
    };
    match hint {
        Some(hint) => format!("{text} ({hint})"),
        None => text,
    }
}

fn build_message(smtp: &SmtpSettings, mail: &OutgoingMail) -> Result<Message, MailError> {
    let from: Mailbox = smtp
        .from
        .parse()
        .map_err(|e| MailError(format!("smtp.from {:?} is not an address: {e}", smtp.from)))?;
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|e| MailError(format!("the recipient is not an address: {e}")))?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.clone())
        .header(header::MIME_VERSION_1_0)
        .multipart(MultiPart::alternative_plain_html(
            mail.text.clone(),
            mail.html.clone(),
        ))
        .map_err(|e| MailError(format!("cannot build the message: {e}")))
}

fn transport(smtp: &SmtpSettings) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    let tls_parameters = || {
        TlsParameters::builder(smtp.host.clone())
            .dangerous_accept_invalid_certs(smtp.skip_cert_verify)
            .dangerous_accept_invalid_hostnames(smtp.skip_cert_verify)
            .build_rustls()
            .map_err(|e| MailError(format!("cannot set up TLS: {}", describe(&e))))
    };
    let tls = match smtp.tls {
        SmtpTls::None => Tls::None,
        SmtpTls::StartTls => Tls::Required(tls_parameters()?),
        SmtpTls::Tls => Tls::Wrapper(tls_parameters()?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.clone())
        .port(smtp.port)
        .tls(tls)
        .timeout(Some(SMTP_TIMEOUT));
    if let Some(username) = &smtp.username {
        let password = smtp.password.clone().unwrap_or_default();
        builder = builder.credentials(Credentials::new(username.clone(), password));
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smtp(from: &str) -> SmtpSettings {
        SmtpSettings {
            host: "127.0.0.1".into(),
            port: 1,
            username: None,
            password: None,
            from: from.into(),
            tls: SmtpTls::None,
            skip_cert_verify: false,
        }
    }

    fn mail(to: &str) -> OutgoingMail {
        OutgoingMail {
            to: to.into(),
            subject: "Hello from Acme".into(),
            text: "plain".into(),
            html: "<p>html</p>".into(),
        }
    }

    #[test]
    fn messages_are_multipart_alternative_with_both_parts() {
        let message =
            build_message(&smtp("Acme <id@example.com>"), &mail("a@example.com")).unwrap();
        let raw = String::from_utf8(message.formatted()).unwrap();
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("text/plain"));
        assert!(raw.contains("text/html"));
        assert!(raw.contains("Subject: Hello from Acme"));
    }

    #[test]
    fn a_bad_sender_is_a_clear_error() {
        let err = build_message(&smtp("not an address"), &mail("a@example.com")).unwrap_err();
        assert!(err.0.contains("smtp.from"), "{err}");
    }

    #[tokio::test]
    async fn a_closed_port_says_so() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let mut settings = smtp("id@example.com");
        settings.port = port;
        let err = SmtpMailer
            .send(&settings, &mail("a@example.com"))
            .await
            .unwrap_err();
        assert!(err.0.to_lowercase().contains("refused"), "{err}");
    }
}
