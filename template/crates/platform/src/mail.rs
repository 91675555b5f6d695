//! Mail an account receives (a verification link, a password reset), sent
//! so that a request never waits for SMTP and no mail is lost to an outage.
//!
//! A handler queues a mail in the `mail_outbox` table, in the same
//! transaction as the token its link carries ([`Outbox::queue`]), and
//! answers at once. A background task ([`Outbox::spawn_sender`]) claims due
//! mail one at a time and sends it: through SMTP ([`smtp`], `SMTP_URL`), or,
//! with `SMTP_URL` empty (the development default), into the log, links
//! included, so `cargo run` needs no mail server.
//!
//! - **Outages and restarts.** A mail that fails is tried again after 10 s
//!   (`MAIL_RETRY_SECS`), doubling to at most an hour, up to
//!   [`MAX_ATTEMPTS`] times; then it is dropped with an error in the log.
//!   It stays in the table meanwhile, so mail queued while SMTP is down, or
//!   before a restart, is sent once SMTP answers.
//! - **Several instances** (PostgreSQL) share the table. Claiming a mail
//!   moves its next attempt [`LEASE`] ahead in one statement that skips
//!   rows another instance is claiming, so each mail is sent by one
//!   instance. An instance that dies while sending leaves the mail claimed
//!   until the lease ends; another then sends it again. Delivery is at
//!   least once: a crash after the server accepted the mail and before it
//!   was marked sent sends it twice.
//! - **Floods.** A recipient is sent at most `MAIL_PER_ADDRESS_PER_HOUR`
//!   mails (default 5); past that, queueing does nothing (and says so in the
//!   log), so the application cannot be used to fill someone's inbox. Sent
//!   mail stays a day for that count, then is deleted.

mod smtp;

use std::{sync::Arc, time::Duration};

use lettre::{
    AsyncTransport, Message,
    message::{Mailbox, header::ContentType},
};
use tokio::{sync::Notify, task::JoinHandle};

pub use self::smtp::Relay;
use crate::{
    account_tokens::{NewToken, unix_now},
    database::{Engine, MailRow, QueuedMail},
    origin::Origin,
    settings::{ConfigError, Env},
};

/// Attempts at one mail before it is dropped: the delays double from
/// `MAIL_RETRY_SECS` to an hour, about four hours in all by default.
pub const MAX_ATTEMPTS: i32 = 12;
/// How long a claimed mail is held by the instance sending it.
pub const LEASE: Duration = Duration::from_secs(120);
/// How often the outbox is read when nothing wakes the sender (mail queued
/// by another instance).
const POLL: Duration = Duration::from_secs(5);
/// Longest wait between two attempts at one mail.
const MAX_RETRY_DELAY: i64 = 3600;
/// How long sent mail is kept, for the per-address cap.
const KEEP_SENT: i64 = 86_400;

/// A plain-text mail to one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    /// An address the application has validated.
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// How mail leaves this application.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `SMTP_URL`; `None` writes mail to the log.
    pub relay: Option<Relay>,
    /// `MAIL_FROM`: the sender, e.g. `My App <no-reply@example.com>`.
    pub from: Mailbox,
    /// The application's name, for subjects: `MAIL_FROM`'s display name, or
    /// the name the application gives.
    pub app_name: String,
    /// Mails per recipient per hour (`MAIL_PER_ADDRESS_PER_HOUR`).
    pub per_address_per_hour: i64,
    /// Delay before the first retry of a failed mail (`MAIL_RETRY_SECS`).
    pub retry: Duration,
}

