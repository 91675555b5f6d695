//! Generates each combination of answers and checks the result the way a
//! user's CI would: nothing left unrendered, `cargo fmt --check`,
//! `cargo clippy --all-targets -- -D warnings`, and the project's own tests.
//! With `TEMPLATE_MATRIX=render` it builds nothing, and checks instead that
//! the cargo-generate under test renders every project byte for byte as the
//! reference release does.

mod common;

use std::{
    fs,
    path::{Path, PathBuf},
};

use common::{
    Source, cargo, cargo_generate, entries, files_below, generate_from, reference_cargo_generate,
    remove_own_artifacts, render_only, template_copy,
};

/// One combination of answers, and what must then hold for the project.
struct Case {
    /// Both ways of pointing cargo-generate at the template are exercised.
    source: Source,
    cross_origin: bool,
    database: &'static str,
    session_store: &'static str,
}

impl Case {
    fn name(&self) -> String {
        let origin = if self.cross_origin { "cross" } else { "same" };
        format!("{origin}-{}-{}-app", self.database, self.session_store)
    }

    /// Whether several instances can share this project's stores.
    fn shared_store(&self) -> bool {
        self.database == "postgres" || self.session_store == "redis"
    }
}

fn case(cross_origin: bool, database: &'static str, session_store: &'static str) -> Case {
    Case {
        source: if cross_origin {
            Source::Path
        } else {
            Source::Git
        },
        cross_origin,
        database,
        session_store,
    }
}

// Every combination of the answers that change code.
#[test]
fn cross_origin_sqlite() {
    check(&case(true, "sqlite", "database"));
}

#[test]
fn same_origin_sqlite() {
    check(&case(false, "sqlite", "database"));
}

#[test]
fn cross_origin_sqlite_redis() {
    check(&case(true, "sqlite", "redis"));
}

#[test]
fn same_origin_sqlite_redis() {
    check(&case(false, "sqlite", "redis"));
}

#[test]
fn cross_origin_postgres() {
    check(&case(true, "postgres", "database"));
}

#[test]
fn same_origin_postgres() {
    check(&case(false, "postgres", "database"));
}

#[test]
fn cross_origin_postgres_redis() {
    check(&case(true, "postgres", "redis"));
}

#[test]
fn same_origin_postgres_redis() {
    check(&case(false, "postgres", "redis"));
}

