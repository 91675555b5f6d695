//! Two instances of a generated PostgreSQL + Redis project behind a real
//! nginx (the Debian package), round-robin, as the generated README's
//! "Behind a reverse proxy" section configures it.
//!
//! With passwords:
//!
//! - Headless Chromium signs up, logs out, logs in, reads the session and
//!   logs out through nginx (scenario `behind-proxy` in
//!   `tests/browser/shapes.mjs`); its API calls must have been answered by
//!   both instances, which share the sessions through Redis.
//! - Login throttling counts the client address nginx forwards: clients
//!   connecting from 127.0.0.2 and 127.0.0.3 have an allowance each, and a
//!   forged `X-Forwarded-For` sent through nginx changes nothing.
//! - A client reaching an instance directly (a peer that is not in
//!   `TRUSTED_PROXIES`) is counted against its own address, whatever
//!   `X-Forwarded-For` it sends.
//!
//! With `auth = oidc`, Chromium signs in through a real OpenID provider
//! (`tests/browser/provider.mjs`, run as its own process) in scenario
//! `oidc-behind-proxy` of `tests/browser/oidc.mjs`: the sign-in starts on
//! one instance and the page relays the provider's answer to the other, so
//! the pending sign-in must be in the session both read from Redis; then
//! the session is read on both, and the user logs out.
//!
//! The instances use the machine's PostgreSQL and Redis (`TEST_DATABASE_URL`,
//! `TEST_REDIS_URL`, defaults `127.0.0.1:5432` and `:6379`, as the generated
//! projects' own tests do), on a database created for the test and dropped
//! after it. nginx, Chromium and Node 22+ are needed: with `CI=true` a
//! missing one fails the test, elsewhere it is skipped with the reason. All
//! traffic stays on loopback addresses. The two tests run one after the
//! other. Figures are printed (`cargo test --test proxy -- --nocapture`).

mod common;

use std::{
    fs,
    io::{Read, Write},
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Mutex, MutexGuard},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use common::{
    browser::{Tools, browser_dir, tools},
    cargo, generate,
    services::{missing, spare_port, wait_for_port},
    shared_target_dir, template_copy,
};
use serde_json::json;

const NAME: &str = "proxy-app";
const OIDC_NAME: &str = "proxy-oidc-app";
/// Login and signup attempts per client address, per instance (the buckets
/// are in each instance's memory).
const PER_IP: usize = 3;
const INSTANCES: usize = 2;
const NGINX: &str = "/usr/sbin/nginx";
const PATIENCE: Duration = Duration::from_secs(60);
/// The confidential client `node provider.mjs` registers.
const OIDC_CLIENT: (&str, &str) = ("app", "app-secret");

