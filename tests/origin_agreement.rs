//! The origin checks at generation (the prompts' `regex` in
//! cargo-generate.toml, then hooks/validate.rhai) and the generated app's
//! own parsing at start-up (the platform crate's origin.rs, WHATWG URL parsing with
//! the `url` crate) must agree: an origin accepted at generation is accepted
//! by the app in exactly the form generation wrote to `.env`, and one the app
//! would refuse is refused at generation. Both run here over one list.

mod common;

// The app's parser itself, not a copy: it has no Liquid and needs only `url`.
// Formatting it is the generated project's business (its own `cargo fmt`).
#[rustfmt::skip]
#[path = "../template/crates/platform/src/origin.rs"]
#[allow(dead_code)]
mod origin;

use std::{sync::Mutex, thread};

use common::{generate, template_copy};
use origin::Origin;

/// (answer, what generation must make of it: `Some(normalised)` or `None`
/// for a refusal). The app's verdict is not listed: it is computed.
const CASES: &[(&str, Option<&str>)] = &[
    // Plain names, case, spaces, default and odd ports.
    ("http://localhost:8080", Some("http://localhost:8080")),
    (
        "HTTPS://API.Example.COM:443",
        Some("https://api.example.com"),
    ),
    (" http://localhost:5173 ", Some("http://localhost:5173")),
    ("http://localhost:080", Some("http://localhost")),
    ("https://localhost:08443", Some("https://localhost:8443")),
    ("http://example.com:443", Some("http://example.com:443")),
    ("https://example.com:80", Some("https://example.com:80")),
    ("http://localhost:65535", Some("http://localhost:65535")),
    ("http://localhost:0", None),
    ("http://localhost:65536", None),
    ("http://localhost:", None),
    ("http://localhost:8o80", None),
    ("http://localhost:000080", None),
    ("http://localhost:+80", None),
    // Host names.
    ("http://ab--cd.example", Some("http://ab--cd.example")),
    ("http://123.example", Some("http://123.example")),
    ("http://1e5", Some("http://1e5")),
    ("http://localhost.", None),
    ("http://a..b", None),
    ("http://-a.example", None),
    ("http://under_score.example", None),
    ("http://local host", None),
    ("http://local%68ost", None),
    // Internationalised names: refused, the app's IDNA is not copied.
    ("http://café.example", None),
    ("http://CAFÉ.example", None),
    ("http://xn--caf-dma.example", None),
    ("http://xn--a.example", None),
    // Numeric hosts: only dotted decimal IPv4.
    ("http://127.0.0.1:80", Some("http://127.0.0.1")),
    ("http://0.0.0.0:8080", Some("http://0.0.0.0:8080")),
    ("http://255.255.255.255", Some("http://255.255.255.255")),
    ("http://0x7f.1", None),
    ("http://127.1", None),
    ("http://2130706433", None),
    ("http://010.0.0.1", None),
    ("http://1.2.3.4.5", None),
    ("http://256.0.0.1", None),
    ("http://example.123", None),
    ("http://example.0x1", None),
    ("http://0x", None),
    ("http://127.0.0.1.", None),
    // IPv6, serialised as WHATWG does.
    ("http://[::1]:8080", Some("http://[::1]:8080")),
    ("http://[0:0:0:0:0:0:0:1]", Some("http://[::1]")),
    ("http://[::FFFF:1.2.3.4]", Some("http://[::ffff:102:304]")),
    ("http://[1:0:0:2:0:0:0:3]", Some("http://[1:0:0:2::3]")),
    (
        "http://[2001:db8:0:0:1:0:0:1]",
        Some("http://[2001:db8::1:0:0:1]"),
    ),
    (
        "http://[0001:0db8::0001]:443",
        Some("http://[1:db8::1]:443"),
    ),
    (
        "https://[1:2:3:4:5:6:7::]",
        Some("https://[1:2:3:4:5:6:7:0]"),
    ),
    ("http://[::]", Some("http://[::]")),
    ("http://[::1%25eth0]", None),
    ("http://[fe80::1%eth0]", None),
    ("http://[1::2::3]", None),
    ("http://[::g]", None),
    ("http://[1:2:3:4:5:6:7]", None),
    ("http://[1:2:3:4:5:6:7:8:9]", None),
    ("http://[1:2:3:4::5:6:7:8]", None),
    ("http://[12345::]", None),
    ("http://[::01.2.3.4]", None),
    ("http://[::1.2.3]", None),
    ("http://[::1", None),
    ("http://[::1]x", None),
    ("http://::1", None),
    // Not origins at all.
    ("localhost:8080", None),
    ("http:localhost:8080", None),
    ("http://localhost:8080/", None),
    ("http://localhost\\", None),
    ("ftp://example.com", None),
    ("http://user@localhost", None),
    ("http://", None),
    ("*", None),
    ("null", None),
];

/// What generation made of `answer` as the backend's origin: the
/// `PUBLIC_ORIGIN` it wrote, or `None` when it refused, naming the prompt.
fn generated(template: &std::path::Path, answer: &str) -> Option<String> {
    let destination = tempfile::tempdir().unwrap();
    let output = generate(
        template,
        destination.path(),
        "origin-check",
        &[("cross_origin", "false"), ("public_origin", answer)],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        assert!(
            stderr.contains("invalid answer for `public_origin`")
                || stderr.contains("is not a valid value for public_origin"),
            "{answer:?} was refused for another reason:\n{stderr}"
        );
        return None;
    }
    let env = std::fs::read_to_string(destination.path().join("origin-check/.env")).unwrap();
    let line = env
        .lines()
        .find_map(|l| l.strip_prefix("PUBLIC_ORIGIN="))
        .unwrap_or_else(|| panic!("no PUBLIC_ORIGIN in:\n{env}"));
    Some(line.to_owned())
}

#[test]
fn generation_and_the_app_agree_on_every_origin() {
    let template = template_copy();
    // Two at a time: each generation is a separate cargo-generate process.
    let next = Mutex::new(CASES.iter());
    let results = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let Some(&(answer, expected)) = next.lock().unwrap().next() else {
                        break;
                    };
                    let got = generated(template.path(), answer);
                    results.lock().unwrap().push((answer, expected, got));
                }
            });
        }
    });
    let mut failures = Vec::new();
    for (answer, expected, got) in results.into_inner().unwrap() {
        let app = Origin::parse(answer).map(|o| o.as_str().to_owned());
        if got.as_deref() != expected {
            failures.push(format!(
                "{answer:?}: generation gave {got:?}, the list says {expected:?} (app: {app:?})"
            ));
        }
        if let Some(written) = &got
            && app.as_ref() != Ok(written)
        {
            failures.push(format!(
                "{answer:?}: generation wrote {written:?}, the app reads it as {app:?}"
            ));
        }
        // The app's own form must also read back unchanged (what .env holds
        // is parsed again at every start).
        if let Some(written) = &got {
            let again = Origin::parse(written).map(|o| o.as_str().to_owned());
            if again.as_ref() != Ok(written) {
                failures.push(format!("{written:?} reads back as {again:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
