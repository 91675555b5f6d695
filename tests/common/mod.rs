//! Shared helpers: run cargo-generate on this template and cargo on the result.

#![allow(dead_code)] // each test file uses a different part of the harness

pub mod browser;
pub mod services;

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use tempfile::TempDir;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One target directory for every generated project, so their dependencies
/// compile once per run (and once across runs on a developer machine). It is
/// outside the checkout: `cargo generate --path .` copies everything it finds.
pub fn shared_target_dir() -> PathBuf {
    std::env::var_os("GENERATED_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("axum-session-starter-target"))
}

/// A copy of the template as a fresh clone would hold it: the files git
/// tracks plus new ones it does not ignore. (Copying the working tree instead
/// would hide a file that `.gitignore` keeps out of the repository, and
/// `cargo generate --path` copies everything, `target/` included.)
pub fn template_copy() -> TempDir {
    let root = repo_root();
    let listed = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(&root)
        .output()
        .expect("git runs");
    assert!(
        listed.status.success(),
        "git ls-files failed: {}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let copy = tempfile::tempdir().expect("temp dir");
    for path in listed.stdout.split(|b| *b == 0).filter(|p| !p.is_empty()) {
        let relative = Path::new(std::str::from_utf8(path).expect("UTF-8 path"));
        let source = root.join(relative);
        if !source.is_file() {
            continue; // deleted in the working tree
        }
        let dest = copy.path().join(relative);
        fs::create_dir_all(dest.parent().expect("has parent")).expect("create dir");
        fs::copy(&source, &dest).expect("copy file");
    }
    copy
}

/// The cargo-generate executable under test: `CARGO_GENERATE` if set (CI
/// runs the suite once per supported release), else `cargo-generate` from
/// the `PATH`. It is run as cargo runs it, with `generate` as first argument.
pub fn cargo_generate() -> String {
    std::env::var("CARGO_GENERATE").unwrap_or_else(|_| "cargo-generate".to_owned())
}

/// `TEMPLATE_MATRIX=render`: .ci/run's runs with the extra cargo-generate
/// releases. They check that each release renders every project exactly as
/// the README's release does, and build nothing: the full run has already
/// built and tested those very files.
pub fn render_only() -> bool {
    std::env::var("TEMPLATE_MATRIX").as_deref() == Ok("render")
}

/// The release whose rendering the others must match:
/// `CARGO_GENERATE_REFERENCE`, else `cargo-generate` from the `PATH`.
pub fn reference_cargo_generate() -> String {
    std::env::var("CARGO_GENERATE_REFERENCE").unwrap_or_else(|_| "cargo-generate".to_owned())
}

/// How cargo-generate is pointed at the template.
#[derive(Clone, Copy, Debug)]
pub enum Source {
    /// `--path <clone>`
    Path,
    /// `--git <repository>`: a commit of the template copy, cloned by cargo-generate.
    Git,
}

/// Runs `cargo generate --silent` into `destination` with `--define`s.
pub fn generate(
    template: &Path,
    destination: &Path,
    name: &str,
    defines: &[(&str, &str)],
) -> Output {
    generate_from(
        &cargo_generate(),
        Source::Path,
        template,
        destination,
        name,
        defines,
    )
}

/// Runs the cargo-generate executable given, pointed at the template by
/// `source`, into `destination`.
pub fn generate_from(
    cargo_generate: &str,
    source: Source,
    template: &Path,
    destination: &Path,
    name: &str,
    defines: &[(&str, &str)],
) -> Output {
    let mut command = Command::new(cargo_generate);
    command.arg("generate");
    match source {
        Source::Path => command.arg("--path"),
        Source::Git => {
            // Once per copy: a second generation reuses the commit.
            if !template.join(".git").exists() {
                commit_all(template);
            }
            command.arg("--git")
        }
    };
    command
        .arg(template)
        .args(["--name", name, "--silent", "--vcs", "none"])
        .arg("--destination")
        .arg(destination)
        // Run where the project goes, as a user would. Never from the
        // checkout: cargo-generate 0.23.10 and 0.23.11 remove the hook
        // scripts' paths relative to the working directory after generating,
        // which there would delete this repository's own hooks/*.rhai.
        .current_dir(destination)
        .env_remove("RUST_BACKTRACE");
    for (key, value) in defines {
        command.arg("--define").arg(format!("{key}={value}"));
    }
    command.output().unwrap_or_else(|err| {
        panic!(
            "cannot run {cargo_generate} ({err}): install it with `cargo install cargo-generate --version 0.23.7 --locked` (see README.md)"
        )
    })
}

/// Makes `dir` a git repository with everything in it committed.
fn commit_all(dir: &Path) {
    for args in [
        &["init", "-q"][..],
        // --force: the copy holds exactly the repository's files, some of
        // which (template/.env) a .gitignore inside template/ would skip.
        &["add", "-A", "--force"],
        &[
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@example.com",
            "commit",
            "-qm",
            "template",
        ],
    ] {
        let status = Command::new("git")
            .args(args)
            .current_dir(dir)
            .status()
            .expect("git runs");
        assert!(status.success(), "git {args:?} failed in {}", dir.display());
    }
}

/// Runs cargo in a generated project with the shared target directory and
/// returns its combined output, failing the test with it when cargo fails.
pub fn cargo(project: &Path, args: &[&str]) -> String {
    let output = Command::new("cargo")
        .args(args)
        .current_dir(project)
        .env("CARGO_TARGET_DIR", shared_target_dir())
        // Line tables only (file:line in backtraces, no variable info): each
        // project links some twenty test binaries, and with full debug info
        // they took 160 MB apiece, enough to fill a disk across the matrix.
        .env("CARGO_PROFILE_DEV_DEBUG", "line-tables-only")
        // Each project is built once: incremental caches would only fill the disk.
        .env("CARGO_INCREMENTAL", "0")
        .env_remove("RUST_LOG")
        // The project's rust-toolchain.toml decides, as for its users (rustup
        // sets this for the test process, and it would win over the file).
        .env_remove("RUSTUP_TOOLCHAIN")
        .output()
        .expect("cargo runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "`cargo {}` failed in {}:\n{text}",
        args.join(" "),
        project.display()
    );
    text
}

/// Deletes what `cargo test` built from the project's own sources (its
/// library, binary and test executables) from the shared target directory,
/// and keeps the dependencies every project shares.
///
/// Not `cargo clean --package`: that removes files by target name, and every
/// generated project has test targets of the same names (`auth`, `startup`,
/// ...), so it deleted the executables of a project being tested in parallel.
/// The test executables named here carry this project's own metadata hash.
/// For the binary cargo names only its copy in `debug/`, a hard link to
/// `debug/deps/<crate>-<hash>`; that one is found by the crate name, which is
/// the project name and so unique to each project of the matrix.
pub fn remove_own_artifacts(project: &Path) {
    // Offline: called after the project was built, so everything is here,
    // and the sparse index has once served a stale copy lacking a version
    // the lock file named.
    let listing = cargo(
        project,
        &["test", "--offline", "--no-run", "--message-format=json"],
    );
    let sources = project.canonicalize().expect("project dir");
    let mut removed = 0;
    let mut crate_names = Vec::new();
    for line in listing.lines().filter(|line| line.starts_with('{')) {
        let message: serde_json::Value = serde_json::from_str(line).expect("cargo JSON message");
        // The app crate's outputs; the platform crate's go with the shared
        // dependencies (its outputs carry its features in their hash).
        let own = message["reason"] == "compiler-artifact"
            && message["target"]["src_path"].as_str().is_some_and(|src| {
                Path::new(src).starts_with(&sources)
                    && !Path::new(src).starts_with(sources.join("crates"))
            });
        if !own {
            continue;
        }
        let kinds = message["target"]["kind"].as_array().expect("target kind");
        if kinds.iter().any(|kind| kind == "bin" || kind == "lib") {
            let name = message["target"]["name"].as_str().expect("target name");
            crate_names.push(name.replace('-', "_"));
        }
        let files = message["filenames"].as_array().expect("filenames");
        for file in files.iter().chain([&message["executable"]]) {
            if let Some(file) = file.as_str()
                && fs::remove_file(file).is_ok()
            {
                removed += 1;
            }
        }
    }
    let deps = shared_target_dir().join("debug").join("deps");
    for entry in fs::read_dir(&deps).expect("deps dir").flatten() {
        let file = entry.file_name();
        let file = file.to_string_lossy();
        let ours = crate_names.iter().any(|name| {
            file.starts_with(&format!("{name}-")) || file.starts_with(&format!("lib{name}-"))
        });
        if ours && fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    assert!(
        removed > 0,
        "no build outputs of {} found in:\n{listing}",
        project.display()
    );
}

/// Every file below `dir`, relative to it, sorted.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).expect("readable dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).expect("below root").to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// What is directly inside `dir`.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("readable dir")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// After a refused answer: nothing in `destination`, or only the project
/// folder, empty. cargo-generate creates that folder before it checks the
/// answers, and does not remove it when they are refused.
pub fn assert_at_most_an_empty_project_folder(destination: &Path, name: &str) {
    let left = entries(destination);
    assert!(
        left.is_empty() || (left == [name] && entries(&destination.join(name)).is_empty()),
        "a refused generation left {left:?} in {} ({:?} in the project folder)",
        destination.display(),
        destination
            .join(name)
            .is_dir()
            .then(|| entries(&destination.join(name)))
    );
}
