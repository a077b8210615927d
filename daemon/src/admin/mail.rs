//! Email requests: the test message, the outbox status, and login codes sent
//! by email.

use std::time::Duration;

use latchkey_protocol::{ApiError, ErrorCode, MailStatusView, NewLoginCode, Response};

use super::context::ConnectionContext;
use super::errors::api_error;
use super::views;
use crate::idm::Actor;
use crate::mail::OutgoingMail;

/// `SendTestEmail`: sends synchronously (not through the outbox) and answers
/// with the SMTP server's own error. Runs on the blocking pool, like every
/// handler, so it may wait on the runtime here.
pub(super) fn send_test(
    ctx: &ConnectionContext,
    actor: &Actor,
    to: &str,
) -> Result<Response, ApiError> {
    let idm = &ctx.idm;
    let Some(to) = crate::idm::normalize_address(to) else {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            format!("{to:?} is not an email address"),
        )
        .with_field("to"));
    };
    let Some(smtp) = idm.smtp_settings().map_err(api_error)? else {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            "SMTP is not configured: set smtp.host and smtp.from first",
        )
        .with_field("smtp"));
    };
    let rendered = idm
        .render_test_mail(ctx.info.public_url.trim_end_matches('/'))
        .map_err(api_error)?;
    let mail = OutgoingMail {
        to,
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
    };
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("cannot send from here: {e}")))?;
    let result = runtime.block_on(ctx.mail.mailer.send(&smtp, &mail));
    let error = result.as_ref().err().map(|e| e.0.clone());
    if let Err(e) = idm.audit_test_mail(actor, error.as_deref()) {
        tracing::warn!("could not audit the test mail: {e}");
    }
    match error {
        None => Ok(Response::Done),
        Some(error) => Err(ApiError::new(
            ErrorCode::InvalidInput,
            format!(
                "the test message to {}:{} was not sent: {error}",
                smtp.host, smtp.port
            ),
        )
        .with_field("smtp")),
    }
}

/// `MailStatus`.
pub(super) fn status(ctx: &ConnectionContext) -> Result<Response, ApiError> {
    let status = ctx.idm.mail_status().map_err(api_error)?;
    Ok(Response::MailStatus {
        status: MailStatusView {
            configured: status.configured,
            queued: status.queued,
            retrying: status.retrying,
            failed: status.failed,
            last_error: status.last_error,
            last_sent_at: status.last_sent_at,
        },
    })
}

/// `CreateLoginCode` with `send_email`: the code, and its mail queued in the
/// same transaction.
pub(super) fn login_code_emailed(
    ctx: &ConnectionContext,
    actor: &Actor,
    input: &NewLoginCode,
) -> Result<Response, ApiError> {
    let public_url = ctx.info.public_url.trim_end_matches('/');
    let (_, issued) = ctx
        .idm
        .create_login_code_emailed(
            actor,
            &input.user,
            Duration::from_secs(input.expires_in_secs),
            public_url,
        )
        .map_err(api_error)?;
    let mut created = views::login_code_created(issued, &ctx.info.public_url);
    created.emailed = true;
    Ok(Response::LoginCode { code: created })
}
