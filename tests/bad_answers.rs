//! Bad answers given without prompts (`--define`, `--silent`) stop
//! generation with a message that names the prompt and the value given.
//!
//! Two checks refuse them, in this order: the `regex` of the origin prompts
//! (cargo-generate.toml), which catches the malformed shapes so that the
//! interactive prompt asks again, and for `--define`s refuses with
//! cargo-generate's own one-line message; then hooks/validate.rhai, whose
//! message also gives the reason and the expected form. Either way at most
//! an empty project folder is left behind (see
//! `common::assert_at_most_an_empty_project_folder`).

mod common;

use common::{assert_at_most_an_empty_project_folder, generate, template_copy};

const BACKEND: (&str, &str) = ("public_origin", "http://localhost:8080");

/// `--define`s given to cargo-generate.
type Answers = &'static [(&'static str, &'static str)];

/// Which check refuses an answer.
#[derive(Debug)]
enum By {
    /// The prompt's `regex`: cargo-generate's own message.
    Regex,
    /// hooks/validate.rhai, with words its message must contain.
    Hook(&'static str),
}
use By::{Hook, Regex};

/// (answers, prompt named, value quoted, which check refuses it)
const CASES: &[(Answers, &str, &str, By)] = &[
    (
        &[
            ("cross_origin", "false"),
            ("public_origin", "localhost:8080"),
        ],
        "public_origin",
        "localhost:8080",
        Regex,
    ),
    (
        &[
            ("cross_origin", "false"),
            ("public_origin", "http://localhost:8080/"),
        ],
        "public_origin",
        "http://localhost:8080/",
        Regex,
    ),
    (
        &[
            ("cross_origin", "false"),
            ("public_origin", "ftp://files.example.com"),
        ],
        "public_origin",
        "ftp://files.example.com",
        Regex,
    ),
    (
        &[
            ("cross_origin", "true"),
            BACKEND,
            ("frontend_origin", "http://localhost:5173/app"),
        ],
        "frontend_origin",
        "http://localhost:5173/app",
        Regex,
    ),
    (
        &[
            ("cross_origin", "true"),
            BACKEND,
            ("frontend_origin", "http://localhost:5173?x=1"),
        ],
        "frontend_origin",
        "http://localhost:5173?x=1",
        Regex,
    ),
    (
        &[
            ("cross_origin", "true"),
            BACKEND,
            ("frontend_origin", "http://localhost:5173#top"),
        ],
        "frontend_origin",
        "http://localhost:5173#top",
        Regex,
    ),
    (
        &[("cross_origin", "true"), BACKEND, ("frontend_origin", "*")],
        "frontend_origin",
        "*",
        Regex,
    ),
    (
        &[
            ("cross_origin", "true"),
            BACKEND,
            ("frontend_origin", "null"),
        ],
        "frontend_origin",
        "null",
        Regex,
    ),
    (
        &[
            ("cross_origin", "true"),
            BACKEND,
            ("frontend_origin", "http://localhost:99999"),
        ],
        "frontend_origin",
        "http://localhost:99999",
        Hook("port outside 1-65535"),
    ),
    (
        &[
            ("cross_origin", "true"),
            BACKEND,
            ("frontend_origin", "http://user@localhost:5173"),
        ],
        "frontend_origin",
        "http://user@localhost:5173",
        Regex,
    ),
    (
        &[
            ("cross_origin", "true"),
            BACKEND,
            ("frontend_origin", "http://localhost:8080"),
        ],
        "frontend_origin",
        "http://localhost:8080",
        Hook("own origin"),
    ),
    // Of the right shape, but not what the app would read the same way.
    (
        &[
            ("cross_origin", "false"),
            ("public_origin", "http://0x7f.0.0.1:8080"),
        ],
        "public_origin",
        "http://0x7f.0.0.1:8080",
        Hook("dotted decimal"),
    ),
    (
        &[
            ("cross_origin", "true"),
            BACKEND,
            ("frontend_origin", "https://café.example"),
        ],
        "frontend_origin",
        "https://café.example",
        Hook("FRONTEND_ORIGINS in the project's .env"),
    ),
    (
        &[
            ("cross_origin", "true"),
            BACKEND,
            ("frontend_origin", "http://[::1%eth0]:5173"),
        ],
        "frontend_origin",
        "http://[::1%eth0]:5173",
        Regex,
    ),
    (
        &[
            ("cross_origin", "true"),
            BACKEND,
            ("frontend_origin", "http://[1::2::3]:5173"),
        ],
        "frontend_origin",
        "http://[1::2::3]:5173",
        Hook("invalid IPv6 address"),
    ),
    (
        &[
            ("cross_origin", "false"),
            ("public_origin", "http://localhost:0"),
        ],
        "public_origin",
        "http://localhost:0",
        Hook("port outside 1-65535"),
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
        Hook("own origin"),
    ),
];

#[test]
fn each_bad_answer_is_refused_with_a_clear_message() {
    let template = template_copy();
    for (defines, prompt, given, by) in CASES {
        let destination = tempfile::tempdir().unwrap();
        let output = generate(template.path(), destination.path(), "bad-answer", defines);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{defines:?} was accepted");
        match by {
            Regex => assert!(
                stderr.contains(&format!("\"{given}\" is not a valid value for {prompt}")),
                "{defines:?} should be refused by the prompt's regex:\n{stderr}"
            ),
            Hook(words) => {
                assert!(
                    stderr.contains(&format!("invalid answer for `{prompt}`: \"{given}\"")),
                    "{defines:?} should be refused by the hook:\n{stderr}"
                );
                assert!(
                    stderr.contains(words),
                    "{defines:?} should mention {words:?}:\n{stderr}"
                );
                assert!(
                    stderr.contains("scheme://host[:port]"),
                    "expected form missing:\n{stderr}"
                );
            }
        }
        assert_at_most_an_empty_project_folder(destination.path(), "bad-answer");
    }
}

/// cargo-generate parses boolean answers itself, before any hook runs; its
/// message names the expected form but not the prompt.
#[test]
fn a_non_boolean_cross_origin_answer_is_refused() {
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
    assert_at_most_an_empty_project_folder(destination.path(), "bad-answer");
}

/// A store or way of signing in that is not one of the choices is refused,
/// naming the prompt and the value (by cargo-generate itself, or by
/// hooks/validate.rhai where a release does not check `--define`s against
/// `choices`).
#[test]
fn an_unknown_store_is_refused() {
    let template = template_copy();
    for (prompt, given) in [
        ("database", "mysql"),
        ("session_store", "memcached"),
        ("auth", "saml"),
    ] {
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
        assert_at_most_an_empty_project_folder(destination.path(), "bad-answer");
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
