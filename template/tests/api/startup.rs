//! The real binary: bad configuration stops it with one line, not a panic,
//! and SIGTERM stops it gracefully.

use crate::helpers::binary::{PATIENCE, Process, command, command_with, test_database};

#[test]
fn bad_configuration_stops_start_up_with_one_clear_line() {
    // The first setting of each case is the one the message must name.
    for settings in [
        &[("PUBLIC_ORIGIN", "*")][..],
        &[("BIND_ADDR", "not-an-address")],
        &[("SESSION_INACTIVITY_SECS", "-1")],
        &[("RUST_LOG", "info,[=bad")],
        &[("MAX_CONNECTIONS", "0")],
{%- if auth == "password" %}
        // Replaced by TRUSTED_PROXIES: an upgrade must not silently drop it.
        &[("TRUST_PROXY", "true")],
{%- endif %}
        // A cookie that would also travel over plain http.
        &[
            ("COOKIE_SECURE", "false"),
            ("PUBLIC_ORIGIN", "https://api.example.com"),
        ],
{%- if cross_origin %}
        &[("FRONTEND_ORIGINS", "*")],
        &[("FRONTEND_ORIGINS", "http://localhost:5173/")],
{%- endif %}
    ] {
        let (var, _) = settings[0];
        let database = test_database();
        let mut process = Process::spawn(command(&database).envs(settings.iter().copied()));
        let status = process.wait_at_most(PATIENCE);
        let stderr = process.stderr();
        assert_eq!(status.code(), Some(1), "{settings:?}: {stderr}");
        assert!(stderr.starts_with("configuration error: "), "{stderr}");
        assert!(stderr.contains(&format!("{var}=")), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn plain_http_on_a_public_host_starts_with_a_warning() {
    let database = test_database();
{%- if cross_origin %}
    let settings = [
        ("PUBLIC_ORIGIN", "http://api.example.com"),
        ("FRONTEND_ORIGINS", "http://app.example.com"),
    ];
{%- else %}
    let settings = [("PUBLIC_ORIGIN", "http://api.example.com")];
{%- endif %}
    let mut server = command_with(&database, &settings);
    // Everything logged up to the line that says the server is up.
    let logged = Process::spawn(&mut server).lines_until("listening");
    let warnings: Vec<&String> = logged.iter().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{logged:#?}");
    assert!(
        warnings[0].contains("PUBLIC_ORIGIN=http://api.example.com is plain http"),
        "{logged:#?}"
    );
    assert!(
        logged.last().is_some_and(|l| l.contains("listening")),
        "{logged:#?}"
    );
}

/// What a browser refuses without saying why is said in the server's log,
/// once per value: a page calling the API under another host name than
/// `PUBLIC_ORIGIN`'s{% if cross_origin %}, and a frontend origin missing from `FRONTEND_ORIGINS`{% endif %}.
#[test]
fn what_browsers_refuse_silently_is_warned_about_once() {
    use std::io::{Read, Write};

    let database = test_database();
    // PUBLIC_ORIGIN is http://localhost:8080; the requests below go to the
    // address the server listens on, 127.0.0.1:<port>.
    let process = Process::spawn(&mut command(&database));
    let addr = process.listening_addr();
    for n in 0..3 {
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        let request = format!(
            "GET /api/marker-{n} HTTP/1.1\r\nHost: {addr}\r\n\
             Origin: http://app.example.net:5173\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    }
    let logged = process.lines_until("/api/marker-2");
    let warned = |needle: &str| logged.iter().filter(|l| l.contains(needle)).count();
    assert_eq!(
        warned("another host than PUBLIC_ORIGIN's"),
        1,
        "{logged:#?}"
    );
    assert_eq!(warned(&format!("host={addr}")), 1, "{logged:#?}");
{%- if cross_origin %}
    assert_eq!(
        warned("origin=http://app.example.net:5173 frontend_origins="),
        1,
        "{logged:#?}"
    );
{%- endif %}
}

/// `.env` is read from the working folder only: one in a folder above
/// (another project's, a home folder's) is not this server's configuration.
#[test]
fn a_dotenv_in_a_parent_folder_is_not_read() {
    let database = test_database();
    let parent = tempfile::tempdir().unwrap();
    std::fs::write(parent.path().join(".env"), "MAX_CONNECTIONS=0\n").unwrap();
    let working = parent.path().join("working");
    std::fs::create_dir(&working).unwrap();
    // The project's own settings, passed in the environment instead.
    let project = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut server = command(&database);
    let set: Vec<String> = server
        .get_envs()
        .map(|(name, _)| name.to_string_lossy().into_owned())
        .collect();
    for (name, value) in dotenvy::from_path_iter(project.join(".env"))
        .unwrap()
        .map(Result::unwrap)
    {
        if !set.contains(&name) {
            server.env(name, value);
        }
    }
{%- unless cross_origin %}
    server.env("STATIC_DIR", project.join("frontend"));
{%- endunless %}
    server.current_dir(&working);
    let logged = Process::spawn(&mut server).lines_until("listening");
    assert!(
        logged.last().is_some_and(|l| l.contains("listening")),
        "{logged:#?}"
    );
}

#[cfg(unix)]
#[test]
fn sigterm_shuts_down_gracefully() {
    let database = test_database();
    let mut process = Process::spawn(&mut command(&database));
    process.lines_until("listening");
    process.terminate();
    process.lines_until("shutting down");
    let status = process.wait_at_most(PATIENCE);
    assert!(status.success(), "exit status after SIGTERM: {status}");
}
