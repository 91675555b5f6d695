//! The deployment shapes, proven in a real browser: headless Chromium (the
//! Debian package) loads a page, and the page signs up, logs in, reads the
//! session, logs out and reads 401 against a generated project's binary.
//!
//! The scenarios themselves are in `tests/browser/shapes.mjs` (Node, driving
//! Chromium over CDP with `playwright-core`); this file generates and builds
//! the two projects once, then runs one scenario per test, one at a time.
//! Chromium (`apt-get install chromium`, or `CHROMIUM=/path`) and Node 20+
//! are needed; playwright-core is installed with `npm ci` on first use. With
//! `CI=true` a missing one fails the tests, elsewhere it skips them with the
//! reason.

mod common;

use std::{
    fs,
    path::PathBuf,
    process::Command,
    sync::{Mutex, OnceLock},
    time::Instant,
};

use common::{
    browser::{browser_dir, tools},
    cargo, generate, shared_target_dir, template_copy,
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
    // The browser does not care which cargo-generate rendered the project:
    // .ci/run's extra releases (TEMPLATE_MATRIX=render) leave these out.
    if common::render_only() {
        eprintln!("{name}: builds nothing with TEMPLATE_MATRIX=render");
        return;
    }
    let Some(tools) = tools() else { return };
    let projects = projects();
    // One Chromium at a time: the scenarios wait on real time, and parallel
    // browsers on a small machine make that flaky, not faster.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());

    let started = Instant::now();
    let output = Command::new("node")
        .arg(browser_dir().join("shapes.mjs"))
        .arg(name)
        .env("CHROMIUM", &tools.chromium)
        .env("CROSS_APP_BIN", &projects.cross.bin)
        .env("CROSS_APP_DIR", &projects.cross.dir)
        .env("SAME_APP_BIN", &projects.same.bin)
        .env("SAME_APP_DIR", &projects.same.dir)
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
    PROJECTS.get_or_init(|| {
        let root = shared_target_dir().join("browser-test-projects");
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).expect("create project folder");
        let template = template_copy();
        let build = |name: &str, defines: &[(&str, &str)]| {
            let output = generate(template.path(), &root, name, defines);
            assert!(
                output.status.success(),
                "generation failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let dir = root.join(name);
            cargo(&dir, &["build"]);
            let bin = shared_target_dir().join("debug").join(name);
            assert!(bin.is_file(), "no binary at {}", bin.display());
            Built { dir, bin }
        };
        Projects {
            cross: build(
                "browser-cross-app",
                &[
                    ("cross_origin", "true"),
                    ("public_origin", "http://localhost:8080"),
                    ("frontend_origin", "http://localhost:5173"),
                ],
            ),
            same: build(
                "browser-same-app",
                &[
                    ("cross_origin", "false"),
                    ("public_origin", "http://localhost:8080"),
                ],
            ),
        }
    })
}
