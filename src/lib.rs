//! Intentionally empty: this crate exists only for its tests in `tests/`,
//! which generate projects from the template and check them.
