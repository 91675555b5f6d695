//! Slow and idle clients (`src/server.rs`): request heads trickled a byte at
//! a time are cut off after `HEADER_READ_TIMEOUT_SECS` while normal clients
//! are served, idle keep-alive connections close after
//! `KEEP_ALIVE_IDLE_SECS`, a client that stops reading a large answer is
//! cut off after `WRITE_STALL_TIMEOUT_SECS`, `MAX_CONNECTIONS` holds further
//! connections back, and SIGTERM ends the process within
//! `SHUTDOWN_GRACE_SECS` however many connections are stalled.
//!
//! Lower bounds are asserted only where load cannot shorten them (the
//! server must not close a connection before its deadline); upper bounds are
//! generous, for a busy CI machine. Run with `--nocapture` to see the
//! measured figures.

use std::time::{Duration, Instant};

use axum::{Router, routing::get};
use reqwest::StatusCode;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream, tcp::OwnedReadHalf},
};

use crate::harness::{new_client, spawn_app_with, spawn_app_with_api};

/// Connections trickling their request heads.
const STALLED: usize = 300;
/// How often a stalled connection sends one more byte.
const TRICKLE: Duration = Duration::from_millis(300);
/// Slack on every upper bound.
const PATIENCE: Duration = Duration::from_secs(10);

/// The start of a request head that never ends.
const PARTIAL_HEAD: &[u8] = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";

