//! Serving HTTP/1.1 connections: how long a client may take, how many may
//! be connected at once, and how the server stops.
//!
//! `axum::serve` gives hyper no timer, so it has no header timeout, keeps
//! idle keep-alive connections forever and accepts without limit: a client
//! trickling a request head one byte at a time holds a socket (and a file
//! descriptor) for as long as it likes, a few thousand of them exhaust the
//! server, and graceful shutdown waits for them forever. Here each
//! connection has a deadline instead:
//!
//! - from accept, and from the first byte of each later request, the whole
//!   request head must arrive within `HEADER_READ_TIMEOUT_SECS`;
//! - between requests, an idle keep-alive connection is closed after
//!   `KEEP_ALIVE_IDLE_SECS`;
//! - while a request is being handled there is none (the request timeout in
//!   `stack.rs` bounds API requests, body upload included);
//! - while a response is being written, a write that makes no progress for
//!   `WRITE_STALL_TIMEOUT_SECS` (the client stopped reading: its receive
//!   window is full) closes the connection. Without it a client that asks
//!   for a large answer (a static file, a page of notes) and never reads
//!   holds its connection, and the answer's memory, for ever; a few
//!   thousand such clients fill `MAX_CONNECTIONS`. Slow readers are fine:
//!   any progress restarts the wait.
//!
//! hyper's own `header_read_timeout` is not used: it restarts when a
//! keep-alive connection goes idle (`proto/h1/conn.rs`, `State::idle`), so
//! the idle time and the time to send a head would share one deadline, and
//! an idle timeout longer than a load balancer's would mean a header timeout
//! just as long.
//!
//! At most `MAX_CONNECTIONS` are open at once; beyond that new connections
//! are not accepted and wait in the kernel's listen backlog, and are served
//! as slots free up (stalled ones free theirs within the header timeout).
//! Waiting there costs nothing, whereas accepting and closing them would
//! turn a burst into a storm of retries. (The backlog holds 1024; past that the kernel drops new connection attempts, which
//! clients retry after 1 s, 2 s, 4 s...) On shutdown the listener closes,
//! idle connections close at once, requests in flight finish, and after
//! `SHUTDOWN_GRACE_SECS` whatever is still open is closed.

use std::{
    cell::RefCell,
    convert::Infallible,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll, Waker},
    time::Duration,
};

use axum::{
    body::Body,
    extract::ConnectInfo,
    http::{Request, Response},
};
use hyper::{
    body::{Body as HttpBody, Bytes, Frame, Incoming, SizeHint},
    server::conn::http1,
};
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpSocket, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore, watch},
    task::JoinSet,
    time::Instant,
};
use tower::{Service, ServiceExt, util::BoxCloneSyncService};
use tower_http::body::UnsyncBoxBody;

use crate::settings::{ConfigError, Env, parse_in_range};

/// The application as the server runs it: every route with every layer
/// (`stack.rs` builds it).
pub type App = BoxCloneSyncService<Request<Body>, Response<ResponseBody>, Infallible>;

/// The body every response leaves with (panic catching boxes it).
pub type ResponseBody = UnsyncBoxBody<Bytes, axum::BoxError>;

