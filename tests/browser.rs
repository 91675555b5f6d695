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

use common::{cargo, generate, repo_root, shared_target_dir, template_copy};

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

/// What the scenarios need besides the projects.
struct Tools {
    chromium: PathBuf,
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

fn browser_dir() -> PathBuf {
    repo_root().join("tests").join("browser")
}

/// Why the `node` on the `PATH` cannot run the scenarios, if it cannot:
/// playwright-core needs Node 20 or newer (Debian 12's own is 18).
fn node_too_old() -> Option<String> {
    let Ok(output) = Command::new("node").arg("--version").output() else {
        return Some("no `node` on the PATH (Node 20 or newer)".to_owned());
    };
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let major = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|major| major.parse::<u32>().ok());
    match major {
        Some(major) if major >= 20 => None,
        _ => Some(format!(
            "`node --version` says {version:?}; the browser tests need Node 20 or newer \
             (.ci/run fetches one when the machine's is older)"
        )),
    }
}

/// Chromium, Node and playwright-core, or `None` (with the reason printed)
/// outside CI. In CI a missing one fails the test.
fn tools() -> Option<Tools> {
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let missing = if !chromium.is_file() {
        Some(format!(
            "no Chromium at {} (apt-get install chromium, or set CHROMIUM)",
            chromium.display()
        ))
    } else {
        node_too_old().or_else(|| install_playwright_core().err())
    };
    match missing {
        None => Some(Tools { chromium }),
        Some(reason) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true and the browser tests cannot run: {reason}")
        }
        Some(reason) => {
            eprintln!("SKIPPED browser test: {reason}");
            None
        }
    }
}

/// Runs `npm ci` in `tests/browser` unless playwright-core is there already
/// (`.ci/run` installs it up front).
fn install_playwright_core() -> Result<(), String> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let dir = browser_dir();
            if dir
                .join("node_modules/playwright-core/package.json")
                .is_file()
            {
                return Ok(());
            }
            let output = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir)
                .output()
                .map_err(|err| format!("cannot run npm ({err}); run `npm ci` in tests/browser"))?;
            if output.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "`npm ci` in tests/browser failed: {}",
                    String::from_utf8_lossy(&output.stderr)
                ))
            }
        })
        .clone()
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
