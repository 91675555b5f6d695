//! The project's real binary as a child process, for what only a process
//! shows: its exit status, the lines it prints, how it answers signals.

use std::{
    io::{BufRead, BufReader, Read},
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc::{self, Receiver},
    time::{Duration, Instant},
};

use super::{TestDatabase, sign_in};

/// Generous bound for anything the binary does at start-up or shutdown.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A throwaway database, made as the async harness makes one (these tests
/// run the binary from plain `#[test]` functions).
pub fn test_database() -> TestDatabase {
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(super::test_database())
}

/// The binary on a random port with `database`; the project's `.env` fills
/// in everything not set here or by the caller.
pub fn command(database: &TestDatabase) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_{{project-name}}"));
    command
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("DATABASE_URL", &database.url)
        .env("RUST_LOG", "info")
        .envs(sign_in::process_env(&[]))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// `command` with `settings` on top, and the settings of the way users sign
/// in made to agree with them (e.g. an OpenID redirect on a frontend origin
/// the settings name).
pub fn command_with(database: &TestDatabase, settings: &[(&str, &str)]) -> Command {
    let mut command = command(database);
    command
        .envs(settings.iter().copied())
        .envs(sign_in::process_env(settings));
    command
}

/// A running binary; killed when dropped, so a failing test leaves nothing
/// behind.
pub struct Process {
    child: Child,
    lines: Receiver<String>,
}

impl Process {
    /// Starts `command`, forwarding its standard output line by line through
    /// a channel, so that waiting for a line can time out.
    pub fn spawn(command: &mut Command) -> Self {
        let mut child = command.spawn().expect("the binary starts");
        let (lines_tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout is piped");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The next line printed, or `None` once the output has ended or nothing
    /// came for `PATIENCE`.
    pub fn next_line(&self) -> Option<String> {
        self.lines.recv_timeout(PATIENCE).ok()
    }

    /// Every line up to and including the first that contains `needle`.
    pub fn lines_until(&self, needle: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            match self.next_line() {
                Some(line) => {
                    let found = line.contains(needle);
                    seen.push(line);
                    if found {
                        return seen;
                    }
                }
                None => panic!("no line containing {needle:?} in: {seen:#?}"),
            }
        }
    }

    /// The address from the "listening" line.
    pub fn listening_addr(&self) -> String {
        let lines = self.lines_until("listening");
        lines
            .last()
            .and_then(|line| {
                line.split_whitespace()
                    .find_map(|field| field.strip_prefix("addr="))
            })
            .expect("addr= in the listening line")
            .to_owned()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
    }

    /// Waits for the exit status, failing the test after `limit`.
    pub fn wait_at_most(&mut self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(started.elapsed() < limit, "still running after {limit:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything printed on standard error (call once it has exited).
    pub fn stderr(&mut self) -> String {
        let mut text = String::new();
        if let Some(stderr) = self.child.stderr.as_mut() {
            stderr.read_to_string(&mut text).expect("read stderr");
        }
        text
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
