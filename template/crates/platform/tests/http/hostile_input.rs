//! What attackers and broken clients send. Every case must get a JSON 4xx
//! (never a 500, a panic or a dropped connection), and the server must
//! answer a normal request right after it.
//!
//! The requests are written as raw bytes over TCP, because an HTTP client
//! library refuses to send most of them.

use std::time::Duration;

use crate::harness::{OPEN_JSON_ROUTE, cookie_pair, session_set_cookie, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Longest any single hostile request may take to be answered.
const PATIENCE: Duration = Duration::from_secs(10);

const JSON: &[u8] = b"Content-Type: application/json";
const FORM: &[u8] = b"Content-Type: application/x-www-form-urlencoded";
const CHUNKED: &[u8] = b"Transfer-Encoding: chunked";
/// What a browser adds to a request from a hostile page.
const CROSS_SITE: &[&[u8]] = &[
    b"Origin: https://evil.example",
    b"Sec-Fetch-Site: cross-site",
];

/// One hostile request and the status it must get.
struct Case {
    name: &'static str,
    request: Vec<u8>,
    expected: StatusCode,
}

fn case(name: &'static str, request: Vec<u8>, expected: StatusCode) -> Case {
    Case {
        name,
        request,
        expected,
    }
}

/// An HTTP/1.1 request to `host` with `Connection: close`, the given header
/// lines and body. `Content-Length` is added for a non-empty body unless a
/// header line already frames it.
fn request(host: &str, method: &str, path: &str, headers: &[&[u8]], body: &[u8]) -> Vec<u8> {
    let mut raw =
        format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n").into_bytes();
    let framed = headers.iter().any(|header| {
        let header = header.to_ascii_lowercase();
        header.starts_with(b"content-length:") || header.starts_with(b"transfer-encoding:")
    });
    for header in headers {
        raw.extend_from_slice(header);
        raw.extend_from_slice(b"\r\n");
    }
    if !body.is_empty() && !framed {
        raw.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    raw.extend_from_slice(body);
    raw
}

/// A parsed response, as read off the socket.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `error.code` of a JSON error body, or why there is none.
    fn error_code(&self) -> Result<String, String> {
        let content_type = self.header("content-type").unwrap_or_default();
        if !content_type.starts_with("application/json") {
            return Err(format!("content-type {content_type:?}, not JSON"));
        }
        let body: Value = serde_json::from_slice(&self.body)
            .map_err(|e| format!("body is not JSON ({e}): {:?}", self.text()))?;
        let message = body["error"]["message"].as_str().unwrap_or_default();
        match body["error"]["code"].as_str() {
            Some(code) if !message.is_empty() => Ok(code.to_owned()),
            _ => Err(format!("not an error body: {body}")),
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends raw bytes and reads the answer until the server closes. The bytes
/// are written from a separate task, so a server that answers before reading
/// a whole body (413) is not mistaken for one that hung up.
async fn send_raw(host: &str, raw: Vec<u8>) -> Result<Answer, String> {
    let stream = TcpStream::connect(host)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut reader, mut writer) = stream.into_split();
    let writing = tokio::spawn(async move {
        let _ = writer.write_all(&raw).await;
        // Keep the write half open until the answer is read.
        writer
    });
    let mut received = Vec::new();
    let read = tokio::time::timeout(PATIENCE, reader.read_to_end(&mut received)).await;
    writing.abort();
    match read {
        Err(_) => return Err(format!("no complete answer within {PATIENCE:?}")),
        Ok(Err(e)) if received.is_empty() => return Err(format!("connection dropped: {e}")),
        Ok(_) => {}
    }
    parse_answer(&received)
}

fn parse_answer(received: &[u8]) -> Result<Answer, String> {
    let end = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| {
            format!(
                "connection closed without a complete answer: {:?}",
                String::from_utf8_lossy(received)
            )
        })?;
    let head = String::from_utf8_lossy(&received[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok(Answer {
        status,
        headers,
        body: received[end + 4..].to_vec(),
    })
}

/// The hostile requests. `session` is a real, signed-in `name=value` cookie.
fn cases(host: &str, session: &str) -> Vec<Case> {
    let (cookie_name, cookie_value) = session.split_once('=').expect("name=value");
    let get = |path: &str, headers: &[&[u8]]| request(host, "GET", path, headers, b"");
    let with_cookie = |cookie: &[u8]| {
        let header = [b"Cookie: ".as_slice(), cookie].concat();
        get("/api/auth/session", &[&header])
    };
    let post =
        |path: &str, headers: &[&[u8]], body: &[u8]| request(host, "POST", path, headers, body);
    let post_json = |path: &str, body: &[u8]| post(path, &[JSON], body);
    // A route open without a session that reads a JSON body (the tests'
    // login, which takes an email and a password as an application's does).
    let login = |body: &[u8]| post_json(OPEN_JSON_ROUTE, body);
    let credentials = |email: &str, password: &str| {
        json!({ "email": email, "password": password })
            .to_string()
            .into_bytes()
    };
    let tampered = {
        let mut value = cookie_value.to_owned();
        let last = value.pop().expect("non-empty id");
        value.push(if last == 'A' { 'B' } else { 'A' });
        format!("{cookie_name}={value}")
    };
    let valid_login = credentials("a@example.com", "a long passphrase");
    // Under a field login ignores: serde_json skips it without recursing,
    // so this is an ordinary wrong login, not a stack overflow.
    let deeply_nested = [
        r#"{"ignored":"#,
        &"[".repeat(10_000),
        &"]".repeat(10_000),
        r#","email":"a@example.com","password":"a long passphrase"}"#,
    ]
    .concat();
    let nested_email = [
        r#"{"email":"#,
        &"[".repeat(10_000),
        &"]".repeat(10_000),
        r#","password":"a long passphrase"}"#,
    ]
    .concat();
    let long = "a".repeat(32 * 1024);
    let too_large = vec![b'x'; 1024 * 1024];
    let mut chunked_too_large = Vec::new();
    for _ in 0..64 {
        chunked_too_large.extend_from_slice(format!("{:x}\r\n", 16 * 1024).as_bytes());
        chunked_too_large.extend_from_slice(&[b' '; 16 * 1024]);
        chunked_too_large.extend_from_slice(b"\r\n");
    }
    chunked_too_large.extend_from_slice(b"0\r\n\r\n");

    use StatusCode as S;
    vec![
        // Session cookies: none of these may sign anyone in or fail the store.
        case(
            "malformed cookie",
            with_cookie(format!("{cookie_name}=%%%not-an-id%%%").as_bytes()),
            S::UNAUTHORIZED,
        ),
        case(
            "empty cookie",
            with_cookie(format!("{cookie_name}=").as_bytes()),
            S::UNAUTHORIZED,
        ),
        case(
            "oversized cookie (4 KiB)",
            with_cookie(format!("{cookie_name}={}", "A".repeat(4096)).as_bytes()),
            S::UNAUTHORIZED,
        ),
        case(
            "oversized cookie (32 KiB)",
            with_cookie(format!("{cookie_name}={long}").as_bytes()),
            S::UNAUTHORIZED,
        ),
        case(
            "tampered cookie",
            with_cookie(tampered.as_bytes()),
            S::UNAUTHORIZED,
        ),
        case(
            "duplicated garbage cookies",
            with_cookie(format!("{cookie_name}=a; {cookie_name}=b").as_bytes()),
            S::UNAUTHORIZED,
        ),
        case(
            "valid cookie duplicated with a garbage one",
            with_cookie(format!("{session}; {cookie_name}=garbage").as_bytes()),
            S::UNAUTHORIZED,
        ),
        case(
            "two Cookie headers",
            get(
                "/api/auth/session",
                &[
                    format!("Cookie: {cookie_name}=a").as_bytes(),
                    format!("Cookie: {cookie_name}=b").as_bytes(),
                ],
            ),
            S::UNAUTHORIZED,
        ),
        case(
            "non-UTF-8 cookie",
            with_cookie(&[cookie_name.as_bytes(), b"=\xff\xfe\xfd"].concat()),
            S::UNAUTHORIZED,
        ),
        case(
            "id under another cookie name",
            with_cookie(format!("other{session}").as_bytes()),
            S::UNAUTHORIZED,
        ),
        // Bodies.
        case("invalid JSON", login(b"{\"email\":"), S::BAD_REQUEST),
        case(
            "deeply nested JSON (10 000 levels) in an ignored field",
            login(deeply_nested.as_bytes()),
            S::UNAUTHORIZED,
        ),
        case(
            "deeply nested JSON (10 000 levels) as the email",
            login(nested_email.as_bytes()),
            S::UNPROCESSABLE_ENTITY,
        ),
        // serde reads a JSON array positionally into the same struct: this
        // is just a wrong login.
        case(
            "JSON array instead of object",
            login(b"[\"a@example.com\",\"a long passphrase\"]"),
            S::UNAUTHORIZED,
        ),
        case(
            "JSON array of numbers",
            login(b"[1,2,3]"),
            S::UNPROCESSABLE_ENTITY,
        ),
        case("JSON null", login(b"null"), S::UNPROCESSABLE_ENTITY),
        case(
            "wrong field types",
            login(br#"{"email":1,"password":true}"#),
            S::UNPROCESSABLE_ENTITY,
        ),
        case(
            "duplicated JSON keys",
            login(br#"{"email":"a@example.com","email":"b@example.com","password":"12345678"}"#),
            S::UNPROCESSABLE_ENTITY,
        ),
        case(
            "non-UTF-8 JSON",
            login(b"{\"email\":\"\xff\xfe@example.com\",\"password\":\"a long passphrase\"}"),
            S::BAD_REQUEST,
        ),
        case(
            "UTF-16 JSON",
            login(&[0xff, 0xfe, b'{', 0, b'}', 0]),
            S::BAD_REQUEST,
        ),
        case(
            "text/plain body",
            post(
                OPEN_JSON_ROUTE,
                &[b"Content-Type: text/plain"],
                &valid_login,
            ),
            S::UNSUPPORTED_MEDIA_TYPE,
        ),
        case(
            "form body",
            post(
                OPEN_JSON_ROUTE,
                &[FORM],
                b"email=a%40example.com&password=x",
            ),
            S::UNSUPPORTED_MEDIA_TYPE,
        ),
        case(
            "no Content-Type",
            post(
                OPEN_JSON_ROUTE,
                &[],
                &credentials("a@example.com", "a long passphrase"),
            ),
            S::UNSUPPORTED_MEDIA_TYPE,
        ),
        case(
            "non-UTF-8 Content-Type",
            post(
                OPEN_JSON_ROUTE,
                &[b"Content-Type: application/\xffjson"],
                b"{}",
            ),
            S::UNSUPPORTED_MEDIA_TYPE,
        ),
        case(
            "body over the limit",
            login(&too_large),
            S::PAYLOAD_TOO_LARGE,
        ),
        case(
            "chunked body over the limit",
            post(OPEN_JSON_ROUTE, &[JSON, CHUNKED], &chunked_too_large),
            S::PAYLOAD_TOO_LARGE,
        ),
        // Headers and methods.
        case(
            "very long header value",
            get(
                "/api/auth/session",
                &[format!("X-Padding: {long}").as_bytes()],
            ),
            S::UNAUTHORIZED,
        ),
        case(
            "non-UTF-8 header value",
            get("/api/auth/session", &[b"X-Padding: \xff\xfe"]),
            S::UNAUTHORIZED,
        ),
        case(
            "unknown method",
            request(host, "FROBNICATE", "/api/auth/session", &[], b""),
            S::METHOD_NOT_ALLOWED,
        ),
        case(
            "WebDAV method",
            request(host, "PROPFIND", "/api/auth/session", &[], b""),
            S::METHOD_NOT_ALLOWED,
        ),
        case(
            "TRACE",
            request(host, "TRACE", "/api/health", &[], b""),
            S::METHOD_NOT_ALLOWED,
        ),
        case(
            "unknown method from another site",
            request(host, "FROBNICATE", "/api/auth/logout", CROSS_SITE, b""),
            S::FORBIDDEN,
        ),
        case(
            "X-HTTP-Method-Override: POST on a GET",
            get("/api/auth/logout", &[b"X-HTTP-Method-Override: POST"]),
            S::METHOD_NOT_ALLOWED,
        ),
        case(
            "X-HTTP-Method-Override: GET on a POST",
            post("/api/auth/session", &[b"X-HTTP-Method-Override: GET"], b""),
            S::METHOD_NOT_ALLOWED,
        ),
        case(
            "X-HTTP-Method-Override: POST from another site",
            get(
                "/api/auth/logout",
                &[
                    b"X-HTTP-Method-Override: POST",
                    CROSS_SITE[0],
                    CROSS_SITE[1],
                ],
            ),
            S::METHOD_NOT_ALLOWED,
        ),
        case(
            "_method=POST in the query",
            get("/api/auth/logout?_method=POST", &[]),
            S::METHOD_NOT_ALLOWED,
        ),
        case(
            "no Host, cross-site POST",
            [
                b"POST /api/auth/logout HTTP/1.1\r\n".as_slice(),
                b"Origin: https://evil.example\r\nConnection: close\r\n\r\n",
            ]
            .concat(),
            S::FORBIDDEN,
        ),
        // Paths. Without static file serving every one is a JSON 404;
        // spa.rs sends the traversal paths to the static files.
        case(
            "dot-dot path",
            get("/../../../../etc/passwd", &[]),
            S::NOT_FOUND,
        ),
        case(
            "encoded dot-dot path",
            get("/%2e%2e/%2e%2e/%2e%2e/etc/passwd", &[]),
            S::NOT_FOUND,
        ),
        case(
            "encoded slashes",
            get("/api/..%2f..%2f..%2fetc%2fpasswd", &[]),
            S::NOT_FOUND,
        ),
        case(
            "backslashes",
            get("/api/..\\..\\Cargo.toml", &[]),
            S::NOT_FOUND,
        ),
        case("double slash", get("//etc/passwd", &[]), S::NOT_FOUND),
        case(
            "encoded NUL in path",
            get("/api/health%00.json", &[]),
            S::NOT_FOUND,
        ),
        case(
            "invalid UTF-8 in path",
            get("/api/%ff%fe", &[]),
            S::NOT_FOUND,
        ),
        case(
            "8 KiB path",
            get(&format!("/{}", "a".repeat(8 * 1024)), &[]),
            S::NOT_FOUND,
        ),
        case(
            "junk query",
            get("/api/auth/session?%ff=%00&&&=&a[b][c]=1", &[]),
            S::UNAUTHORIZED,
        ),
    ]
}

#[tokio::test]
async fn hostile_requests_get_json_4xx_and_the_server_keeps_serving() {
    let app = spawn_app_with(&[
        ("AUTH_ATTEMPTS_PER_IP", "10000"),
        ("AUTH_ATTEMPTS_PER_ACCOUNT", "10000"),
        // The API alone, so every path case is the API's JSON 404. Static
        // files get their own traversal test (spa.rs).
        ("STATIC_DIR", ""),
    ])
    .await;
    let host = app.address.trim_start_matches("http://").to_owned();
    let signed_in = app.sign_in_as("hostile@example.com").await;
    let session =
        cookie_pair(&session_set_cookie(signed_in.headers()).expect("sign-in sets a cookie"));

    let cases = cases(&host, &session);
    let mut failures = Vec::new();
    for case in &cases {
        let outcome =
            match send_raw(&host, case.request.clone()).await {
                Err(problem) => Err(problem),
                Ok(answer) if answer.status != case.expected.as_u16() => Err(format!(
                    "expected {}, got {}: {}",
                    case.expected,
                    answer.status,
                    answer.text()
                )),
                Ok(answer) => answer.error_code().and_then(|_| {
                    match answer.header("x-content-type-options") {
                        Some("nosniff") => Ok(()),
                        other => Err(format!("X-Content-Type-Options {other:?}")),
                    }
                }),
            };
        if let Err(problem) = outcome {
            failures.push(format!("{}: {problem}", case.name));
        }

        // The server still answers, and the real session is still good.
        let health = app.client.get(app.url("/api/health")).send().await;
        let still_serving = matches!(&health, Ok(r) if r.status() == StatusCode::OK);
        let still_signed_in = app.session_with_cookie(&session).await.status() == StatusCode::OK;
        if !still_serving || !still_signed_in {
            failures.push(format!(
                "{}: afterwards health {:?}, session still valid: {still_signed_in}",
                case.name,
                health.map(|r| r.status())
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} hostile cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    println!("{} hostile cases passed", cases.len());
}

#[tokio::test]
async fn a_stalled_upload_is_answered_when_the_request_times_out() {
    let app = spawn_app_with(&[("REQUEST_TIMEOUT_SECS", "1")]).await;
    let host = app.address.trim_start_matches("http://").to_owned();
    // Announces 100 bytes, sends 10, then waits: a slowloris upload.
    let stream = TcpStream::connect(&host).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = [
        &format!("POST {OPEN_JSON_ROUTE} HTTP/1.1\r\n"),
        &format!("Host: {host}\r\n"),
        "Content-Type: application/json\r\n",
        "Content-Length: 100\r\n\r\n",
        r#"{"email":"#,
    ]
    .concat();
    writer.write_all(head.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let mut received = Vec::new();
    let mut buf = [0; 4096];
    // Read until the full head and the JSON body have arrived.
    while parse_answer(&received).map_or(true, |a| a.error_code().is_err()) {
        let n = tokio::time::timeout(PATIENCE, reader.read(&mut buf))
            .await
            .expect("answered before the test's patience ran out")
            .expect("read");
        assert!(n > 0, "connection closed without an answer");
        received.extend_from_slice(&buf[..n]);
    }
    let answer = parse_answer(&received).unwrap();
    assert_eq!(answer.status, 503, "{}", answer.text());
    assert_eq!(answer.error_code().unwrap(), "timeout");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "answered after {waited:?}"
    );
    assert_eq!(
        app.client
            .get(app.url("/api/health"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    drop(writer);
}