#[test]
fn two_instances_behind_nginx_share_sessions_and_throttle_the_forwarded_client() {
    let Some(Prerequisites {
        nginx,
        tools,
        _turn,
    }) = prerequisites()
    else {
        return;
    };
    let started = Instant::now();
    let project = build_project("proxy-test-project", NAME, &[]);
    println!("project built in {:?}", started.elapsed());

    let database = Database::create();
    let redis = redis_url();
    let dir = tempfile::tempdir().expect("temp dir");
    let proxy_port = spare_port();
    let origin = format!("http://localhost:{proxy_port}");
    let app = App {
        name: NAME,
        project: &project,
        origin: &origin,
        database: &database.url,
        redis: &redis,
    };
    let instances = app.start_instances(
        dir.path(),
        &[
            ("AUTH_ATTEMPTS_PER_IP", PER_IP.to_string()),
            ("AUTH_ATTEMPTS_WINDOW_SECS", "600".to_owned()),
        ],
    );
    let proxy = Nginx::start(&nginx, dir.path(), proxy_port, &instances);
    let via_proxy: SocketAddr = ([127, 0, 0, 1], proxy_port).into();

    // 1. The browser, through nginx.
    run_scenario(
        &tools,
        "shapes.mjs",
        "behind-proxy",
        &[("PROXY_ORIGIN", &origin)],
        &|| format!("nginx's error log:\n{}", proxy.error_log()),
    );
    let api_requests: Vec<usize> = instances
        .iter()
        .map(|i| {
            i.responses()
                .iter()
                .filter(|r| r.contains(" /api/"))
                .count()
        })
        .collect();
    println!("API requests logged by each instance after the browser flow: {api_requests:?}");
    for (n, count) in api_requests.iter().enumerate() {
        assert!(
            *count >= 2,
            "instance {n} answered {count} API requests: round-robin should reach both\n{}",
            instances[n].log()
        );
    }
    // 2. Throttling by the address nginx forwards. 127.0.0.2 spends its
    // allowance (PER_IP on each instance, as round-robin spreads it); a
    // forged X-Forwarded-For through nginx does not give it a new one,
    // because nginx appends the real address and that is the right-most.
    let a = Ipv4Addr::new(127, 0, 0, 2);
    let b = Ipv4Addr::new(127, 0, 0, 3);
    let mut accepted = 0;
    let mut refused_in_a_row = 0;
    let mut attempts = 0;
    while refused_in_a_row < INSTANCES {
        attempts += 1;
        assert!(
            attempts <= PER_IP * INSTANCES + INSTANCES,
            "127.0.0.2 was never refused"
        );
        match login(a, via_proxy, &format!("a{attempts}@example.com"), None).status {
            401 => {
                accepted += 1;
                refused_in_a_row = 0;
            }
            429 => refused_in_a_row += 1,
            other => panic!("login answered {other}"),
        }
    }
    println!(
        "127.0.0.2 through nginx: {accepted} attempts accepted, then 429 ({INSTANCES} in a row)"
    );
    assert!(
        (PER_IP..=PER_IP * INSTANCES).contains(&accepted),
        "127.0.0.2 had {accepted} attempts; its allowance is {PER_IP} per instance"
    );
    for n in 0..INSTANCES {
        let forged = login(
            a,
            via_proxy,
            &format!("f{n}@example.com"),
            Some("203.0.113.9"),
        );
        assert_eq!(
            forged.status, 429,
            "a forged X-Forwarded-For escaped the throttle"
        );
        let retry_after: u64 = forged.header("retry-after").parse().expect("Retry-After");
        assert!(retry_after >= 1, "Retry-After {retry_after}");
    }
    // Another client address behind the same proxy is not affected.
    for n in 0..INSTANCES {
        let other = login(b, via_proxy, &format!("b{n}@example.com"), None);
        assert_eq!(other.status, 401, "127.0.0.3 was throttled with 127.0.0.2");
    }
    println!("127.0.0.3 through nginx: {INSTANCES} attempts accepted while 127.0.0.2 is refused");

    // 3. Straight to an instance from a peer that is not a trusted proxy:
    // its X-Forwarded-For, a new address every time, is ignored.
    let c = Ipv4Addr::new(127, 0, 0, 4);
    let direct: SocketAddr = ([127, 0, 0, 1], instances[0].port).into();
    for n in 0..PER_IP {
        let forged = format!("198.51.100.{n}");
        let answer = login(c, direct, &format!("c{n}@example.com"), Some(&forged));
        assert_eq!(answer.status, 401);
    }
    let answer = login(c, direct, "c9@example.com", Some("198.51.100.99"));
    assert_eq!(
        answer.status, 429,
        "a direct client chose its address with X-Forwarded-For"
    );
    println!(
        "127.0.0.4 straight to an instance, a forged X-Forwarded-For each time: \
         {PER_IP} accepted, then 429"
    );
    let seen = instances[0].log();
    assert!(
        !seen.contains("198.51.100."),
        "a forged address reached the log:\n{seen}"
    );
    println!("whole test: {:?}", started.elapsed());
}

