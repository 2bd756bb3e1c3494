//! Prometheus metrics (`GET /metrics`, text exposition format).
//!
//! Extension point: a module registers its own metrics into the [`Registry`] passed to
//! `app::build_state` (use `registry.sub_registry_with_prefix("chats")`), keeps the handles in
//! its own state, and they appear on `/metrics` with the rest.

use std::time::Duration;

use axum::http::Method;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub route: String,
    pub method: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    pub code: String,
}

/// The method as a label: a standard one, or `other` (request data never becomes a label
/// as it is: each distinct value would be a series kept for the life of the process).
pub fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// Webhook senders a label may name; anything else is `other`.
const MESSENGERS: &[&str] = &["telegram", "whatsapp", "viber", "max", "intake"];
/// Match methods a label may name (chats::matching::Method); anything else is `other`.
const MATCH_METHODS: &[&str] = &["exact-link", "exact-text", "probable-click", "unmatched"];

fn closed(value: &str, known: &[&'static str]) -> &'static str {
    known
        .iter()
        .find(|k| **k == value)
        .copied()
        .unwrap_or("other")
}

fn latency_histogram() -> Histogram {
    // 0.1 ms .. ~3.3 s
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

pub struct Metrics {
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_seconds: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub events_accepted: Counter,
    pub events_duplicate: Counter,
    pub requests_rejected: Family<CodeLabels, Counter>,
    /// Set when scraped: events acknowledged and not yet applied to the tables.
    pub inbox_backlog: Gauge,
    pub chats: ChatMetrics,
}

impl Metrics {
    pub fn register(registry: &mut Registry) -> Metrics {
        let m = Metrics {
            http_requests: Family::default(),
            http_seconds: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            events_accepted: Counter::default(),
            events_duplicate: Counter::default(),
            requests_rejected: Family::default(),
            inbox_backlog: Gauge::default(),
            chats: ChatMetrics::register(registry),
        };
        registry.register(
            "chattag_inbox_backlog_events",
            "Events acknowledged (durable in the inbox) and not yet applied to the mapping tables",
            m.inbox_backlog.clone(),
        );
        registry.register(
            "chattag_http_requests",
            "HTTP requests by route, method and status",
            m.http_requests.clone(),
        );
        registry.register(
            "chattag_http_request_seconds",
            "HTTP request latency by route",
            m.http_seconds.clone(),
        );
        registry.register(
            "chattag_events_accepted",
            "Events newly stored",
            m.events_accepted.clone(),
        );
        registry.register(
            "chattag_events_duplicate",
            "Events received again and not stored twice",
            m.events_duplicate.clone(),
        );
        registry.register(
            "chattag_requests_rejected",
            "Requests refused, by error code",
            m.requests_rejected.clone(),
        );
        m
    }

    /// `code`: an [`crate::error::ErrorCode`]'s wire name.
    pub fn rejected(&self, code: &'static str) {
        self.requests_rejected
            .get_or_create(&CodeLabels {
                code: code.to_owned(),
            })
            .inc();
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    /// `telegram` | `whatsapp` | `viber` | `max` | `intake` (POST /v1/chats).
    pub messenger: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MatchLabels {
    /// `exact-link` | `exact-text` | `probable-click` | `unmatched`.
    pub method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UnreadableLabels {
    /// `telegram` | `whatsapp` | `viber` | `max`.
    pub messenger: String,
    /// `shape` | `no-partner` | `timestamp` (see `chats::inbound::UnreadableReason`).
    pub reason: String,
}

/// What became of one webhook delivery (or one intake request).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// Verified and stored (also a delivery with nothing to store, e.g. an ignored update kind).
    Accepted,
    /// Verified, but every message in it had been delivered before (a messenger retry).
    Duplicate,
    /// Failed sender verification (signature, secret token, intake bearer token).
    Refused,
    /// Verified, but the payload could not be parsed or validated.
    Invalid,
    /// The messenger's secret is not configured on this collector (503).
    Disabled,
    /// Storage failed; the messenger will retry.
    Failed,
}

impl WebhookOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookOutcome::Accepted => "accepted",
            WebhookOutcome::Duplicate => "duplicate",
            WebhookOutcome::Refused => "refused",
            WebhookOutcome::Invalid => "invalid",
            WebhookOutcome::Disabled => "disabled",
            WebhookOutcome::Failed => "failed",
        }
    }
}

/// Chats in: webhook deliveries by messenger and outcome, and how new conversations were matched.
/// (Metrica uploads run in the `upload metrica` process; the server reports them from the
/// database, see `metrica::upload_metrics`.)
pub struct ChatMetrics {
    pub webhooks: Family<WebhookLabels, Counter>,
    pub matches: Family<MatchLabels, Counter>,
    pub unreadable: Family<UnreadableLabels, Counter>,
}

impl ChatMetrics {
    pub fn register(registry: &mut Registry) -> ChatMetrics {
        let m = ChatMetrics {
            webhooks: Family::default(),
            matches: Family::default(),
            unreadable: Family::default(),
        };
        registry.register(
            "chattag_chat_webhooks",
            "Chat webhook deliveries and intake requests, by messenger and outcome",
            m.webhooks.clone(),
        );
        registry.register(
            "chattag_chat_matches",
            "New conversations, by how they were tied to a visit",
            m.matches.clone(),
        );
        registry.register(
            "chattag_chat_webhook_unreadable",
            "Webhook items kept raw because the collector could not read them, by messenger and reason",
            m.unreadable.clone(),
        );
        m
    }

    /// Both label values come from closed sets (messenger names, `UnreadableReason`).
    pub fn unreadable(&self, messenger: &'static str, reason: &'static str) {
        self.unreadable
            .get_or_create(&UnreadableLabels {
                messenger: messenger.to_owned(),
                reason: reason.to_owned(),
            })
            .inc();
    }

    pub fn webhook(&self, messenger: &str, outcome: WebhookOutcome) {
        self.webhooks
            .get_or_create(&WebhookLabels {
                messenger: closed(messenger, MESSENGERS).to_owned(),
                outcome: outcome.as_str().to_owned(),
            })
            .inc();
    }

    pub fn matched(&self, method: &str) {
        self.matches
            .get_or_create(&MatchLabels {
                method: closed(method, MATCH_METHODS).to_owned(),
            })
            .inc();
    }
}

/// Group-commit health: how many requests share a transaction and how long COMMIT takes.
#[derive(Default)]
pub struct StoreMetrics {
    commits: Counter,
    commit_failures: Counter,
    jobs_per_commit: Option<Histogram>,
    commit_seconds: Option<Histogram>,
}

impl StoreMetrics {
    pub fn register(registry: &mut Registry) -> StoreMetrics {
        let m = StoreMetrics {
            commits: Counter::default(),
            commit_failures: Counter::default(),
            jobs_per_commit: Some(Histogram::new(exponential_buckets(1.0, 2.0, 11))),
            commit_seconds: Some(latency_histogram()),
        };
        registry.register(
            "chattag_store_commits",
            "Group-commit transactions",
            m.commits.clone(),
        );
        registry.register(
            "chattag_store_commit_failures",
            "Group-commit transactions that failed",
            m.commit_failures.clone(),
        );
        if let Some(h) = &m.jobs_per_commit {
            registry.register(
                "chattag_store_jobs_per_commit",
                "Write requests per transaction",
                h.clone(),
            );
        }
        if let Some(h) = &m.commit_seconds {
            registry.register(
                "chattag_store_commit_seconds",
                "Time to run and commit one transaction",
                h.clone(),
            );
        }
        m
    }

    pub fn observe_commit(&self, jobs: usize, took: Duration, ok: bool) {
        self.commits.inc();
        if !ok {
            self.commit_failures.inc();
        }
        if let Some(h) = &self.jobs_per_commit {
            h.observe(jobs as f64);
        }
        if let Some(h) = &self.commit_seconds {
            h.observe(took.as_secs_f64());
        }
    }
}

pub fn render(registry: &Registry) -> Result<String, std::fmt::Error> {
    let mut out = String::with_capacity(8 * 1024);
    prometheus_client::encoding::text::encode(&mut out, registry)?;
    Ok(out)
}
