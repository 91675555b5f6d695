//! The deployment shapes, proven in a real browser: headless Chromium (the
//! Debian package) loads a page, and the page signs up, logs in, reads the
//! session, logs out and reads 401 against a generated project's binary.
//! The `account_*` scenarios drive the example frontend's account section
//! (sessions list, "Sign out" on another browser, password change, account
//! deletion) from two browser contexts signed in to one account.
//! With `auth = oidc` the browser signs in through a real OpenID provider
//! (npm `oidc-provider`, started by the scenario): its login form, consent,
//! the relay back to the API, logout at the provider, and the hostile cases.
//! The `password_reset_*` scenarios ask for a reset link by mail from the
//! example frontend, with a real SMTP server (aiosmtpd, run by python3 from
//! `template/crates/platform/src/testing/smtp_server.py`) receiving the mail, and open its link.
//! The `vite_*` scenarios run the generated README's Vite recipes (its
//! `vite.config.js`, read from the rendered README) with a real Vite: the dev
//! server cross-origin and proxying same-origin, and `vite build` served by
//! the backend.
//!
//! The `typescript_*` tests run the generated README's TypeScript recipe:
//! `openapi-typescript` on each project's served `/api/openapi.json`, and
//! `tsc --noEmit` on the README's typed client (`tests/browser/typescript.mjs`;
//! they need Node and the npm packages, not Chromium's pages).
//!
//! The scenarios themselves are in `tests/browser/shapes.mjs` (passwords) and
//! `tests/browser/oidc.mjs` (OpenID Connect), with `tests/browser/vite.mjs`
//! for the Vite recipes, Node scripts driving Chromium
//! over CDP with `playwright-core`; this file generates and builds the
//! projects once (two with passwords, two with `auth = oidc`, each pair
//! cross-origin and same-origin), then runs one scenario per test, one at a
//! time. Chromium (`apt-get install chromium`, or `CHROMIUM=/path`) and Node
//! 22.12+ are needed; playwright-core, oidc-provider and vite are installed with
//! `npm ci` on first use. With `CI=true` a missing one fails the tests,
//! elsewhere it skips them with the reason.

mod common;

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    sync::{Mutex, OnceLock},
    time::Instant,
};

use common::{
    browser::{browser_dir, smtp_server_available, tools},
    cargo, files_below, generate, shared_target_dir, template_copy,
};

#[test]
fn same_origin_spa_served_by_the_backend() {
    scenario("same-origin");
}

#[test]
fn cross_origin_same_site() {
    scenario("cross-origin-same-site");
}

#[test]
fn cross_site_with_third_party_cookies_blocked() {
    scenario("cross-site-third-party-cookies-blocked");
}

#[test]
fn cross_site_with_third_party_cookies_allowed() {
    scenario("cross-site-third-party-cookies-allowed");
}

#[test]
fn non_allowlisted_origin_reads_nothing_and_changes_nothing() {
    scenario("non-allowlisted-origin");
}

#[test]
fn without_cors_a_cross_origin_page_reads_nothing() {
    scenario("no-cors");
}

#[test]
fn account_section_from_two_browsers_same_origin() {
    scenario("account-same-origin");
}

#[test]
fn account_section_from_two_browsers_cross_site_third_party_cookies_blocked() {
    scenario("account-cross-site-third-party-cookies-blocked");
}

#[test]
fn password_reset_by_mail_same_origin() {
    mail_scenario("reset-same-origin");
}

#[test]
fn password_reset_by_mail_cross_site_third_party_cookies_blocked() {
    mail_scenario("reset-cross-site-third-party-cookies-blocked");
}

#[test]
fn vite_dev_server_on_the_frontend_origin() {
    scenario("vite-cross-origin");
}

#[test]
fn vite_dev_server_proxying_the_api() {
    scenario("vite-same-origin");
}

#[test]
fn vite_build_served_by_the_backend() {
    scenario("vite-build");
}

#[test]
fn typescript_types_and_client_from_the_readme() {
    run("typescript.mjs", "password", projects, "", false);
}

#[test]
fn oidc_typescript_types_and_client_from_the_readme() {
    run("typescript.mjs", "oidc", oidc_projects, "OIDC_", false);
}

#[test]
fn oidc_same_origin_spa_served_by_the_backend() {
    oidc_scenario("oidc-same-origin");
}

#[test]
fn oidc_cross_origin_same_site() {
    oidc_scenario("oidc-cross-origin-same-site");
}

#[test]
fn oidc_cross_site_with_third_party_cookies_blocked() {
    oidc_scenario("oidc-cross-site-third-party-cookies-blocked");
}

#[test]
fn oidc_cross_site_with_third_party_cookies_allowed() {
    oidc_scenario("oidc-cross-site-third-party-cookies-allowed");
}

#[test]
fn oidc_provider_with_email_and_name_in_the_id_token() {
    oidc_scenario("oidc-claims-in-id-token");
}

#[test]
fn oidc_login_csrf_an_attackers_code_signs_in_nobody() {
    oidc_scenario("oidc-login-csrf");
}

#[test]
fn oidc_expired_state_signs_in_nobody() {
    oidc_scenario("oidc-expired-state");
}

#[test]
fn oidc_replayed_code_signs_in_nobody() {
    oidc_scenario("oidc-replayed-code");
}

#[test]
fn oidc_return_to_must_be_a_relative_path() {
    oidc_scenario("oidc-return-to");
}

