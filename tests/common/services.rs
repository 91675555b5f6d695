//! Private PostgreSQL and Redis servers on spare ports, for tests that stop
//! and restart them. The machine's shared servers are never touched.
//!
//! With `CI=true` a missing server binary fails the test; elsewhere the test
//! is skipped with a message saying what to install.

use std::{
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use tempfile::TempDir;

/// A port nobody listens on right now.
pub fn spare_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Waits until something accepts TCP connections on `port`.
pub fn wait_for_port(port: u16, patience: Duration) {
    let deadline = Instant::now() + patience;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listens on {port} after {patience:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Explains a missing prerequisite: a failure in CI, a skip elsewhere.
/// Returns `None` so callers can `let Some(x) = ... else { return }`.
pub fn missing<T>(what: &str, install: &str) -> Option<T> {
    let message = format!("{what} is not installed ({install})");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message}; CI must provide it");
    }
    eprintln!("SKIPPED: {message}");
    None
}

fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// A PostgreSQL cluster of its own, in a temporary folder.
pub struct Postgres {
    pub port: u16,
    bin: PathBuf,
    data: PathBuf,
    _dir: TempDir,
}

impl Postgres {
    pub fn start() -> Option<Self> {
        let Some(bin) = postgres_bin_dir() else {
            return missing(
                "PostgreSQL's server (initdb, pg_ctl)",
                "apt-get install postgresql",
            );
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        // PostgreSQL refuses to run as root: run it as `postgres` then.
        if is_root() {
            run(Command::new("chmod").arg("755").arg(dir.path()));
            std::fs::create_dir(&data).expect("data dir");
            run(Command::new("chown").arg("postgres:postgres").arg(&data));
        }
        let server = Self {
            port: spare_port(),
            bin,
            data,
            _dir: dir,
        };
        run(server
            .command("initdb")
            .args([
                "--auth=trust",
                "--username=postgres",
                "--no-sync",
                "--encoding=UTF8",
                "-D",
            ])
            .arg(&server.data));
        server.resume();
        Some(server)
    }

    /// `DATABASE_URL` for a database on this server (created on first use).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Stops the server the way an administrator would (fast shutdown:
    /// clients are disconnected, committed data is kept).
    pub fn stop(&self) {
        run(self
            .command("pg_ctl")
            .args(["stop", "-m", "fast", "-w", "-D"])
            .arg(&self.data));
    }

    /// Starts it again on the same port and data.
    pub fn resume(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories='{}' -c fsync=off",
            self.port,
            self.data.display()
        );
        run(self
            .command("pg_ctl")
            .args(["start", "-w", "-s", "-o", &options, "-l"])
            .arg(self.data.join("server.log"))
            .arg("-D")
            .arg(&self.data));
        wait_for_port(self.port, Duration::from_secs(30));
    }

    fn command(&self, tool: &str) -> Command {
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(self.bin.join(tool));
            c
        } else {
            Command::new(self.bin.join(tool))
        };
        command.stdin(Stdio::null());
        command
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["stop", "-m", "immediate", "-D"])
            .arg(&self.data)
            .output();
    }
}

/// Debian installs the server binaries outside the PATH.
fn postgres_bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| Some(e.ok()?.path().join("bin")))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    dirs.sort();
    dirs.pop()
}

/// A Redis server of its own, persisting to an append-only file so that a
/// restart keeps what was written, as a production Redis for sessions would.
pub struct Redis {
    pub port: u16,
    dir: TempDir,
    child: Option<Child>,
}

impl Redis {
    pub fn start() -> Option<Self> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            return missing("redis-server", "apt-get install redis-server");
        }
        let mut server = Self {
            port: spare_port(),
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
        };
        server.resume();
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGTERM: Redis flushes its append-only file and exits.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            run(Command::new("kill").args(["-TERM", &child.id().to_string()]));
            child.wait().expect("redis-server exits");
        }
    }

    pub fn resume(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        wait_for_port(self.port, Duration::from_secs(30));
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