/// Where to listen, and how connections are treated (see the module
/// comment).
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Socket address to listen on (`BIND_ADDR`).
    pub bind_addr: SocketAddr,
    /// Longest a client may take to send a request head
    /// (`HEADER_READ_TIMEOUT_SECS`).
    pub header_read_timeout: Duration,
    /// Longest a keep-alive connection may sit idle between requests
    /// (`KEEP_ALIVE_IDLE_SECS`).
    pub keep_alive_idle: Duration,
    /// Longest a response write may make no progress
    /// (`WRITE_STALL_TIMEOUT_SECS`).
    pub write_stall_timeout: Duration,
    /// Most connections open at once (`MAX_CONNECTIONS`).
    pub max_connections: usize,
    /// Longest shutdown waits for open connections (`SHUTDOWN_GRACE_SECS`).
    pub shutdown_grace: Duration,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            bind_addr: env.var("BIND_ADDR", "127.0.0.1:8080").parse_with(
                |v| v.parse::<SocketAddr>().map_err(|e| e.to_string()),
                "use host:port, e.g. 127.0.0.1:8080 (or 0.0.0.0:8080 in a container)",
            )?,
            // A browser sends a whole request head in one packet; even a
            // slow mobile link delivers a few KiB within seconds.
            header_read_timeout: env.seconds("HEADER_READ_TIMEOUT_SECS", "10", 1..=300)?,
            // Longer than the idle timeouts of common load balancers and
            // proxies (60 s for AWS ALB and nginx's upstream keep-alive), so
            // the proxy always closes first: a server closing the connection
            // a proxy has just reused makes that proxy answer 502.
            keep_alive_idle: env.seconds("KEEP_ALIVE_IDLE_SECS", "75", 1..=3_600)?,
            // nginx's send_timeout is 60 s; a client on a live connection
            // that cannot take one more byte in 30 s has stopped reading.
            write_stall_timeout: env.seconds("WRITE_STALL_TIMEOUT_SECS", "30", 1..=3_600)?,
            // Each connection holds a file descriptor; the soft open-file
            // limit is raised to fit, where the hard limit allows (see
            // `allow_open_files`).
            max_connections: env.var("MAX_CONNECTIONS", "10000").parse_with(
                |v| parse_in_range(v, 1, 1_000_000),
                "use a whole number from 1 to 1000000, e.g. 10000; each connection holds \
                 an open file, so stay within the open-file limit (ulimit -n)",
            )?,
            // Below Kubernetes' default 30 s before SIGKILL, so the process
            // ends by itself, saying how many connections it cut.
            shutdown_grace: env.seconds("SHUTDOWN_GRACE_SECS", "20", 0..=3_600)?,
        })
    }
}

/// Connections the kernel queues while every `MAX_CONNECTIONS` slot is busy;
/// the standard library's 128 makes a burst beyond that wait for SYN
/// retries. The kernel caps it at `net.core.somaxconn`.
const LISTEN_BACKLOG: u32 = 1024;

/// Binds `BIND_ADDR` as `TcpListener::bind` does, with a longer backlog.
/// Start-up binds before it serves, so a port in use is reported at once.
pub fn listen(settings: &Settings) -> anyhow::Result<TcpListener> {
    let addr = settings.bind_addr;
    let bind = || {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(LISTEN_BACKLOG)
    };
    bind()
        .map_err(|err: std::io::Error| anyhow::anyhow!("cannot listen on BIND_ADDR={addr}: {err}"))
}

/// How often, at most, reaching `MAX_CONNECTIONS` is logged.
const CAP_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Serves `app` on `listener` until `shutdown` completes, then shuts down
/// within `settings.shutdown_grace`.
pub async fn serve(
    listener: TcpListener,
    app: App,
    settings: Settings,
    shutdown: impl Future<Output = ()>,
) {
    allow_open_files(settings.max_connections);
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    let (stop, stopping) = watch::channel(());
    let mut connections = JoinSet::new();
    let mut cap_logged: Option<Instant> = None;
    tokio::pin!(shutdown);

    loop {
        let (stream, remote, slot) = tokio::select! {
            () = &mut shutdown => break,
            next = next_connection(&listener, &slots, &settings, &mut cap_logged) => next,
        };
        // Forget connections that have ended.
        while connections.try_join_next().is_some() {}
        connections.spawn(serve_connection(
            stream,
            remote,
            app.clone(),
            settings,
            stopping.clone(),
            slot,
        ));
    }

    // Stop accepting: connections still in the backlog are refused.
    drop(listener);
    while connections.try_join_next().is_some() {}
    let open = connections.len();
    tracing::info!(
        open,
        grace_secs = settings.shutdown_grace.as_secs(),
        "no longer accepting connections; waiting for open ones to finish"
    );
    let _ = stop.send(());
    let drained = tokio::time::timeout(settings.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            closed = connections.len(),
            "shutdown grace (SHUTDOWN_GRACE_SECS) is over: closing the connections still open"
        );
        connections.shutdown().await;
    }
}

