//! A real SMTP server for tests (with `mail`): aiosmtpd, the Python
//! standard-bearer, on a spare loopback port, started per test. Each message
//! it receives is written as a JSON file (recipients, subject, decoded body)
//! into a temporary folder, from which [`MailCatcher::wait_for`] reads it:
//! the application's mail goes over TCP through a real SMTP conversation,
//! and nothing in the application is replaced.
//!
//! It needs `python3` with `aiosmtpd` importable (`pip install aiosmtpd`).
//! Without it a test that asks for one is skipped with a note, or fails
//! when `CI` is set, so a continuous integration run never passes by
//! skipping.

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde::Deserialize;

/// The server (`smtp_server.py`): receives every message, answers 250.
const SERVER: &str = include_str!("smtp_server.py");

/// One message the server received.
#[derive(Clone, Debug, Deserialize)]
pub struct ReceivedMail {
    /// The envelope sender.
    pub from: String,
    /// The envelope recipients.
    pub to: Vec<String>,
    pub subject: String,
    /// Header names in lower case.
    pub headers: std::collections::HashMap<String, String>,
    /// The text, transfer encoding undone.
    pub body: String,
}

impl ReceivedMail {
    /// The token in the body's first link with `#token=`.
    pub fn token(&self) -> Option<String> {
        let at = self.body.find("#token=")? + "#token=".len();
        let token: String = self.body[at..]
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        Some(token)
    }
}

/// A running SMTP server and the folder its messages land in.
pub struct MailCatcher {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl MailCatcher {
    /// Starts a server on a spare port; `None` (after a note on stderr) when
    /// aiosmtpd is not installed and `CI` is not set.
    pub fn start() -> Option<Self> {
        let port = spare_port();
        let mut catcher = Self {
            port,
            dir: tempfile::tempdir().expect("a temporary folder"),
            child: None,
        };
        catcher.restart().then_some(catcher)
    }

    /// A port nothing listens on yet (for a server that is "down"); start
    /// one there later with [`Self::start_on`].
    pub fn spare_port() -> u16 {
        spare_port()
    }

    /// Starts a server on `port`.
    pub fn start_on(port: u16) -> Option<Self> {
        let mut catcher = Self {
            port,
            dir: tempfile::tempdir().expect("a temporary folder"),
            child: None,
        };
        catcher.restart().then_some(catcher)
    }

    /// `SMTP_URL` for the application: plain SMTP on loopback.
    pub fn smtp_url(&self) -> String {
        smtp_url(self.port)
    }

    /// Stops the server (an outage); [`Self::restart`] brings it back on the
    /// same port.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// (Re)starts the server on its port; whether it runs.
    pub fn restart(&mut self) -> bool {
        self.stop();
        let spawned = Command::new("python3")
            .arg("-c")
            .arg(SERVER)
            .arg(self.port.to_string())
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(err) => return unavailable(&format!("python3 did not start: {err}")),
        };
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("piped"));
        let mut line = String::new();
        let _ = std::io::BufRead::read_line(&mut stdout, &mut line);
        if line.trim() != "ready" {
            let _ = child.kill();
            let output = child.wait_with_output().expect("python3 ended");
            return unavailable(&String::from_utf8_lossy(&output.stderr));
        }
        self.child = Some(child);
        true
    }

    /// Every message received so far, oldest first.
    pub fn received(&self) -> Vec<ReceivedMail> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("the mail folder")
            .filter_map(|entry| Some(entry.ok()?.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|path| {
                let text = std::fs::read_to_string(path).expect("a received message");
                serde_json::from_str(&text).expect("a message as the server wrote it")
            })
            .collect()
    }

    /// The messages to `to`, waiting up to `patience` until there are at
    /// least `count`; fails the test if they do not come.
    pub async fn wait_for(&self, to: &str, count: usize, patience: Duration) -> Vec<ReceivedMail> {
        self.wait_for_subject(to, "", count, patience).await
    }

    /// The messages to `to` whose subject contains `subject`, waiting up to
    /// `patience` until there are at least `count`; fails the test if they
    /// do not come.
    pub async fn wait_for_subject(
        &self,
        to: &str,
        subject: &str,
        count: usize,
        patience: Duration,
    ) -> Vec<ReceivedMail> {
        let started = Instant::now();
        loop {
            let to_them: Vec<ReceivedMail> = self
                .received()
                .into_iter()
                .filter(|mail| mail.to.iter().any(|r| r == to) && mail.subject.contains(subject))
                .collect();
            if to_them.len() >= count {
                return to_them;
            }
            assert!(
                started.elapsed() < patience,
                "{count} mail(s) to {to} about {subject:?} expected within {patience:?}, got {}",
                to_them.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for MailCatcher {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `SMTP_URL` for a server on this machine's `port`.
pub fn smtp_url(port: u16) -> String {
    format!("smtp://127.0.0.1:{port}?tls=none")
}

fn spare_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a spare port")
        .port()
}

fn unavailable(why: &str) -> bool {
    let message = format!(
        "the mail tests need python3 with aiosmtpd (pip install aiosmtpd): {}",
        why.trim()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{message}");
    }
    eprintln!("skipping: {message}");
    false
}