#[test]
fn two_oidc_instances_behind_nginx_share_the_pending_sign_in_and_the_session() {
    let Some(Prerequisites {
        nginx,
        tools,
        _turn,
    }) = prerequisites()
    else {
        return;
    };
    let started = Instant::now();
    let project = build_project("proxy-oidc-test-project", OIDC_NAME, &[("auth", "oidc")]);
    println!("project built in {:?}", started.elapsed());

    let database = Database::create();
    let redis = redis_url();
    let dir = tempfile::tempdir().expect("temp dir");
    let proxy_port = spare_port();
    let origin = format!("http://localhost:{proxy_port}");
    // The frontend page the provider sends the browser back to, after
    // sign-in and after logout; the instances serve it.
    let page = format!("{origin}/");
    // Before the instances, which discover it as they start.
    let provider = Provider::start(dir.path(), &page);
    let app = App {
        name: OIDC_NAME,
        project: &project,
        origin: &origin,
        database: &database.url,
        redis: &redis,
    };
    let instances = app.start_instances(
        dir.path(),
        &[
            ("OIDC_ISSUER_URL", provider.issuer.clone()),
            ("OIDC_CLIENT_ID", OIDC_CLIENT.0.to_owned()),
            ("OIDC_CLIENT_SECRET", OIDC_CLIENT.1.to_owned()),
            ("OIDC_REDIRECT_URL", page.clone()),
            ("OIDC_POST_LOGOUT_REDIRECT_URL", page.clone()),
        ],
    );
    let proxy = Nginx::start(&nginx, dir.path(), proxy_port, &instances);
    let direct: Vec<String> = instances
        .iter()
        .map(|i| format!("http://127.0.0.1:{}", i.port))
        .collect();

    run_scenario(
        &tools,
        "oidc.mjs",
        "oidc-behind-proxy",
        &[
            ("PROXY_ORIGIN", &origin),
            ("INSTANCE_ORIGINS", &direct.join(",")),
            ("OIDC_ISSUER", &provider.issuer),
            ("OIDC_CLIENT_ID", OIDC_CLIENT.0),
        ],
        &|| {
            let logs: String = instances
                .iter()
                .enumerate()
                .map(|(n, i)| format!("instance {n}'s log:\n{}\n", i.log()))
                .collect();
            format!(
                "what the provider printed:\n{}\n{logs}nginx's error log:\n{}",
                provider.output(),
                proxy.error_log()
            )
        },
    );

    // What the instances logged agrees with what the browser saw: one
    // started the sign-in, the other took the callback, both read the session.
    let answered = |request: &str| -> Vec<usize> {
        (0..INSTANCES)
            .filter(|&n| instances[n].responses().iter().any(|r| r == request))
            .collect()
    };
    let start = answered("POST /api/auth/oidc/start 200");
    let callback = answered("POST /api/auth/oidc/callback 200");
    println!("sign-in started on instance {start:?}, callback taken by instance {callback:?}");
    assert_eq!(start.len(), 1, "one sign-in started: {start:?}");
    assert_eq!(callback.len(), 1, "one callback: {callback:?}");
    assert_ne!(
        start, callback,
        "the callback reached the instance that started the sign-in"
    );
    assert_eq!(
        answered("GET /api/auth/session 200"),
        [0, 1],
        "both instances read the signed-in session"
    );
    assert_eq!(answered("POST /api/auth/logout 200").len(), 1);
    for (n, instance) in instances.iter().enumerate() {
        let log = instance.log();
        assert!(
            !log.contains("panicked") && !instance.responses().iter().any(|r| r.ends_with(" 500")),
            "instance {n} failed a request:\n{log}"
        );
    }

    // The provider redeemed one code and ended one session, and refused nothing.
    let events = provider.events();
    println!("what the provider did: {events:?}");
    let count = |event: &str| events.iter().filter(|e| *e == event).count();
    assert_eq!(count("grant.success"), 1, "{events:?}");
    assert_eq!(count("end_session.success"), 1, "{events:?}");
    assert!(
        !events.iter().any(|e| e.contains("error")),
        "the provider refused something: {events:?}"
    );
    println!("whole test: {:?}", started.elapsed());
}

/// What the tests need besides the projects, and the turn of the test that
/// holds it: one deployment at a time (two nginx, four instances and two
/// browsers at once on a small machine make the real-time waits flaky, not
/// faster).
struct Prerequisites {
    nginx: PathBuf,
    tools: Tools,
    _turn: MutexGuard<'static, ()>,
}

/// nginx, Chromium, Node and the npm packages, or `None` when a test skips
/// (it says why; with `CI=true` a missing one fails it instead).
fn prerequisites() -> Option<Prerequisites> {
    if common::render_only() {
        eprintln!("proxy test: builds nothing with TEMPLATE_MATRIX=render");
        return None;
    }
    let nginx = std::env::var_os("NGINX").map_or_else(|| PathBuf::from(NGINX), PathBuf::from);
    if !nginx.is_file() {
        return missing(
            &format!("nginx ({})", nginx.display()),
            "apt-get install nginx, or set NGINX",
        );
    }
    let tools = tools()?;
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    Some(Prerequisites {
        nginx,
        tools,
        _turn: turn,
    })
}

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Runs `node <script> <name>` (a scenario of `tests/browser`) with `env`,
/// prints its output and how long it took, and fails the test if the
/// scenario failed, with what `context` says then (logs).
fn run_scenario(
    tools: &Tools,
    script: &str,
    name: &str,
    env: &[(&str, &str)],
    context: &dyn Fn() -> String,
) {
    let started = Instant::now();
    let output = Command::new("node")
        .arg(browser_dir().join(script))
        .arg(name)
        .env("CHROMIUM", &tools.chromium)
        .envs(env.iter().copied())
        .output()
        .expect("node runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{text}");
    assert!(
        output.status.success(),
        "browser scenario {name} failed:\n{text}\n{}",
        context()
    );
    println!("browser flow through nginx: {:?}", started.elapsed());
}

