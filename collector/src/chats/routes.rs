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
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::json;

use super::config::{ChatsConfig, WebhookSecret};
use super::inbound::{Inbound, ParseError};
use super::intake::{IntakeChat, ValidIntake};
use super::matching::{MatchSettings, Method};
use super::model::{Delivery, IntakeSource};
use super::signature::{self, SignatureError};
use super::{max, telegram, viber, whatsapp};
use crate::app::AppState;
use crate::auth::require_bearer;
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::metrics::WebhookOutcome;
use crate::secret::Secret;

/// Webhook bodies are small JSON documents; a CRM batch of 100 chats fits easily.
const BODY_LIMIT: usize = 256 * 1024;
const MAX_INTAKE_BATCH: usize = 100;

pub struct ChatsRuntime {
    pub config: ChatsConfig,
    intake_auth: IntakeAuth,
}

/// Who may call `POST /v1/chats`, settled once at startup rather than per request.
enum IntakeAuth {
    /// No intake token configured: the read token's holder.
    ReadToken,
    Own(Secret),
    /// A configured intake token that is not a usable bearer token: every request is refused.
    Unusable,
}

impl IntakeAuth {
    fn of(config: &ChatsConfig) -> IntakeAuth {
        match &config.intake_token {
            None => IntakeAuth::ReadToken,
            Some(t) => match Secret::new(t.expose()) {
                Ok(secret) => IntakeAuth::Own(secret),
                Err(e) => {
                    tracing::error!(error = %e, "intake token unusable: POST /v1/chats disabled");
                    IntakeAuth::Unusable
                }
            },
        }
    }
}

pub fn routes(state: &AppState) -> Router<AppState> {
    let env = |k: &str| std::env::var(k).ok();
    let file = match state.config.section::<super::config::ChatsFile>("chats") {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "invalid [chats] config: chat webhooks disabled");
            None
        }
    };
    let config = match ChatsConfig::resolve(file, &env) {
        Ok(c) => c,
        Err(e) => {
            // Refusing every webhook is safer than accepting unverified ones.
            tracing::error!(error = %e, "chat settings unusable: chat webhooks disabled");
            ChatsConfig::default()
        }
    };
    let c = &config;
    tracing::info!(
        telegram = c.telegram_secret.is_some(),
        whatsapp = c.whatsapp_app_secret.is_some() && c.whatsapp_verify_token.is_some(),
        viber = c.viber_token.is_some(),
        max = c.max_secret.is_some(),
        intake_token = c.intake_token.is_some(),
        "chat webhooks (a messenger without its secret is refused with 503)"
    );
    let runtime = Arc::new(ChatsRuntime {
        intake_auth: IntakeAuth::of(&config),
        config,
    });
    Router::new()
        .route("/v1/webhooks/telegram", post(telegram_hook))
        .route(
            "/v1/webhooks/whatsapp",
            get(whatsapp_handshake).post(whatsapp_hook),
        )
        .route("/v1/webhooks/viber", post(viber_hook))
        .route("/v1/webhooks/max", post(max_hook))
        .route("/v1/chats", post(intake))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(Extension(runtime))
}

fn not_configured(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "webhook_disabled",
        format!("{what} is not configured on this collector"),
    )
}

fn refused(e: SignatureError) -> ApiError {
    tracing::info!(reason = %e, "webhook refused");
    ApiError::new(StatusCode::UNAUTHORIZED, "bad_signature", e.to_string())
}

fn secret_of<'a>(s: &'a Option<WebhookSecret>, what: &str) -> Result<&'a str, ApiError> {
    s.as_ref()
        .map(WebhookSecret::expose)
        .ok_or_else(|| not_configured(what))
}

fn delivery_outcome(d: &Delivery) -> WebhookOutcome {
    if d.duplicates > 0 && d.opened + d.continued + d.answered == 0 {
        WebhookOutcome::Duplicate
    } else {
        WebhookOutcome::Accepted
    }
}

fn outcome_of(e: &ApiError) -> WebhookOutcome {
    match (e.status, e.code) {
        (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN, _) => WebhookOutcome::Refused,
        (_, "webhook_disabled" | "read_api_disabled") => WebhookOutcome::Disabled,
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
            let body = json!({"ok": true, "opened": s.opened, "continued": s.continued, "duplicates": s.duplicates, "answered": s.answered});
            (Json(body).into_response(), outcome, s.methods)
        }),
    )
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a [u8]> {
    headers.get(name).map(|v| v.as_bytes())
}

/// The steps every messenger webhook takes, in this order: its secret must be configured, the
/// request must prove it knows the secret, and the body must parse, before anything is stored.
/// Each step's refusal is counted under `messenger` like a stored delivery is.
async fn receive(
    state: &AppState,
    rt: &ChatsRuntime,
    messenger: &'static str,
    secret: Result<&str, ApiError>,
    verify: impl FnOnce(&str) -> Result<(), SignatureError>,
    parse: impl FnOnce() -> Result<Vec<Inbound>, ParseError>,
) -> Result<Response, ApiError> {
    let result = async {
        verify(secret?).map_err(refused)?;
        let items =
            parse().map_err(|e| ApiError::bad_request("malformed_update", e.to_string()))?;
        Ok(state
            .store
            .record_delivery(items, rt.config.matching.clone())
            .await?)
    }
    .await;
    stored_response(state, messenger, result)
}

