//! The mail outbox and one-time tokens (`mail.rs`, `account_tokens.rs`)
//! against a real SMTP server (aiosmtpd, `testing::MailCatcher`) and both
//! engines: a queued mail arrives; one queued while SMTP is down, or while
//! no sender runs (before a restart), arrives once it can; two instances on
//! one PostgreSQL table send each mail once; a recipient's hourly cap
//! holds; a token works once, for its purpose, until it expires or is
//! voided.

use std::time::Duration;

use platform::{
    account_tokens::{self, NewToken, Purpose, TokenOwner},
    database::{Engine, postgres, sqlite},
    mail::{Links, Mail, Outbox, Settings},
    origin::Origin,
    settings::Env,
    testing::{MailCatcher, smtp_url},
};

use crate::harness::{Store, TestDatabase};

const PATIENCE: Duration = Duration::from_secs(15);

fn settings(smtp: &str, extra: &[(&str, &str)]) -> Settings {
    let mut pairs = vec![
        ("SMTP_URL".to_owned(), smtp.to_owned()),
        (
            "MAIL_FROM".to_owned(),
            "Test App <no-reply@example.com>".to_owned(),
        ),
        ("MAIL_RETRY_SECS".to_owned(), "1".to_owned()),
    ];
    pairs.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let lookup = move |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    Settings::from_env(&Env::new(&lookup), "test-app").expect("valid mail settings")
}

/// An outbox on `pool`, sending as `settings` say.
fn outbox_on<E: Engine>(pool: sqlx::Pool<E>, settings: Settings) -> Outbox<E> {
    let none = |_: &str| None;
    let public = Origin::parse("http://localhost:8080").unwrap();
    let links = Links::from_env(&Env::new(&none), &public, &[]).unwrap();
    Outbox::new(pool, settings, links)
}

fn mail(to: &str, n: usize) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: format!("Test App: message {n}"),
        body: format!(
            "Hello,\n\nA line long enough to be wrapped by the transfer encoding: \
             http://localhost:5173/reset-password.html#token={}\n",
            "ab".repeat(32)
        ),
    }
}

async fn sqlite_pool(database: &TestDatabase) -> sqlx::SqlitePool {
    let lookup = |name: &str| (name == "DATABASE_URL").then(|| database.url.clone());
    let settings = sqlite::Settings::from_env(&Env::new(&lookup), "").unwrap();
    sqlite::connect(&settings).await.expect("database")
}

async fn postgres_pool(database: &TestDatabase) -> sqlx::PgPool {
    let lookup = |name: &str| (name == "DATABASE_URL").then(|| database.url.clone());
    let settings = postgres::Settings::from_env(&Env::new(&lookup), "").unwrap();
    postgres::connect(&settings).await.expect("database")
}

/// A mail queued now arrives, with its sender, subject and text intact.
async fn a_queued_mail_arrives<E: Engine>(pool: sqlx::Pool<E>, catcher: &MailCatcher) {
    let outbox = outbox_on(pool, settings(&catcher.smtp_url(), &[]));
    let sender = outbox.spawn_sender();
    assert!(
        outbox
            .queue(&mail("ada@example.com", 1), None)
            .await
            .unwrap()
    );
    let received = catcher.wait_for("ada@example.com", 1, PATIENCE).await;
    assert_eq!(received[0].subject, "Test App: message 1");
    assert_eq!(received[0].from, "no-reply@example.com");
    assert!(received[0].headers["from"].contains("Test App"));
    assert_eq!(received[0].token().unwrap(), "ab".repeat(32));
    sender.abort();
}

#[tokio::test]
async fn a_queued_mail_arrives_on_both_engines() {
    let Some(catcher) = MailCatcher::start() else {
        return;
    };
    let database = TestDatabase::create(Store::Sqlite).await;
    a_queued_mail_arrives(sqlite_pool(&database).await, &catcher).await;
    let database = TestDatabase::create(Store::Postgres).await;
    a_queued_mail_arrives(postgres_pool(&database).await, &catcher).await;
}

