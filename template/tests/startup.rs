//! The real binary refuses bad configuration with one line, not a panic.

use std::process::Command;

fn run_with(var: &str, value: &str) -> std::process::Output {
    let data = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_{{project-name}}"))
        .env("BIND_ADDR", "127.0.0.1:0")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", data.path().join("x.db").display()),
        )
        .env(var, value)
        .output()
        .expect("binary runs")
}

#[test]
fn bad_configuration_stops_start_up_with_one_clear_line() {
    for (var, value) in [
        ("PUBLIC_ORIGIN", "*"),
        ("BIND_ADDR", "not-an-address"),
        ("SESSION_INACTIVITY_SECS", "-1"),
        ("RUST_LOG", "info,[=bad"),
{%- if cross_origin %}
        ("FRONTEND_ORIGINS", "*"),
        ("FRONTEND_ORIGINS", "http://localhost:5173/"),
{%- endif %}
    ] {
        let output = run_with(var, value);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{var}={value}: {stderr}");
        assert!(stderr.starts_with("configuration error: "), "{stderr}");
        assert!(stderr.contains(var), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
