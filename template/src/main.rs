//! Entry point: load `.env`, validate configuration, start serving.

use std::process::ExitCode;

use platform::{shutdown, telemetry};

// One item per line, so that rustfmt keeps this layout whatever the
// project's name (a long name would push a single line past 100 columns).
use {{crate_name}}::config::Config;
use {{crate_name}}::startup::Application;

#[tokio::main]
async fn main() -> ExitCode {
{%- if auth == "password" %}
    platform::allocator::return_large_blocks_to_the_os();
{% endif %}
    // Variables already in the environment win over `.env`, which is read
    // from the working folder only.
    if let Err(err) = dotenvy::from_path(".env")
        && !err.not_found()
    {
        return fail(&format!("configuration error: cannot read .env: {err}"));
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => return fail(&format!("configuration error: {err}")),
    };
    // Held to the end: dropping it writes out the log lines still queued.
    let _log_writer = telemetry::init(&config.log);

    // Listening starts before start-up, so a signal is never lost: during
    // start-up (which may wait on the database) it stops the process at once,
    // and once serving it stops it gracefully.
    let mut stop = Box::pin(shutdown::listen());
    let built = tokio::select! {
        built = Application::build(config) => built,
        () = &mut stop => return ExitCode::SUCCESS,
    };
    match built {
        Ok(app) => {
            app.run_until(stop).await;
            ExitCode::SUCCESS
        }
        Err(err) => fail(&format!("error: {err:#}")),
    }
}

/// Reports a start-up failure in one line, without a backtrace.
fn fail(message: &str) -> ExitCode {
    eprintln!("{message}");
    ExitCode::FAILURE
}