#[tokio::test]
async fn mail_queued_while_smtp_is_down_arrives_when_it_is_back() {
    let port = MailCatcher::spare_port();
    let database = TestDatabase::create(Store::Sqlite).await;
    let outbox = outbox_on(sqlite_pool(&database).await, settings(&smtp_url(port), &[]));
    let sender = outbox.spawn_sender();
    assert!(
        outbox
            .queue(&mail("grace@example.com", 1), None)
            .await
            .unwrap()
    );
    // Nothing listens: the first attempts fail and are rescheduled.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let attempts = database
        .count("SELECT attempts FROM mail_outbox WHERE sent_at IS NULL")
        .await;
    assert!(attempts >= 1, "{attempts}");
    let Some(catcher) = MailCatcher::start_on(port) else {
        return;
    };
    let received = catcher.wait_for("grace@example.com", 1, PATIENCE).await;
    assert_eq!(received.len(), 1);
    sender.abort();
}

#[tokio::test]
async fn mail_queued_before_a_restart_is_sent_by_the_next_process() {
    let Some(catcher) = MailCatcher::start() else {
        return;
    };
    let database = TestDatabase::create(Store::Sqlite).await;
    {
        // Queued, and the process ends before any sender ran.
        let outbox = outbox_on(
            sqlite_pool(&database).await,
            settings(&catcher.smtp_url(), &[]),
        );
        assert!(
            outbox
                .queue(&mail("edsger@example.com", 1), None)
                .await
                .unwrap()
        );
    }
    assert!(catcher.received().is_empty());
    let outbox = outbox_on(
        sqlite_pool(&database).await,
        settings(&catcher.smtp_url(), &[]),
    );
    let sender = outbox.spawn_sender();
    catcher.wait_for("edsger@example.com", 1, PATIENCE).await;
    sender.abort();
}

#[tokio::test]
async fn two_instances_on_one_table_send_each_mail_once() {
    let Some(catcher) = MailCatcher::start() else {
        return;
    };
    let database = TestDatabase::create(Store::Postgres).await;
    let extra = [("MAIL_PER_ADDRESS_PER_HOUR", "1000")];
    let first = outbox_on(
        postgres_pool(&database).await,
        settings(&catcher.smtp_url(), &extra),
    );
    let second = outbox_on(
        postgres_pool(&database).await,
        settings(&catcher.smtp_url(), &extra),
    );
    for n in 0..30 {
        let outbox = if n % 2 == 0 { &first } else { &second };
        assert!(
            outbox
                .queue(&mail("barbara@example.com", n), None)
                .await
                .unwrap()
        );
    }
    let senders = [first.spawn_sender(), second.spawn_sender()];
    let received = catcher.wait_for("barbara@example.com", 30, PATIENCE).await;
    // A moment more, for a duplicate to show up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut subjects: Vec<String> = catcher.received().into_iter().map(|m| m.subject).collect();
    subjects.sort();
    subjects.dedup();
    assert_eq!(subjects.len(), 30);
    assert_eq!(catcher.received().len(), 30, "a mail was sent twice");
    assert_eq!(received.len(), 30);
    for sender in senders {
        sender.abort();
    }
}

#[tokio::test]
async fn a_recipient_gets_at_most_its_hourly_share() {
    let database = TestDatabase::create(Store::Sqlite).await;
    let pool = sqlite_pool(&database).await;
    let outbox = outbox_on(pool, settings("", &[("MAIL_PER_ADDRESS_PER_HOUR", "3")]));
    for n in 0..3 {
        assert!(
            outbox
                .queue(&mail("flooded@example.com", n), None)
                .await
                .unwrap()
        );
    }
    assert!(
        !outbox
            .queue(&mail("flooded@example.com", 4), None)
            .await
            .unwrap()
    );
    assert!(
        outbox
            .queue(&mail("someone.else@example.com", 1), None)
            .await
            .unwrap()
    );
    // A token refused with its mail is not stored either.
    database
        .execute("INSERT INTO users (email) VALUES ('flooded@example.com')")
        .await;
    let token = NewToken::new(
        Purpose::ResetPassword,
        1,
        "flooded@example.com",
        Duration::from_secs(60),
    );
    assert!(
        !outbox
            .queue(&mail("flooded@example.com", 5), Some(&token))
            .await
            .unwrap()
    );
    assert_eq!(
        database.count("SELECT COUNT(*) FROM account_tokens").await,
        0
    );
}

