//! Warnings about what browsers will silently refuse, said once per value.
//!
//! Some mistakes leave no trace in the browser's console that names the
//! cause: a frontend origin missing from `FRONTEND_ORIGINS` is a CORS error
//! that does not say which list to fix, and a page calling this API under
//! another host name than `PUBLIC_ORIGIN` loses its session cookie after a
//! signup that answered 201. The server sees both, so it says so, in a
//! warning naming the value and the setting to change. Once per value, not
//! per request: the first request shows the mistake, the next thousand add
//! nothing. The values remembered are bounded, so a client sending a new
//! `Origin` with every request cannot grow memory or the log.

use std::{
    collections::HashSet,
    sync::{
        RwLock,
        atomic::{AtomicBool, Ordering},
    },
};

/// Most values remembered; past it, one more warning says that further
/// values are not named.
const MAX_REMEMBERED: usize = 64;

/// The values already warned about, for one kind of warning. A value seen
/// before costs a shared read lock, so a steady stream of requests with it
/// does not contend.
#[derive(Debug, Default)]
pub struct WarnOnce {
    seen: RwLock<HashSet<String>>,
    /// Set once [`MAX_REMEMBERED`] values are remembered and `full` was said.
    full: AtomicBool,
}

impl WarnOnce {
    /// Calls `warn` if `value` has not been warned about yet and fewer than
    /// [`MAX_REMEMBERED`] values have been; once that many have, calls
    /// `full` once, and nothing after.
    pub fn warn(&self, value: &str, warn: impl FnOnce(), full: impl FnOnce()) {
        let done = |seen: &HashSet<String>| seen.contains(value);
        if self.full.load(Ordering::Relaxed)
            || done(
                &self
                    .seen
                    .read()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
            )
        {
            return;
        }
        let mut seen = self
            .seen
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if done(&seen) {
            return;
        }
        if seen.len() >= MAX_REMEMBERED {
            if !self.full.swap(true, Ordering::Relaxed) {
                drop(seen);
                full();
            }
            return;
        }
        seen.insert(value.to_owned());
        drop(seen);
        warn();
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn each_value_is_warned_about_once_and_the_values_are_bounded() {
        let once = WarnOnce::default();
        let (warned, full) = (Cell::new(0), Cell::new(0));
        let count = |value: &str| {
            once.warn(
                value,
                || warned.set(warned.get() + 1),
                || full.set(full.get() + 1),
            );
        };
        for _ in 0..3 {
            count("http://a.example");
        }
        assert_eq!((warned.get(), full.get()), (1, 0));
        // An empty value is a value like any other.
        count("");
        for n in 0..1000 {
            count(&format!("http://{n}.example"));
        }
        assert_eq!((warned.get(), full.get()), (MAX_REMEMBERED, 1));
    }
}
