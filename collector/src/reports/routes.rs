//! `GET /reports` (the page), `GET /reports/{table}.csv` (downloads), `POST /reports/login`.
//!
//! Protected by the read token: scripts send `Authorization: Bearer <token>`; a person in a
//! browser enters the token once in a form and gets a session cookie. The cookie holds an expiry
//! and an HMAC of it keyed with the token — never the token itself — and is `HttpOnly`,
//! `SameSite=Strict`, scoped to `/reports`. Changing the token invalidates every session.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use super::{data, page, tables};
use crate::app::AppState;
use crate::clock::now_ms;
use crate::error::{ApiError, ErrorCode};
use crate::metrica::uploads::CounterSummary;
use crate::secret::Secret;
use crate::signing::hmac_sha256_hex;

const COOKIE: &str = "chattag_report";
const SESSION_S: i64 = 12 * 3600;
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/reports", get(report))
        .route("/reports/login", post(login))
        .route("/reports/{file}", get(csv))
}

#[derive(serde::Deserialize)]
pub struct RangeQuery {
    days: Option<i64>,
}

fn session_value(token: &Secret, expires_s: i64) -> String {
    format!(
        "{expires_s}.{}",
        hmac_sha256_hex(
            token.expose(),
            format!("chattag-report-session:{expires_s}").as_bytes()
        )
    )
}

fn session_valid(token: &Secret, value: &str, now_s: i64) -> bool {
    let Some((exp, _)) = value.split_once('.') else {
        return false;
    };
    let Ok(exp) = exp.parse::<i64>() else {
        return false;
    };
    exp > now_s
        && exp <= now_s + SESSION_S
        && Secret::new(&session_value(token, exp)).is_ok_and(|s| s.matches(value))
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

enum Access {
    Granted,
    /// Show the sign-in form (browser without a session).
    Login,
}

fn access(state: &AppState, headers: &HeaderMap) -> Result<Access, ApiError> {
    let Some(token) = state.config.read_token.as_ref() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ReadApiDisabled,
            "no read token is configured (CHATTAG_READ_TOKEN or --read-token-file)",
        ));
    };
    if headers.contains_key(header::AUTHORIZATION) {
        crate::auth::require_bearer(headers, Some(token))?;
        return Ok(Access::Granted);
    }
    match cookie(headers, COOKIE) {
        Some(v) if session_valid(token, v, now_ms() / 1000) => Ok(Access::Granted),
        _ => Ok(Access::Login),
    }
}

fn html(status: StatusCode, body: String) -> Response {
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure_headers(h);
    res
}

fn secure_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// (days, from_day, to_day, from_ms, to_ms) for "the last N UTC days including today".
fn range(q: &RangeQuery) -> Result<(i64, i64, i64, i64, i64), ApiError> {
    let days = q.days.unwrap_or(30);
    if !(1..=366).contains(&days) {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidDays,
            "days must be 1..=366",
        ));
    }
    let now = now_ms();
    let to_day = now.div_euclid(86_400_000);
    let from_day = to_day - days + 1;
    Ok((
        days,
        from_day,
        to_day,
        from_day * 86_400_000,
        (to_day + 1) * 86_400_000,
    ))
}

async fn load(
    state: &AppState,
    from_ms: i64,
    to_ms: i64,
) -> Result<(Vec<data::ChatRow>, Vec<CounterSummary>), ApiError> {
    Ok((
        state.store.report_rows(from_ms, to_ms).await?,
        state.store.upload_summaries().await?,
    ))
}

/// Webhook items kept unread that the page lists.
const UNREADABLE_SHOWN: u32 = 20;

async fn report(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<RangeQuery>,
) -> Result<Response, ApiError> {
    if let Access::Login = access(&state, &headers)? {
        return Ok(html(StatusCode::UNAUTHORIZED, page::login(None)));
    }
    let (days, from_day, to_day, from_ms, to_ms) = range(&q)?;
    let (rows, uploads) = load(&state, from_ms, to_ms).await?;
    let (unreadable_count, unreadable) = state
        .store
        .unreadable(from_ms, to_ms, UNREADABLE_SHOWN)
        .await?;
    Ok(html(
        StatusCode::OK,
        page::render(&page::PageInput {
            rows: &rows,
            uploads: &uploads,
            unreadable_count,
            unreadable: &unreadable,
            days,
            from_day,
            to_day,
        }),
    ))
}

