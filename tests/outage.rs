//! A generated PostgreSQL + Redis backend through outages of each store.
//!
//! The binary runs against a PostgreSQL and a Redis of the test's own (see
//! `common/services.rs`), which are stopped and started again mid-test.
//! While one is down, requests that need it must answer a JSON 503 that
//! carries the CORS headers, within a bounded time; `/api/ready` must name
//! what is down and `/api/health` stay 200. When it is back, the service must
//! recover without a restart and nothing committed before must be lost. The
//! measured times are printed (`cargo test --test outage -- --nocapture`).

mod common;

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::{
    cargo, generate,
    services::{Postgres, Redis, spare_port, wait_for_port},
    shared_target_dir, template_copy,
};
use serde_json::{Value, json};

const FRONTEND: &str = "http://localhost:5173";
/// `DATABASE_TIMEOUT_MS` and `REDIS_TIMEOUT_MS` given to the backend.
const STORE_TIMEOUT: Duration = Duration::from_millis(1000);
/// How much longer than the store timeout a 503 may take.
const SLACK: Duration = Duration::from_secs(2);
/// How long recovery may take once a store is back.
const RECOVERY: Duration = Duration::from_secs(30);

#[test]
fn postgres_and_redis_outages_answer_503_and_recover() {
    if common::render_only() {
        eprintln!("outage test: builds nothing with TEMPLATE_MATRIX=render");
        return;
    }
    // Servers first: without them there is nothing to test.
    let Some(postgres) = Postgres::start() else {
        return;
    };
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let backend = Backend::start(&build_project(), &postgres, &redis);

    let ada = backend.signup("ada@example.com").expect_status(201);
    let cookie = ada.cookie.expect("signup sets the session cookie");
    backend.session(&cookie).expect_status(200);

    // Redis (sessions) goes down.
    redis.stop();
    let down = backend.session(&cookie).expect_unavailable("session store");
    println!("redis down: 503 after {:?}", down.took);
    let ready = backend.get("/api/ready").expect_status(503);
    assert_eq!(ready.body["checks"]["database"], "ok", "{}", ready.body);
    assert_ne!(
        ready.body["checks"]["session_store"], "ok",
        "{}",
        ready.body
    );
    backend.get("/api/health").expect_status(200);
    // Signing up needs both: the account is created, saving its session
    // fails. The client is told to retry; the account is not lost.
    backend
        .signup("grace@example.com")
        .expect_unavailable("session store");

    redis.resume();
    let recovered = backend.wait_until(|| backend.session(&cookie).status == 200);
    println!("redis back: recovered after {recovered:?}");
    let session = backend.session(&cookie);
    assert_eq!(session.body["user"]["email"], "ada@example.com");
    backend.signup("grace@example.com").expect_status(409);
    backend.login("grace@example.com").expect_status(200);

    // PostgreSQL (users and notes) goes down. The session holds its user,
    // so reading it needs only Redis; what needs the database answers 503.
    postgres.stop();
    let down = backend.notes(&cookie).expect_unavailable("database");
    println!("postgres down: 503 after {:?}", down.took);
    backend.session(&cookie).expect_status(200);
    backend
        .login("ada@example.com")
        .expect_unavailable("database");
    let ready = backend.get("/api/ready").expect_status(503);
    assert_ne!(ready.body["checks"]["database"], "ok", "{}", ready.body);
    assert_eq!(
        ready.body["checks"]["session_store"], "ok",
        "{}",
        ready.body
    );
    backend.get("/api/health").expect_status(200);

    postgres.resume();
    let recovered = backend.wait_until(|| backend.notes(&cookie).status == 200);
    println!("postgres back: recovered after {recovered:?}");
    backend.login("ada@example.com").expect_status(200);
    backend.get("/api/ready").expect_status(200);
}

/// Generates a cross-origin PostgreSQL + Redis project and builds its binary.
fn build_project() -> PathBuf {
    let template = template_copy();
    let destination = tempfile::tempdir().expect("temp dir");
    let output = generate(
        template.path(),
        destination.path(),
        "outage-app",
        &[
            ("cross_origin", "true"),
            ("public_origin", "http://localhost:8080"),
            ("frontend_origin", FRONTEND),
            ("database", "postgres"),
            ("session_store", "redis"),
        ],
    );
    assert!(
        output.status.success(),
        "generation failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    cargo(
        &destination.path().join("outage-app"),
        &["build", "--locked"],
    );
    shared_target_dir().join("debug").join("outage-app")
}

