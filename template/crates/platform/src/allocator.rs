//! Makes the allocator give Argon2's working memory back after each hash.
//!
//! Every hash or verification allocates 19 MiB (see `password`). glibc's
//! malloc serves the first such block with `mmap` and unmaps it when freed,
//! but then raises its mmap threshold to that size, so later ones come from
//! per-thread arenas that keep the memory after it is freed. Measured with
//! the template's `bench/run`: ~50 MiB while serving plain requests after
//! one signup and one login, ~400 MiB after a burst of logins, for good.
//! Fixing the threshold at glibc's default keeps such blocks on `mmap`, so
//! each is returned when its hash ends (12.6 MiB and 50 MiB).

/// glibc's default mmap threshold (128 KiB). Setting it explicitly turns off
/// the dynamic adjustment described above.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 128 * 1024;

/// Call once, first thing in `main`.
pub fn return_large_blocks_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes a tuning parameter of the allocator,
    // under the allocator's own lock; no memory is touched.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}
