//! Bearer-token checks for the owner-facing routes.

use axum::http::{header, HeaderMap, StatusCode};

use crate::error::{ApiError, ErrorCode};
use crate::secret::Secret;

/// Accepts `Authorization: Bearer <token>` matching `expected`. With no token configured the
/// route is disabled rather than open.
pub fn require_bearer(headers: &HeaderMap, expected: Option<&Secret>) -> Result<(), ApiError> {
    let Some(expected) = expected else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ReadApiDisabled,
            "no read token is configured (CHATTAG_READ_TOKEN or --read-token-file)",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    match given {
        None => Err(ApiError::unauthorized("missing bearer token")),
        Some(token) if expected.matches(token) => Ok(()),
        Some(_) => Err(ApiError::unauthorized("wrong bearer token")),
    }
}