/// One field of an `application/x-www-form-urlencoded` body.
fn form_value(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let raw = text
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)?
        .1
        .replace('+', " ");
    percent_encoding::percent_decode_str(&raw)
        .decode_utf8()
        .ok()
        .map(|v| v.into_owned())
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Some(token) = state.config.read_token.as_ref() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ReadApiDisabled,
            "no read token is configured",
        ));
    };
    let given = form_value(&body, "token").unwrap_or_default();
    if !token.matches(given.trim()) {
        return Ok(html(
            StatusCode::UNAUTHORIZED,
            page::login(Some("That token is not right.")),
        ));
    }
    let expires = now_ms() / 1000 + SESSION_S;
    // `Secure` as the configured public URL says; without one, except on loopback, where the
    // demo runs over plain http (a proxy passing Host 127.0.0.1 needs --public-url).
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let loopback =
        host.starts_with("127.0.0.1") || host.starts_with("localhost") || host.starts_with("[::1]");
    let secure = state.config.public_https.unwrap_or(!loopback);
    let cookie = format!(
        "{COOKIE}={}; Path=/reports; Max-Age={SESSION_S}; HttpOnly; SameSite=Strict{}",
        session_value(token, expires),
        if secure { "; Secure" } else { "" }
    );
    let mut res = (StatusCode::SEE_OTHER, "").into_response();
    let h = res.headers_mut();
    h.insert(header::LOCATION, HeaderValue::from_static("/reports"));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        h.insert(header::SET_COOKIE, v);
    }
    secure_headers(h);
    Ok(res)
}

async fn csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(file): Path<String>,
    Query(q): Query<RangeQuery>,
) -> Result<Response, ApiError> {
    let Some(key) = file
        .strip_suffix(".csv")
        .and_then(|k| tables::KEYS.iter().find(|x| **x == k))
    else {
        return Err(ApiError::not_found("no such report table"));
    };
    if let Access::Login = access(&state, &headers)? {
        return Err(ApiError::unauthorized(
            "sign in at /reports or send a bearer token",
        ));
    }
    let (_, from_day, to_day, from_ms, to_ms) = range(&q)?;
    let (rows, uploads) = load(&state, from_ms, to_ms).await?;
    let table = match *key {
        "daily" => tables::daily(&rows, from_day, to_day),
        "messengers" => tables::messengers(&rows),
        "attribution" => tables::attribution(&rows),
        "sources" => tables::sources(&rows),
        "uploads" => tables::uploads(&uploads),
        _ => tables::chats(&rows, usize::MAX),
    };
    let mut res = (StatusCode::OK, tables::to_csv(&table)).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let disposition = format!(
        "attachment; filename=\"chattag-{}-{}-{}.csv\"",
        key,
        crate::dates::date_of_day(from_day),
        crate::dates::date_of_day(to_day)
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    secure_headers(h);
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions() {
        let token = Secret::new("read-token-0123456789").unwrap();
        let now = 1_800_000_000;
        let v = session_value(&token, now + 100);
        assert!(session_valid(&token, &v, now));
        assert!(!session_valid(&token, &v, now + 101));
        let other = Secret::new("another-token-0123456789").unwrap();
        assert!(!session_valid(&other, &v, now));
        let forged = format!("{}.{}", now + 100, "0".repeat(64));
        assert!(!session_valid(&token, &forged, now));
        assert!(!v.contains("read-token"));
    }

    #[test]
    fn form_decoding() {
        assert_eq!(
            form_value(b"token=a%2Bb+c&x=1", "token").as_deref(),
            Some("a+b c")
        );
        assert_eq!(form_value(b"x=1", "token"), None);
    }
}
