//! Structured logs through `tracing`.
//!
//! One subscriber for the whole process, filtered by `RUST_LOG`; tower-http's
//! `TraceLayer` adds a span per request, so every log line a handler writes
//! carries the method and path it was serving.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt};

/// Installs the global subscriber. An invalid filter is a configuration
/// error, reported like the others instead of being silently ignored.
pub fn init(filter: &str) -> Result<(), String> {
    let filter = EnvFilter::try_new(filter).map_err(|err| {
        format!("RUST_LOG={filter:?}: {err}. Fix: use directives such as info,tower_http=debug")
    })?;
    fmt()
        .with_env_filter(filter)
        .with_target(false)
        // Colours for a person at a terminal (unless NO_COLOR is set); plain
        // text for files and log collectors, which would store the codes.
        .with_ansi(std::io::stdout().is_terminal() && !no_color())
        .init();
    Ok(())
}

/// Whether colours are turned off by the `NO_COLOR` convention
/// (<https://no-color.org>): set and not empty.
fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty())
}