/// Generates a same-origin PostgreSQL + Redis project named `name` (with
/// `extra` answers) into `folder` under the shared target directory and
/// builds it; the instances serve its example frontend, so page and API
/// both come through nginx's one origin.
fn build_project(folder: &str, name: &str, extra: &[(&str, &str)]) -> PathBuf {
    let root = shared_target_dir().join(folder);
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(&root).expect("project folder");
    let template = template_copy();
    let defines: Vec<(&str, &str)> = [
        ("cross_origin", "false"),
        ("public_origin", "http://localhost:8080"),
        ("database", "postgres"),
        ("session_store", "redis"),
    ]
    .iter()
    .chain(extra)
    .copied()
    .collect();
    let output = generate(template.path(), &root, name, &defines);
    assert!(
        output.status.success(),
        "generation failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dir = root.join(name);
    cargo(&dir, &["build", "--locked"]);
    dir
}

/// A database of its own on the machine's PostgreSQL, dropped at the end.
struct Database {
    server: String,
    name: String,
    url: String,
}

impl Database {
    fn create() -> Self {
        let server = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .subsec_nanos();
        let name = format!("proxy_test_{}_{nanos}", std::process::id());
        // The application creates it on start-up (see its README).
        let url = format!("{}/{name}", server.trim_end_matches('/'));
        Self { server, name, url }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let dropped = Command::new("psql")
            .arg(format!("{}/postgres", self.server.trim_end_matches('/')))
            .args(["-q", "-c"])
            .arg(format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .output();
        if !dropped.is_ok_and(|o| o.status.success()) {
            eprintln!("could not drop database {} (psql)", self.name);
        }
    }
}

/// A built project and what all its instances share.
struct App<'a> {
    /// The project's (and its binary's) name.
    name: &'a str,
    project: &'a Path,
    /// nginx's origin, the instances' `PUBLIC_ORIGIN`.
    origin: &'a str,
    database: &'a str,
    redis: &'a str,
}

impl App<'_> {
    /// Starts the instances, one at a time (the first creates the database
    /// and migrates it), each with `env` besides the shared settings.
    fn start_instances(&self, dir: &Path, env: &[(&str, String)]) -> Vec<Instance> {
        (0..INSTANCES)
            .map(|n| Instance::start(self, n, dir, env))
            .collect()
    }
}

/// One instance of the backend, its log in a file.
struct Instance {
    port: u16,
    log: PathBuf,
    child: Child,
}