#[test]
fn oidc_access_denied_at_the_provider_signs_in_nobody() {
    oidc_scenario("oidc-access-denied");
}

/// A generated project and its built binary.
struct Built {
    dir: PathBuf,
    bin: PathBuf,
}

struct Projects {
    cross: Built,
    same: Built,
}

fn scenario(name: &str) {
    run("shapes.mjs", name, projects, "", false);
}

/// A scenario that starts a real SMTP server (aiosmtpd, with python3).
fn mail_scenario(name: &str) {
    run("shapes.mjs", name, projects, "", true);
}

fn oidc_scenario(name: &str) {
    run("oidc.mjs", name, oidc_projects, "OIDC_", false);
}

/// Runs `node <script> <name>` with the projects' paths in its environment
/// (`<env_prefix>CROSS_APP_BIN`, `..._DIR`, `<env_prefix>SAME_APP_BIN`, ...);
/// with `smtp`, only if python3 can run aiosmtpd (on the `PYTHONPATH` the
/// scenario inherits).
fn run(
    script: &str,
    name: &str,
    projects: fn() -> &'static Projects,
    env_prefix: &str,
    smtp: bool,
) {
    // The browser does not care which cargo-generate rendered the project:
    // .ci/run's extra releases (TEMPLATE_MATRIX=render) leave these out.
    if common::render_only() {
        eprintln!("{name}: builds nothing with TEMPLATE_MATRIX=render");
        return;
    }
    let Some(tools) = tools() else { return };
    if smtp && !smtp_server_available() {
        return;
    }
    let projects = projects();
    // One Chromium at a time: the scenarios wait on real time, and parallel
    // browsers on a small machine make that flaky, not faster.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());

    let started = Instant::now();
    let output = Command::new("node")
        .arg(browser_dir().join(script))
        .arg(name)
        .env("CHROMIUM", &tools.chromium)
        .env(format!("{env_prefix}CROSS_APP_BIN"), &projects.cross.bin)
        .env(format!("{env_prefix}CROSS_APP_DIR"), &projects.cross.dir)
        .env(format!("{env_prefix}SAME_APP_BIN"), &projects.same.bin)
        .env(format!("{env_prefix}SAME_APP_DIR"), &projects.same.dir)
        .output()
        .expect("node runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{text}");
    assert!(
        output.status.success(),
        "browser scenario {name} failed after {:?}:\n{text}",
        started.elapsed()
    );
}

/// Generates a cross-origin and a same-origin project and builds both,
/// once per test run. They live under the shared target directory, so a
/// second run rebuilds only what changed.
fn projects() -> &'static Projects {
    static PROJECTS: OnceLock<Projects> = OnceLock::new();
    PROJECTS.get_or_init(|| build_pair("browser-test-projects", "browser", &[]))
}

/// The same pair with `auth = oidc`, built only when an OpenID Connect
/// scenario runs.
fn oidc_projects() -> &'static Projects {
    static PROJECTS: OnceLock<Projects> = OnceLock::new();
    PROJECTS
        .get_or_init(|| build_pair("browser-oidc-projects", "browser-oidc", &[("auth", "oidc")]))
}

/// Generates `<prefix>-cross-app` and `<prefix>-same-app` into `folder`
/// under the shared target directory, with `extra` answers, and builds them.
/// A file that comes out as it was in the previous run is left untouched,
/// so cargo rebuilds a project only when its generated sources changed.
fn build_pair(folder: &str, prefix: &str, extra: &[(&str, &str)]) -> Projects {
    let root = shared_target_dir().join(folder);
    let fresh = root.join(".generated");
    let _ = fs::remove_dir_all(&fresh);
    fs::create_dir_all(&fresh).expect("create project folder");
    let template = template_copy();
    let build = |name: &str, defines: &[(&str, &str)]| {
        let defines: Vec<(&str, &str)> = defines.iter().chain(extra).copied().collect();
        let output = generate(template.path(), &fresh, name, &defines);
        assert!(
            output.status.success(),
            "generation failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let dir = root.join(name);
        update_changed_files(&fresh.join(name), &dir);
        cargo(&dir, &["build", "--locked"]);
        let bin = shared_target_dir().join("debug").join(name);
        assert!(bin.is_file(), "no binary at {}", bin.display());
        Built { dir, bin }
    };
    Projects {
        cross: build(
            &format!("{prefix}-cross-app"),
            &[
                ("cross_origin", "true"),
                ("public_origin", "http://localhost:8080"),
                ("frontend_origin", "http://localhost:5173"),
            ],
        ),
        same: build(
            &format!("{prefix}-same-app"),
            &[
                ("cross_origin", "false"),
                ("public_origin", "http://localhost:8080"),
            ],
        ),
    }
}

/// Makes `dir` hold exactly the files of `generated` (and the lock file
/// cargo wrote there), copying only those whose content differs.
fn update_changed_files(generated: &Path, dir: &Path) {
    let wanted = files_below(generated);
    if dir.is_dir() {
        for old in files_below(dir) {
            if !wanted.contains(&old) && old != Path::new("Cargo.lock") {
                fs::remove_file(dir.join(&old)).expect("remove a file no longer generated");
            }
        }
    }
    for file in &wanted {
        let (from, to) = (generated.join(file), dir.join(file));
        if fs::read(&to).ok() != Some(fs::read(&from).expect("read generated file")) {
            fs::create_dir_all(to.parent().expect("has parent")).expect("create dir");
            fs::copy(&from, &to).expect("copy generated file");
        }
    }
}
