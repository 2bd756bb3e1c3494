//! CORS per site: a request whose `Origin` is one of a configured site's origins gets that
//! origin echoed back (never `*`), and the handler learns which site it is; any other origin is
//! refused before the handler runs. Requests without `Origin` (curl, servers) pass through —
//! routes that need a site (ingest) refuse them themselves.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::error::{ApiError, ErrorCode};

/// The site a browser request came from, set by [`layer`].
#[derive(Clone, Debug)]
pub struct RequestSite(pub String);

/// How long a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE: &str = "86400";

pub async fn layer(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(origin) = req.headers().get(header::ORIGIN).cloned() else {
        if req.method() == Method::OPTIONS {
            return ApiError::bad_request(
                ErrorCode::OriginMissing,
                "a preflight request needs an Origin header",
            )
            .into_response();
        }
        let mut res = next.run(req).await;
        res.headers_mut()
            .append(header::VARY, HeaderValue::from_static("Origin"));
        return res;
    };
    let site = origin
        .to_str()
        .ok()
        .and_then(|o| state.config.sites.by_origin(o))
        .map(|s| s.id.clone());
    let Some(site) = site else {
        return ApiError::forbidden(
            ErrorCode::OriginNotAllowed,
            "this origin is not an allowed site of this collector",
        )
        .into_response();
    };
    let mut res = if req.method() == Method::OPTIONS {
        let mut res = StatusCode::NO_CONTENT.into_response();
        let h = res.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type, authorization"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(PREFLIGHT_MAX_AGE),
        );
        res
    } else {
        req.extensions_mut().insert(RequestSite(site));
        next.run(req).await
    };
    let h = res.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("retry-after"),
    );
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    res
}
