//! Generates each combination of answers and checks the result the way a
//! user's CI would: nothing left unrendered, the platform crate exactly the
//! template's, `cargo fmt --check`, `cargo clippy --locked --all-targets --
//! -D warnings`, and the project's own tests. With `TEMPLATE_MATRIX=render`
//! it builds nothing, and checks instead that the cargo-generate under test
//! renders every project byte for byte as the reference release does.
//!
//! All 16 combinations (origin shape x database x session store x auth)
//! render, pass fmt and clippy (the app crate, and the platform crate with
//! the features the answers select). What varies between them is the app
//! crate: its configuration, start-up, routes, tables and tests. The
//! project's own test suite runs for a pairwise subset of the answers: every
//! pair of values of any two questions is in one of the seven projects
//! below whose `run_tests` is true (and each shared store with each way of
//! signing in). The platform crate's own tests, against every store, run
//! once, in `platform.rs`.

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
    auth: &'static str,
    /// Whether the project's own test suite runs (else fmt and clippy only).
    run_tests: bool,
}

impl Case {
    fn name(&self) -> String {
        let origin = if self.cross_origin { "cross" } else { "same" };
        format!(
            "{origin}-{}-{}-{}-app",
            self.database, self.session_store, self.auth
        )
    }

    /// Whether several instances can share this project's stores.
    fn shared_store(&self) -> bool {
        self.database == "postgres" || self.session_store == "redis"
    }
}

