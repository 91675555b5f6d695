//! Reading one setting from the environment, and saying why a value cannot
//! be used.
//!
//! Every module that needs configuration (the database, the session store,
//! the cookie policy) reads its own variables through [`Env`], so each one
//! owns its settings, defaults and parsing, and every refusal has the same
//! one-line form: the variable, the value, the problem and the fix. The
//! application's configuration only gathers the results.

use std::{fmt, ops::RangeInclusive, time::Duration};

/// A setting that cannot be used, with what to do about it.
#[derive(Debug, thiserror::Error)]
#[error("{var}={value:?}: {problem}. Fix: {fix}")]
pub struct ConfigError {
    pub var: &'static str,
    pub value: String,
    pub problem: String,
    pub fix: String,
}

/// A name-to-value lookup: the process environment in production, a map in
/// tests (which then never mutate the process environment).
pub struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Env<'a> {
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self { lookup }
    }

    /// The variable's value, or `default` when it is not set.
    pub fn var(&self, name: &'static str, default: &str) -> Setting {
        Setting {
            name,
            value: (self.lookup)(name).unwrap_or_else(|| default.to_owned()),
        }
    }

    /// A whole number of seconds within `range`.
    pub fn seconds(
        &self,
        name: &'static str,
        default: &str,
        range: RangeInclusive<u64>,
    ) -> Result<Duration, ConfigError> {
        self.var(name, default).parse_with(
            |v| parse_in_range(v, *range.start(), *range.end()).map(Duration::from_secs),
            "use a whole number of seconds",
        )
    }

    /// A whole number within `range`: a count or a limit of the
    /// application's, e.g. `env.number("PROJECTS_PER_USER", "100",
    /// 1..=10_000)?`.
    pub fn number(
        &self,
        name: &'static str,
        default: &str,
        range: RangeInclusive<u64>,
    ) -> Result<u64, ConfigError> {
        let fix = format!(
            "use a whole number from {} to {}, e.g. {default}",
            range.start(),
            range.end()
        );
        self.var(name, default)
            .parse_with(|v| parse_in_range(v, *range.start(), *range.end()), &fix)
    }

    /// `true` or `false` (also `1`/`0`, `yes`/`no`, any case).
    pub fn flag(&self, name: &'static str, default: &str) -> Result<bool, ConfigError> {
        self.var(name, default).parse_with(
            |v| match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" => Ok(false),
                _ => Err("not true or false".to_owned()),
            },
            &format!("use true or false, e.g. {default}"),
        )
    }

    /// A whole number of milliseconds within `range`.
    pub fn millis(
        &self,
        name: &'static str,
        default: &str,
        range: RangeInclusive<u64>,
    ) -> Result<Duration, ConfigError> {
        let fix = format!(
            "use milliseconds from {} to {}, e.g. {default}",
            range.start(),
            range.end()
        );
        self.var(name, default).parse_with(
            |v| parse_in_range(v, *range.start(), *range.end()).map(Duration::from_millis),
            &fix,
        )
    }
}

/// One environment variable, kept with its name for error messages.
pub struct Setting {
    pub name: &'static str,
    pub value: String,
}

impl Setting {
    /// Parses the trimmed value, or explains the refusal with `fix`.
    pub fn parse_with<T>(
        &self,
        parse: impl FnOnce(&str) -> Result<T, String>,
        fix: &str,
    ) -> Result<T, ConfigError> {
        parse(self.value.trim()).map_err(|problem| self.error(problem, fix))
    }

    /// A refusal of this setting's value. Passwords in URLs are hidden.
    pub fn error(&self, problem: impl Into<String>, fix: &str) -> ConfigError {
        ConfigError {
            var: self.name,
            value: if self.name.ends_with("_URL") {
                redact_url(&self.value)
            } else {
                self.value.clone()
            },
            problem: problem.into(),
            fix: fix.to_owned(),
        }
    }
}

/// Parses a whole number within `min..=max`.
pub fn parse_in_range<T>(value: &str, min: T, max: T) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    match value.parse::<T>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("not a whole number from {min} to {max}")),
    }
}

/// Hides the password of a connection URL, so error messages and logs never
/// carry it.
pub fn redact_url(value: &str) -> String {
    match url::Url::parse(value) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => value.to_owned(),
    }
}
