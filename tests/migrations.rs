//! A migration added to a generated project reaches its binary: the app
//! embeds `migrations/` at compile time (`sqlx::migrate!`), and its build
//! script tells cargo to rebuild when that folder changes. Without it a new
//! file alone rebuilt nothing, and the binary silently ran without it.

mod common;

use std::fs;

use common::{cargo, generate, remove_own_artifacts, render_only, template_copy};

#[test]
fn a_new_migration_file_alone_rebuilds_the_app() {
    if render_only() {
        eprintln!("migrations test: builds nothing with TEMPLATE_MATRIX=render");
        return;
    }
    let template = template_copy();
    let destination = tempfile::tempdir().unwrap();
    let output = generate(template.path(), destination.path(), "migrating-app", &[]);
    assert!(
        output.status.success(),
        "generation failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let project = destination.path().join("migrating-app");
    cargo(&project, &["build", "--locked"]);
    let unchanged = cargo(&project, &["build", "--locked"]);
    assert!(
        !unchanged.contains("Compiling migrating-app"),
        "rebuilt with nothing changed:\n{unchanged}"
    );

    fs::write(
        project.join("migrations/0100_create_tags.sql"),
        "CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n",
    )
    .unwrap();
    let rebuilt = cargo(&project, &["build", "--locked"]);
    assert!(
        rebuilt.contains("Compiling migrating-app"),
        "a new migration did not rebuild the app:\n{rebuilt}"
    );
    remove_own_artifacts(&project);
}