impl Instance {
    fn start(app: &App, n: usize, dir: &Path, env: &[(&str, String)]) -> Self {
        let port = spare_port();
        let log = dir.join(format!("instance-{n}.log"));
        let file = fs::File::create(&log).expect("log file");
        // An empty working directory: no `.env` but what is given here.
        let cwd = dir.join(format!("instance-{n}"));
        fs::create_dir_all(&cwd).expect("working directory");
        let child = Command::new(shared_target_dir().join("debug").join(app.name))
            .current_dir(&cwd)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("PUBLIC_ORIGIN", app.origin)
            .env("STATIC_DIR", app.project.join("frontend"))
            .env("DATABASE_URL", app.database)
            .env("REDIS_URL", app.redis)
            .env("TRUSTED_PROXIES", "127.0.0.1")
            .envs(env.iter().map(|(key, value)| (*key, value)))
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .spawn()
            .expect("backend starts");
        let instance = Self { port, log, child };
        let deadline = Instant::now() + PATIENCE;
        while !instance.log().contains("listening") {
            assert!(
                Instant::now() < deadline,
                "instance {n} did not start:\n{}",
                instance.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        instance
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `METHOD /path STATUS` of each response in the request log.
    fn responses(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|line| line.contains("finished processing request"))
            .filter_map(|line| {
                let field = |name: &str| line.split(name).nth(1)?.split(' ').next();
                Some(format!(
                    "{} {} {}",
                    field("method=")?,
                    field("path=")?,
                    field("status=")?
                ))
            })
            .collect()
    }
}

/// The OpenID provider of `tests/browser/provider.mjs`, run as its own
/// process (`node provider.mjs <port> <redirect> <post-logout redirect>`)
/// on a spare port: it registers the confidential client `OIDC_CLIENT`, and
/// prints a line for each of its events.
struct Provider {
    issuer: String,
    output: PathBuf,
    child: Child,
}

impl Provider {
    fn start(dir: &Path, page: &str) -> Self {
        let port = spare_port();
        let output = dir.join("provider.log");
        let file = fs::File::create(&output).expect("provider log");
        let child = Command::new("node")
            .arg(browser_dir().join("provider.mjs"))
            .arg(port.to_string())
            .arg(page)
            .arg(page)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("provider log"))
            .stderr(file)
            .spawn()
            .expect("node runs");
        let mut provider = Self {
            issuer: format!("http://127.0.0.1:{port}"),
            output,
            child,
        };
        // Printed once it listens.
        let deadline = Instant::now() + PATIENCE;
        while !provider.output().contains("OpenID provider at ") {
            if let Ok(Some(status)) = provider.child.try_wait() {
                panic!("the provider exited ({status}):\n{}", provider.output());
            }
            assert!(
                Instant::now() < deadline,
                "the provider did not start:\n{}",
                provider.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        provider
    }

    fn output(&self) -> String {
        fs::read_to_string(&self.output).unwrap_or_default()
    }

    /// What the provider did, in order (`grant.success`, ...).
    fn events(&self) -> Vec<String> {
        self.output()
            .lines()
            .filter_map(|line| line.strip_prefix("provider: "))
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx in the foreground, one process, its files in a folder of its own.
struct Nginx {
    dir: PathBuf,
    child: Child,
}

impl Nginx {
    fn start(binary: &Path, dir: &Path, port: u16, instances: &[Instance]) -> Self {
        let dir = dir.join("nginx");
        fs::create_dir_all(&dir).expect("nginx folder");
        let servers: String = instances
            .iter()
            .map(|i| format!("        server 127.0.0.1:{};\n", i.port))
            .collect();
        let d = dir.display();
        // The proxying lines are those of the generated README; the rest
        // keeps nginx's files in this folder. `X-Upstream` tells the
        // browser scenario which instance answered.
        let config = format!(
            "daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    upstream app {{
{servers}    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://app;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"
        );
        fs::write(dir.join("nginx.conf"), config).expect("nginx.conf");
        let child = Command::new(binary)
            .arg("-p")
            .arg(&dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nginx starts");
        let proxy = Self { dir, child };
        wait_for_port(port, PATIENCE);
        proxy
    }

    fn error_log(&self) -> String {
        fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a raw request got.
struct Answer {
    status: u16,
    head: String,
}

impl Answer {
    fn header(&self, name: &str) -> String {
        self.head
            .lines()
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_owned())
            })
            .unwrap_or_else(|| panic!("no {name} in:\n{}", self.head))
    }
}

/// A login attempt from the loopback address `from` to `to`, optionally
/// with an `X-Forwarded-For` of the client's own choosing.
fn login(from: Ipv4Addr, to: SocketAddr, email: &str, forwarded_for: Option<&str>) -> Answer {
    let body = json!({ "email": email, "password": "a long passphrase" }).to_string();
    let mut request = format!(
        "POST /api/auth/login HTTP/1.1\r\nHost: localhost:{}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n",
        to.port(),
        body.len()
    );
    if let Some(value) = forwarded_for {
        request.push_str(&format!("X-Forwarded-For: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&body);

    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket
        .bind(&SocketAddr::new(IpAddr::V4(from), 0).into())
        .unwrap_or_else(|e| panic!("cannot bind {from}: {e}"));
    socket
        .connect_timeout(&to.into(), Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("cannot connect to {to}: {e}"));
    let mut stream: std::net::TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("request sent");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("response read");
    let text = String::from_utf8_lossy(&response);
    let head = text.split("\r\n\r\n").next().unwrap_or_default().to_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    Answer { status, head }
}
