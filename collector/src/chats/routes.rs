//! HTTP routes of the chat side.
//!
//! | route | verification |
//! |---|---|
//! | `POST /v1/webhooks/telegram` | `X-Telegram-Bot-Api-Secret-Token` |
//! | `GET  /v1/webhooks/whatsapp` | `hub.verify_token` handshake, echoes `hub.challenge` |
//! | `POST /v1/webhooks/whatsapp` | `X-Hub-Signature-256` |
//! | `POST /v1/webhooks/viber` | `X-Viber-Content-Signature` |
//! | `POST /v1/webhooks/max` | `X-Max-Bot-Api-Secret` |
//! | `POST /v1/chats` | `Authorization: Bearer <intake token>` (the read token when no intake token is set) |
//!
//! Verification happens before the body is parsed; a refused request stores nothing.
//! Unhandled update kinds are acknowledged with 200 so the messenger does not retry them.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Extension, Json, Router};
use serde_json::json;

use super::inbound::{Inbound, ParseError, Platform, Unreadable, UnreadableReason};
use super::intake::{IntakeChat, ValidIntake};
use super::matching::{MatchSettings, Method};
use super::messengers::{self, Handshake, HandshakeRefusal, Messenger, Messengers, Refusal, Visit};
use super::model::{Delivery, IntakeSource};
use super::signature::SignatureError;
use crate::app::AppState;
use crate::auth::require_bearer;
use crate::clock::now_ms;
use crate::error::{ApiError, ErrorCode};
use crate::metrics::WebhookOutcome;

/// Webhook bodies are small JSON documents; a CRM batch of 100 chats fits easily.
const BODY_LIMIT: usize = 256 * 1024;
const MAX_INTAKE_BATCH: usize = 100;

pub fn routes(state: &AppState) -> Router<AppState> {
    let c = &state.config.chats;
    tracing::info!(
        messengers = ?c.messengers.enabled(),
        intake_token = c.intake_token.is_some(),
        "chat webhooks (a messenger without its secret is refused with 503)"
    );
    // Each webhook route carries its configured messenger (every one is configured at
    // start-up, with or without its secret), so a handler never looks it up.
    struct AddRoute<'a>(Router<AppState>, &'a Messengers);
    impl Visit for AddRoute<'_> {
        type Error = std::convert::Infallible;
        fn visit<M: Messenger>(&mut self) -> Result<(), Self::Error> {
            let Some(m) = self.1.get::<M>() else {
                return Ok(());
            };
            let path = format!("/v1/webhooks/{}", M::NAME);
            let mut route: MethodRouter<AppState> = post(webhook::<M>);
            if M::HANDSHAKE {
                route = route.merge(get(handshake::<M>));
            }
            let route = route.layer(Extension(m));
            self.0 = std::mem::take(&mut self.0).route(&path, route);
            Ok(())
        }
    }
    let mut r = AddRoute(
        Router::new().route("/v1/chats", post(intake)),
        &c.messengers,
    );
    let Ok(()) = messengers::each(&mut r);
    r.0.layer(DefaultBodyLimit::max(BODY_LIMIT))
}

fn not_configured(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::WebhookDisabled,
        format!("{what} is not configured on this collector"),
    )
}

fn refused(e: SignatureError) -> ApiError {
    tracing::info!(reason = %e, "webhook refused");
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        ErrorCode::BadSignature,
        e.to_string(),
    )
}

fn delivery_outcome(d: &Delivery) -> WebhookOutcome {
    if d.duplicates > 0
        && d.opened + d.continued + d.answered + d.pending_answers + d.bot_opens + d.unreadable == 0
    {
        WebhookOutcome::Duplicate
    } else {
        WebhookOutcome::Accepted
    }
}

fn outcome_of(e: &ApiError) -> WebhookOutcome {
    match (e.status, e.code) {
        (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN, _) => WebhookOutcome::Refused,
        (_, ErrorCode::WebhookDisabled | ErrorCode::ReadApiDisabled) => WebhookOutcome::Disabled,
        (s, _) if s.is_client_error() => WebhookOutcome::Invalid,
        _ => WebhookOutcome::Failed,
    }
}

/// Counts the delivery by messenger and outcome, and each new conversation by match method.
fn observed<T>(
    state: &AppState,
    messenger: &str,
    result: Result<(T, WebhookOutcome, Vec<Method>), ApiError>,
) -> Result<T, ApiError> {
    let m = &state.metrics.chats;
    match result {
        Ok((value, outcome, methods)) => {
            m.webhook(messenger, outcome);
            for method in methods {
                m.matched(method.as_str());
            }
            Ok(value)
        }
        Err(e) => {
            m.webhook(messenger, outcome_of(&e));
            Err(e)
        }
    }
}

fn stored_response(
    state: &AppState,
    messenger: &str,
    result: Result<Delivery, ApiError>,
) -> Result<Response, ApiError> {
    observed(
        state,
        messenger,
        result.map(|s| {
            let outcome = delivery_outcome(&s);
            let body = json!({"ok": true, "opened": s.opened, "continued": s.continued, "duplicates": s.duplicates,
                "answered": s.answered, "answers_pending": s.pending_answers, "bot_opens": s.bot_opens, "unreadable": s.unreadable});
            (Json(body).into_response(), outcome, s.methods)
        }),
    )
}