/// The backend binary, killed when the test ends.
struct Backend {
    base: String,
    agent: ureq::Agent,
    child: Child,
    _cwd: tempfile::TempDir,
}

/// What a request got, and how long it took.
struct Answer {
    status: u16,
    body: Value,
    allow_origin: Option<String>,
    cookie: Option<String>,
    took: Duration,
}

impl Backend {
    fn start(binary: &Path, postgres: &Postgres, redis: &Redis) -> Self {
        let port = spare_port();
        // An empty working directory: no `.env` but what is given here.
        let cwd = tempfile::tempdir().expect("temp dir");
        let timeout = STORE_TIMEOUT.as_millis().to_string();
        let child = Command::new(binary)
            .current_dir(cwd.path())
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("PUBLIC_ORIGIN", "http://localhost:8080")
            .env("FRONTEND_ORIGINS", FRONTEND)
            .env("DATABASE_URL", postgres.url("app"))
            .env("DATABASE_TIMEOUT_MS", &timeout)
            .env("REDIS_URL", redis.url())
            .env("REDIS_TIMEOUT_MS", &timeout)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("backend starts");
        wait_for_port(port, Duration::from_secs(60));
        Self {
            base: format!("http://127.0.0.1:{port}"),
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(30))
                .build(),
            child,
            _cwd: cwd,
        }
    }

    fn send(&self, request: ureq::Request, body: Option<Value>) -> Answer {
        let started = Instant::now();
        let request = request.set("Origin", FRONTEND);
        let result = match body {
            Some(body) => request.send_json(body),
            None => request.call(),
        };
        let took = started.elapsed();
        let response = match result {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response,
            Err(err) => panic!("no HTTP answer ({err}) after {took:?}"),
        };
        let status = response.status();
        let allow_origin = response
            .header("access-control-allow-origin")
            .map(str::to_owned);
        let cookie = response
            .all("set-cookie")
            .into_iter()
            .find(|c| c.starts_with("sid="))
            .map(|c| c.split(';').next().unwrap_or_default().to_owned());
        let text = response.into_string().expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"))
        };
        Answer {
            status,
            body,
            allow_origin,
            cookie,
            took,
        }
    }

    fn get(&self, path: &str) -> Answer {
        self.send(self.agent.get(&format!("{}{path}", self.base)), None)
    }

    fn session(&self, cookie: &str) -> Answer {
        let request = self
            .agent
            .get(&format!("{}/api/auth/session", self.base))
            .set("Cookie", cookie);
        self.send(request, None)
    }

    fn notes(&self, cookie: &str) -> Answer {
        let request = self
            .agent
            .get(&format!("{}/api/notes", self.base))
            .set("Cookie", cookie);
        self.send(request, None)
    }

    fn credentials(&self, path: &str, email: &str) -> Answer {
        let request = self.agent.post(&format!("{}{path}", self.base));
        let body = json!({ "email": email, "password": "correct horse battery" });
        self.send(request, Some(body))
    }

    fn signup(&self, email: &str) -> Answer {
        self.credentials("/api/auth/signup", email)
    }

    fn login(&self, email: &str) -> Answer {
        self.credentials("/api/auth/login", email)
    }

    /// Polls `ok` until it holds, returning how long that took.
    fn wait_until(&self, ok: impl Fn() -> bool) -> Duration {
        let started = Instant::now();
        while !ok() {
            assert!(
                started.elapsed() < RECOVERY,
                "not recovered after {RECOVERY:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        started.elapsed()
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Answer {
    fn expect_status(self, status: u16) -> Self {
        assert_eq!(self.status, status, "{}", self.body);
        // Every answer, errors included, is readable by the frontend.
        assert_eq!(
            self.allow_origin.as_deref(),
            Some(FRONTEND),
            "{}",
            self.body
        );
        self
    }

    /// A JSON 503 naming `what`, quickly, that the frontend can read.
    fn expect_unavailable(self, what: &str) -> Self {
        let answer = self.expect_status(503);
        assert_eq!(
            answer.body["error"]["code"], "unavailable",
            "{}",
            answer.body
        );
        let message = answer.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(what), "{message:?} should name the {what}");
        assert!(
            answer.took <= STORE_TIMEOUT + SLACK,
            "503 took {:?}",
            answer.took
        );
        answer
    }
}
