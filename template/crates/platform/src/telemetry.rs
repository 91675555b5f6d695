//! Structured logs through `tracing`, and the access log.
//!
//! One subscriber for the whole process, filtered by `RUST_LOG`. Every
//! response is logged in one line with its method, path, status and latency
//! ([`AccessLog`], at `info`).
//!
//! The access log is the one line written per request, so what it costs
//! shows directly in the throughput: it is a single
//! event, with no span to create, enter and format (so a handler's own lines
//! do not repeat the method and path: the access line right after them has
//! both). Lines for files and pipes are formatted by [`format::Plain`],
//! which writes the text of `tracing-subscriber`'s default format at a
//! fraction of its cost; a terminal gets the default format itself, in
//! colour. Lines are written by a background thread in batches
//! (`tracing-appender`). When it falls behind (a log collector stalls, a
//! pipe fills), lines beyond the queue are dropped rather than making
//! requests wait: a slow log must never slow or stop the service. What was
//! dropped is counted and said in a warning every [`DROP_REPORT_INTERVAL`]
//! while it goes on. One value writes at most
//! [`format::MAX_VALUE_BYTES`]. [`init`] returns the guard that writes out
//! what is still queued when the process ends.

pub mod format;

use std::{
    io::IsTerminal,
    time::{Duration, Instant},
};

use axum::http::{Method, Request, Response, Uri};
use tracing_appender::non_blocking::{ErrorCounter, NonBlocking, WorkerGuard};
use tracing_subscriber::{EnvFilter, fmt};

use crate::{
    response_hook::{Hook, Then},
    settings::{ConfigError, Env},
};

/// What is logged.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `tracing` filter directives (`RUST_LOG`), checked when read: an
    /// invalid filter is a configuration error, reported like the others
    /// instead of being silently ignored.
    pub filter: String,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let filter = env.var("RUST_LOG", DEFAULT_FILTER).parse_with(
            |v| {
                EnvFilter::try_new(v)
                    .map(|_| v.to_owned())
                    .map_err(|err| err.to_string())
            },
            "use directives such as info or warn,my_app=debug",
        )?;
        Ok(Self { filter })
    }
}

/// `RUST_LOG` when it is not set: `info`, except tower-sessions, whose two
/// spans per request at `info` cost more than the access log and prefix
/// every handler's line.
pub const DEFAULT_FILTER: &str = "info,tower_sessions=warn,tower_sessions_core=warn";

/// Installs the global subscriber. Keep the guard until the end of `main`:
/// dropping it writes out the lines still queued.
pub fn init(settings: &Settings) -> WorkerGuard {
    let filter =
        EnvFilter::try_new(&settings.filter).unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let terminal = std::io::stdout().is_terminal();
    // A terminal sees each line at once; anything else (a file, a pipe to
    // a log collector) gets them in batches: the writer thread takes every
    // queued line, then writes them with one system call.
    let out: Box<dyn std::io::Write + Send> = if terminal {
        Box::new(std::io::stdout())
    } else {
        Box::new(std::io::BufWriter::with_capacity(
            BATCH_BYTES,
            std::io::stdout(),
        ))
    };
    let (writer, guard) = queue(out);
    report_drops(writer.error_counter());
    let subscriber = fmt().with_env_filter(filter).with_writer(writer);
    if terminal {
        // Colours for a person at a terminal, unless NO_COLOR is set.
        subscriber.with_target(false).with_ansi(!no_color()).init();
    } else {
        // Plain text for files and log collectors, which would store the
        // colour codes.
        subscriber
            .event_format(format::Plain)
            .fmt_fields(format::PlainFields)
            .init();
    }
    guard
}

/// Most bytes of log lines gathered before they are written, when the
/// writer thread falls behind.
const BATCH_BYTES: usize = 64 * 1024;

/// Most lines queued for the writer thread; past that, lines are dropped
/// (and counted) until it catches up.
const QUEUED_LINES: usize = 8 * 1024;

/// How often, at most, dropped lines are reported.
pub const DROP_REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// The queue in front of `out` and its writer thread.
fn queue(out: impl std::io::Write + Send + 'static) -> (NonBlocking, WorkerGuard) {
    tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(true)
        // The queue's slots are allocated up front: the default 128,000
        // took 3.5 MiB of resident memory (measured idle RSS).
        .buffered_lines_limit(QUEUED_LINES)
        .thread_name("log-writer")
        .finish(out)
}

/// Warns, from a thread of its own, when lines have been dropped since the
/// last look. (The warning itself may be dropped while the writer is still
/// behind; the count goes on and the next one says it.)
fn report_drops(dropped: ErrorCounter) {
    let spawned = std::thread::Builder::new()
        .name("log-drops".into())
        .spawn(move || {
            let mut reported = 0;
            loop {
                std::thread::sleep(DROP_REPORT_INTERVAL);
                let total = dropped.dropped_lines();
                if total > reported {
                    tracing::warn!(
                        dropped = total - reported,
                        dropped_since_start = total,
                        "the log writer fell behind: lines were dropped rather than slowing requests"
                    );
                    reported = total;
                }
            }
        });
    if let Err(err) = spawned {
        tracing::warn!(error = %err, "cannot start the thread that reports dropped log lines");
    }
}

/// The access log: one line per response, with its method, path, status and
/// latency in microseconds, after the handler's own lines. The path, not
/// the whole URI: query strings can carry tokens.
#[derive(Clone, Copy, Debug)]
pub struct AccessLog;

impl<B> Hook<B> for AccessLog {
    type Then = AccessLine;

    fn request(&self, request: &Request<B>) -> AccessLine {
        AccessLine {
            started: Instant::now(),
            method: request.method().clone(),
            uri: request.uri().clone(),
        }
    }
}

/// What the access log keeps of a request until its response.
pub struct AccessLine {
    started: Instant,
    method: Method,
    uri: Uri,
}

impl Then for AccessLine {
    fn response<R>(self, response: &mut Response<R>) {
        tracing::info!(
            method = %self.method,
            path = %self.uri.path(),
            status = response.status().as_u16(),
            latency_us = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "finished processing request"
        );
    }
}

/// Whether colours are turned off by the `NO_COLOR` convention
/// (<https://no-color.org>): set and not empty.
fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use std::{
        io::Write,
        sync::{
            Arc,
            atomic::{AtomicBool, Ordering},
            mpsc,
        },
    };

    use super::*;

    /// A log destination that takes nothing until released, as a stalled
    /// pipe or collector.
    struct Stalled(Arc<AtomicBool>);

    impl Write for Stalled {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            while !self.0.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_log_drops_and_counts_lines_instead_of_blocking() {
        let released = Arc::new(AtomicBool::new(false));
        let (writer, guard) = queue(Stalled(Arc::clone(&released)));
        let counter = writer.error_counter();
        let (done, finished) = mpsc::channel();
        std::thread::spawn(move || {
            let mut writer = writer;
            for _ in 0..QUEUED_LINES * 2 {
                let _ = writer.write_all(b"a line\n");
            }
            let _ = done.send(());
        });
        let result = finished.recv_timeout(Duration::from_secs(10));
        released.store(true, Ordering::Release);
        drop(guard);
        assert!(result.is_ok(), "logging blocked on a stalled writer");
        assert!(
            counter.dropped_lines() >= QUEUED_LINES / 2,
            "{}",
            counter.dropped_lines()
        );
    }
}
