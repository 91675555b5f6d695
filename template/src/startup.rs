//! Assembling and running the application.
//!
//! `Application::build` does everything that can fail at start-up (the
//! database and its migrations, the session store, binding the port) and
//! reports it before the first request is accepted. Tests build the same
//! application on port 0, so what they exercise is exactly what `main` runs.

use std::{future::Future, net::SocketAddr};

use axum::Router;
{%- if session_store == "redis" %}
use platform::session_store::{Accounts, Redis};
{%- elsif database == "sqlite" %}
use platform::session_store::{self, Cached, Table};
{%- else %}
use platform::session_store::{self, Table};
{%- endif %}
use platform::{rate_limit, server, session, stack};
use tokio::{net::TcpListener, task::JoinHandle};

use crate::{config::Config, database, routes, state::AppState{% if session_store == "redis" %}, users::User{% endif %}};

pub struct Application {
    listener: TcpListener,
    app: server::App,
    state: AppState,
    server: server::Settings,
    /// Tasks that run as long as the server: {% if session_store != "redis" %}the session clean-up,
    /// {% endif %}forgetting idle throttling buckets{% if auth == "oidc" %}, and discovery of the
    /// identity provider while it cannot be reached{% endif %}.
    background: Vec<JoinHandle<()>>,
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
{%- if session_store == "redis" %}
        // Sessions in Redis; a new one checks in the database that its
        // account still exists.
        let store = Redis::open(&config.redis, Accounts::<User>(db.clone())).await?;
        let mut background = Vec::new();
{%- elsif database == "sqlite" %}
        // Sessions in the database, read through an in-memory cache (one
        // instance owns the file), deleted once expired.
        let store = Cached::new(Table::open(&db).await?);
        let mut background = vec![session_store::spawn_cleanup(&store)];
{%- else %}
        // Sessions in the database, deleted once expired.
        let store = Table::open(&db).await?;
        let mut background = vec![session_store::spawn_cleanup(&store)];
{%- endif %}
        let state = AppState::new(&config, db, store.clone()).await?;
        background.push(rate_limit::spawn_forget_idle(&state.throttle));
{%- if auth == "oidc" %}
        // Serving starts even when the provider cannot be reached yet;
        // sign-in answers 503 until discovery succeeds in the background.
        background.extend(state.provider.discover_or_keep_trying().await);
{%- else %}
        // Account mail queued in the database, this process's and (after a
        // restart) any left over, sent with retries.
        background.push(state.outbox.spawn_sender());
{%- endif %}

        let api = api.with_state(state.clone());
{%- unless cross_origin %}
        // The built frontend, and index.html for its client-side routes.
        let api = platform::spa::serve(api, config.frontend.dir.as_deref());
{%- endunless %}
        let app = stack::build(
            api,
            routes::probes(&config.http.cookie).with_state(state.clone()),
            &config.http,
            session::layer(store, &config.http.cookie, config.sessions),
        );
        let listener = server::listen(&config.server)?;

        // Settings that work but expose sessions on the network: said once,
        // before the line that says the server is up.
        for warning in config.http.warnings() {
            tracing::warn!("{warning}");
        }
        tracing::info!(
            addr = %listener.local_addr()?,
            public_origin = %config.http.public_origin,
            frontend_origins = ?config.http.frontend_origins.iter().map(ToString::to_string).collect::<Vec<_>>(),
            deployment = %config.http.cookie.shape,
            cookie = %config.http.cookie,
            trusted_proxies = %config.throttle.trusted_proxies,
{%- if auth == "oidc" %}
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
    /// sessions through it.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then lets in-flight requests
    /// finish, for at most `SHUTDOWN_GRACE_SECS` (the platform's server also
    /// bounds slow and idle connections and caps their number).
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        server::serve(self.listener, self.app, self.server, shutdown).await;
        for task in self.background {
            task.abort();
        }
    }
}
