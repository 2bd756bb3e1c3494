//! `POST /v1/events`: the snippet's events in, stored once each, answered after commit.

pub mod body;
pub mod budget;
mod wire;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Extension, Json, Router};
use chattag_core::event::MAX_BODY_BYTES;

use crate::app::AppState;
use crate::cors::RequestSite;
use crate::error::{ApiError, ErrorCode};
use crate::store::IngestOutcome;

/// Routes without middleware; `app::router` adds CORS and rate limiting.
pub fn routes(state: &AppState) -> Router<AppState> {
    let mut r = Router::new().route("/v1/events", post(post_events).options(preflight_only));
    if state.config.bench_bare {
        r = r.route("/bench/bare", post(bench_bare).options(preflight_only));
    }
    r
}

/// Reached only when the CORS layer did not answer the preflight itself (never for a valid
/// one); kept so that the method is routed and OPTIONS never falls through to 405.
async fn preflight_only() -> ApiError {
    ApiError::bad_request(
        ErrorCode::OriginMissing,
        "a preflight request needs an allowed Origin",
    )
}

async fn post_events(
    State(state): State<AppState>,
    site: Option<Extension<RequestSite>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IngestOutcome>, ApiError> {
    let Some(Extension(RequestSite(site))) = site else {
        return Err(ApiError::forbidden(
            ErrorCode::OriginMissing,
            "events are accepted only from an allowed site's pages (Origin header)",
        ));
    };
    let bytes = read_body(&headers, body).await?;
    let mut events = body::parse_events(&bytes)?;
    let now = crate::clock::now_ms();
    let now_u = u64::try_from(now).unwrap_or(0);
    // A visitor's clock may be off; one ahead of ours may not steer matching or identifier
    // history into the future (core's rule).
    for e in &mut events {
        e.ts = chattag_core::event::received_ts(e.ts, now_u);
    }
    if let Err(budget::Refusal::Quota { retry_after_s }) =
        state.budget.check(&site, events.len() as u64, now_u)
    {
        return Err(ApiError::retry_later(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::QuotaExceeded,
            retry_after_s,
            "this site's daily event quota is used up; retry tomorrow (UTC)",
        ));
    }
    let outcome = state.store.ingest(&site, events, now).await?;
    state.budget.spend(&site, outcome.accepted as u64, now_u);
    state
        .metrics
        .events_accepted
        .inc_by(outcome.accepted as u64);
    state
        .metrics
        .events_duplicate
        .inc_by(outcome.duplicates as u64);
    Ok(Json(outcome))
}

/// The HTTP work of ingest without parsing or storing: the baseline of the benchmark.
async fn bench_bare(headers: HeaderMap, body: Body) -> Result<Json<IngestOutcome>, ApiError> {
    let bytes = read_body(&headers, body).await?;
    Ok(Json(IngestOutcome {
        accepted: usize::from(!bytes.is_empty()),
        duplicates: 0,
    }))
}

async fn read_body(headers: &HeaderMap, body: Body) -> Result<axum::body::Bytes, ApiError> {
    body::check_content_type(headers)?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(body::too_large());
    }
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|e| {
            let over_limit = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if over_limit {
                body::too_large()
            } else {
                ApiError::bad_request(
                    ErrorCode::BodyUnreadable,
                    "the request body could not be read",
                )
            }
        })
}