async fn telegram_hook(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<ChatsRuntime>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let c = &rt.config;
    receive(
        &state,
        &rt,
        "telegram",
        secret_of(
            &c.telegram_secret,
            "the Telegram webhook (CHATTAG_TELEGRAM_SECRET)",
        ),
        |secret| {
            signature::verify_shared_secret(
                header(&headers, "x-telegram-bot-api-secret-token"),
                secret,
            )
        },
        || telegram::parse(&body, c.telegram_bot.as_deref()),
    )
    .await
}

#[derive(serde::Deserialize)]
struct Handshake {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

async fn whatsapp_handshake(
    Extension(rt): Extension<Arc<ChatsRuntime>>,
    Query(q): Query<Handshake>,
) -> Result<Response, ApiError> {
    let ours = secret_of(
        &rt.config.whatsapp_verify_token,
        "the WhatsApp verify token (CHATTAG_WHATSAPP_VERIFY_TOKEN)",
    )?;
    match whatsapp::verify_handshake(
        q.mode.as_deref(),
        q.token.as_deref(),
        q.challenge.as_deref(),
        ours,
    ) {
        Ok(challenge) => Ok((StatusCode::OK, challenge.to_string()).into_response()),
        Err(whatsapp::HandshakeError::Forbidden) => Err(ApiError::forbidden(
            "bad_verify_token",
            "hub.verify_token does not match",
        )),
        Err(whatsapp::HandshakeError::BadRequest) => Err(ApiError::bad_request(
            "bad_handshake",
            "expected hub.mode=subscribe, hub.verify_token and a numeric hub.challenge",
        )),
    }
}

async fn whatsapp_hook(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<ChatsRuntime>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    receive(
        &state,
        &rt,
        "whatsapp",
        secret_of(
            &rt.config.whatsapp_app_secret,
            "the WhatsApp app secret (CHATTAG_WHATSAPP_APP_SECRET)",
        ),
        |secret| {
            signature::verify_hub_signature_256(
                header(&headers, "x-hub-signature-256"),
                &body,
                secret,
            )
        },
        || whatsapp::parse(&body),
    )
    .await
}

async fn viber_hook(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<ChatsRuntime>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let c = &rt.config;
    receive(
        &state,
        &rt,
        "viber",
        secret_of(
            &c.viber_token,
            "the Viber auth token (CHATTAG_VIBER_AUTH_TOKEN)",
        ),
        |secret| {
            signature::verify_viber_signature(
                header(&headers, "x-viber-content-signature"),
                &body,
                secret,
            )
        },
        || viber::parse(&body, c.viber_account.as_deref()),
    )
    .await
}

async fn max_hook(
    State(state): State<AppState>,
    Extension(rt): Extension<Arc<ChatsRuntime>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let c = &rt.config;
    receive(
        &state,
        &rt,
        "max",
        secret_of(&c.max_secret, "the MAX webhook secret (CHATTAG_MAX_SECRET)"),
        |secret| signature::verify_shared_secret(header(&headers, "x-max-bot-api-secret"), secret),
        || max::parse(&body, c.max_bot.as_deref()),
    )
    .await
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
                    "invalid_chat",
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
    Extension(rt): Extension<Arc<ChatsRuntime>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let result = intake_inner(&state, &rt, &headers, &body).await;
    observed(&state, "intake", result)
}

async fn intake_inner(
    state: &AppState,
    rt: &ChatsRuntime,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Response, WebhookOutcome, Vec<Method>), ApiError> {
    match &rt.intake_auth {
        IntakeAuth::ReadToken => require_bearer(headers, state.config.read_token.as_ref())?,
        IntakeAuth::Own(secret) => require_bearer(headers, Some(secret))?,
        IntakeAuth::Unusable => {
            return Err(not_configured("a usable intake token (16+ characters)"))
        }
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("malformed_json", e.to_string()))?;
    let (records, single) = match value {
        serde_json::Value::Array(items) => (items, false),
        obj @ serde_json::Value::Object(_) => (vec![obj], true),
        _ => {
            return Err(ApiError::bad_request(
                "malformed_body",
                "expected a JSON object or an array of objects",
            ))
        }
    };
    if records.is_empty() || records.len() > MAX_INTAKE_BATCH {
        return Err(ApiError::bad_request(
            "bad_batch_size",
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
                    "invalid_chat",
                    e.to_string(),
                )
                .at(i)
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let settings = rt.config.matching.clone();
    let valid = validate_batch(parsed, &settings, now_ms())?;
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
