//! The prompts as a person meets them: keystrokes through a pseudo-terminal
//! (util-linux `script`), since cargo-generate reads answers from a terminal.

mod common;

use std::{
    io::Write,
    path::Path,
    process::{Command, Output, Stdio},
};

use common::{cargo_generate, entries, template_copy};

/// Runs `cargo generate` interactively, typing `keys`.
fn generate_typing(template: &Path, destination: &Path, keys: &str) -> Output {
    let command = format!(
        "'{}' generate --path '{}' --destination '{}' --name typed-app --vcs none",
        cargo_generate(),
        template.display(),
        destination.display()
    );
    // `timeout` bounds a prompt that would wait for keys that never come.
    let mut child = Command::new("timeout")
        .args(["120", "script", "-qec", &command, "/dev/null"])
        // Never the checkout: see `common::generate_from`.
        .current_dir(destination)
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("`timeout` (coreutils) and `script` (util-linux) run");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(keys.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn accepting_every_default_gives_a_cross_origin_project() {
    let template = template_copy();
    let destination = tempfile::tempdir().unwrap();
    // Enter five times: cross_origin (true), public_origin, database
    // (sqlite), session_store (database), frontend_origin.
    let output = generate_typing(template.path(), destination.path(), "\r\r\r\r\r");
    let screen = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{screen}");
    assert!(screen.contains(
        "Is the frontend served from a different origin (scheme, host or port) than this backend?"
    ));
    let env = std::fs::read_to_string(destination.path().join("typed-app/.env")).unwrap();
    assert!(
        env.contains("PUBLIC_ORIGIN=http://localhost:8080\n"),
        "{env}"
    );
    assert!(
        env.contains("FRONTEND_ORIGINS=http://localhost:5173\n"),
        "{env}"
    );
    assert!(env.contains("DATABASE_URL=sqlite://"), "{env}");
    assert!(!env.contains("REDIS_URL"), "{env}");
}

#[test]
fn the_store_menus_pick_postgres_and_redis() {
    let template = template_copy();
    let destination = tempfile::tempdir().unwrap();
    // Defaults for the origins; Down then Enter at each store menu.
    let output = generate_typing(
        template.path(),
        destination.path(),
        "\r\r\x1b[B\r\x1b[B\r\r",
    );
    let screen = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{screen}");
    assert!(screen.contains("Where sessions live"), "{screen}");
    let project = destination.path().join("typed-app");
    let env = std::fs::read_to_string(project.join(".env")).unwrap();
    assert!(
        env.contains("DATABASE_URL=postgres://postgres@127.0.0.1:5432/typed_app\n"),
        "{env}"
    );
    assert!(env.contains("REDIS_URL=redis://127.0.0.1:6379\n"), "{env}");
    let store = std::fs::read_to_string(project.join("src/session_store.rs")).unwrap();
    assert!(store.contains("RedisStore"), "{store}");
}

#[test]
fn a_typed_bad_answer_is_refused_and_leaves_nothing() {
    let template = template_copy();
    let destination = tempfile::tempdir().unwrap();
    // Up selects `false` for cross_origin; then a backend origin with a path,
    // and the default stores (the hook checks answers after the last prompt).
    let output = generate_typing(
        template.path(),
        destination.path(),
        "\x1b[A\rhttp://localhost:8080/api\r\r\r",
    );
    let screen = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{screen}");
    assert!(
        screen.contains("invalid answer for `public_origin`"),
        "{screen}"
    );
    assert!(screen.contains("\"http://localhost:8080/api\""), "{screen}");
    assert!(entries(destination.path()).is_empty());
}
