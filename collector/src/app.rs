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
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use prometheus_client::registry::Registry;
use serde_json::json;

use crate::client_ip::{client_ip, masked};
use crate::config::Config;
use crate::error::{ApiError, ErrorCode};
use crate::metrica::upload_metrics::UploadGauges;
use crate::metrics::{HttpLabels, Metrics, RouteLabels, StoreMetrics};
use crate::ratelimit::RateLimiter;
use crate::store::{Storage, StoreError};

pub struct AppInner {
    pub config: Config,
    pub store: Arc<dyn Storage>,
    pub metrics: Metrics,
    pub upload_gauges: UploadGauges,
    pub registry: Registry,
    pub limiter: RateLimiter,
    pub privacy_metrics: crate::privacy::ExpiryMetrics,
}

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
    pub fn open(config: Config) -> Result<AppState, StoreError> {
        let mut registry = Registry::default();
        let store_metrics = Arc::new(StoreMetrics::register(&mut registry));
        let store = crate::store::open(&config.db, true, store_metrics)?;
        let metrics = Metrics::register(&mut registry);
        let upload_gauges = crate::metrica::upload_metrics::register(&mut registry);
        let privacy_metrics = crate::privacy::ExpiryMetrics::register(&mut registry);
        Ok(AppState(Arc::new(AppInner {
            privacy_metrics,
            limiter: RateLimiter::new(config.rate_limit),
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
    let ops = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics));
    Router::new()
        .merge(browser_facing)
        .merge(crate::chats::routes(&state))
        .merge(crate::reports::routes())
        .merge(crate::privacy::routes::routes(&state))
        .merge(ops)
        .fallback(|| async { ApiError::not_found("no such route") })
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if state.limiter.enabled() {
        if let Some(ip) = client_ip(&req, state.config.trust_forwarded_for) {
            if let Err(retry_after) = state.limiter.check(ip) {
                return ApiError::rate_limited(retry_after).into_response();
            }
        }
    }
    next.run(req).await
}

/// Metrics and the access log for every request. Successful requests log at debug (ingest
/// volume would drown everything else); refusals at info; server errors at warn.
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let ip = client_ip(&req, state.config.trust_forwarded_for);
    let res = next.run(req).await;
    let took = started.elapsed();
    let status = res.status();
    state
        .metrics
        .http_requests
        .get_or_create(&HttpLabels {
            route: route.clone(),
            method: method.clone(),
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

async fn metrics(State(state): State<AppState>) -> Response {
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

/// Binds, prints `chattag-collector listening on http://<addr>` on stdout (scripts and tests
/// read the port from it when started with port 0), and serves until SIGINT/SIGTERM.
pub async fn serve(config: Config) -> Result<(), ServeError> {
    use axum::serve::ListenerExt;
    let addr = config.listen;
    if config.sites.is_empty() {
        tracing::warn!("no allowed origins configured: every POST /v1/events will be refused (use --allowed-origin)");
    }
    if config.read_token.is_none() {
        tracing::warn!("no read token configured: the read API is disabled (CHATTAG_READ_TOKEN or --read-token-file)");
    }
    let state = AppState::open(config)?;
    crate::privacy::start(&state).map_err(Box::new)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener.local_addr()?;
    let sites: Vec<&str> = state
        .config
        .sites
        .sites
        .iter()
        .map(|s| s.id.as_str())
        .collect();
    tracing::info!(addr = %local, db = %state.config.db.display(), sites = ?sites, "collector started");
    println!("chattag-collector listening on http://{local}");
    let listener = listener.tap_io(|tcp| {
        // Small JSON answers: do not wait for Nagle.
        let _ = tcp.set_nodelay(true);
    });
    let app = router(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    tracing::info!("collector stopped");
    Ok(())
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
