//! The platform crate's own tests, once for the whole matrix. It is the same
//! files in every generated project, so it is tested here with every feature
//! at once (its harness, `crates/platform/tests/http`, runs each check
//! against every session store: SQLite with and without the cache,
//! PostgreSQL, Redis), built and linted with none, and linted with each
//! answer's features by the projects of `generated_projects.rs`. Like the
//! projects' own tests, it needs PostgreSQL and Redis.

mod common;

use common::{cargo, generate, render_only, template_copy};

#[test]
fn the_platform_crate_passes_its_tests_with_every_feature() {
    if render_only() {
        eprintln!("platform test: builds nothing with TEMPLATE_MATRIX=render");
        return;
    }
    let template = template_copy();
    let destination = tempfile::tempdir().unwrap();
    let output = generate(template.path(), destination.path(), "platform-app", &[]);
    assert!(
        output.status.success(),
        "generation failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let project = destination.path().join("platform-app");
    for features in [&["--all-features"][..], &["--no-default-features"]] {
        let mut args = vec!["clippy", "--locked", "-p", "platform", "--all-targets"];
        args.extend_from_slice(features);
        args.extend(["--", "-D", "warnings"]);
        cargo(&project, &args);
    }
    let tests = cargo(
        &project,
        &[
            "test",
            "--locked",
            "--offline",
            "-p",
            "platform",
            "--all-features",
        ],
    );
    for live_check in [
        "test session::tests::a_copy_of_an_older_shape_is_read_again_once_and_the_session_goes_on ... ok",
        "test csrf_matrix::every_method_sec_fetch_site_and_origin_combination ... ok",
        "test hostile_input::hostile_requests_get_json_4xx_and_the_server_keeps_serving ... ok",
        "test session_races::a_logged_out_session_stays_dead_whatever_was_in_flight ... ok",
        "test session_races::the_old_id_stays_dead_after_the_rotation_at_login ... ok",
        "test slow_clients::trickled_heads_are_cut_off_while_normal_clients_are_served ... ok",
        "test errors::the_session_layers_own_failed_save_is_a_json_503 ... ok",
        "test user_copies::a_change_reaches_every_session_of_the_account_at_once ... ok",
        "test user_copies::a_late_save_of_the_old_copy_is_overwritten_after_the_request_timeout ... ok",
        "test hash_flood::abandoned_signups_never_run_more_hashes_than_there_are_slots ... ok",
        "test slow_clients::a_client_that_stops_reading_is_cut_off_after_the_write_stall_timeout ... ok",
        "test redis_index::the_index_expires_with_the_users_longest_lived_session ... ok",
        "test telemetry::tests::a_stalled_log_drops_and_counts_lines_instead_of_blocking ... ok",
    ] {
        assert!(
            tests.contains(live_check),
            "missing `{live_check}` in:\n{tests}"
        );
    }
}
