//! Assembling and running the application.
//!
//! `Application::build` does everything that can fail at start-up (database,
//! migrations, session table, binding the port) and reports it, before the
//! first request is accepted. Tests build the same application on port 0, so
//! what they exercise is exactly what `main` runs.

{% if auth == "password" -%}
use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};
{%- else -%}
use std::{future::Future, net::SocketAddr};
{%- endif %}

use anyhow::Context;
use axum::Router;
use tokio::net::{TcpListener, TcpSocket};

{% if auth == "password" -%}
use crate::{
    config::Config, database, middleware, password::Passwords, rate_limit, routes, server, session,
    session_store, state::AppState,
};
{%- else -%}
use crate::{
    config::Config, database, middleware, oidc::Provider, routes, server, session, session_store,
    state::AppState,
};
{%- endif %}

/// Connections the kernel queues while every `MAX_CONNECTIONS` slot is busy
/// (see `server.rs`); the standard library's 128 makes a burst beyond that
/// wait for SYN retries. The kernel caps it at `net.core.somaxconn`.
const LISTEN_BACKLOG: u32 = 1024;

{%- if auth == "password" %}

/// How often the login throttle forgets clients whose allowance has refilled.
const THROTTLE_CLEANUP: Duration = Duration::from_secs(60);
{%- endif %}

pub struct Application {
    listener: TcpListener,
    app: server::App,
    state: AppState,
    server: server::Settings,
    /// Tasks that run as long as the server: the session clean-up{% if auth == "oidc" %}, and
    /// discovery of the identity provider while it cannot be reached{% endif %}.
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_api(config, routes::api()).await
    }

    /// Builds the application around `api` instead of `routes::api()`, with
    /// every layer and the probes as in production. Tests use it to check
    /// how the stack treats a kind of handler the API does not have.
    pub async fn build_with_api(config: Config, api: Router<AppState>) -> anyhow::Result<Self> {
        let db = database::connect(&config.database).await?;
        let store = session_store::open(&config.session_store, &db).await?;
        let background: Vec<_> = session_store::spawn_cleanup(&store).into_iter().collect();

        let state = AppState {
            db,
            session_store: store.clone(),
            session_lifetime: config.session,
{%- if auth == "password" %}
            passwords: Passwords::new().await?,
            throttle: Arc::new(rate_limit::AuthThrottle::new(config.throttle.clone())),
            cookie_policy: config.cookie.clone(),
        };
        rate_limit::spawn_forget_idle(&state.throttle, THROTTLE_CLEANUP);
{%- else %}
            provider: Provider::new(config.oidc.clone())?,
        };
        // Serving starts even when the provider cannot be reached yet;
        // sign-in answers 503 until discovery succeeds in the background.
        let discovery = state.provider.discover_or_keep_trying().await;
        let background: Vec<_> = background.into_iter().chain(discovery).collect();
{%- endif %}
        let api = api.with_state(state.clone());
{%- unless cross_origin %}
        // The built frontend, and index.html for its client-side routes.
        let api = crate::spa::serve(api, config.static_dir.as_deref());
{%- endunless %}
        let app = middleware::apply(
            api,
            routes::probes().with_state(state.clone()),
            &config,
            session::layer(store, &config.cookie, config.session),
        );

        let listener = listen(config.bind_addr)
            .with_context(|| format!("cannot listen on BIND_ADDR={}", config.bind_addr))?;

        // Settings that work but expose sessions on the network: said once,
        // before the line that says the server is up.
        for warning in config.warnings() {
            tracing::warn!("{warning}");
        }
        tracing::info!(
            addr = %listener.local_addr()?,
            public_origin = %config.public_origin,
            frontend_origins = ?config.frontend_origins().iter().map(ToString::to_string).collect::<Vec<_>>(),
            deployment = %config.cookie.shape,
            cookie = %config.cookie,
{%- if auth == "password" %}
            trusted_proxies = %config.throttle.trusted_proxies,
{%- else %}
            oidc_issuer = %config.oidc.issuer.as_str(),
            oidc_ready = state.provider.is_ready(),
{%- endif %}
            "listening"
        );
        Ok(Self {
            listener,
            app,
            state,
            server: config.server,
            background,
        })
    }

    /// The state handlers share: tests reach the database pool and the
    /// password hasher's counters through it.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then lets in-flight requests
    /// finish, for at most `SHUTDOWN_GRACE_SECS` (see `server.rs`, which
    /// also bounds slow and idle connections and caps their number).
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        server::serve(self.listener, self.app, self.server, shutdown).await;
        for task in self.background {
            task.abort();
        }
        Ok(())
    }
}

/// Binds `addr` as `TcpListener::bind` does, with a longer backlog.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}
