//! Application state, router assembly and the server loop.
//!
//! Extension point: a module exposes `pub fn routes(state: &AppState) -> Router<AppState>` (or a
//! finished `Router` with its own state) and is merged in [`router`]. Routes under `/v1/` that
//! browsers call get [`crate::cors::layer`]; webhooks and owner pages do not need it.

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use prometheus_client::registry::Registry;
use serde_json::json;

use crate::client_ip::{client_ip, masked};
use crate::config::Config;
use crate::error::{ApiError, ErrorCode};
use crate::http_server::ConnectionStats;
use crate::ingest::budget::{Budget, Refusal, LOW_DISK_RETRY_S};
use crate::metrica::upload_metrics::UploadGauges;
use crate::metrics::{method_label, HttpLabels, Metrics, RouteLabels, StoreMetrics};
use crate::ratelimit::RateLimiter;
use crate::store::{Storage, StoreError};

pub struct AppInner {
    pub config: Config,
    pub store: Arc<dyn Storage>,
    pub metrics: Metrics,
    pub upload_gauges: UploadGauges,
    pub registry: Registry,
    pub limiter: RateLimiter,
    /// Guesses at the read token through the login form, per client.
    pub login_limiter: RateLimiter,
    /// Daily quotas and the free-space floor for writes.
    pub budget: Budget,
    pub connections: ConnectionStats,
    pub privacy_metrics: crate::privacy::ExpiryMetrics,
    /// Phone numbers hashed (or not) before the chat side stores them.
    pub phones: crate::privacy::phones::Phones,
}

/// Sign-in attempts a client may make per minute (and at once).
const LOGINS_PER_MINUTE: u32 = 10;

#[derive(Clone)]
pub struct AppState(Arc<AppInner>);

impl Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl AppState {
    /// Opens the configured database and assembles the state. Modules register their
    /// metrics in `registry` before it is frozen here.
    pub fn open(config: Config) -> Result<AppState, ServeError> {
        let settings = crate::privacy::PrivacySettings::from_env(&config).map_err(Box::new)?;
        let mut registry = Registry::default();
        let store_metrics = Arc::new(StoreMetrics::register(&mut registry));
        let store = crate::store::open(&config.db, true, store_metrics)?;
        // After the store: on PostgreSQL the privacy key is kept in the database.
        let phones = crate::privacy::phones::Phones::load(&settings, &config.db, store.as_ref())
            .map_err(Box::new)?;
        let metrics = Metrics::register(&mut registry);
        let upload_gauges = crate::metrica::upload_metrics::register(&mut registry);
        let connections = ConnectionStats::register(&mut registry);
        let privacy_metrics = crate::privacy::ExpiryMetrics::register(&mut registry);
        Ok(AppState(Arc::new(AppInner {
            privacy_metrics,
            phones,
            limiter: RateLimiter::new(config.rate_limit),
            login_limiter: RateLimiter::per_minute(
                LOGINS_PER_MINUTE,
                LOGINS_PER_MINUTE,
                config.rate_limit.ipv6_prefix,
            ),
            budget: Budget::new(&config.limits, config.db.sqlite_path()),
            connections,
            config,
            store,
            metrics,
            upload_gauges,
            registry,
        })))
    }
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let browser_facing = Router::new()
        .merge(crate::ingest::routes(&state))
        .merge(crate::read_api::routes())
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::cors::layer,
        ));
    let mut ops = Router::new().route("/healthz", get(healthz));
    if state.config.metrics_listen.is_none() {
        ops = ops.merge(metrics_router());
    }
    Router::new()
        .merge(browser_facing)
        .merge(crate::chats::routes(&state))
        .merge(crate::reports::routes())
        .merge(crate::privacy::routes::routes(&state))
        .merge(ops)
        .fallback(unknown_route)
        .layer(middleware::from_fn_with_state(state.clone(), guard_writes))
        .layer(middleware::from_fn_with_state(state.clone(), time_limit))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

fn metrics_router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

