//! Headless Chromium, Node and the scenarios' npm packages (playwright-core,
//! and oidc-provider for the OpenID Connect scenarios) for the browser
//! scenarios (`tests/browser/*.mjs`), used by `tests/browser.rs` and
//! `tests/proxy.rs`.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

use super::repo_root;

/// What the scenarios need besides the projects.
pub struct Tools {
    pub chromium: PathBuf,
}

pub fn browser_dir() -> PathBuf {
    repo_root().join("tests").join("browser")
}

/// The oldest Node release the scenarios run on, as (major, minor):
/// oidc-provider 9 supports Node 22 and later LTS releases, vite 8 needs
/// 20.19 or 22.12 and later (playwright-core needs 20; Debian 12's own is
/// 18). `.ci/run`'s `NODE_MIN`.
const NODE_MIN: (u32, u32) = (22, 12);

/// Why the `node` on the `PATH` cannot run the scenarios, if it cannot.
fn node_too_old() -> Option<String> {
    let (min_major, min_minor) = NODE_MIN;
    let Ok(output) = Command::new("node").arg("--version").output() else {
        return Some(format!(
            "no `node` on the PATH (Node {min_major}.{min_minor} or newer)"
        ));
    };
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let mut parts = version
        .trim_start_matches('v')
        .split('.')
        .map(|part| part.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) if (major, minor) >= NODE_MIN => None,
        _ => Some(format!(
            "`node --version` says {version:?}; the browser tests need Node \
             {min_major}.{min_minor} or newer (.ci/run fetches Node 24 when the machine's is older)"
        )),
    }
}

/// Chromium, Node and the npm packages, or `None` (with the reason printed)
/// outside CI. In CI a missing one fails the test.
pub fn tools() -> Option<Tools> {
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let missing = if !chromium.is_file() {
        Some(format!(
            "no Chromium at {} (apt-get install chromium, or set CHROMIUM)",
            chromium.display()
        ))
    } else {
        node_too_old().or_else(|| install_node_packages().err())
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

/// Whether `python3` can import aiosmtpd, for the scenarios that start a real
/// SMTP server (`template/crates/platform/src/testing/smtp_server.py`). Outside CI a missing one
/// skips the test with the reason; with `CI=true` it fails it.
pub fn smtp_server_available() -> bool {
    static WHY_NOT: OnceLock<Option<String>> = OnceLock::new();
    let why_not = WHY_NOT.get_or_init(|| {
        match Command::new("python3")
            .args(["-c", "import aiosmtpd.controller"])
            .output()
        {
            Err(err) => Some(format!("cannot run python3 ({err})")),
            Ok(output) if output.status.success() => None,
            Ok(output) => Some(format!(
                "python3 cannot import aiosmtpd (PYTHONPATH={:?}; .ci/run installs it \
                 into ~/.cache/axum-session-starter/python-aiosmtpd-1.4.6): {}",
                std::env::var("PYTHONPATH").unwrap_or_default(),
                // The traceback's last line: the error itself.
                String::from_utf8_lossy(&output.stderr)
                    .trim()
                    .lines()
                    .last()
                    .unwrap_or("")
            )),
        }
    });
    match why_not {
        None => true,
        Some(reason) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true and the mail browser tests cannot run: {reason}")
        }
        Some(reason) => {
            eprintln!("SKIPPED browser test: {reason}");
            false
        }
    }
}

/// Runs `npm ci` in `tests/browser` unless every dependency of its
/// `package.json` is installed at the version pinned there (`.ci/run`
/// installs them up front; a checkout that gained a package since its last
/// `npm ci` gets it here).
fn install_node_packages() -> Result<(), String> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let dir = browser_dir();
            if packages_installed(&dir) {
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

/// Whether `node_modules` holds each dependency at its pinned version.
fn packages_installed(dir: &Path) -> bool {
    let read = |path: PathBuf| -> Option<serde_json::Value> {
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
    };
    let Some(manifest) = read(dir.join("package.json")) else {
        return false;
    };
    let Some(dependencies) = manifest["dependencies"].as_object() else {
        return false;
    };
    dependencies.iter().all(|(name, version)| {
        read(dir.join("node_modules").join(name).join("package.json"))
            .is_some_and(|installed| installed["version"] == *version)
    })
}
