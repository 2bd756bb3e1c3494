//! `POST /v1/privacy/forget` and `POST /v1/privacy/export` with `{"kind": "phone", "value":
//! "+7 916 123-45-67"}` (kinds: phone, user_id, username, chat_id, client_id), authorised by
//! the privacy token (`CHATTAG_PRIVACY_TOKEN` or `[privacy] token_file`), not the read token:
//! the read token is handed to dashboards and CRMs, and deleting or exporting a person is a
//! stronger power. POST, so that identifiers stay out of URLs and access logs.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::subject::Subject;
use super::{PrivacySettings, RequestError};
use crate::app::AppState;
use crate::auth::require_bearer;
use crate::error::{ApiError, ErrorCode};
use crate::secret::Secret;

#[derive(Clone)]
struct Token(Option<Secret>);

pub fn routes(state: &AppState) -> Router<AppState> {
    // Checked at start-up by `privacy::start`; a bad section there stops the server first.
    let token = PrivacySettings::from_env(&state.config)
        .ok()
        .and_then(|s| s.token);
    Router::new()
        .route("/v1/privacy/forget", post(forget))
        .route("/v1/privacy/export", post(export))
        .layer(Extension(Token(token)))
}

#[derive(Deserialize)]
struct Request {
    kind: String,
    value: String,
}

fn authorise(headers: &HeaderMap, token: &Token) -> Result<(), ApiError> {
    if token.0.is_none() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::PrivacyApiDisabled,
            "no privacy token is configured (CHATTAG_PRIVACY_TOKEN or [privacy] token_file)",
        ));
    }
    require_bearer(headers, token.0.as_ref())
}

fn subject(
    body: Result<Json<Request>, axum::extract::rejection::JsonRejection>,
) -> Result<Subject, ApiError> {
    let Json(req) = body.map_err(|e| {
        ApiError::bad_request(
            ErrorCode::InvalidSubject,
            format!("expected {{\"kind\", \"value\"}}: {e}"),
        )
    })?;
    Subject::parse(req.kind.trim(), &req.value)
        .map_err(|e| ApiError::bad_request(ErrorCode::InvalidSubject, e.to_string()))
}

fn failed(e: RequestError) -> ApiError {
    match e {
        RequestError::Store(e) => ApiError::from(e),
        RequestError::Key(e) => {
            tracing::error!(error = %e, "privacy key unusable");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::Internal,
                "the privacy key is unusable",
            )
        }
    }
}

async fn forget(
    State(state): State<AppState>,
    Extension(token): Extension<Token>,
    headers: HeaderMap,
    body: Result<Json<Request>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    authorise(&headers, &token)?;
    let subject = subject(body)?;
    let kind = subject.kind();
    let done = super::forget(state.store.as_ref(), &state.config.db, subject, "api")
        .await
        .map_err(failed)?;
    Ok(Json(json!({
        "kind": kind,
        "removed": done.removed,
        "wal_truncated": done.wal_truncated,
        "inbox_rotated": done.inbox_rotated,
    })))
}

async fn export(
    State(state): State<AppState>,
    Extension(token): Extension<Token>,
    headers: HeaderMap,
    body: Result<Json<Request>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    authorise(&headers, &token)?;
    let subject = subject(body)?;
    let kind = subject.kind();
    let data = super::export(state.store.as_ref(), &state.config.db, subject, "api")
        .await
        .map_err(failed)?;
    Ok(Json(json!({"kind": kind, "data": data})))
}
