//! The prompts as a person meets them: keystrokes through a pseudo-terminal
//! (util-linux `script`), since cargo-generate reads answers from a terminal.

mod common;

use std::{
    io::Write,
    path::Path,
    process::{Command, Output, Stdio},
};

use common::{cargo_generate, entries, template_copy};

/// Runs `cargo generate` interactively, typing `keys`, as a user would:
/// without `--vcs`, so cargo-generate makes the project a git repository.
fn generate_typing(template: &Path, destination: &Path, keys: &str) -> Output {
    let command = format!(
        "'{}' generate --path '{}' --destination '{}' --name typed-app",
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
    // Enter six times: cross_origin (true), frontend_origin (asked right
    // after it), public_origin, database (sqlite), session_store (database),
    // auth (password).
    let output = generate_typing(template.path(), destination.path(), "\r\r\r\r\r\r");
    let screen = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{screen}");
    // The frontend's origin is asked right after the question it depends
    // on, and the questions come in this order.
    let order = [
        "Is the frontend served from a different origin (scheme, host or port) than this backend?",
        "Origin the frontend is served from",
        "Public origin of this backend",
        "Database for users",
        "Where sessions live",
        "How users sign in",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|prompt| {
            screen
                .find(prompt)
                .unwrap_or_else(|| panic!("{prompt}: {screen}"))
        })
        .collect();
    assert!(positions.is_sorted(), "asked out of order: {screen}");
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
    assert!(env.contains("AUTH_ATTEMPTS_PER_IP="), "{env}");
    assert!(!env.contains("OIDC_"), "{env}");
}

#[test]
fn the_store_menus_pick_postgres_and_redis() {
    let template = template_copy();
    let destination = tempfile::tempdir().unwrap();
    // Defaults for the three origin questions; Down then Enter at each
    // store menu; the default (password) at the auth menu.
    let output = generate_typing(
        template.path(),
        destination.path(),
        "\r\r\r\x1b[B\r\x1b[B\r\r",
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
    let manifest = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains(r#""postgres", "redis-sessions""#),
        "{manifest}"
    );
}

#[test]
fn the_auth_menu_picks_a_hosted_login() {
    let template = template_copy();
    let destination = tempfile::tempdir().unwrap();
    // Defaults up to the auth menu, the last question; Down then Enter there.
    let output = generate_typing(template.path(), destination.path(), "\r\r\r\r\r\x1b[B\r");
    let screen = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{screen}");
    assert!(screen.contains("How users sign in"), "{screen}");
    let project = destination.path().join("typed-app");
    let env = std::fs::read_to_string(project.join(".env")).unwrap();
    assert!(
        env.contains("OIDC_REDIRECT_URL=http://localhost:5173/\n"),
        "{env}"
    );
    // Sign-ins started are throttled per address; accounts are the
    // provider's, so nothing is counted per account here.
    assert!(env.contains("AUTH_ATTEMPTS_PER_IP=60\n"), "{env}");
    assert!(!env.contains("AUTH_ATTEMPTS_PER_ACCOUNT"), "{env}");
    let manifest = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
    assert!(manifest.contains(r#""oidc""#), "{manifest}");
    assert!(!manifest.contains(r#""password""#), "{manifest}");
    let auth = std::fs::read_to_string(project.join("src/routes/auth.rs")).unwrap();
    assert!(auth.contains("/api/auth/oidc/callback"), "{auth}");
}

/// The keys that answer `false` to the `cross_origin` question: cargo-generate
/// 0.23 shows a false/true menu (Up, Enter), later releases a y/n question
/// that takes `n` at once.
fn answer_no() -> &'static str {
    let version = Command::new(cargo_generate())
        .args(["generate", "--version"])
        .output()
        .expect("cargo-generate runs");
    if String::from_utf8_lossy(&version.stdout).contains(" 0.23.") {
        "\x1b[A\r"
    } else {
        "n"
    }
}

/// The terminal output without colours and cursor movements (CSI and OSC
/// sequences), so that the text can be searched.
fn plain(screen: &[u8]) -> String {
    let text = String::from_utf8_lossy(screen);
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        match chars.next() {
            // CSI: parameters, then one final byte in @..~.
            Some('[') => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // OSC: up to BEL or ESC \.
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\x07' || (c == '\x1b' && chars.next_if_eq(&'\\').is_some()) {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// What the issue asked for, at the real prompts: a malformed origin is
/// asked again (the placeholder's `regex`), the good one typed next is used,
/// and the project is a git repository in the folder named as asked, with
/// no warning on the way and the project's own folder in the closing line.
#[test]
fn a_malformed_origin_is_asked_again_and_the_project_is_a_git_repository() {
    let template = template_copy();
    let destination = tempfile::tempdir().unwrap();
    // `false` for cross_origin; a backend origin without its scheme, then a
    // good one; the default stores and way of signing in.
    let keys = format!(
        "{}localhost:9090\rhttp://LOCALHOST:9090\r\r\r\r",
        answer_no()
    );
    let output = generate_typing(template.path(), destination.path(), &keys);
    let screen = plain(&output.stdout);
    assert!(output.status.success(), "{screen}");
    assert!(
        screen.contains("\"localhost:9090\" is not a valid value for public_origin"),
        "{screen}"
    );
    assert!(
        screen.matches("Public origin of this backend").count() >= 2,
        "the prompt was not asked again:\n{screen}"
    );
    assert!(screen.contains("scheme://host[:port]"), "{screen}");
    for warning in ["--init", "Output location is affected", "Sorry,"] {
        // The refusal of the first answer is the only complaint.
        let expected = usize::from(warning == "Sorry,");
        assert!(
            screen.matches(warning).count() <= expected,
            "unexpected {warning:?}:\n{screen}"
        );
    }
    let done = screen
        .lines()
        .find(|l| l.contains("Done! New project created"))
        .unwrap_or_else(|| panic!("no closing line:\n{screen}"));
    assert!(done.trim_end().ends_with("typed-app"), "{done:?}");

    assert_eq!(entries(destination.path()), ["typed-app"]);
    let project = destination.path().join("typed-app");
    let env = std::fs::read_to_string(project.join(".env")).unwrap();
    assert!(
        env.contains("PUBLIC_ORIGIN=http://localhost:9090\n"),
        "{env}"
    );
    let toplevel = Command::new("git")
        .args(["rev-parse", "--show-toplevel"])
        .current_dir(&project)
        .output()
        .unwrap();
    assert!(toplevel.status.success(), "not a git repository");
    assert_eq!(
        Path::new(String::from_utf8_lossy(&toplevel.stdout).trim()),
        project.canonicalize().unwrap()
    );
}

/// An answer of the right shape that the pre hook refuses (a port above
/// 65535) stops generation with the hook's message. cargo-generate has
/// created the project folder by then: it is left empty.
#[test]
fn a_typed_answer_the_hook_refuses_stops_generation() {
    let template = template_copy();
    let destination = tempfile::tempdir().unwrap();
    let keys = format!("{}http://localhost:99999\r\r\r\r", answer_no());
    let output = generate_typing(template.path(), destination.path(), &keys);
    let screen = plain(&output.stdout);
    assert!(!output.status.success(), "{screen}");
    assert!(
        screen.contains("invalid answer for `public_origin`"),
        "{screen}"
    );
    assert!(screen.contains("\"http://localhost:99999\""), "{screen}");
    assert!(screen.contains("scheme://host[:port]"), "{screen}");
    common::assert_at_most_an_empty_project_folder(destination.path(), "typed-app");
}