fn check(case: &Case) {
    let name = case.name();
    let defines = [
        (
            "cross_origin",
            if case.cross_origin { "true" } else { "false" },
        ),
        ("public_origin", "http://localhost:8080"),
        ("frontend_origin", "http://localhost:5173"),
        ("database", case.database),
        ("session_store", case.session_store),
    ];
    let template = template_copy();
    // Generates the project into `destination` with a cargo-generate
    // executable, and returns its folder.
    let generate = |cargo_generate: &str, destination: &Path| {
        let output = generate_from(
            cargo_generate,
            case.source,
            template.path(),
            destination,
            &name,
            &defines,
        );
        assert!(
            output.status.success(),
            "generation with {cargo_generate} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        // Exactly one new folder, named after the project; `--vcs none`
        // (common::generate_from) leaves git out, and nothing of the
        // template's own repository comes along with `--git`.
        assert_eq!(entries(destination), [name.as_str()]);
        assert!(
            !destination.join(&name).join(".git").exists(),
            "generation with {cargo_generate} made a git repository despite --vcs none"
        );
        destination.join(&name)
    };
    let destination = tempfile::tempdir().unwrap();
    let project = generate(&cargo_generate(), destination.path());

    check_tree(&project, case);

    if render_only() {
        let reference_dir = tempfile::tempdir().unwrap();
        let reference = generate(&reference_cargo_generate(), reference_dir.path());
        same_files(&project, &reference);
        return;
    }

    cargo(&project, &["fmt", "--check"]);
    cargo(
        &project,
        &["clippy", "--all-targets", "--", "-D", "warnings"],
    );
    let tests = cargo(&project, &["test"]);
    let live_check = if case.cross_origin {
        "test cors::credentialed_responses_carry_cors_headers_errors_included ... ok"
    } else {
        "test no_cors::no_access_control_headers_for_any_origin ... ok"
    };
    let mut live_checks = vec![
        live_check,
        "test restart::users_and_sessions_survive_a_restart ... ok",
        "test csrf_matrix::every_method_sec_fetch_site_and_origin_combination ... ok",
        "test hostile_input::hostile_requests_get_json_4xx_and_the_server_keeps_serving ... ok",
        "test login_timing::unknown_email_costs_the_same_argon2_run_as_a_wrong_password ... ok",
        "test notes::another_users_notes_are_indistinguishable_from_missing_ones ... ok",
        "test errors::a_bare_status_from_a_handler_becomes_a_json_error_of_that_status ... ok",
        "test errors::a_database_that_cannot_answer_in_time_is_a_503 ... ok",
        "test session_races::a_logged_out_session_stays_dead_whatever_was_in_flight ... ok",
        "test session_races::the_old_id_stays_dead_after_the_rotation_at_login ... ok",
        "test hash_flood::abandoned_logins_never_run_more_hashes_than_there_are_slots ... ok",
        "test throttling::a_stranger_who_knows_the_email_cannot_lock_the_owner_out ... ok",
        "test slow_clients::trickled_heads_are_cut_off_while_normal_clients_are_served ... ok",
    ];
    if case.shared_store() {
        live_checks.extend([
            "test shared_store::a_login_through_one_instance_is_seen_by_another ... ok",
            "test shared_store::a_logout_through_one_instance_ends_the_session_on_all ... ok",
        ]);
    }
    if case.session_store == "database" {
        live_checks.push("test errors::the_session_layers_own_failed_save_is_a_json_503 ... ok");
    }
    for live_check in live_checks {
        assert!(
            tests.contains(live_check),
            "missing `{live_check}` in:\n{tests}"
        );
    }
    check_dependencies(&project, case);
    // The shared dependencies stay; this project's own binaries go, so the
    // matrix does not pile up gigabytes of test executables.
    remove_own_artifacts(&project);
}

/// The release under test rendered byte for byte what the reference did.
fn same_files(project: &Path, reference: &Path) {
    let files = files_below(project);
    assert_eq!(files, files_below(reference), "different files");
    for file in files {
        assert!(
            fs::read(project.join(&file)).unwrap() == fs::read(reference.join(&file)).unwrap(),
            "{} differs from the reference release's",
            file.display()
        );
    }
}

/// Each choice compiles in only what it needs: sqlx with exactly one
/// driver, fred only for Redis.
fn check_dependencies(project: &Path, case: &Case) {
    let tree = cargo(project, &["tree", "--edges", "normal", "--prefix", "none"]);
    let has = |krate: &str| tree.lines().any(|l| l.starts_with(&format!("{krate} v")));
    let postgres = case.database == "postgres";
    let redis = case.session_store == "redis";
    assert_eq!(has("sqlx-postgres"), postgres, "sqlx-postgres:\n{tree}");
    assert_eq!(has("sqlx-sqlite"), !postgres, "sqlx-sqlite:\n{tree}");
    assert!(!has("sqlx-mysql"), "sqlx-mysql:\n{tree}");
    assert_eq!(has("fred"), redis, "fred:\n{tree}");
    assert_eq!(has("tower-sessions-redis-store"), redis, "{tree}");
    assert_eq!(has("tower-sessions-sqlx-store"), !redis, "{tree}");
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
        "migrations/0002_create_notes.sql",
        "src/main.rs",
        "src/middleware.rs",
        "src/csrf.rs",
        "src/state.rs",
        "src/notes.rs",
        "src/routes/notes.rs",
        "tests/api/main.rs",
        "tests/api/auth.rs",
        "tests/api/csrf.rs",
        "tests/api/notes.rs",
        "tests/api/restart.rs",
        "src/database.rs",
        "src/session_store.rs",
        "tests/api/helpers/test_database.rs",
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
        // The other choices' implementations are left out, not renamed.
        let name = path.to_string_lossy();
        assert!(
            !name.contains("_postgres.rs") && !name.contains("_redis.rs"),
            "leaked {path:?}"
        );
    }
    // One integration-test binary: the application is linked once.
    let test_targets: Vec<PathBuf> = files
        .iter()
        .filter(|f| f.starts_with("tests") && f.components().count() == 2)
        .cloned()
        .collect();
    assert!(
        test_targets.is_empty(),
        "test files outside tests/api/: {test_targets:?}"
    );
    assert_eq!(
        files
            .iter()
            .any(|f| f == Path::new("tests/api/shared_store.rs")),
        case.shared_store()
    );

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

    let database_url = if case.database == "postgres" {
        "DATABASE_URL=postgres://"
    } else {
        "DATABASE_URL=sqlite://"
    };
    assert!(env.contains(database_url), "{env}");
    assert_eq!(
        env.contains("REDIS_URL="),
        case.session_store == "redis",
        "{env}"
    );

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