/// The one webhook handler: the messenger's secret must be configured, the request must prove
/// it knows the secret, and the body must parse, in this order, before anything is stored. Each
/// step's refusal is counted under the messenger like a stored delivery is.
async fn webhook<M: Messenger>(
    State(state): State<AppState>,
    Extension(m): Extension<Arc<M>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let result = async {
        m.verify(&headers, &body).map_err(|r| match r {
            Refusal::NotConfigured(what) => not_configured(what),
            Refusal::Signature(e) => refused(e),
        })?;
        let mut items = readable_or_kept::<M>(&body, m.parse(&body))?;
        // Phones (and what may carry one) hashed before anything is stored.
        state.phones.protect(&mut items);
        for item in &items {
            if let Inbound::Unreadable(u) = item {
                tracing::warn!(messenger = M::NAME, reason = u.reason.as_str(), detail = %u.detail, "webhook item kept unread");
                state.metrics.chats.unreadable(M::NAME, u.reason.as_str());
            }
        }
        Ok(state
            .store
            .record_delivery(items, state.config.chats.matching.clone())
            .await?)
    }
    .await;
    stored_response(&state, M::NAME, result)
}

/// A signed JSON body is always acknowledged: when the messenger's reader refuses it as a
/// whole, it is kept raw (answering 4xx would only make the messenger retry the same body and,
/// for Meta, eventually disable the webhook). Only a body that is not JSON is refused.
fn readable_or_kept<M: Messenger>(
    body: &[u8],
    parsed: Result<Vec<Inbound>, ParseError>,
) -> Result<Vec<Inbound>, ApiError> {
    match parsed {
        Ok(items) => Ok(items),
        Err(e) if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() => {
            Ok(vec![Inbound::Unreadable(Unreadable::new(
                Platform::of_messenger(M::NAME),
                UnreadableReason::Shape,
                e.to_string(),
                body,
            ))])
        }
        Err(e) => Err(ApiError::bad_request(
            ErrorCode::MalformedUpdate,
            e.to_string(),
        )),
    }
}

/// The GET by which a messenger confirms the webhook URL (WhatsApp).
async fn handshake<M: Messenger>(
    Extension(m): Extension<Arc<M>>,
    Query(q): Query<Handshake>,
) -> Result<Response, ApiError> {
    match m.handshake(&q) {
        Ok(challenge) => Ok((StatusCode::OK, challenge).into_response()),
        Err(HandshakeRefusal::NotConfigured(what)) => Err(not_configured(what)),
        Err(HandshakeRefusal::Forbidden) => Err(ApiError::forbidden(
            ErrorCode::BadVerifyToken,
            "hub.verify_token does not match",
        )),
        Err(HandshakeRefusal::BadRequest) => Err(ApiError::bad_request(
            ErrorCode::BadHandshake,
            "expected hub.mode=subscribe, hub.verify_token and a numeric hub.challenge",
        )),
        Err(HandshakeRefusal::Unsupported) => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::MethodNotAllowed,
            "this webhook takes POST only",
        )),
    }
}

/// Validates every record first; stores all of them in one transaction or none.
pub fn validate_batch(
    records: Vec<IntakeChat>,
    settings: &MatchSettings,
    now: i64,
) -> Result<Vec<ValidIntake>, ApiError> {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            r.validate(&settings.prefixes, now).map_err(|e| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::InvalidChat,
                    e.message.clone(),
                )
                .at(i)
                .field(e.field)
            })
        })
        .collect()
}

async fn intake(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let result = intake_inner(&state, &headers, &body).await;
    observed(&state, "intake", result)
}

async fn intake_inner(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Response, WebhookOutcome, Vec<Method>), ApiError> {
    // Without an intake token of its own, the read token's holder may report chats.
    match &state.config.chats.intake_token {
        Some(own) => require_bearer(headers, Some(own))?,
        None => require_bearer(headers, state.config.read_token.as_ref())?,
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(ErrorCode::MalformedJson, e.to_string()))?;
    let (records, single) = match value {
        serde_json::Value::Array(items) => (items, false),
        obj @ serde_json::Value::Object(_) => (vec![obj], true),
        _ => {
            return Err(ApiError::bad_request(
                ErrorCode::MalformedBody,
                "expected a JSON object or an array of objects",
            ))
        }
    };
    if records.is_empty() || records.len() > MAX_INTAKE_BATCH {
        return Err(ApiError::bad_request(
            ErrorCode::BadBatchSize,
            format!("1..={MAX_INTAKE_BATCH} chats per request"),
        ));
    }
    let parsed = records
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            serde_json::from_value::<IntakeChat>(v).map_err(|e| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::InvalidChat,
                    e.to_string(),
                )
                .at(i)
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let settings = state.config.chats.matching.clone();
    let mut valid = validate_batch(parsed, &settings, now_ms())?;
    state.phones.protect_intake(&mut valid);
    let ids = state
        .store
        .record_intake(valid, settings, IntakeSource::Api)
        .await?;
    let chats: Vec<_> = ids
        .iter()
        .map(|w| json!({"id": w.conversation, "status": if w.opened.is_some() { "opened" } else { "updated" }}))
        .collect();
    let methods: Vec<Method> = ids.iter().filter_map(|w| w.opened).collect();
    // A batch whose records were all known messages changes nothing new.
    let outcome = if ids.is_empty() {
        WebhookOutcome::Duplicate
    } else {
        WebhookOutcome::Accepted
    };
    let body = Json(if single && chats.len() == 1 {
        chats[0].clone()
    } else {
        json!({ "chats": chats })
    });
    Ok((body.into_response(), outcome, methods))
}