impl Settings {
    /// Reads the mail settings; `app_name` names the application where
    /// `MAIL_FROM` does not.
    pub fn from_env(env: &Env, app_name: &str) -> Result<Self, ConfigError> {
        let relay = smtp::from_env(env)?;
        let from_setting = env.var("MAIL_FROM", "");
        let from = if from_setting.value.trim().is_empty() {
            if relay.is_some() {
                return Err(from_setting.error(
                    "is empty, and SMTP_URL is set",
                    "set MAIL_FROM to the address your mail comes from, e.g. \
                     MAIL_FROM=\"My App <no-reply@example.com>\"",
                ));
            }
            Mailbox::new(
                Some(app_name.to_owned()),
                "no-reply@localhost".parse().expect("a valid address"),
            )
        } else {
            from_setting.parse_with(
                |value| {
                    value
                        .parse::<Mailbox>()
                        .map_err(|err| format!("not a mailbox ({err})"))
                },
                "use an address, or a name and an address: \
                 MAIL_FROM=\"My App <no-reply@example.com>\"",
            )?
        };
        let app_name = from.name.clone().unwrap_or_else(|| app_name.to_owned());
        Ok(Self {
            relay,
            from,
            app_name,
            per_address_per_hour: i64::try_from(env.number(
                "MAIL_PER_ADDRESS_PER_HOUR",
                "5",
                1..=1000,
            )?)
            .unwrap_or(1000),
            retry: env.seconds("MAIL_RETRY_SECS", "10", 1..=3600)?,
        })
    }
}

/// The frontend pages an account's mail links to (`VERIFY_EMAIL_URL`,
/// `RESET_PASSWORD_URL`, `CONFIRM_EMAIL_URL`). A link carries its token in
/// the fragment (`#token=...`), which browsers never send to a server nor
/// put in a `Referer`; the page relays it to the API with `fetch`, so in
/// the cross-site shape the answer's cookie is the one the SPA's requests
/// carry.
#[derive(Clone, Debug)]
pub struct Links {
    pub verify_email: url::Url,
    pub reset_password: url::Url,
    pub confirm_email: url::Url,
}

impl Links {
    /// Reads the pages; by default `/verify-email.html` and so on, on the
    /// first of `frontend_origins`, or on `public_origin` when there is none
    /// (same-origin).
    pub fn from_env(
        env: &Env,
        public_origin: &Origin,
        frontend_origins: &[Origin],
    ) -> Result<Self, ConfigError> {
        let origin = frontend_origins.first().unwrap_or(public_origin);
        let page = |name: &'static str, path: &str| {
            env.var(name, &format!("{}{path}", origin.as_str()))
                .parse_with(
                    parse_page,
                    "use an absolute http(s) URL of a frontend page, \
                     without a fragment (the token goes there)",
                )
        };
        Ok(Self {
            verify_email: page("VERIFY_EMAIL_URL", "/verify-email.html")?,
            reset_password: page("RESET_PASSWORD_URL", "/reset-password.html")?,
            confirm_email: page("CONFIRM_EMAIL_URL", "/confirm-email.html")?,
        })
    }

    /// `page` with `token` in its fragment: the link a mail carries.
    pub fn link(page: &url::Url, token: &NewToken) -> String {
        let mut link = page.clone();
        link.set_fragment(Some(&format!("token={}", token.secret())));
        link.to_string()
    }
}

