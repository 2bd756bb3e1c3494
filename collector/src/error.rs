//! The HTTP error shape every route answers with: `{"error":{"code","message"}}` plus, for a
//! bad event, which one (`index`) and which `field`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::StoreError;

/// Declares [`ErrorCode`] with its wire names and the list of all of them.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// Every `error.code` the HTTP API answers with. Clients (and metrics labels) see
        /// [`ErrorCode::as_str`]; collector/README.md lists each (a test checks it).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)*
                }
            }
        }
    };
}

error_codes! {
    OriginMissing = "origin_missing",
    OriginNotAllowed = "origin_not_allowed",
    UnsupportedMediaType = "unsupported_media_type",
    BodyTooLarge = "body_too_large",
    TooManyEvents = "too_many_events",
    BodyUnreadable = "body_unreadable",
    EmptyBody = "empty_body",
    MalformedBody = "malformed_body",
    MalformedJson = "malformed_json",
    EmptyBatch = "empty_batch",
    InvalidEvent = "invalid_event",
    RateLimited = "rate_limited",
    QuotaExceeded = "quota_exceeded",
    DiskSpaceLow = "disk_space_low",
    RequestTimeout = "request_timeout",
    Unauthorized = "unauthorized",
    ReadApiDisabled = "read_api_disabled",
    StorageUnavailable = "storage_unavailable",
    InvalidChatId = "invalid_chat_id",
    InvalidLimit = "invalid_limit",
    InvalidBefore = "invalid_before",
    InvalidCursor = "invalid_cursor",
    AmbiguousSite = "ambiguous_site",
    NotFound = "not_found",
    InvalidDays = "invalid_days",
    WebhookDisabled = "webhook_disabled",
    BadSignature = "bad_signature",
    BadVerifyToken = "bad_verify_token",
    BadHandshake = "bad_handshake",
    MalformedUpdate = "malformed_update",
    BadBatchSize = "bad_batch_size",
    InvalidChat = "invalid_chat",
    PrivacyApiDisabled = "privacy_api_disabled",
    InvalidSubject = "invalid_subject",
    MethodNotAllowed = "method_not_allowed",
    Internal = "internal",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    pub index: Option<usize>,
    pub field: Option<String>,
    pub retry_after_secs: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    code: &'static str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            index: None,
            field: None,
            retry_after_secs: None,
        }
    }

    pub fn at(mut self, index: usize) -> ApiError {
        self.index = Some(index);
        self
    }

    pub fn field(mut self, field: impl Into<String>) -> ApiError {
        let field = field.into();
        if !field.is_empty() {
            self.field = Some(field);
        }
        self
    }

    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message)
    }

    pub fn forbidden(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }

    pub fn rate_limited(retry_after_secs: u64) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            "too many requests from this address; retry later",
        );
        e.retry_after_secs = Some(retry_after_secs.max(1));
        e
    }

    /// A refusal the client should retry after `retry_after_secs`.
    pub fn retry_later(
        status: StatusCode,
        code: ErrorCode,
        retry_after_secs: u64,
        message: impl Into<String>,
    ) -> ApiError {
        let mut e = ApiError::new(status, code, message);
        e.retry_after_secs = Some(retry_after_secs.max(1));
        e
    }

    /// Storage failures are retryable from the client's point of view (the snippet keeps the
    /// events and resends), and their details stay in the log.
    pub fn storage(err: &StoreError) -> ApiError {
        tracing::error!(error = %err, "storage error");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::StorageUnavailable,
            "the collector cannot store data right now; retry later",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> ApiError {
        ApiError::storage(&err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Detail {
                code: self.code.as_str(),
                message: &self.message,
                index: self.index,
                field: self.field.as_deref(),
            },
        };
        let json = serde_json::to_vec(&body)
            .unwrap_or_else(|_| br#"{"error":{"code":"internal","message":""}}"#.to_vec());
        let mut res = (
            self.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            json,
        )
            .into_response();
        if let Some(secs) = self.retry_after_secs {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        // Lets middleware count refusals by code without parsing the body.
        res.extensions_mut().insert(self.code);
        res
    }
}
