//! Structured logs through `tracing`, and the access log.
//!
//! One subscriber for the whole process, filtered by `RUST_LOG`. Every
//! response is logged in one line with its method, path, status and latency
//! ([`access_log`], at `info`).
//!
//! The access log is the one line written per request, so what it costs
//! shows directly in the throughput (see the benchmark notes): it is a
//! single event, with no span to create, enter and format (so a handler's
//! own lines do not repeat the method and path: the access line right after
//! them has both), and lines are
//! written by a background thread in batches (`tracing-appender` with
//! `lossy(false)`: when the thread falls behind, requests wait for it rather
//! than lines being dropped). [`init`] returns the guard that writes out
//! what is still queued when the process ends.

use std::{io::IsTerminal, time::Instant};

use axum::{extract::Request, middleware::Next, response::Response};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::{EnvFilter, fmt};

/// Installs the global subscriber. An invalid filter is a configuration
/// error, reported like the others instead of being silently ignored. Keep
/// the guard until the end of `main`: dropping it writes out the lines still
/// queued.
pub fn init(filter: &str) -> Result<WorkerGuard, String> {
    let filter = EnvFilter::try_new(filter).map_err(|err| {
        format!("RUST_LOG={filter:?}: {err}. Fix: use directives such as info or warn")
    })?;
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
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        // The queue's slots are allocated up front: the default 128,000
        // took 3.5 MiB of resident memory (measured idle RSS).
        .buffered_lines_limit(QUEUED_LINES)
        .thread_name("log-writer")
        .finish(out);
    fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(writer)
        // Colours for a person at a terminal (unless NO_COLOR is set); plain
        // text for files and log collectors, which would store the codes.
        .with_ansi(terminal && !no_color())
        .init();
    Ok(guard)
}

/// Most bytes of log lines gathered before they are written, when the
/// writer thread falls behind.
const BATCH_BYTES: usize = 64 * 1024;

/// Most lines queued for the writer thread; past that, a request that logs
/// waits for the thread (nothing is dropped).
const QUEUED_LINES: usize = 8 * 1024;

/// Logs one line per response: method, path, status and latency in
/// microseconds. Handlers' own lines come before it.
pub async fn access_log(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let uri = request.uri().clone();
    let response = next.run(request).await;
    tracing::info!(
        method = %method,
        path = %uri.path(),
        status = response.status().as_u16(),
        latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "finished processing request"
    );
    response
}

/// Whether colours are turned off by the `NO_COLOR` convention
/// (<https://no-color.org>): set and not empty.
fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty())
}