/// Connects, sends the start of a request head and then one byte every
/// `TRICKLE`, and returns how long after connecting the server closed the
/// connection (or why that is not what happened).
///
/// Timed from the end of `connect`, which comes before the server accepts:
/// a burst of connects overflows the listen backlog (128, tokio's default),
/// and the dropped ones retry a second later.
async fn trickle(addr: String) -> Result<Duration, String> {
    let stream = TcpStream::connect(&addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let started = Instant::now();
    let (mut reader, mut writer) = stream.into_split();
    writer
        .write_all(PARTIAL_HEAD)
        .await
        .map_err(|e| format!("write: {e}"))?;
    let writing = tokio::spawn(async move {
        // Bounded: the test's patience, in trickles.
        for _ in 0..(PATIENCE.as_millis() / TRICKLE.as_millis()) {
            tokio::time::sleep(TRICKLE).await;
            if writer.write_all(b"a").await.is_err() {
                break;
            }
        }
        writer
    });
    let mut buf = [0; 1024];
    let read = tokio::time::timeout(PATIENCE, reader.read(&mut buf)).await;
    let closed_after = started.elapsed();
    writing.abort();
    match read {
        Err(_) => Err(format!("still open after {closed_after:?}")),
        Ok(Ok(0) | Err(_)) => Ok(closed_after),
        Ok(Ok(n)) => Err(format!(
            "answered instead of closed: {:?}",
            String::from_utf8_lossy(&buf[..n])
        )),
    }
}

/// Connects and sends the start of a request head, then nothing.
async fn stall(addr: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(PARTIAL_HEAD).await.expect("write");
    stream
}

/// Waits until the server closes `reader` (read returns 0 or an error).
async fn closed(reader: &mut OwnedReadHalf) -> bool {
    let mut buf = [0; 1024];
    matches!(
        tokio::time::timeout(PATIENCE, reader.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

/// Reads one `GET /api/health` response off a kept-alive connection and
/// returns its status line.
async fn read_response(reader: &mut OwnedReadHalf) -> String {
    let mut received = Vec::new();
    let mut buf = [0; 1024];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .expect("Content-Length");
            if body.len() >= length {
                return head.lines().next().unwrap_or_default().to_owned();
            }
        }
        let n = tokio::time::timeout(PATIENCE, reader.read(&mut buf))
            .await
            .expect("answered in time")
            .expect("read");
        assert!(n > 0, "closed before the whole response arrived");
        received.extend_from_slice(&buf[..n]);
    }
}

const HEALTH: &[u8] = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

#[tokio::test]
async fn trickled_heads_are_cut_off_while_normal_clients_are_served() {
    let header_timeout = Duration::from_secs(2);
    let app = spawn_app_with(&[("HEADER_READ_TIMEOUT_SECS", "2")]).await;
    let addr = app.address.trim_start_matches("http://").to_owned();

    let stalled: Vec<_> = (0..STALLED)
        .map(|_| tokio::spawn(trickle(addr.clone())))
        .collect();
    // Let every stalled connection send a few bytes first.
    tokio::time::sleep(3 * TRICKLE).await;

    // Normal clients, each on a connection of its own, are answered at
    // once: well before the stalled connections time out.
    let mut latencies = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let response = new_client()
            .get(app.url("/api/health"))
            .send()
            .await
            .expect("health answered");
        assert_eq!(response.status(), StatusCode::OK);
        latencies.push(started.elapsed());
    }
    let slowest = *latencies.iter().max().unwrap();
    assert!(
        slowest < header_timeout,
        "a normal client waited {slowest:?} behind {STALLED} stalled connections"
    );

    let mut closed_after = Vec::new();
    for task in stalled {
        closed_after.push(task.await.expect("trickle task").expect("closed"));
    }
    closed_after.sort();
    let (first, last) = (closed_after[0], closed_after[STALLED - 1]);
    println!(
        "{STALLED} trickling connections, HEADER_READ_TIMEOUT_SECS=2: closed after {first:?} \
         (first) to {last:?} (last), median {:?}; normal client latency {latencies:?}",
        closed_after[STALLED / 2]
    );
    // Trickled bytes never extend the deadline, and it is never early.
    assert!(first >= header_timeout, "closed early, after {first:?}");
    assert!(
        last < header_timeout + PATIENCE,
        "closed only after {last:?}"
    );
}

#[tokio::test]
async fn idle_keep_alive_connections_close_after_their_own_timeout() {
    let idle_timeout = Duration::from_secs(3);
    let app = spawn_app_with(&[
        ("HEADER_READ_TIMEOUT_SECS", "1"),
        ("KEEP_ALIVE_IDLE_SECS", "3"),
    ])
    .await;
    let addr = app.address.trim_start_matches("http://");
    let (mut reader, mut writer) = TcpStream::connect(addr).await.unwrap().into_split();

    writer.write_all(HEALTH).await.unwrap();
    assert_eq!(read_response(&mut reader).await, "HTTP/1.1 200 OK");
    // Idle for longer than the header timeout: the connection stays open,
    // as a load balancer reusing it expects.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    writer.write_all(HEALTH).await.unwrap();
    assert_eq!(read_response(&mut reader).await, "HTTP/1.1 200 OK");

    let idle_since = Instant::now();
    assert!(closed(&mut reader).await, "still open after {PATIENCE:?}");
    let idle_for = idle_since.elapsed();
    println!("KEEP_ALIVE_IDLE_SECS=3: an idle keep-alive connection closed after {idle_for:?}");
    assert!(idle_for >= idle_timeout, "closed early, after {idle_for:?}");
}

/// A client asks for an answer far larger than the socket buffers hold,
/// with a tiny receive window, and never reads it. With one connection
/// allowed, nobody else is served until the stalled write is given up.
#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_after_the_write_stall_timeout() {
    let stall_timeout = Duration::from_secs(1);
    let large = || async { vec![b'x'; 64 << 20] };
    let app = spawn_app_with_api(
        &[("MAX_CONNECTIONS", "1"), ("WRITE_STALL_TIMEOUT_SECS", "1")],
        Router::new().route("/api/test/large", get(large)),
    )
    .await;
    let addr = app.address.trim_start_matches("http://").parse().unwrap();
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut reader = socket.connect(addr).await.unwrap();
    reader
        .write_all(b"GET /api/test/large HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();

    let response = new_client()
        .get(app.url("/api/health"))
        .timeout(PATIENCE)
        .send()
        .await
        .expect("health answered once the stalled reader was cut off");
    let answered_after = started.elapsed();
    assert_eq!(response.status(), StatusCode::OK);
    println!(
        "MAX_CONNECTIONS=1 held by a client that stopped reading 64 MiB, \
         WRITE_STALL_TIMEOUT_SECS=1: the next client was answered after {answered_after:?}"
    );
    assert!(
        answered_after >= stall_timeout,
        "answered after {answered_after:?}"
    );
    // What the stalled client gets when it reads at last: part of the
    // answer, then the end of the connection.
    let mut received = 0usize;
    let mut buf = vec![0; 1 << 16];
    loop {
        match tokio::time::timeout(PATIENCE, reader.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => received += n,
            Err(_) => panic!("the stalled connection stayed open"),
        }
    }
    assert!(received < 64 << 20, "the whole answer arrived: {received}");
}

#[tokio::test]
async fn past_the_connection_cap_new_connections_wait_for_a_free_slot() {
    let header_timeout = Duration::from_secs(2);
    let app = spawn_app_with(&[("MAX_CONNECTIONS", "4"), ("HEADER_READ_TIMEOUT_SECS", "2")]).await;
    let addr = app.address.trim_start_matches("http://");

    let started = Instant::now();
    let mut stalled = Vec::new();
    for _ in 0..4 {
        stalled.push(stall(addr).await.into_split());
    }
    // The fifth connection is not accepted until one of the stalled ones is
    // closed, which happens no sooner than the header timeout.
    let response = new_client()
        .get(app.url("/api/health"))
        .send()
        .await
        .expect("health answered");
    let answered_after = started.elapsed();
    assert_eq!(response.status(), StatusCode::OK);
    println!(
        "MAX_CONNECTIONS=4, all 4 stalled: the fifth client was answered after {answered_after:?}"
    );
    assert!(
        answered_after >= header_timeout,
        "answered after {answered_after:?}, past a full cap"
    );
    assert!(answered_after < header_timeout + PATIENCE);
    for (reader, _writer) in &mut stalled {
        assert!(closed(reader).await, "a stalled connection stayed open");
    }
}

/// Shutdown while connections are open: stalled ones are cut when the grace
/// is over, idle ones do not hold it up. (The application's own tests check
/// that SIGTERM starts this shutdown.)
mod shutdown {
    use std::time::{Duration, Instant};

    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpStream,
    };

    use super::{HEALTH, PARTIAL_HEAD, PATIENCE, STALLED};
    use crate::harness::{TestApp, spawn_app_with};

    /// Stops the server and returns how long it took.
    async fn stop(app: &mut TestApp) -> Duration {
        let asked = Instant::now();
        app.stop().await;
        asked.elapsed()
    }

    #[tokio::test]
    async fn shutdown_ends_within_the_grace_despite_stalled_connections() {
        // Stalled heads would be open for a minute; the grace is 1 s.
        let grace = Duration::from_secs(1);
        let mut app = spawn_app_with(&[
            ("HEADER_READ_TIMEOUT_SECS", "60"),
            ("SHUTDOWN_GRACE_SECS", "1"),
        ])
        .await;
        let addr = app.address.trim_start_matches("http://").to_owned();
        let mut stalled = Vec::new();
        for _ in 0..STALLED {
            let mut stream = TcpStream::connect(&addr).await.unwrap();
            stream.write_all(PARTIAL_HEAD).await.unwrap();
            stalled.push(stream);
        }
        // A connection the server is known to have accepted and read from:
        // every stalled one before it is in the server's hands too.
        let mut probe = TcpStream::connect(&addr).await.unwrap();
        probe.write_all(HEALTH).await.unwrap();
        let mut buf = [0; 1024];
        assert!(probe.read(&mut buf).await.unwrap() > 0);

        let took = stop(&mut app).await;
        println!(
            "shutdown with {STALLED} stalled connections, SHUTDOWN_GRACE_SECS=1: done after {took:?}"
        );
        // The stalled connections hold shutdown until the grace is over,
        // and not much longer.
        assert!(took >= grace, "done after {took:?}, before the grace");
        assert!(took < grace + PATIENCE, "done after {took:?}");
        drop(stalled);
    }

    #[tokio::test]
    async fn shutdown_does_not_wait_for_idle_connections() {
        let mut app = spawn_app_with(&[
            ("HEADER_READ_TIMEOUT_SECS", "60"),
            ("KEEP_ALIVE_IDLE_SECS", "600"),
            ("SHUTDOWN_GRACE_SECS", "60"),
        ])
        .await;
        let addr = app.address.trim_start_matches("http://").to_owned();
        // A kept-alive connection between requests, and one never used.
        let mut idle = TcpStream::connect(&addr).await.unwrap();
        idle.write_all(HEALTH).await.unwrap();
        let mut buf = [0; 1024];
        assert!(idle.read(&mut buf).await.unwrap() > 0);
        let _unused = TcpStream::connect(&addr).await.unwrap();

        let took = stop(&mut app).await;
        println!(
            "shutdown with idle connections open, SHUTDOWN_GRACE_SECS=60: done after {took:?}"
        );
        assert!(took < PATIENCE, "waited {took:?} for idle connections");
    }
}
