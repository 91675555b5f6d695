//! Rebuilds the application when a file in `migrations/` is added, changed
//! or removed. `sqlx::migrate!` embeds the migrations at compile time, and
//! without this cargo would not know to recompile for a new file: the
//! binary would run without the migration, silently.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