/// `GET /metrics` alone, for `--metrics-listen`.
pub fn metrics_only(state: AppState) -> Router {
    metrics_router()
        .fallback(|| async { ApiError::not_found("only /metrics is served here") })
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Err(refused) = take_token(&state, &state.limiter, &req) {
        return refused.into_response();
    }
    next.run(req).await
}

fn take_token(state: &AppState, limiter: &RateLimiter, req: &Request) -> Result<(), ApiError> {
    if limiter.enabled() {
        if let Some(ip) = client_ip(req, state.config.client_addr) {
            limiter.check(ip).map_err(ApiError::rate_limited)?;
        }
    }
    Ok(())
}

/// Unknown paths cost a probe its rate-limit tokens like any other request, and are answered
/// without touching anything else.
async fn unknown_route(State(state): State<AppState>, req: Request) -> Response {
    match take_token(&state, &state.limiter, &req) {
        Err(refused) => refused.into_response(),
        Ok(()) => ApiError::not_found("no such route").into_response(),
    }
}

/// Writes are refused while the disk is below its floor (before it is full, so that what is
/// acknowledged can always be applied), and sign-in attempts are throttled per client.
async fn guard_writes(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() == Method::POST {
        if req.uri().path() == "/reports/login" {
            if let Err(refused) = take_token(&state, &state.login_limiter, &req) {
                return refused.into_response();
            }
        } else if let Err(Refusal::LowDisk { .. }) = state
            .budget
            .check_disk(u64::try_from(crate::clock::now_ms()).unwrap_or(0))
        {
            return ApiError::retry_later(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::DiskSpaceLow,
                LOW_DISK_RETRY_S,
                "the collector is low on disk space; retry later",
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// A request, its body included, must be done within the request timeout.
async fn time_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.config.limits.request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            ErrorCode::RequestTimeout,
            "the request took too long (a body sent too slowly?)",
        )
        .into_response(),
    }
}

/// Metrics and the access log for every request. Successful requests log at debug (ingest
/// volume would drown everything else); refusals at info; server errors at warn.
/// Every label comes from a closed set: the method from the standard ones, the route from the
/// router's own patterns, the code from [`ErrorCode`].
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let ip = client_ip(&req, state.config.client_addr);
    let res = if method == "other" {
        // Answered before routing: an invented method costs one small answer.
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::MethodNotAllowed,
            "unsupported method",
        )
        .into_response()
    } else {
        next.run(req).await
    };
    let took = started.elapsed();
    let status = res.status();
    state
        .metrics
        .http_requests
        .get_or_create(&HttpLabels {
            route: route.clone(),
            method: method.to_owned(),
            status: status.as_u16().to_string(),
        })
        .inc();
    state
        .metrics
        .http_seconds
        .get_or_create(&RouteLabels {
            route: route.clone(),
        })
        .observe(took.as_secs_f64());
    let code = res.extensions().get::<ErrorCode>().map(|c| c.as_str());
    if let Some(code) = code {
        state.metrics.rejected(code);
    }
    let ms = took.as_secs_f64() * 1000.0;
    // Called inside the macros, which evaluate fields only for a line that is written: the 2xx
    // line is debug, off by default, so most ingest requests never format the address.
    let shown_ip = || ip.map_or_else(|| "-".to_owned(), masked);
    if status.is_server_error() {
        tracing::warn!(target: "access", %method, %route, status = status.as_u16(), code, ms, ip = shown_ip().as_str());
    } else if status.is_client_error() {
        tracing::info!(target: "access", %method, %route, status = status.as_u16(), code, ms, ip = shown_ip().as_str());
    } else {
        tracing::debug!(target: "access", %method, %route, status = status.as_u16(), ms, ip = shown_ip().as_str());
    }
    res
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => {
            let backlog = state.store.backlog();
            Json(json!({"status": "ok", "inbox_backlog": backlog})).into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable"})),
            )
                .into_response()
        }
    }
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.config.metrics_token {
        if let Err(refused) = crate::auth::require_bearer(&headers, Some(token)) {
            return refused.into_response();
        }
    }
    let backlog = i64::try_from(state.store.backlog()).unwrap_or(i64::MAX);
    state.metrics.inbox_backlog.set(backlog);
    let totals = match state.store.upload_totals().await {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read Metrica upload totals for /metrics");
            None
        }
    };
    state.upload_gauges.set(totals);
    match crate::metrics::render(&state.registry) {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            )],
            text,
        )
            .into_response(),
        Err(_) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "cannot render metrics",
        )
        .into_response(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Privacy(#[from] Box<crate::privacy::PrivacyError>),
}

/// How long a clean stop waits for the database to record that the leases are given up.
const LEASE_RELEASE: std::time::Duration = std::time::Duration::from_secs(3);

/// Binds, prints `chattag-collector listening on http://<addr>` on stdout (scripts and tests
/// read the port from it when started with port 0), and serves until SIGINT/SIGTERM.
pub async fn serve(config: Config) -> Result<(), ServeError> {
    let addr = config.listen;
    if config.sites.is_empty() {
        tracing::warn!("no allowed origins configured: every POST /v1/events will be refused (use --allowed-origin)");
    }
    if config.read_token.is_none() {
        tracing::warn!("no read token configured: the read API is disabled (CHATTAG_READ_TOKEN or --read-token-file)");
    }
    if config.metrics_listen.is_none() && config.metrics_token.is_none() {
        tracing::info!("GET /metrics is public on the main address (--metrics-listen or --metrics-token-file to change that)");
    }
    let mut limits = config.limits.clone();
    limits.max_connections = crate::http_server::fit_connection_cap(limits.max_connections);
    let state = AppState::open(config)?;
    warn_if_low_on_disk(&state);
    crate::privacy::start(&state).map_err(Box::new)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener.local_addr()?;
    let metrics_listener = match state.config.metrics_listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| ServeError::Bind { addr, source })?,
        ),
        None => None,
    };
    let sites: Vec<&str> = state
        .config
        .sites
        .sites
        .iter()
        .map(|s| s.id.as_str())
        .collect();
    tracing::info!(addr = %local, db = %state.config.db, sites = ?sites, max_connections = limits.max_connections, "collector started");
    println!("chattag-collector listening on http://{local}");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let metrics_task = metrics_listener.map(|listener| {
        if let Ok(at) = listener.local_addr() {
            tracing::info!(addr = %at, "GET /metrics served here only");
        }
        let app = metrics_only(state.clone());
        let stats = state.connections.clone();
        let limits = limits.clone();
        let stopped = stopped();
        tokio::spawn(async move {
            crate::http_server::serve(listener, app, &limits, stats, stopped).await;
        })
    });
    let app = router(state.clone());
    let main =
        crate::http_server::serve(listener, app, &limits, state.connections.clone(), stopped());
    tokio::pin!(main);
    tokio::select! {
        () = &mut main => {},
        () = shutdown_signal() => {
            let _ = stop_tx.send(true);
            main.await;
        }
    }
    let _ = stop_tx.send(true);
    if let Some(task) = metrics_task {
        let _ = task.await;
    }
    // Hand the scheduled work (retention) to another instance now rather than after the TTL.
    if tokio::time::timeout(LEASE_RELEASE, crate::scheduled::release_all())
        .await
        .is_err()
    {
        tracing::warn!(
            "giving the leases up timed out; another instance takes them after their TTL"
        );
    }
    tracing::info!("collector stopped");
    Ok(())
}

fn warn_if_low_on_disk(state: &AppState) {
    // PostgreSQL's disk is the database server's, not watched from here.
    let Some(db) = state.config.db.sqlite_path() else {
        return;
    };
    let dir = db.parent().unwrap_or(std::path::Path::new("."));
    let floor = state.config.limits.min_free_bytes;
    if let Ok(free) = crate::disk::free_bytes(dir) {
        if free < floor {
            tracing::warn!(
                free_mb = free >> 20,
                floor_mb = floor >> 20,
                "less free disk space than --min-free-mb: writes are refused (503) until there is more"
            );
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
