//! Generates each combination of answers and checks the result the way a
//! user's CI would: nothing left unrendered, `cargo fmt --check`,
//! `cargo clippy --all-targets -- -D warnings`, and the project's own tests.

mod common;

use std::{fs, path::Path};

use common::{Source, cargo, entries, files_below, generate_from, template_copy};

/// Answers given as `--define`s, and what must then hold for the project.
struct Case {
    name: &'static str,
    /// Both ways of pointing cargo-generate at the template are exercised.
    source: Source,
    defines: &'static [(&'static str, &'static str)],
    cross_origin: bool,
}

const CASES: &[Case] = &[
    Case {
        name: "cross-origin-app",
        source: Source::Path,
        defines: &[
            ("cross_origin", "true"),
            ("public_origin", "http://localhost:8080"),
            ("frontend_origin", "http://localhost:5173"),
        ],
        cross_origin: true,
    },
    Case {
        name: "same-origin-app",
        source: Source::Git,
        defines: &[
            ("cross_origin", "false"),
            ("public_origin", "http://localhost:8080"),
        ],
        cross_origin: false,
    },
];

#[test]
fn cross_origin_project() {
    check(&CASES[0]);
}

#[test]
fn same_origin_project() {
    check(&CASES[1]);
}

fn check(case: &Case) {
    let template = template_copy();
    let destination = tempfile::tempdir().unwrap();
    let output = generate_from(
        case.source,
        template.path(),
        destination.path(),
        case.name,
        case.defines,
    );
    assert!(
        output.status.success(),
        "generation failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Exactly one new folder, named after the project.
    assert_eq!(entries(destination.path()), [case.name]);
    let project = destination.path().join(case.name);

    check_tree(&project, case);

    cargo(&project, &["fmt", "--check"]);
    cargo(
        &project,
        &["clippy", "--all-targets", "--", "-D", "warnings"],
    );
    let tests = cargo(&project, &["test"]);
    let live_check = if case.cross_origin {
        "test credentialed_responses_carry_cors_headers_errors_included ... ok"
    } else {
        "test no_access_control_headers_for_any_origin ... ok"
    };
    assert!(
        tests.contains(live_check),
        "missing `{live_check}` in:\n{tests}"
    );
}

fn check_tree(project: &Path, case: &Case) {
    let files = files_below(project);
    for required in [
        "Cargo.toml",
        "README.md",
        ".env",
        ".env.example",
        ".gitignore",
        ".github/workflows/ci.yml",
        "migrations/0001_create_users.sql",
        "src/main.rs",
        "src/middleware.rs",
        "src/csrf.rs",
        "tests/auth.rs",
        "tests/csrf.rs",
    ] {
        assert!(
            files.iter().any(|f| f == Path::new(required)),
            "missing {required}: {files:?}"
        );
    }
    // Nothing of the template's own machinery leaks into the project.
    for path in &files {
        let first = path
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        assert!(
            !["hooks", "template", "target"].contains(&first.as_ref()),
            "leaked {path:?}"
        );
        assert_ne!(path, Path::new("cargo-generate.toml"));
    }

    for path in &files {
        let text = fs::read_to_string(project.join(path)).unwrap();
        assert!(
            !text.contains("{{") && !text.contains("{%"),
            "unrendered Liquid in {path:?}"
        );
    }

    let cargo_toml = fs::read_to_string(project.join("Cargo.toml")).unwrap();
    let tower_http = cargo_toml
        .lines()
        .find(|l| l.starts_with("tower-http"))
        .expect("tower-http dependency");
    let env = fs::read_to_string(project.join(".env")).unwrap();
    let rust_sources: String = files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "rs"))
        .map(|f| fs::read_to_string(project.join(f)).unwrap())
        .collect();

    if case.cross_origin {
        assert!(tower_http.contains("\"cors\""), "{tower_http}");
        assert!(files.iter().any(|f| f == Path::new("src/cors.rs")));
        assert!(
            env.contains("FRONTEND_ORIGINS=http://localhost:5173"),
            "{env}"
        );
        assert!(rust_sources.contains("CorsLayer"));
    } else {
        // No CORS at all: no module, no crate feature, no layer.
        assert!(!tower_http.contains("cors"), "{tower_http}");
        assert!(
            !files
                .iter()
                .any(|f| f.to_string_lossy().contains("cors.rs") && !f.ends_with("no_cors.rs"))
        );
        assert!(!rust_sources.contains("CorsLayer") && !rust_sources.contains("tower_http::cors"));
        assert!(!env.contains("FRONTEND_ORIGINS"), "{env}");
    }
}