fn case(
    cross_origin: bool,
    database: &'static str,
    session_store: &'static str,
    run_tests: bool,
) -> Case {
    Case {
        auth: "password",
        run_tests,
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

/// A project signing in through OpenID Connect; `run_tests` says whether
/// its test suite runs (the pairwise subset named at the top).
fn oidc(
    cross_origin: bool,
    database: &'static str,
    session_store: &'static str,
    run_tests: bool,
) -> Case {
    Case {
        auth: "oidc",
        ..case(cross_origin, database, session_store, run_tests)
    }
}

// Every combination of the answers that change code.
#[test]
fn cross_origin_sqlite() {
    check(&case(true, "sqlite", "database", true));
}

#[test]
fn same_origin_sqlite() {
    check(&case(false, "sqlite", "database", true));
}

#[test]
fn cross_origin_sqlite_redis() {
    check(&case(true, "sqlite", "redis", false));
}

#[test]
fn same_origin_sqlite_redis() {
    check(&case(false, "sqlite", "redis", false));
}

#[test]
fn cross_origin_postgres() {
    check(&case(true, "postgres", "database", false));
}

#[test]
fn same_origin_postgres() {
    check(&case(false, "postgres", "database", true));
}

#[test]
fn cross_origin_postgres_redis() {
    check(&case(true, "postgres", "redis", true));
}

#[test]
fn same_origin_postgres_redis() {
    check(&case(false, "postgres", "redis", false));
}

#[test]
fn cross_origin_sqlite_oidc() {
    check(&oidc(true, "sqlite", "database", false));
}

#[test]
fn same_origin_sqlite_oidc() {
    check(&oidc(false, "sqlite", "database", false));
}

#[test]
fn cross_origin_sqlite_redis_oidc() {
    check(&oidc(true, "sqlite", "redis", true));
}

#[test]
fn same_origin_sqlite_redis_oidc() {
    check(&oidc(false, "sqlite", "redis", false));
}

#[test]
fn cross_origin_postgres_oidc() {
    check(&oidc(true, "postgres", "database", true));
}

#[test]
fn same_origin_postgres_oidc() {
    check(&oidc(false, "postgres", "database", false));
}

#[test]
fn cross_origin_postgres_redis_oidc() {
    check(&oidc(true, "postgres", "redis", false));
}

#[test]
fn same_origin_postgres_redis_oidc() {
    check(&oidc(false, "postgres", "redis", true));
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
        ("auth", case.auth),
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

    // `--all` formats the platform crate too: the workspace, as a user's
    // CI checks it.
    cargo(&project, &["fmt", "--all", "--check"]);
    cargo(
        &project,
        &[
            "clippy",
            "--locked",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    );
    check_dependencies(&project, case);
    lock_file_stays_as_generated(&project);
    if !case.run_tests {
        remove_own_artifacts(&project);
        return;
    }
    // Offline, for the reason given in `check_dependencies`.
    let tests = cargo(&project, &["test", "--locked", "--offline"]);
    let live_check = if case.cross_origin {
        "test cors::credentialed_responses_carry_cors_headers_errors_included ... ok"
    } else {
        "test no_cors::no_access_control_headers_for_any_origin ... ok"
    };
    let mut live_checks = vec![
        live_check,
        "test restart::users_and_sessions_survive_a_restart ... ok",
        "test csrf::cross_site_text_plain_post_is_refused ... ok",
        "test notes::another_users_notes_are_indistinguishable_from_missing_ones ... ok",
        "test notes::every_version_of_a_note_is_kept_in_its_own_table ... ok",
        "test startup::bad_configuration_stops_start_up_with_one_clear_line ... ok",
        "test accounts::deleting_the_account_ends_every_one_of_its_sessions ... ok",
        "test openapi::answers_fit_their_schemas ... ok",
        "test openapi::the_routes_described_are_the_routes_served ... ok",
    ];
    if case.auth == "password" {
        live_checks.extend([
            "test login_timing::unknown_email_costs_the_same_argon2_run_as_a_wrong_password ... ok",
            "test throttling::a_stranger_who_knows_the_email_cannot_lock_the_owner_out ... ok",
        ]);
    } else {
        live_checks.extend([
            "test oidc::sign_in_read_the_session_log_out_and_sign_in_again ... ok",
            "test oidc::users_are_keyed_by_issuer_and_subject_not_by_email ... ok",
            "test oidc_hostile::an_attackers_answer_relayed_into_a_victims_browser_signs_no_one_in ... ok",
            "test oidc_hostile::forged_id_tokens_sign_no_one_in ... ok",
            "test oidc_hostile::a_rotated_key_is_fetched_once_and_unknown_keys_are_not_refetched_at_once ... ok",
            "test oidc_hostile::a_provider_down_at_start_up_is_waited_for ... ok",
        ]);
    }
    if case.shared_store() {
        live_checks.extend([
            "test shared_store::a_login_through_one_instance_is_seen_by_another ... ok",
            "test shared_store::a_logout_through_one_instance_ends_the_session_on_all ... ok",
        ]);
    }
    for live_check in live_checks {
        assert!(
            tests.contains(live_check),
            "missing `{live_check}` in:\n{tests}"
        );
    }
    // The shared dependencies stay; this project's own binaries go, so the
    // matrix does not pile up gigabytes of test executables.
    remove_own_artifacts(&project);
}

/// Cargo writes nothing to the lock file a project was generated with, even
/// without `--locked`: it is complete, and the application's own entry (its
/// name is the project's) stands where cargo sorts it.
fn lock_file_stays_as_generated(project: &Path) {
    let lock = project.join("Cargo.lock");
    let generated = fs::read(&lock).unwrap();
    // Offline (see check_dependencies), and for this platform only: for all
    // of them, metadata wants every package of the lock, those of other
    // platforms too (android_system_properties...), which no build on a
    // fresh machine has fetched.
    let host = host_triple();
    cargo(
        project,
        &[
            "metadata",
            "--offline",
            "--format-version",
            "1",
            "--filter-platform",
            &host,
        ],
    );
    assert!(
        fs::read(&lock).unwrap() == generated,
        "cargo rewrote the generated Cargo.lock"
    );
}

/// The target triple rustc builds for here, e.g. `x86_64-unknown-linux-gnu`.
fn host_triple() -> String {
    let output = std::process::Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_owned()
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
/// driver, fred only for Redis, tower-http's CORS only for a cross-origin
/// frontend (the lock file lists every crate any answer needs; the build
/// takes only these).
fn check_dependencies(project: &Path, case: &Case) {
    // Offline: clippy resolved and downloaded everything already. Online,
    // cargo asks the sparse index again, and once got a stale copy from it
    // that lacked a version published minutes earlier (hyper 1.13.0) while
    // the lock file, written by clippy, named it.
    let tree = cargo(
        project,
        &["tree", "--offline", "--edges", "normal", "--prefix", "none"],
    );
    let has = |krate: &str| tree.lines().any(|l| l.starts_with(&format!("{krate} v")));
    let postgres = case.database == "postgres";
    let redis = case.session_store == "redis";
    assert_eq!(has("sqlx-postgres"), postgres, "sqlx-postgres:\n{tree}");
    assert_eq!(has("sqlx-sqlite"), !postgres, "sqlx-sqlite:\n{tree}");
    assert!(!has("sqlx-mysql"), "sqlx-mysql:\n{tree}");
    assert_eq!(has("fred"), redis, "fred:\n{tree}");
    assert_eq!(has("tower-sessions-redis-store"), redis, "{tree}");
    assert_eq!(has("tower-sessions-sqlx-store"), !redis, "{tree}");
    // Passwords bring Argon2, OpenID Connect its client; never both.
    let oidc = case.auth == "oidc";
    assert_eq!(has("openidconnect"), oidc, "openidconnect:\n{tree}");
    assert_eq!(has("argon2"), !oidc, "argon2:\n{tree}");
    assert_eq!(has("moka"), !postgres && !redis, "moka:\n{tree}");
    let features = cargo(
        project,
        &[
            "tree",
            "--offline",
            "--edges",
            "normal,features",
            "--prefix",
            "none",
            "-i",
            // Ours; reqwest brings an older one.
            "tower-http@0.7",
        ],
    );
    assert_eq!(
        features.contains(r#"tower-http feature "cors""#),
        case.cross_origin,
        "tower-http's cors feature:\n{features}"
    );
}

fn check_tree(project: &Path, case: &Case) {
    let files = files_below(project);
    for required in [
        "Cargo.toml",
        "Cargo.lock",
        "rust-toolchain.toml",
        "build.rs",
        "README.md",
        ".env",
        ".env.example",
        ".gitignore",
        ".github/workflows/ci.yml",
        "migrations/0001_create_users.sql",
        "migrations/0002_create_notes.sql",
        "src/main.rs",
        "src/config.rs",
        "src/startup.rs",
        "src/state.rs",
        "src/database.rs",
        "src/users.rs",
        "src/notes.rs",
        "src/routes/mod.rs",
        "src/routes/notes.rs",
        "tests/api/main.rs",
        "tests/api/helpers/sign_in.rs",
        "tests/api/csrf.rs",
        "tests/api/notes.rs",
        "tests/api/restart.rs",
        "tests/api/openapi.rs",
        "crates/platform/Cargo.toml",
        "crates/platform/src/lib.rs",
    ] {
        assert!(
            files.iter().any(|f| f == Path::new(required)),
            "missing {required}: {files:?}"
        );
    }
    // The platform crate is the template's, byte for byte, whatever the
    // answers.
    let platform = project.join("crates/platform");
    let source = common::repo_root().join("template/crates/platform");
    assert_eq!(
        files_below(&platform),
        files_below(&source),
        "platform files"
    );
    for file in files_below(&source) {
        assert!(
            fs::read(platform.join(&file)).unwrap() == fs::read(source.join(&file)).unwrap(),
            "crates/platform/{} differs from the template's",
            file.display()
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
            !name.contains("_postgres.rs") && !name.contains("_oidc.rs"),
            "leaked {path:?}"
        );
    }
    // Each way of signing in brings its own tests, and only those.
    let has_file = |name: &str| files.iter().any(|f| f == Path::new(name));
    let oidc = case.auth == "oidc";
    for oidc_only in ["tests/api/oidc.rs", "tests/api/oidc_hostile.rs"] {
        assert_eq!(has_file(oidc_only), oidc, "{oidc_only}");
    }
    for password_only in [
        "tests/api/auth.rs",
        "tests/api/throttling.rs",
        "tests/api/login_timing.rs",
        "migrations/0003_create_known_devices.sql",
        "migrations/0004_create_account_mail.sql",
        "tests/api/password_change.rs",
        "tests/api/password_reset.rs",
        "frontend/reset-password.html",
        "frontend/verify-email.html",
        "frontend/confirm-email.html",
        "tests/api/email_change.rs",
        "tests/api/email_verification.rs",
    ] {
        assert_eq!(has_file(password_only), !oidc, "{password_only}");
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
    assert_eq!(has_file("tests/api/shared_store.rs"), case.shared_store());

    // The app's own files: every one rendered, and none naming a file the
    // project lacks (a leftover of another answer or of this repository).
    let app_files: Vec<&PathBuf> = files
        .iter()
        .filter(|f| !f.starts_with("crates/platform"))
        .collect();
    for path in &app_files {
        let text = fs::read_to_string(project.join(path)).unwrap();
        assert!(
            !text.contains("{{") && !text.contains("{%"),
            "unrendered Liquid in {path:?}"
        );
        for named in named_paths(&text) {
            let exists = [
                project.to_path_buf(),
                platform.clone(),
                platform.join("src"),
            ]
            .iter()
            .chain(project.join(path).parent().map(Path::to_path_buf).as_ref())
            .any(|base| base.join(&named).exists());
            assert!(exists, "{path:?} names {named}, which this project lacks");
        }
    }

    let cargo_toml = fs::read_to_string(project.join("Cargo.toml")).unwrap();
    let platform_features = cargo_toml
        .lines()
        .find(|l| l.starts_with("platform = "))
        .expect("the platform dependency");
    let env = fs::read_to_string(project.join(".env")).unwrap();
    let app_sources: String = app_files
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
        assert!(
            platform_features.contains("\"cors\""),
            "{platform_features}"
        );
        assert!(
            env.contains("FRONTEND_ORIGINS=http://localhost:5173"),
            "{env}"
        );
        // The same-origin variant's setting and tests are left out.
        assert!(
            !app_sources.contains("STATIC_DIR"),
            "STATIC_DIR in a cross-origin project"
        );
        assert!(!env.contains("STATIC_DIR"), "{env}");
    } else {
        // No CORS at all: no feature, no code in the app (and, with the
        // feature off, none compiled from the platform; see
        // `check_dependencies`).
        assert!(!platform_features.contains("cors"), "{platform_features}");
        assert!(!app_sources.contains("CorsLayer") && !app_sources.contains("cors::"));
        assert!(!env.contains("FRONTEND_ORIGINS"), "{env}");
    }
}

/// The paths a text names: words with a `/` that end in a file extension
/// (`src/notes.rs`, `migrations/0002_create_notes.sql`), outside URLs, and
/// other than the files the README's guides have the reader create.
fn named_paths(text: &str) -> Vec<String> {
    const EXTENSIONS: [&str; 8] = [
        ".rs", ".md", ".sql", ".toml", ".js", ".html", ".yml", ".mjs",
    ];
    // URLs (http://localhost:5173/reset-password.html in .env) name pages,
    // not files: dropped before the words are split at colons.
    text.split(|c: char| c.is_whitespace() || "`'\"()[]<>,;*|".contains(c))
        .filter(|word| !word.contains("://"))
        .flat_map(|word| word.split(':'))
        .filter(|word| word.contains('/') && !word.starts_with("//"))
        .map(|word| word.trim_end_matches('.').trim_start_matches("./"))
        .filter(|word| EXTENSIONS.iter().any(|ext| word.ends_with(ext)))
        .filter(|word| !word.contains('{') && !word.starts_with('/'))
        .filter(|word| !word.contains("projects") && !word.contains("display_name"))
        .map(str::to_owned)
        .collect()
}
