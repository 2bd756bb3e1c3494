//! From request bytes to validated events, or an error naming the problem: which event (its
//! index in the batch) and which field. All-or-nothing: one bad event refuses the request.

use axum::http::{HeaderMap, StatusCode};
use chattag_core::event::{Event, EventError, MAX_BATCH, MAX_BODY_BYTES};
use serde_json::value::RawValue;

use super::wire::EventObject;
use crate::error::{ApiError, ErrorCode};

/// `text/plain` is what the snippet sends (no CORS preflight); `application/json` is accepted
/// for other clients. Parameters such as `charset=UTF-8` are ignored.
pub fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let value = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = value.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("text/plain")
        || essence.eq_ignore_ascii_case("application/json")
    {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "Content-Type must be text/plain or application/json",
        ))
    }
}

pub fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::BodyTooLarge,
        format!("the body exceeds {MAX_BODY_BYTES} bytes"),
    )
}

/// Parses one event object or an array of them and validates each with the shared core.
pub fn parse_events(body: &[u8]) -> Result<Vec<Event>, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request(ErrorCode::MalformedBody, "the body is not UTF-8"))?;
    // Fast path: a valid body in one pass (see `wire`). Anything it refuses is parsed again
    // below, which words the error exactly (index, field) the way it always has.
    let fast: Option<Vec<EventObject>> = match text.trim_start().as_bytes().first() {
        Some(b'[') => serde_json::from_str(text).ok(),
        Some(b'{') => serde_json::from_str(text).ok().map(|e| vec![e]),
        _ => None,
    };
    if let Some(wire) = fast.filter(|w| !w.is_empty() && w.len() <= MAX_BATCH) {
        return wire
            .into_iter()
            .enumerate()
            .map(|(index, w)| validated(index, Event::from(w.0)))
            .collect();
    }
    let raws: Vec<&RawValue> = match text.trim_start().as_bytes().first() {
        Some(b'[') => serde_json::from_str(text).map_err(malformed)?,
        Some(b'{') => vec![serde_json::from_str(text).map_err(malformed)?],
        Some(_) => {
            return Err(ApiError::bad_request(
                ErrorCode::MalformedJson,
                "the body must be a JSON object or an array of objects",
            ))
        }
        None => {
            return Err(ApiError::bad_request(
                ErrorCode::EmptyBody,
                "the body is empty",
            ))
        }
    };
    if raws.is_empty() {
        return Err(ApiError::bad_request(
            ErrorCode::EmptyBatch,
            "the batch holds no events",
        ));
    }
    if raws.len() > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooManyEvents,
            format!(
                "a batch holds at most {MAX_BATCH} events, got {}",
                raws.len()
            ),
        ));
    }
    raws.iter()
        .enumerate()
        .map(|(i, raw)| parse_one(i, raw))
        .collect()
}

fn malformed(e: serde_json::Error) -> ApiError {
    ApiError::bad_request(
        ErrorCode::MalformedJson,
        format!("the body is not valid JSON: {e}"),
    )
}

fn parse_one(index: usize, raw: &RawValue) -> Result<Event, ApiError> {
    let mut de = serde_json::Deserializer::from_str(raw.get());
    let event: Event = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { String::new() } else { path };
        let inner = e.into_inner();
        let message = if field.is_empty() {
            format!("event {index}: {inner}")
        } else {
            format!("event {index}, field {field}: {inner}")
        };
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidEvent,
            message,
        )
        .at(index)
        .field(field)
    })?;
    validated(index, event)
}

fn validated(index: usize, event: Event) -> Result<Event, ApiError> {
    event.validate().map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidEvent,
            format!("event {index}: {e}"),
        )
        .at(index)
        .field(field_of(&e))
    })?;
    Ok(event)
}

/// The wire field an [`EventError`] is about.
fn field_of(e: &EventError) -> &'static str {
    match e {
        EventError::EventId => "event_id",
        EventError::ChatId(_) => "chat_id",
        EventError::Ts => "ts",
        EventError::Page => "page",
        EventError::Referrer => "referrer",
        EventError::Identifier(ie) => ie.field.as_str(),
        EventError::PrevChatId => "prev_chat_id",
        // The message names the field(s); report the first one it mentions.
        EventError::Click(what) => ["messenger", "link_kind", "target"]
            .into_iter()
            .filter_map(|f| what.find(f).map(|pos| (pos, f)))
            .min()
            .map_or("type", |(_, f)| f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header::CONTENT_TYPE;
    use axum::http::HeaderValue;

    fn with_type(value: Option<&'static str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(v) = value {
            h.insert(CONTENT_TYPE, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn content_type_essence_any_case_parameters_ignored() {
        for ok in [
            "text/plain;charset=UTF-8",
            "Text/Plain",
            " application/json ; charset=utf-8",
            "APPLICATION/JSON",
        ] {
            assert!(check_content_type(&with_type(Some(ok))).is_ok(), "{ok}");
        }
        for bad in [Some("text/html"), Some("application/jsonp"), Some(""), None] {
            let err = check_content_type(&with_type(bad)).unwrap_err();
            assert_eq!(err.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{bad:?}");
        }
    }
}