#[tokio::test]
async fn a_token_works_once_for_its_purpose_until_it_expires_or_is_voided() {
    let database = TestDatabase::create(Store::Sqlite).await;
    let pool = sqlite_pool(&database).await;
    database
        .execute("INSERT INTO users (email) VALUES ('ada@example.com')")
        .await;
    let user_id = database.count("SELECT id FROM users").await;
    let outbox = outbox_on(pool.clone(), settings("", &[]));
    let issue = |purpose, lifetime| NewToken::new(purpose, user_id, "ada@example.com", lifetime);

    let token = issue(Purpose::ResetPassword, Duration::from_secs(60));
    assert!(
        outbox
            .queue(&mail("ada@example.com", 1), Some(&token))
            .await
            .unwrap()
    );
    let sql = format!(
        "SELECT COUNT(*) FROM account_tokens WHERE digest = '{}'",
        token.secret()
    );
    assert_eq!(
        database.count(&sql).await,
        0,
        "the secret itself is not stored"
    );
    assert_eq!(
        database.count("SELECT COUNT(*) FROM account_tokens").await,
        1
    );
    assert_eq!(
        account_tokens::take(&pool, Purpose::VerifyEmail, token.secret())
            .await
            .unwrap(),
        None,
        "another purpose"
    );
    assert_eq!(
        account_tokens::take(&pool, Purpose::ResetPassword, token.secret())
            .await
            .unwrap(),
        Some(TokenOwner {
            user_id,
            email: "ada@example.com".into()
        })
    );
    assert_eq!(
        account_tokens::take(&pool, Purpose::ResetPassword, token.secret())
            .await
            .unwrap(),
        None,
        "used once already"
    );

    let expired = issue(Purpose::ResetPassword, Duration::ZERO);
    assert!(
        outbox
            .queue(&mail("ada@example.com", 2), Some(&expired))
            .await
            .unwrap()
    );
    assert_eq!(
        account_tokens::take(&pool, Purpose::ResetPassword, expired.secret())
            .await
            .unwrap(),
        None
    );

    let voided = issue(Purpose::ResetPassword, Duration::from_secs(60));
    assert!(
        outbox
            .queue(&mail("ada@example.com", 3), Some(&voided))
            .await
            .unwrap()
    );
    account_tokens::void_all_of(&pool, user_id).await.unwrap();
    assert_eq!(
        account_tokens::take(&pool, Purpose::ResetPassword, voided.secret())
            .await
            .unwrap(),
        None
    );

    for junk in ["", "x", &"g".repeat(64), &"a".repeat(65)] {
        assert_eq!(
            account_tokens::take(&pool, Purpose::ResetPassword, junk)
                .await
                .unwrap(),
            None
        );
    }
}

/// Queueings for one recipient at the same moment, on both engines: the
/// cap holds, and none of them fails.
async fn the_cap_holds_under_concurrent_queueing<E: Engine>(pool: sqlx::Pool<E>) {
    let outbox = outbox_on(pool, settings("", &[("MAIL_PER_ADDRESS_PER_HOUR", "2")]));
    let attempts: Vec<_> = (0..10)
        .map(|n| {
            let outbox = outbox.clone();
            tokio::spawn(async move { outbox.queue(&mail("raced@example.com", n), None).await })
        })
        .collect();
    let mut queued = 0;
    for attempt in attempts {
        if attempt.await.unwrap().expect("no queueing fails") {
            queued += 1;
        }
    }
    assert_eq!(queued, 2);
}

#[tokio::test]
async fn the_cap_holds_when_many_ask_at_once() {
    let database = TestDatabase::create(Store::Sqlite).await;
    the_cap_holds_under_concurrent_queueing(sqlite_pool(&database).await).await;
    let database = TestDatabase::create(Store::Postgres).await;
    the_cap_holds_under_concurrent_queueing(postgres_pool(&database).await).await;
}
