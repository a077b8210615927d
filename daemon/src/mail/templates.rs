//! The messages Latchkey sends, as askama templates compiled into the binary
//! (`daemon/templates/mail/`): each renders a plain-text and an HTML part,
//! with the app name in the subject and the body. No images, no remote
//! resources, no tracking links.

use askama::Template;

/// A message ready to queue or send.
#[derive(Clone, PartialEq, Eq)]
pub struct RenderedMail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Bodies hold sign-in links and codes.
impl std::fmt::Debug for RenderedMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderedMail")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// A template failed to render: a bug, reported rather than panicking.
#[derive(Debug, thiserror::Error)]
#[error("cannot render the {what} mail: {source}")]
pub struct RenderError {
    what: &'static str,
    #[source]
    source: askama::Error,
}

fn render(
    what: &'static str,
    subject: String,
    text: &impl Template,
    html: &impl Template,
) -> Result<RenderedMail, RenderError> {
    let wrap = |source| RenderError { what, source };
    Ok(RenderedMail {
        subject,
        text: text.render().map_err(wrap)?,
        html: html.render().map_err(wrap)?,
    })
}

/// Declares what one message says: a struct of its fields, and `render`, which
/// fills both of its templates from them. Each template wraps the fields and
/// reaches them through `Deref`, so the templates name them plainly.
macro_rules! mail {
    (
        $(#[$doc:meta])*
        $vis:vis struct $mail:ident = $text:literal, $html:literal {
            $($(#[$field_doc:meta])* $field:ident: $ty:ty),* $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        $vis struct $mail<'a> {
            $($(#[$field_doc])* pub $field: $ty,)*
        }

        impl $mail<'_> {
            fn render(
                self,
                what: &'static str,
                subject: String,
            ) -> Result<RenderedMail, RenderError> {
                mail!(@part Text = $text, $mail);
                mail!(@part Html = $html, $mail);
                render(what, subject, &Text(self), &Html(self))
            }
        }
    };
    (@part $part:ident = $path:literal, $mail:ident) => {
        #[derive(Template)]
        #[template(path = $path)]
        struct $part<'a>($mail<'a>);

        impl<'a> std::ops::Deref for $part<'a> {
            type Target = $mail<'a>;

            fn deref(&self) -> &$mail<'a> {
                &self.0
            }
        }
    };
}

mail! {
    struct SignInLinkMail = "mail/sign_in_link.txt", "mail/sign_in_link.html" {
        app_name: &'a str, link: &'a str, code: &'a str, minutes: i64,
    }
}

/// The one-time sign-in link a user asked for.
pub fn sign_in_link(
    app_name: &str,
    link: &str,
    code: &str,
    minutes: i64,
) -> Result<RenderedMail, RenderError> {
    let subject = format!("Sign in to {app_name}");
    let m = SignInLinkMail {
        app_name,
        link,
        code,
        minutes,
    };
    m.render("sign-in link", subject)
}

mail! {
    /// What `login_code` needs to say.
    pub struct LoginCodeMail = "mail/login_code.txt", "mail/login_code.html" {
        app_name: &'a str, name: &'a str, username: &'a str, link: &'a str,
        entry_url: &'a str, code: &'a str, expires: &'a str,
    }
}

/// A login code an admin chose to email.
pub fn login_code(m: LoginCodeMail<'_>) -> Result<RenderedMail, RenderError> {
    let subject = format!("Your login code for {}", m.app_name);
    m.render("login code", subject)
}

mail! {
    /// What `new_device` needs to say.
    pub struct NewDeviceMail = "mail/new_device.txt", "mail/new_device.html" {
        app_name: &'a str, name: &'a str, username: &'a str, when: &'a str,
        method: &'a str, ip: &'a str, browser: &'a str,
    }
}

/// A sign-in from a browser never seen for the user.
pub fn new_device(m: NewDeviceMail<'_>) -> Result<RenderedMail, RenderError> {
    let subject = format!("New sign-in to {}", m.app_name);
    m.render("new device", subject)
}

mail! {
    /// What `verify_email` needs to say.
    pub struct VerifyEmailMail = "mail/verify_email.txt", "mail/verify_email.html" {
        app_name: &'a str, name: &'a str, username: &'a str, address: &'a str,
        link: &'a str, expires: &'a str,
    }
}

/// The link that proves an address belongs to the account.
pub fn verify_email(m: VerifyEmailMail<'_>) -> Result<RenderedMail, RenderError> {
    let subject = format!("Confirm your email address for {}", m.app_name);
    m.render("email verification", subject)
}

mail! {
    /// What `passkey_added` needs to say.
    pub struct PasskeyAddedMail = "mail/passkey_added.txt", "mail/passkey_added.html" {
        app_name: &'a str, name: &'a str, username: &'a str, passkey: &'a str, when: &'a str,
        /// How the session that added it was signed in, in words.
        method: &'a str,
        ip: &'a str, browser: &'a str,
    }
}

/// A passkey was added to the account.
pub fn passkey_added(m: PasskeyAddedMail<'_>) -> Result<RenderedMail, RenderError> {
    let subject = format!("A passkey was added to your {} account", m.app_name);
    m.render("passkey added", subject)
}

mail! {
    struct TestMail = "mail/test.txt", "mail/test.html" {
        app_name: &'a str, public_url: &'a str,
    }
}

/// `latchkey email test`.
pub fn test_message(app_name: &str, public_url: &str) -> Result<RenderedMail, RenderError> {
    let subject = format!("Test message from {app_name}");
    TestMail {
        app_name,
        public_url,
    }
    .render("test", subject)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_link_has_both_parts_the_app_name_and_no_tracking() {
        let mail = sign_in_link(
            "Acme <ID>",
            "https://id.example/login/email/abc",
            "K7QD-M2XH",
            15,
        )
        .unwrap();
        assert_eq!(mail.subject, "Sign in to Acme <ID>");
        assert!(mail.text.contains("Acme <ID>"), "text is not HTML-escaped");
        assert!(mail.text.contains("https://id.example/login/email/abc"));
        assert!(mail.text.contains("K7QD-M2XH"));
        assert!(mail.html.contains("Acme &#60;ID&#62;") || mail.html.contains("Acme &lt;ID&gt;"));
        assert!(mail.html.contains("K7QD-M2XH"));
        assert!(!mail.html.contains("<img"));
        assert!(!format!("{mail:?}").contains("K7QD"));
    }

    #[test]
    fn every_message_renders() {
        login_code(LoginCodeMail {
            app_name: "A",
            name: "N",
            username: "u",
            link: "l",
            entry_url: "e",
            code: "c",
            expires: "x",
        })
        .unwrap();
        new_device(NewDeviceMail {
            app_name: "A",
            name: "N",
            username: "u",
            when: "w",
            method: "m",
            ip: "i",
            browser: "b",
        })
        .unwrap();
        let verify = verify_email(VerifyEmailMail {
            app_name: "A",
            name: "N",
            username: "u",
            address: "a@example.com",
            link: "https://id.example/email/verify/tok",
            expires: "x",
        })
        .unwrap();
        assert!(verify.text.contains("https://id.example/email/verify/tok"));
        assert!(verify.html.contains("a@example.com"));
        let added = passkey_added(PasskeyAddedMail {
            app_name: "A",
            name: "N",
            username: "u",
            passkey: "Phone <1>",
            when: "w",
            method: "a login code",
            ip: "192.0.2.1",
            browser: "b",
        })
        .unwrap();
        assert!(added.text.contains("Phone <1>") && added.text.contains("a login code"));
        assert!(!added.html.contains("Phone <1>"), "escaped in HTML");
        let test = test_message("A", "http://x").unwrap();
        assert!(test.subject.contains('A'));
    }
}
