//! The log line written to files and pipes: the text of `tracing-subscriber`'s
//! default format, produced for a fraction of its cost.
//!
//! Every request writes one access-log line, so formatting a line is paid
//! on every request. `tracing-subscriber`'s own formatter builds each line
//! through `core::fmt` piece by piece: the timestamp field by field, every
//! value through an escaping writer that handles it a character at a time.
//! Measured with callgrind, that was 9,400 instructions per access-log line,
//! more than the rest of a health check's own work.
//! This formatter writes the same line (`2026-12-02T18:20:00.123456Z  INFO
//! finished processing request method=GET path=/api/health status=200
//! latency_us=41`, with span names and fields before the message as the
//! default shows them) with the timestamp's digits written directly,
//! integers through `itoa`, and strings copied whole unless they contain a
//! character that needs escaping.
//!
//! Escaping: control characters in messages and values are written as
//! `\x1b`, `\n`, `\u{85}` and so on, so no value (a path, an error message
//! quoting user input) can forge a second log line or send escape sequences
//! to a terminal that displays the log; so are the Unicode line and
//! paragraph separators (U+2028, U+2029), which some viewers break lines
//! at, and the bidirectional controls, which make a line read differently
//! from what it holds.
//!
//! Size: each value writes at most [`MAX_VALUE_BYTES`], then how many more
//! bytes it had, so no request (a 64 KiB path, a provider's
//! `error_description`) can write megabytes to the log.

use std::fmt::{self, Write as _};

use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
};
use tracing_subscriber::{
    field::RecordFields,
    fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, format::Writer},
    registry::LookupSpan,
};

/// The event format: timestamp, level, spans, then the fields.
#[derive(Clone, Copy, Debug, Default)]
pub struct Plain;

/// The field format, for events and for spans' fields.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlainFields;

impl<S, N> FormatEvent<S, N> for Plain
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write_timestamp(&mut writer, time::OffsetDateTime::now_utc())?;
        writer.write_str(match *event.metadata().level() {
            tracing::Level::TRACE => "TRACE ",
            tracing::Level::DEBUG => "DEBUG ",
            tracing::Level::INFO => " INFO ",
            tracing::Level::WARN => " WARN ",
            tracing::Level::ERROR => "ERROR ",
        })?;
        if let Some(scope) = ctx.event_scope() {
            let mut any = false;
            for span in scope.from_root() {
                writer.write_str(span.name())?;
                if let Some(fields) = span.extensions().get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    writer.write_char('{')?;
                    write!(writer, "{fields}")?;
                    writer.write_char('}')?;
                }
                writer.write_char(':')?;
                any = true;
            }
            if any {
                writer.write_char(' ')?;
            }
        }
        ctx.format_fields(writer.by_ref(), event)?;
        writer.write_char('\n')
    }
}