fn parse_page(value: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(value).map_err(|err| format!("not a URL ({err})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("not an http(s) URL".into());
    }
    if url.fragment().is_some() {
        return Err("has a fragment, where the token goes".into());
    }
    Ok(url)
}

/// The outbox: queues mail, and sends it from a background task. Cheap to
/// clone; keep one in the application state.
pub struct Outbox<E: Engine> {
    db: sqlx::Pool<E>,
    settings: Arc<Settings>,
    links: Arc<Links>,
    /// Wakes this instance's sender when a mail is queued here.
    wake: Arc<Notify>,
}

impl<E: Engine> Clone for Outbox<E> {
    fn clone(&self) -> Self {
        Self {
            db: self.db.clone(),
            settings: Arc::clone(&self.settings),
            links: Arc::clone(&self.links),
            wake: Arc::clone(&self.wake),
        }
    }
}

impl<E: Engine> Outbox<E> {
    /// The outbox on `db`, sending as `settings` say, for mail whose links
    /// open `links`.
    pub fn new(db: sqlx::Pool<E>, settings: Settings, links: Links) -> Self {
        Self {
            db,
            settings: Arc::new(settings),
            links: Arc::new(links),
            wake: Arc::new(Notify::new()),
        }
    }

    /// The application's name, for subjects.
    pub fn app_name(&self) -> &str {
        &self.settings.app_name
    }

    /// The frontend pages the mail links to.
    pub fn links(&self) -> &Links {
        &self.links
    }

    /// Queues `mail`, and stores `token` (the one its link carries) in the
    /// same transaction: both or neither. `false` when the recipient has had
    /// its hourly share of mail, in which case nothing is stored.
    pub async fn queue(&self, mail: &Mail, token: Option<&NewToken>) -> Result<bool, sqlx::Error> {
        let now = unix_now();
        let digest = token.map(NewToken::digest);
        let token_row = token.zip(digest.as_deref()).map(|(t, d)| t.row(d));
        let row = MailRow {
            recipient: &mail.to,
            subject: &mail.subject,
            body: &mail.body,
            now,
        };
        let queued = E::queue_mail(
            &self.db,
            row,
            token_row,
            now - 3600,
            self.settings.per_address_per_hour,
        )
        .await?;
        if queued {
            self.wake.notify_one();
        } else {
            tracing::warn!(
                subject = %mail.subject,
                "not queueing a mail: its recipient has had MAIL_PER_ADDRESS_PER_HOUR mails this hour"
            );
        }
        Ok(queued)
    }

    /// Starts sending queued mail, for as long as the process runs. Errors
    /// (the database, the SMTP server) are logged and retried; nothing here
    /// ends the task.
    pub fn spawn_sender(&self) -> JoinHandle<()> {
        let outbox = self.clone();
        tokio::spawn(async move { outbox.send_forever().await })
    }

    async fn send_forever(self) {
        let transport = self.settings.relay.as_ref().map(Relay::transport);
        let mut purged_at = 0;
        loop {
            let now = unix_now();
            if now - purged_at >= 60 {
                purged_at = now;
                if let Err(err) = E::forget_mail(&self.db, None, now - KEEP_SENT).await {
                    tracing::warn!(error = %err, "deleting old sent mail failed");
                }
            }
            let lease = i64::try_from(LEASE.as_secs()).unwrap_or(i64::MAX);
            match E::claim_mail(&self.db, now, now + lease).await {
                Ok(Some(mail)) => {
                    self.deliver(transport.as_ref(), mail).await;
                    continue;
                }
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "reading the mail outbox failed; retrying")
                }
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Sends one claimed mail and records the outcome.
    async fn deliver(
        &self,
        transport: Option<&lettre::AsyncSmtpTransport<lettre::Tokio1Executor>>,
        mail: QueuedMail,
    ) {
        let sent = match transport {
            None => {
                tracing::info!(
                    to = %mail.recipient,
                    subject = %mail.subject,
                    body = %mail.body,
                    "mail (SMTP_URL is empty: written here instead of sent)"
                );
                Ok(())
            }
            Some(transport) => match self.message(&mail) {
                Ok(message) => transport.send(message).await.map(drop).map_err(|err| {
                    // A permanent refusal (5xx) will not change on retry.
                    (err.to_string(), err.is_permanent())
                }),
                Err(problem) => Err((problem, true)),
            },
        };
        let now = unix_now();
        let recorded = match sent {
            Ok(()) => {
                tracing::info!(mail_id = mail.id, subject = %mail.subject, "mail sent");
                E::mail_sent(&self.db, mail.id, now).await
            }
            Err((problem, permanent)) if permanent || mail.attempts >= MAX_ATTEMPTS => {
                tracing::error!(
                    mail_id = mail.id,
                    attempts = mail.attempts,
                    error = %problem,
                    "giving up on a mail"
                );
                E::forget_mail(&self.db, Some(mail.id), now - KEEP_SENT).await
            }
            Err((problem, _)) => {
                let delay = retry_delay(self.settings.retry, mail.attempts);
                tracing::warn!(
                    mail_id = mail.id,
                    attempts = mail.attempts,
                    retry_in_secs = delay,
                    error = %problem,
                    "sending a mail failed; it will be tried again"
                );
                E::retry_mail(&self.db, mail.id, now + delay).await
            }
        };
        if let Err(err) = recorded {
            // The lease runs out and the mail is claimed again: sent twice
            // at worst, never lost.
            tracing::warn!(mail_id = mail.id, error = %err, "recording a mail's outcome failed");
        }
    }

    fn message(&self, mail: &QueuedMail) -> Result<Message, String> {
        let to: Mailbox = mail
            .recipient
            .parse()
            .map_err(|err| format!("the recipient is not an address: {err}"))?;
        Message::builder()
            .from(self.settings.from.clone())
            .to(to)
            .subject(&mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())
            .map_err(|err| err.to_string())
    }
}

/// Seconds before attempt `attempts + 1`: `first`, doubling, at most an hour.
fn retry_delay(first: Duration, attempts: i32) -> i64 {
    let first = i64::try_from(first.as_secs()).unwrap_or(MAX_RETRY_DELAY);
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    first.saturating_mul(1 << doublings).min(MAX_RETRY_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_an_hour() {
        let first = Duration::from_secs(10);
        let delays: Vec<i64> = (1..=MAX_ATTEMPTS).map(|n| retry_delay(first, n)).collect();
        assert_eq!(&delays[..4], &[10, 20, 40, 80]);
        assert_eq!(*delays.last().unwrap(), 3600);
        assert!(delays.windows(2).all(|w| w[0] <= w[1]));
        let total: i64 = delays.iter().sum();
        assert!((3 * 3600..6 * 3600).contains(&total), "{total}");
    }

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let lookup = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        Settings::from_env(&Env::new(&lookup), "my-app")
    }

    #[test]
    fn without_smtp_mail_goes_to_the_log_from_the_app() {
        let settings = settings(&[]).unwrap();
        assert!(settings.relay.is_none());
        assert_eq!(settings.app_name, "my-app");
        assert_eq!(settings.per_address_per_hour, 5);
    }

    #[test]
    fn links_go_to_the_first_frontend_origin_and_carry_the_token_in_the_fragment() {
        let public = Origin::parse("https://api.example.com").unwrap();
        let frontend = [Origin::parse("https://app.example.com").unwrap()];
        let none = |_: &str| None;
        let links = Links::from_env(&Env::new(&none), &public, &frontend).unwrap();
        assert_eq!(
            links.reset_password.as_str(),
            "https://app.example.com/reset-password.html"
        );
        let same_origin = Links::from_env(&Env::new(&none), &public, &[]).unwrap();
        assert_eq!(
            same_origin.verify_email.as_str(),
            "https://api.example.com/verify-email.html"
        );

        let token = NewToken::new(
            crate::account_tokens::Purpose::ResetPassword,
            1,
            "a@example.com",
            Duration::from_secs(60),
        );
        let link = Links::link(&links.reset_password, &token);
        assert_eq!(
            link,
            format!(
                "https://app.example.com/reset-password.html#token={}",
                token.secret()
            )
        );

        for bad in [
            "/reset.html",
            "ftp://x.example/r",
            "https://app.example.com/r#x",
        ] {
            let lookup = |name: &str| (name == "RESET_PASSWORD_URL").then(|| bad.to_owned());
            let err = Links::from_env(&Env::new(&lookup), &public, &frontend).unwrap_err();
            assert_eq!(err.var, "RESET_PASSWORD_URL", "{bad}");
        }
    }

    #[test]
    fn mail_from_names_the_app_and_is_required_with_smtp() {
        let named = settings(&[("MAIL_FROM", "Acme <hello@acme.example>")]).unwrap();
        assert_eq!(named.app_name, "Acme");
        let err = settings(&[("SMTP_URL", "smtps://mail.example.com")]).unwrap_err();
        assert_eq!(err.var, "MAIL_FROM");
        for bad in ["not an address", "a@b.example\r\nBcc: x@y.example", "<>"] {
            let err = settings(&[("MAIL_FROM", bad)]).unwrap_err();
            assert_eq!(err.var, "MAIL_FROM", "{bad:?}");
        }
    }
}
