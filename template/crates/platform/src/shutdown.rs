//! Graceful shutdown on Ctrl-C or SIGTERM.
//!
//! Container runtimes and process managers send SIGTERM; finishing in-flight
//! requests before exiting means a deploy never cuts a login in half.
//!
//! On Unix the handlers are installed when [`listen`] is called, not when its
//! future is first polled. `main` calls it before start-up, so a SIGTERM sent
//! the moment the server logs "listening" is still graceful; installed
//! lazily, it would meet the default action and kill the process outright.

use std::future::Future;

/// Starts listening for Ctrl-C and SIGTERM, and returns a future that
/// completes when either arrives. Must be called inside the Tokio runtime.
#[cfg(unix)]
pub fn listen() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};

    let interrupt = signal(SignalKind::interrupt());
    let terminate = signal(SignalKind::terminate());
    async move {
        tokio::select! {
            () = received(interrupt, "Ctrl-C") => {},
            () = received(terminate, "SIGTERM") => {},
        }
        tracing::info!("shutting down: finishing in-flight requests");
    }
}

/// Completes when the signal arrives; never, if it could not be installed.
#[cfg(unix)]
async fn received(signal: std::io::Result<tokio::signal::unix::Signal>, name: &str) {
    match signal {
        Ok(mut signal) => {
            signal.recv().await;
        }
        Err(err) => {
            tracing::error!(error = %err, "cannot listen for {name}");
            std::future::pending::<()>().await;
        }
    }
}

/// Starts listening for Ctrl-C, and returns a future that completes when it
/// arrives.
#[cfg(not(unix))]
pub fn listen() -> impl Future<Output = ()> + Send + 'static {
    async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
        tracing::info!("shutting down: finishing in-flight requests");
    }
}