impl<'writer> FormatFields<'writer> for PlainFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = Fields {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

/// Writes `time` as RFC 3339 in UTC with microseconds, as
/// `tracing-subscriber` does: `2026-12-02T18:20:00.123456Z`.
fn write_timestamp(writer: &mut impl fmt::Write, time: time::OffsetDateTime) -> fmt::Result {
    let mut digits = *b"0000-00-00T00:00:00.000000Z ";
    let year = u32::try_from(time.year()).unwrap_or(0).min(9999);
    put(&mut digits[0..4], year);
    put(&mut digits[5..7], u32::from(u8::from(time.month())));
    put(&mut digits[8..10], u32::from(time.day()));
    put(&mut digits[11..13], u32::from(time.hour()));
    put(&mut digits[14..16], u32::from(time.minute()));
    put(&mut digits[17..19], u32::from(time.second()));
    put(&mut digits[20..26], time.microsecond());
    // Only ASCII digits and separators were written.
    writer.write_str(std::str::from_utf8(&digits).map_err(|_| fmt::Error)?)
}

/// Writes `value`'s last `out.len()` decimal digits into `out`.
fn put(out: &mut [u8], mut value: u32) {
    for byte in out.iter_mut().rev() {
        // `value % 10` is below 10, so the digit fits a byte.
        *byte = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Writes fields as `tracing-subscriber`'s default visitor does: the
/// message as it is, every other field as `name=value`, separated by
/// spaces; `%` (Display) values unquoted, `?` (Debug) and plain string
/// values in their Debug form.
struct Fields<'writer> {
    writer: Writer<'writer>,
    first: bool,
    result: fmt::Result,
}

impl Fields<'_> {
    /// Starts a field: the separating space, then `name=` unless it is the
    /// message. `false` when a write failed earlier or the field is
    /// `log` crate metadata, which the level and target already show.
    fn start(&mut self, field: &Field) -> bool {
        if self.result.is_err() || field.name().starts_with("log.") {
            return false;
        }
        if !self.first {
            self.result = self.writer.write_char(' ');
        }
        self.first = false;
        if field.name() != "message" {
            self.result = self
                .result
                .and_then(|()| self.writer.write_str(field.name()))
                .and_then(|()| self.writer.write_char('='));
        }
        self.result.is_ok()
    }
}

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.start(field) {
            self.result = escaped(&mut self.writer, format_args!("{value:?}"));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if !self.start(field) {
            return;
        }
        self.result = if field.name() == "message" {
            escaped(&mut self.writer, format_args!("{value}"))
        } else {
            escaped(&mut self.writer, format_args!("{value:?}"))
        };
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.start(field) {
            self.result = self.writer.write_str(itoa::Buffer::new().format(value));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.start(field) {
            self.result = self.writer.write_str(itoa::Buffer::new().format(value));
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.start(field) {
            self.result = self.writer.write_str(if value { "true" } else { "false" });
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if !self.start(field) {
            return;
        }
        self.result = escaped(&mut self.writer, format_args!("{value}"));
        // The causes, as the default format lists them.
        let mut source = value.source();
        if source.is_some() {
            self.result = self
                .result
                .and_then(|()| write!(self.writer, " {}.sources=[", field.name()));
        }
        let mut first = true;
        while let Some(cause) = source {
            let separator = if first { "" } else { ", " };
            first = false;
            self.result = self
                .result
                .and_then(|()| self.writer.write_str(separator))
                .and_then(|()| escaped(&mut self.writer, format_args!("{cause}")));
            source = cause.source();
        }
        if !first {
            self.result = self.result.and_then(|()| self.writer.write_char(']'));
        }
    }
}

/// Most bytes one value (escaped) writes to a line.
pub const MAX_VALUE_BYTES: usize = 1024;

/// Writes `value` escaped, and cut after [`MAX_VALUE_BYTES`], followed by
/// how many bytes were left out.
fn escaped(writer: &mut impl fmt::Write, value: fmt::Arguments<'_>) -> fmt::Result {
    let mut escaping = Escaping {
        out: writer,
        left: MAX_VALUE_BYTES,
        dropped: 0,
    };
    escaping.write_fmt(value)?;
    if escaping.dropped > 0 {
        write!(escaping.out, "...[{} more bytes]", escaping.dropped)?;
    }
    Ok(())
}

/// A writer that escapes control characters (C0 but tab, DEL, C1), the
/// Unicode line separators and the bidirectional controls, so a value
/// cannot break the line, reach a terminal as an escape sequence or read
/// as other text; it writes at most `left` bytes and counts the rest. Text
/// without such characters, nearly all of it, is copied in one piece.
struct Escaping<'a, W> {
    out: &'a mut W,
    left: usize,
    dropped: usize,
}

impl<W: fmt::Write> Escaping<'_, W> {
    /// Writes `text` (already escaped) within what is left.
    fn put(&mut self, text: &str) -> fmt::Result {
        if text.len() <= self.left {
            self.left -= text.len();
            return self.out.write_str(text);
        }
        let mut cut = self.left;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        self.left = 0;
        self.dropped += text.len() - cut;
        self.out.write_str(&text[..cut])
    }
}

impl<W: fmt::Write> fmt::Write for Escaping<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        if self.left == 0 {
            self.dropped += text.len();
            return Ok(());
        }
        let mut rest = text;
        while let Some(at) = rest.find(needs_escape) {
            self.put(&rest[..at])?;
            let ch = rest[at..].chars().next().unwrap_or('\0');
            // Rare enough that a small allocation for the code is fine.
            let code = match ch {
                '\n' => "\\n".to_owned(),
                '\r' => "\\r".to_owned(),
                ch if (ch as u32) < 0x80 => format!("\\x{:02x}", ch as u32),
                ch => format!("\\u{{{:x}}}", ch as u32),
            };
            self.put(&code)?;
            rest = &rest[at + ch.len_utf8()..];
        }
        self.put(rest)
    }
}