/// Waits for a free slot, then for a connection. Accept errors are logged
/// and retried, as `axum::serve` does.
async fn next_connection(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
    settings: &Settings,
    cap_logged: &mut Option<Instant>,
) -> (TcpStream, SocketAddr, OwnedSemaphorePermit) {
    loop {
        if slots.available_permits() == 0
            && cap_logged.is_none_or(|at| at.elapsed() >= CAP_LOG_INTERVAL)
        {
            *cap_logged = Some(Instant::now());
            tracing::warn!(
                max_connections = settings.max_connections,
                "connection cap (MAX_CONNECTIONS) reached: new connections wait in the \
                 listen backlog until open ones close"
            );
        }
        let slot = Arc::clone(slots)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        match listener.accept().await {
            Ok((stream, remote)) => return (stream, remote, slot),
            // The client gave up before it was accepted.
            Err(err) if is_connection_error(&err) => {}
            // Out of file descriptors, most likely: wait for some to close.
            Err(err) => {
                tracing::error!(error = %err, "cannot accept a connection; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

fn is_connection_error(err: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        err.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    )
}

/// Serves one connection until it ends, its deadline passes, or shutdown
/// has asked it to finish and it has. The slot is freed when this returns.
async fn serve_connection(
    stream: TcpStream,
    remote: SocketAddr,
    app: App,
    settings: Settings,
    mut stopping: watch::Receiver<()>,
    _slot: OwnedSemaphorePermit,
) {
    // Responses are written whole; waiting to fill packets only adds latency.
    let _ = stream.set_nodelay(true);
    let clock = Arc::new(Clock::new(settings));
    let io = TokioIo::new(Watched {
        io: stream,
        clock: Arc::clone(&clock),
    });
    let service = ConnectionService {
        app: RefCell::new(app),
        remote,
        clock: Arc::clone(&clock),
    };
    let connection = http1::Builder::new()
        .header_read_timeout(None)
        .serve_connection(io, service)
        .with_upgrades();
    tokio::pin!(connection);
    // One timer for the connection's life, moved only when it fires early
    // or a nearer deadline appears (see `Clock`).
    let alarm = tokio::time::sleep_until(clock.start + settings.header_read_timeout);
    tokio::pin!(alarm);

    let mut asked_to_finish = false;
    loop {
        tokio::select! {
            // The connection first: it is what moves the clock, which the
            // next branch then reads in the same pass.
            biased;
            result = connection.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(%remote, error = %err, "connection ended with an error");
                }
                return;
            }
            () = clock.expired(alarm.as_mut()) => {
                // Dropping the connection closes the socket.
                tracing::debug!(%remote, "closing a connection: too slow or idle too long");
                return;
            }
            // Idle connections close at once; one with a request in flight
            // closes after its response.
            _ = stopping.changed(), if !asked_to_finish => {
                asked_to_finish = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// The application as hyper calls it for one connection.
///
/// hyper handles one request of an HTTP/1.1 connection at a time, so the
/// connection has its own copy of the application (cloned once, when it was
/// accepted) and calls it directly: no request pays for cloning the stack.
struct ConnectionService {
    app: RefCell<App>,
    remote: SocketAddr,
    clock: Arc<Clock>,
}

impl hyper::service::Service<hyper::Request<Incoming>> for ConnectionService {
    type Response = hyper::Response<Tracked>;
    type Error = Infallible;
    type Future = Responding;

    fn call(&self, mut request: hyper::Request<Incoming>) -> Responding {
        self.clock.request_started();
        let finished = ResponseFinished(Arc::clone(&self.clock));
        // What `into_make_service_with_connect_info` provides: handlers and
        // the login throttle read the client's address from it.
        request.extensions_mut().insert(ConnectInfo(self.remote));
        let request = request.map(Body::new);
        let mut app = self.app.borrow_mut();
        // The stack is always ready (nothing in it waits for capacity); if a
        // layer ever is not, a fresh copy waits for it instead.
        let response = match app.poll_ready(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(())) => app.call(request),
            Poll::Pending => Box::pin(app.clone().oneshot(request)),
        };
        Responding {
            response,
            finished: Some(finished),
        }
    }
}

/// A response on its way to hyper, its body tracked (see [`Tracked`]).
struct Responding {
    response: <App as Service<axum::extract::Request>>::Future,
    finished: Option<ResponseFinished>,
}

impl Future for Responding {
    type Output = Result<hyper::Response<Tracked>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let Ok(response) = std::task::ready!(this.response.as_mut().poll(cx));
        let finished = this.finished.take().expect("polled after completion");
        Poll::Ready(Ok(response.map(|body| Tracked {
            body,
            _finished: finished,
        })))
    }
}

/// When a connection must be closed, unless something happens first.
///
/// Two deadlines: the one of the connection's state (a request head due,
/// or the end of an idle keep-alive; none while busy), and the one of a
/// stalled write (none while writes progress). The nearer one counts.
///
/// Everything that moves it (bytes arriving, hyper calling the service, the
/// response body being dropped) happens while the connection future is
/// polled, in the connection's own task; `serve_connection` polls the
/// connection first and this clock right after, in the same pass. So the
/// clock needs no lock and wakes nobody: it is one atomic word, and the
/// connection's one timer is only moved when it fires before the current
/// deadline (the deadline moved later: it is then re-armed) or when the
/// deadline moves nearer than the timer (a request head started arriving
/// on an idle connection and did not arrive whole).
struct Clock {
    /// The connection's accept time; deadlines are stored relative to it.
    start: Instant,
    /// [`BUSY`], or a deadline in microseconds after `start`, shifted left
    /// by one, with the low bit set while idle between requests.
    state: AtomicU64,
    /// [`NOT_STALLED`], or the deadline of a write that could not go on,
    /// in microseconds after `start`.
    write_stalled: AtomicU64,
    settings: Settings,
}

/// No write is waiting for the client to read.
const NOT_STALLED: u64 = u64::MAX;

/// The state while a request is handled or its response written.
const BUSY: u64 = u64::MAX;
/// The low bit of a state: idle between requests, nothing received yet.
const IDLE: u64 = 1;

impl Clock {
    /// A new connection: its first request head is due.
    fn new(settings: Settings) -> Self {
        let clock = Self {
            start: Instant::now(),
            state: AtomicU64::new(BUSY),
            write_stalled: AtomicU64::new(NOT_STALLED),
            settings,
        };
        clock.set_deadline(settings.header_read_timeout, 0);
        clock
    }

    /// Microseconds after `start` of the moment `after` from now.
    fn micros_from_now(&self, after: Duration) -> u64 {
        let micros = (self.start.elapsed() + after).as_micros();
        u64::try_from(micros)
            .unwrap_or(u64::MAX >> 2)
            .min(u64::MAX >> 2)
    }

    /// Sets the deadline `after` from now; `idle` is `IDLE` or 0.
    fn set_deadline(&self, after: Duration, idle: u64) {
        let micros = self.micros_from_now(after);
        self.state.store((micros << 1) | idle, Ordering::Relaxed);
    }

    /// The nearer of the state's deadline (none while busy) and a stalled
    /// write's.
    fn deadline(&self) -> Option<Instant> {
        let state = match self.state.load(Ordering::Relaxed) {
            BUSY => None,
            state => Some(state >> 1),
        };
        let stalled = match self.write_stalled.load(Ordering::Relaxed) {
            NOT_STALLED => None,
            micros => Some(micros),
        };
        let micros = match (state, stalled) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some(self.start + Duration::from_micros(micros))
    }

    /// A write could not go on (the socket's send buffer is full): unless
    /// one already waits, the write must progress within the stall timeout.
    fn write_blocked(&self) {
        if self.write_stalled.load(Ordering::Relaxed) == NOT_STALLED {
            let due = self.micros_from_now(self.settings.write_stall_timeout);
            self.write_stalled.store(due, Ordering::Relaxed);
        }
    }

    /// A write went through: the client is reading. A write while idle is
    /// the tail of the last response, which hyper still held when it
    /// dropped the body: the idle wait starts again after it.
    fn wrote(&self) {
        if self.write_stalled.load(Ordering::Relaxed) != NOT_STALLED {
            self.write_stalled.store(NOT_STALLED, Ordering::Relaxed);
        }
        let state = self.state.load(Ordering::Relaxed);
        if state != BUSY && state & IDLE != 0 {
            self.set_deadline(self.settings.keep_alive_idle, IDLE);
        }
    }

    /// Bytes arrived: on an idle connection they start a request head, which
    /// is now due. (Later bytes never extend the deadline.)
    fn bytes_arrived(&self) {
        let state = self.state.load(Ordering::Relaxed);
        if state != BUSY && state & IDLE != 0 {
            self.set_deadline(self.settings.header_read_timeout, 0);
        }
    }

    /// hyper has parsed a head and called the application.
    fn request_started(&self) {
        self.state.store(BUSY, Ordering::Relaxed);
    }

    /// The response has been handed over whole: the connection is idle.
    fn response_finished(&self) {
        self.set_deadline(self.settings.keep_alive_idle, IDLE);
    }

    /// Completes once the current deadline has passed; while busy, only a
    /// stalled write has one. `alarm` is the connection's timer, kept
    /// across calls.
    fn expired<'a>(
        &'a self,
        mut alarm: Pin<&'a mut tokio::time::Sleep>,
    ) -> impl Future<Output = ()> + 'a {
        std::future::poll_fn(move |cx| {
            let Some(deadline) = self.deadline() else {
                // Busy, and writes are going through: the state can only
                // change while the connection is polled, and this is polled
                // right after it.
                return Poll::Pending;
            };
            if deadline < alarm.deadline() {
                alarm.as_mut().reset(deadline);
            }
            while alarm.as_mut().poll(cx).is_ready() {
                if deadline <= Instant::now() {
                    return Poll::Ready(());
                }
                // It fired for an earlier deadline; the current one is later.
                alarm.as_mut().reset(deadline);
            }
            Poll::Pending
        })
    }
}

/// Marks the connection idle when the response body is dropped: hyper
/// drops it once it has been written, or when the connection ends.
struct ResponseFinished(Arc<Clock>);

impl Drop for ResponseFinished {
    fn drop(&mut self) {
        self.0.response_finished();
    }
}

/// A response body that says when it is done.
struct Tracked {
    body: ResponseBody,
    _finished: ResponseFinished,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The socket, reporting when bytes arrive.
struct Watched {
    io: TcpStream,
    clock: Arc<Clock>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.clock.bytes_arrived();
        }
        result
    }
}

impl Watched {
    /// Tells the clock whether a write went through or must wait.
    fn watch_write(&self, result: Poll<std::io::Result<usize>>) -> Poll<std::io::Result<usize>> {
        match &result {
            Poll::Pending => self.clock.write_blocked(),
            Poll::Ready(Ok(written)) if *written > 0 => self.clock.wrote(),
            Poll::Ready(_) => {}
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write(cx, buf);
        this.watch_write(result)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.watch_write(result)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// Files the process needs besides connections: the database pool, the
/// listener, logs, static files.
#[cfg(unix)]
const OTHER_FILES: u64 = 256;

/// Raises the soft open-file limit to what `max_connections` needs, as far
/// as the hard limit allows (Go programs do the same at start-up; the soft
/// limit is often 1024), and warns when that is not enough: past the limit
/// accepting fails, rather than waiting at the cap.
#[cfg(unix)]
fn allow_open_files(max_connections: usize) {
    let wanted = (max_connections as u64).saturating_add(OTHER_FILES) as libc::rlim_t;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `getrlimit` only writes the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
    if limit.rlim_cur >= wanted {
        return;
    }
    let raised = libc::rlimit {
        rlim_cur: wanted.min(limit.rlim_max),
        rlim_max: limit.rlim_max,
    };
    // SAFETY: `setrlimit` only reads the struct it is given; raising the
    // soft limit up to the hard one is always allowed.
    if raised.rlim_cur > limit.rlim_cur
        && unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0
    {
        limit.rlim_cur = raised.rlim_cur;
    }
    if limit.rlim_cur < wanted {
        tracing::warn!(
            max_connections,
            open_file_limit = limit.rlim_cur,
            "MAX_CONNECTIONS does not fit the open-file limit: past it new connections fail. \
             Fix: raise the limit (ulimit -n, systemd LimitNOFILE=) or lower MAX_CONNECTIONS"
        );
    }
}

#[cfg(not(unix))]
fn allow_open_files(_max_connections: usize) {}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let lookup = |name: &str| env.get(name).cloned();
        Settings::from_env(&Env::new(&lookup))
    }

    #[test]
    fn defaults() {
        let settings = settings(&[]).unwrap();
        assert_eq!(settings.header_read_timeout, Duration::from_secs(10));
        assert_eq!(settings.keep_alive_idle, Duration::from_secs(75));
        assert_eq!(settings.write_stall_timeout, Duration::from_secs(30));
        assert_eq!(settings.max_connections, 10_000);
        assert_eq!(settings.shutdown_grace, Duration::from_secs(20));
    }

    #[test]
    fn out_of_range_values_are_refused_with_the_variable_named() {
        for (var, value) in [
            ("HEADER_READ_TIMEOUT_SECS", "0"),
            ("KEEP_ALIVE_IDLE_SECS", "-1"),
            ("WRITE_STALL_TIMEOUT_SECS", "0"),
            ("MAX_CONNECTIONS", "0"),
            ("MAX_CONNECTIONS", "lots"),
            ("SHUTDOWN_GRACE_SECS", "3601"),
        ] {
            let err = settings(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var);
            assert!(err.to_string().contains("Fix: "), "{err}");
        }
    }
}
