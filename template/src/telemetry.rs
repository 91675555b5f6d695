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
        // Colours for a person at a terminal; plain text for files and log
        // collectors, which would otherwise store the escape codes.
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    Ok(())
}