fn needs_escape(ch: char) -> bool {
    (ch.is_control() && ch != '\t')
        || ch == '\u{7f}'
        || matches!(
            ch,
            // Line and paragraph separators.
            '\u{2028}' | '\u{2029}'
            // Bidirectional marks, embeddings, overrides and isolates.
            | '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use std::{
        io,
        sync::{Arc, Mutex},
    };

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    /// Collects what a subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Self;
        fn make_writer(&'a self) -> Self {
            self.clone()
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    /// What `log` writes under `subscriber`, one `String` per line with
    /// the timestamp checked and removed.
    fn captured(log: &impl Fn(), subscriber: impl FnOnce(Captured) -> tracing::Dispatch) -> String {
        let out = Captured::default();
        tracing::dispatcher::with_default(&subscriber(out.clone()), log);
        out.text()
            .lines()
            .map(|line| {
                let (time, rest) = line.split_once(' ').unwrap();
                assert_eq!(time.len(), 27, "{line}");
                assert!(time.ends_with('Z'), "{line}");
                format!("{rest}\n")
            })
            .collect()
    }

    /// What `log` writes under this format.
    fn ours(log: impl Fn()) -> String {
        captured(&log, |out| {
            tracing_subscriber::fmt()
                .event_format(Plain)
                .fmt_fields(PlainFields)
                .with_writer(out)
                .finish()
                .into()
        })
    }

    /// What `log` writes under this format and under `tracing-subscriber`'s
    /// default one.
    fn both(log: impl Fn()) -> (String, String) {
        let default = captured(&log, |out| {
            tracing_subscriber::fmt()
                .with_target(false)
                .with_ansi(false)
                .with_writer(out)
                .finish()
                .into()
        });
        (ours(log), default)
    }

    #[test]
    fn lines_read_as_the_default_format_does() {
        let (ours, default) = both(|| {
            let method = axum::http::Method::GET;
            tracing::info!(
                method = %method,
                path = %"/api/health",
                status = 200u16,
                latency_us = 41u64,
                "finished processing request"
            );
            tracing::warn!(attempts = -3i64, retry = true, name = "ada", "refused");
            let span = tracing::info_span!("job", id = 7u64);
            let _entered = span.enter();
            tracing::error!(error = ?std::io::Error::other("disk full"), "failed");
        });
        assert_eq!(ours, default);
        assert!(
            ours.starts_with(
                " INFO finished processing request method=GET path=/api/health status=200 \
                 latency_us=41\n"
            ),
            "{ours}"
        );
    }

    #[test]
    fn errors_list_their_sources_as_the_default_format_does() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("cannot save")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let (ours, default) = both(|| {
            let err = Outer(std::io::Error::other("disk full"));
            tracing::error!(
                error = &err as &(dyn std::error::Error + 'static),
                "save failed"
            );
        });
        assert_eq!(ours, default);
    }

    #[test]
    fn control_characters_cannot_forge_a_line_or_reach_a_terminal() {
        // The default format writes these characters as they are, so there
        // is nothing to compare with.
        let written = ours(|| {
            tracing::warn!(path = %"/a\nINFO forged\x1b[31m\u{85}", "odd\rmessage");
        });
        assert_eq!(
            written,
            " WARN odd\\rmessage path=/a\\nINFO forged\\x1b[31m\\u{85}\n"
        );
    }

    #[test]
    fn separators_and_bidirectional_controls_are_escaped() {
        let written = ours(|| {
            tracing::warn!(name = %"a\u{2028}b\u{2029}c\u{202e}d\u{2066}e\u{200f}", "x");
        });
        assert_eq!(
            written,
            " WARN x name=a\\u{2028}b\\u{2029}c\\u{202e}d\\u{2066}e\\u{200f}\n"
        );
    }

    #[test]
    fn one_value_writes_at_most_its_share_and_says_how_much_was_cut() {
        let path = format!("/{}", "é".repeat(40_000));
        let written = ours(|| {
            tracing::info!(path = %path, iss = ?"x".repeat(70_000), "finished");
        });
        assert!(
            written.len() < 3 * MAX_VALUE_BYTES,
            "{} bytes",
            written.len()
        );
        let kept = MAX_VALUE_BYTES - 1; // a whole number of two-byte characters
        assert!(
            written.contains(&format!(
                "path=/{}...[{} more bytes] ",
                "é".repeat(kept / 2),
                path.len() - kept
            )),
            "{written}"
        );
        assert!(written.contains("iss=\"xxx"), "{written}");
        assert!(
            written.contains(&format!("...[{} more bytes]\n", 70_002 - MAX_VALUE_BYTES)),
            "{written}"
        );
    }

    #[test]
    fn timestamps_are_rfc_3339_with_microseconds() {
        let mut out = String::new();
        let time = time::OffsetDateTime::from_unix_timestamp(1_772_600_767)
            .and_then(|time| time.replace_microsecond(89))
            .unwrap();
        write_timestamp(&mut out, time).unwrap();
        assert_eq!(out, "2026-03-04T05:06:07.000089Z ");
    }
}
