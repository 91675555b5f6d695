//! Bad answers stop generation with a message that names the prompt, the
//! value given and the expected form, and leave nothing on disk.

mod common;

use common::{entries, generate, template_copy};

const BACKEND: (&str, &str) = ("public_origin", "http://localhost:8080");

/// `--define`s given to cargo-generate.
type Answers = &'static [(&'static str, &'static str)];

/// (answers, prompt named, value quoted, words the message must contain)
const CASES: &[(Answers, &str, &str, &str)] = &[
    (
        &[
            ("cross_origin", "false"),
            ("public_origin", "localhost:8080"),
        ],
        "public_origin",
        "localhost:8080",
        "http:// or https://",
    ),
    (
        &[
            ("cross_origin", "false"),
            ("public_origin", "http://localhost:8080/"),
        ],
        "public_origin",
        "http://localhost:8080/",
        "trailing slash",
    ),
    (
        &[
            ("cross_origin", "false"),
            ("public_origin", "ftp://files.example.com"),
        ],
        "public_origin",
        "ftp://files.example.com",
        "http:// or https://",
    ),
    (
        &[
            ("cross_origin", "true"),
            BACKEND,
            ("frontend_origin", "http://localhost:5173/app"),
        ],
        "frontend_origin",
        "http://localhost:5173/app",
        "path",
    ),
    (
        &[
            ("cross_origin", "true"),
            BACKEND,
            ("frontend_origin", "http://localhost:5173?x=1"),
        ],
        "frontend_origin",
        "http://localhost:5173?x=1",
        "query",
    ),
    (
        &[
            ("cross_origin", "true"),
            BACKEND,
            ("frontend_origin", "http://localhost:5173#top"),
        ],
        "frontend_origin",
        "http://localhost:5173#top",
        "fragment",
    ),
    (
        &[("cross_origin", "true"), BACKEND, ("frontend_origin", "*")],
        "frontend_origin",
        "*",
        "each origin listed",
    ),
    (
        &[
            ("cross_origin", "true"),
            BACKEND,
            ("frontend_origin", "null"),
        ],
        "frontend_origin",
        "null",
        "each origin listed",
    ),
    (
        &[
            ("cross_origin", "true"),
            BACKEND,
            ("frontend_origin", "http://localhost:99999"),
        ],
        "frontend_origin",
        "http://localhost:99999",
        "port",
    ),
    (
        &[
            ("cross_origin", "true"),
            BACKEND,
            ("frontend_origin", "http://user@localhost:5173"),
        ],
        "frontend_origin",
        "http://user@localhost:5173",
        "credentials",
    ),
    (
        &[
            ("cross_origin", "true"),
            BACKEND,
            ("frontend_origin", "http://localhost:8080"),
        ],
        "frontend_origin",
        "http://localhost:8080",
        "own origin",
    ),
    // Equal after normalisation (case, default port) is still the same origin.
    (
        &[
            ("cross_origin", "true"),
            ("public_origin", "https://api.example.com"),
            ("frontend_origin", "HTTPS://API.example.com:443"),
        ],
        "frontend_origin",
        "HTTPS://API.example.com:443",
        "own origin",
    ),
];

#[test]
fn each_bad_answer_is_refused_with_a_clear_message_and_nothing_on_disk() {
    let template = template_copy();
    for (defines, prompt, given, words) in CASES {
        let destination = tempfile::tempdir().unwrap();
        let output = generate(template.path(), destination.path(), "bad-answer", defines);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{defines:?} was accepted");
        assert!(
            stderr.contains(&format!("invalid answer for `{prompt}`")),
            "{defines:?}:\n{stderr}"
        );
        assert!(
            stderr.contains(&format!("\"{given}\"")),
            "{defines:?}:\n{stderr}"
        );
        assert!(
            stderr.contains(words),
            "{defines:?} should mention {words:?}:\n{stderr}"
        );
        assert!(
            stderr.contains("scheme://host[:port]"),
            "expected form missing:\n{stderr}"
        );
        assert!(
            entries(destination.path()).is_empty(),
            "{defines:?} left {:?}",
            entries(destination.path())
        );
    }
}

/// cargo-generate parses boolean answers itself, before any hook runs; its
/// message names the expected form but not the prompt. Nothing is left behind.
#[test]
fn a_non_boolean_cross_origin_answer_is_refused_and_leaves_nothing() {
    let template = template_copy();
    let destination = tempfile::tempdir().unwrap();
    let output = generate(
        template.path(),
        destination.path(),
        "bad-answer",
        &[("cross_origin", "maybe"), BACKEND],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("not `true` or `false`"), "{stderr}");
    assert!(entries(destination.path()).is_empty());
}

/// A store that is not one of the choices is refused, naming the prompt and
/// the value (by cargo-generate itself, or by hooks/validate.rhai where a
/// release does not check `--define`s against `choices`).
#[test]
fn an_unknown_store_is_refused_and_leaves_nothing() {
    let template = template_copy();
    for (prompt, given) in [("database", "mysql"), ("session_store", "memcached")] {
        let destination = tempfile::tempdir().unwrap();
        let output = generate(
            template.path(),
            destination.path(),
            "bad-answer",
            &[("cross_origin", "false"), BACKEND, (prompt, given)],
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{prompt}={given} was accepted");
        assert!(
            stderr.contains(&format!("\"{given}\"")) && stderr.contains(prompt),
            "{prompt}={given}:\n{stderr}"
        );
        assert!(entries(destination.path()).is_empty());
    }
}

#[test]
fn answers_are_normalised_to_what_browsers_send() {
    let template = template_copy();
    let destination = tempfile::tempdir().unwrap();
    let output = generate(
        template.path(),
        destination.path(),
        "normalised",
        &[
            ("cross_origin", "true"),
            ("public_origin", "HTTPS://API.Example.com:443"),
            ("frontend_origin", "http://LOCALHOST:5173"),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let env = std::fs::read_to_string(destination.path().join("normalised/.env")).unwrap();
    assert!(
        env.contains("PUBLIC_ORIGIN=https://api.example.com\n"),
        "{env}"
    );
    assert!(
        env.contains("FRONTEND_ORIGINS=http://localhost:5173\n"),
        "{env}"
    );
}
