//! The real binary: bad configuration stops it with one line, not a panic,
//! and SIGTERM stops it gracefully.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

/// Generous bound for anything the binary does at start-up or shutdown.
const PATIENCE: Duration = Duration::from_secs(20);

use crate::helpers::TestDatabase;

/// A throwaway database, as the async harness makes one.
fn test_database() -> TestDatabase {
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(TestDatabase::create())
}

/// The binary with a throwaway database and a random port; the project's
/// `.env` fills in everything not set here.
fn server(database: &TestDatabase) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_{{project-name}}"));
    command
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("DATABASE_URL", &database.url)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Kills the process when a test fails half-way.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Running {
    /// Waits for the exit status, failing the test after `PATIENCE`.
    fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running after {PATIENCE:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn bad_configuration_stops_start_up_with_one_clear_line() {
    // The first setting of each case is the one the message must name.
    for settings in [
        &[("PUBLIC_ORIGIN", "*")][..],
        &[("BIND_ADDR", "not-an-address")],
        &[("SESSION_INACTIVITY_SECS", "-1")],
        &[("RUST_LOG", "info,[=bad")],
        &[("MAX_CONNECTIONS", "0")],
        // Replaced by TRUSTED_PROXIES: an upgrade must not silently drop it.
        &[("TRUST_PROXY", "true")],
        // A cookie that would also travel over plain http.
        &[
            ("COOKIE_SECURE", "false"),
            ("PUBLIC_ORIGIN", "https://api.example.com"),
        ],
{%- if cross_origin %}
        &[("FRONTEND_ORIGINS", "*")],
        &[("FRONTEND_ORIGINS", "http://localhost:5173/")],
{%- endif %}
    ] {
        let (var, _) = settings[0];
        let database = test_database();
        let mut command = server(&database);
        command.envs(settings.iter().copied());
        let mut running = Running(command.spawn().unwrap());
        let status = running.wait();
        let mut stderr = String::new();
        std::io::Read::read_to_string(running.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        assert_eq!(status.code(), Some(1), "{settings:?}: {stderr}");
        assert!(stderr.starts_with("configuration error: "), "{stderr}");
        assert!(stderr.contains(&format!("{var}=")), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn plain_http_on_a_public_host_starts_with_a_warning() {
    let database = test_database();
    let mut command = server(&database);
    command.env("PUBLIC_ORIGIN", "http://api.example.com");
{%- if cross_origin %}
    command.env("FRONTEND_ORIGINS", "http://app.example.com");
{%- endif %}
    let mut running = Running(command.spawn().unwrap());
    let (lines_tx, lines) = mpsc::channel();
    let stdout = running.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    // Everything logged up to the line that says the server is up.
    let mut logged = Vec::new();
    while let Ok(line) = lines.recv_timeout(PATIENCE) {
        let up = line.contains("listening");
        logged.push(line);
        if up {
            break;
        }
    }
    let warnings: Vec<&String> = logged.iter().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{logged:#?}");
    assert!(
        warnings[0].contains("PUBLIC_ORIGIN=http://api.example.com is plain http"),
        "{logged:#?}"
    );
    assert!(
        logged.last().is_some_and(|l| l.contains("listening")),
        "{logged:#?}"
    );
}

#[cfg(unix)]
#[test]
fn sigterm_shuts_down_gracefully() {
    let database = test_database();
    let mut running = Running(server(&database).spawn().unwrap());

    // Forward log lines through a channel so that waiting for one can time out.
    let (lines_tx, lines) = mpsc::channel();
    let stdout = running.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let wait_for = |needle: &str| loop {
        match lines.recv_timeout(PATIENCE) {
            Ok(line) if line.contains(needle) => break,
            Ok(_) => {}
            Err(err) => panic!("no log line containing {needle:?}: {err}"),
        }
    };

    wait_for("listening");
    let signalled = Command::new("kill")
        .args(["-TERM", &running.0.id().to_string()])
        .status()
        .unwrap();
    assert!(signalled.success());
    wait_for("shutting down");
    let status = running.wait();
    assert!(status.success(), "exit status after SIGTERM: {status}");
}
