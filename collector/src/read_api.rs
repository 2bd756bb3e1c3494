//! The site owner's read API (bearer token): one chat ID with everything known, and the list of
//! recent mappings.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use chattag_core::ChatId;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::auth::require_bearer;
use crate::error::{ApiError, ErrorCode};
use crate::store::{ChatRecord, MappingCursor, MappingQuery, MappingSummary};

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/chats/{chat_id}", get(get_chat))
        .route("/v1/mappings", get(get_mappings))
}

#[derive(Deserialize)]
struct ChatParams {
    site: Option<String>,
}

async fn get_chat(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw_id): Path<String>,
    Query(params): Query<ChatParams>,
) -> Result<Json<ChatRecord>, ApiError> {
    require_bearer(&headers, state.config.read_token.as_ref())?;
    let id = ChatId::parse(raw_id.trim()).map_err(|e| {
        ApiError::bad_request(ErrorCode::InvalidChatId, format!("{e}")).field("chat_id")
    })?;
    let mut records = state.store.chat(params.site.as_deref(), &id).await?;
    match records.len() {
        0 => Err(ApiError::not_found(format!("no events for chat ID {id}"))),
        1 => Ok(Json(records.remove(0))),
        _ => {
            let sites: Vec<&str> = records.iter().map(|r| r.site.as_str()).collect();
            Err(ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::AmbiguousSite,
                format!(
                    "chat ID {id} exists on several sites ({}); add ?site=",
                    sites.join(", ")
                ),
            ))
        }
    }
}

#[derive(Deserialize)]
struct MappingParams {
    limit: Option<String>,
    site: Option<String>,
    before: Option<String>,
    cursor: Option<String>,
}

#[derive(Serialize)]
struct MappingList {
    mappings: Vec<MappingSummary>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
    /// The last row's `last_seen`, for clients paging with `before=`: those skip the other
    /// chats of that millisecond, so `next_cursor` is the one to follow.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_before: Option<i64>,
}

async fn get_mappings(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<MappingParams>,
) -> Result<Json<MappingList>, ApiError> {
    require_bearer(&headers, state.config.read_token.as_ref())?;
    let limit = match params.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    ErrorCode::InvalidLimit,
                    format!("limit must be 1..={MAX_LIMIT}"),
                )
                .field("limit")
            })?,
    };
    let after = match (params.before.as_deref(), params.cursor.as_deref()) {
        (None, None) => None,
        (Some(v), None) => Some(MappingCursor::before_ms(v.parse::<i64>().map_err(
            |_| {
                ApiError::bad_request(
                    ErrorCode::InvalidBefore,
                    "before must be milliseconds since the epoch",
                )
                .field("before")
            },
        )?)),
        (None, Some(v)) => Some(MappingCursor::decode(v).ok_or_else(|| {
            ApiError::bad_request(
                ErrorCode::InvalidCursor,
                "cursor must be a next_cursor value from an earlier page",
            )
            .field("cursor")
        })?),
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidCursor,
                "give either cursor or before, not both",
            )
            .field("cursor"))
        }
    };
    let page = state
        .store
        .mappings(MappingQuery {
            site: params.site,
            limit,
            after,
        })
        .await?;
    Ok(Json(MappingList {
        mappings: page.mappings,
        next_cursor: page.next.map(MappingCursor::encode),
        next_before: page.next.map(|c| c.last_seen),
    }))
}
