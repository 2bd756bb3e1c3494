//! Client for Metrica's chat upload API (management API v1, offline conversions of type CHATS).
//!
//! * `POST {base}/management/v1/counter/{counter}/offline_conversions/upload?type=CHATS[&comment=…]`
//!   with `multipart/form-data`, the CSV in field `file`, header `Authorization: OAuth <token>`;
//! * `GET {base}/management/v1/counter/{counter}/offline_conversions/uploading/{id}` for status;
//! * `GET {base}/management/v1/counter/{counter}/offline_conversions/uploadings?limit=&offset=`,
//!   the counter's uploads, to find a file whose answer was lost by the comment it was sent with
//!   (see [`file_comment`]).
//!
//! The documentation shows the upload object both as `{"uploading":{…}}` and as
//! `{"uploadings":[{…}]}`; both are accepted. The base URL is configurable so tests run against
//! a local stand-in. The token is only ever placed in the request header: it is not part of any
//! error, log line or `Debug` output.

use std::time::{Duration, Instant};

use serde::Deserialize;

/// The OAuth token: read from a file or the environment, never from the command line.
#[derive(Clone)]
pub struct OAuthToken(String);

#[derive(Debug)]
pub enum TokenError {
    Missing,
    Read(String, std::io::Error),
    Invalid,
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::Missing => f.write_str(
                "no Metrica OAuth token: set CHATTAG_METRICA_TOKEN or --metrica-token-file (never on the command line)",
            ),
            TokenError::Read(path, e) => write!(f, "cannot read the Metrica token file {path}: {e}"),
            TokenError::Invalid => f.write_str("the Metrica token is empty or contains spaces or control characters"),
        }
    }
}

impl std::error::Error for TokenError {}

impl OAuthToken {
    pub fn new(raw: &str) -> Result<OAuthToken, TokenError> {
        let t = raw.trim();
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenError::Invalid);
        }
        Ok(OAuthToken(t.to_string()))
    }

    /// The file wins over the environment when both are given (a file is the deliberate choice).
    pub fn load(
        file: Option<&std::path::Path>,
        env_value: Option<String>,
    ) -> Result<OAuthToken, TokenError> {
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| TokenError::Read(path.display().to_string(), e))?;
            return OAuthToken::new(text.lines().next().unwrap_or(""));
        }
        match env_value {
            Some(v) => OAuthToken::new(&v),
            None => Err(TokenError::Missing),
        }
    }

    fn header(&self) -> String {
        format!("OAuth {}", self.0)
    }
}

impl std::fmt::Debug for OAuthToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OAuthToken(***)")
    }
}

/// The upload object.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Uploading {
    pub id: u64,
    #[serde(default)]
    pub create_time: Option<String>,
    #[serde(default)]
    pub source_quantity: Option<u64>,
    #[serde(default)]
    pub line_quantity: Option<u64>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub client_id_type: Option<String>,
    pub status: String,
}

impl Uploading {
    /// `PROCESSED` (done) and `LINKAGE_FAILURE` (no visitor ID matched) are final.
    pub fn is_final(&self) -> bool {
        matches!(self.status.as_str(), "PROCESSED" | "LINKAGE_FAILURE")
    }
}

#[derive(Deserialize)]
struct List {
    #[serde(default)]
    uploadings: Vec<Uploading>,
}

/// The comment a file is sent with: the site owner's comment, then a key naming the
/// collector's upload (its ledger ID and creation time, so two databases uploading to one
/// counter do not share keys). Metrica allows 255 characters of letters, digits and spaces; the
/// owner's part is shortened to leave the key whole.
pub fn file_comment(key: &str, comment: &str) -> String {
    let room = 255usize.saturating_sub(key.chars().count() + 1);
    let owner: String = comment
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ')
        .take(room)
        .collect();
    match owner.trim() {
        "" => key.to_string(),
        owner => format!("{owner} {key}"),
    }
}

/// The key of upload `id` created at `created_ms` (see [`file_comment`]).
pub fn file_key(id: i64, created_ms: i64) -> String {
    format!("file {id} {created_ms}")
}

/// Whether a listed upload's comment carries `key` (at its end, as a whole word).
pub fn comment_names(comment: &str, key: &str) -> bool {
    comment
        .trim()
        .strip_suffix(key)
        .is_some_and(|rest| rest.is_empty() || rest.ends_with(' '))
}

/// Uploads listed per request (Metrica's documented default).
const LIST_PAGE: usize = 10_000;

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    uploading: Option<Uploading>,
    #[serde(default)]
    uploadings: Option<Vec<Uploading>>,
}

#[derive(Debug)]
pub enum UploadError {
    /// Connection refused, timeout, TLS: worth retrying.
    Transport(String),
    /// Metrica answered with an error status. `body` is Metrica's own message, shortened.
    Status { status: u16, body: String },
    /// A 2xx whose body is not an upload object.
    Response(String),
}

impl UploadError {
    /// 5xx, 429 and transport failures may pass on a later attempt; 4xx (bad token, bad file)
    /// will not.
    pub fn is_retryable(&self) -> bool {
        match self {
            UploadError::Transport(_) => true,
            UploadError::Status { status, .. } => *status >= 500 || *status == 429,
            UploadError::Response(_) => false,
        }
    }
}

impl std::fmt::Display for UploadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UploadError::Transport(e) => write!(f, "cannot reach the Metrica API: {e}"),
            UploadError::Status { status, body } => {
                write!(f, "Metrica API answered {status}: {body}")
            }
            UploadError::Response(e) => write!(f, "unexpected Metrica API response: {e}"),
        }
    }
}

impl std::error::Error for UploadError {}

pub fn parse_uploading(body: &str) -> Result<Uploading, UploadError> {
    let env: Envelope =
        serde_json::from_str(body).map_err(|e| UploadError::Response(e.to_string()))?;
    env.uploading
        .or_else(|| env.uploadings.and_then(|v| v.into_iter().next()))
        .ok_or_else(|| {
            UploadError::Response("neither \"uploading\" nor \"uploadings\" in the body".into())
        })
}

pub const DEFAULT_BASE: &str = "https://api-metrika.yandex.net";

pub struct MetricaClient {
    base: String,
    token: OAuthToken,
    agent: ureq::Agent,
}

/// Everything but RFC 3986's unreserved characters is percent-encoded in a query value.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn encode_query(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, QUERY_VALUE).to_string()
}

/// The multipart envelope around a CSV: its content type and the bytes before and after the
/// file, so the body is sent as prefix, file, suffix without copying the file into one buffer.
/// The boundary cannot occur in the CSV: retried with a counter until absent.
struct Multipart {
    content_type: String,
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl Multipart {
    fn new(csv: &str, filename: &str) -> Multipart {
        let mut n = 0u32;
        let boundary = loop {
            let b = format!(
                "----chattag-{:016x}-{n}",
                csv.len() as u64 ^ 0x9e37_79b9_7f4a_7c15
            );
            if !csv.contains(&b) {
                break b;
            }
            n += 1;
        };
        Multipart {
            content_type: format!("multipart/form-data; boundary={boundary}"),
            head: format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: text/csv; charset=utf-8\r\n\r\n").into_bytes(),
            tail: format!("\r\n--{boundary}--\r\n").into_bytes(),
        }
    }

    fn len(&self, csv: &str) -> usize {
        self.head.len() + csv.len() + self.tail.len()
    }

    /// The whole body, read in order.
    fn reader<'a>(&'a self, csv: &'a str) -> impl std::io::Read + 'a {
        use std::io::Read;
        self.head
            .as_slice()
            .chain(csv.as_bytes())
            .chain(self.tail.as_slice())
    }
}

fn excerpt(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(300).collect()
}

impl MetricaClient {
    pub fn new(base: &str, token: OAuthToken, timeout: Duration) -> MetricaClient {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        MetricaClient {
            base: base.trim_end_matches('/').to_string(),
            token,
            agent,
        }
    }

    fn answer(
        resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Uploading, UploadError> {
        parse_uploading(&Self::body(resp)?)
    }

    /// A 2xx answer's text, or the error.
    fn body(
        resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<String, UploadError> {
        let mut resp = resp.map_err(|e| UploadError::Transport(e.to_string()))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_string()
            .map_err(|e| UploadError::Transport(e.to_string()))?;
        if !(200..300).contains(&status) {
            return Err(UploadError::Status {
                status,
                body: excerpt(&text),
            });
        }
        Ok(text)
    }

    /// Chat rows: `type=CHATS`.
    pub fn upload(
        &self,
        counter: u64,
        csv: &str,
        comment: Option<&str>,
    ) -> Result<Uploading, UploadError> {
        self.upload_typed(counter, "CHATS", csv, comment)
    }

    /// Offline conversions on a goal: `type=BASIC` (the documented default type).
    pub fn upload_conversions(
        &self,
        counter: u64,
        csv: &str,
        comment: Option<&str>,
    ) -> Result<Uploading, UploadError> {
        self.upload_typed(counter, "BASIC", csv, comment)
    }

    fn upload_typed(
        &self,
        counter: u64,
        kind: &str,
        csv: &str,
        comment: Option<&str>,
    ) -> Result<Uploading, UploadError> {
        let mut url = format!(
            "{}/management/v1/counter/{counter}/offline_conversions/upload?type={kind}",
            self.base
        );
        if let Some(c) = comment {
            // Metrica allows 255 characters of digits, Latin and Cyrillic letters.
            let c: String = c
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == ' ')
                .take(255)
                .collect();
            url.push_str("&comment=");
            url.push_str(&encode_query(&c));
        }
        let filename = if kind == "CHATS" {
            "chats.csv"
        } else {
            "conversions.csv"
        };
        let body = Multipart::new(csv, filename);
        // Streamed from the file's text with its length declared (no chunked encoding).
        let mut reader = body.reader(csv);
        Self::answer(
            self.agent
                .post(&url)
                .header("Authorization", &self.token.header())
                .header("Content-Type", &body.content_type)
                .header("Content-Length", &body.len(csv).to_string())
                .send(ureq::SendBody::from_reader(&mut reader)),
        )
    }

    pub fn status(&self, counter: u64, id: u64) -> Result<Uploading, UploadError> {
        let url = format!(
            "{}/management/v1/counter/{counter}/offline_conversions/uploading/{id}",
            self.base
        );
        Self::answer(
            self.agent
                .get(&url)
                .header("Authorization", &self.token.header())
                .call(),
        )
    }

    /// The counter's upload whose comment carries `key`, if Metrica lists one: a file sent
    /// before whose answer was lost (a dropped connection, a killed process) is found here
    /// instead of being sent twice. Read in pages of Metrica's default size until a short one.
    pub fn find_by_comment(
        &self,
        counter: u64,
        key: &str,
    ) -> Result<Option<Uploading>, UploadError> {
        let mut offset = 0;
        loop {
            let url = format!(
                "{}/management/v1/counter/{counter}/offline_conversions/uploadings?limit={LIST_PAGE}&offset={offset}",
                self.base
            );
            let resp = self
                .agent
                .get(&url)
                .header("Authorization", &self.token.header())
                .call();
            let text = Self::body(resp)?;
            let list: List =
                serde_json::from_str(&text).map_err(|e| UploadError::Response(e.to_string()))?;
            let n = list.uploadings.len();
            if let Some(found) = list
                .uploadings
                .into_iter()
                .find(|u| u.comment.as_deref().is_some_and(|c| comment_names(c, key)))
            {
                return Ok(Some(found));
            }
            if n < LIST_PAGE {
                return Ok(None);
            }
            offset += n;
        }
    }

    /// Polls until a final status or `max_wait` passed; returns the last status seen.
    pub fn poll(
        &self,
        counter: u64,
        id: u64,
        every: Duration,
        max_wait: Duration,
    ) -> Result<Uploading, UploadError> {
        let start = Instant::now();
        loop {
            let u = self.status(counter, id)?;
            if u.is_final() || start.elapsed() + every > max_wait {
                return Ok(u);
            }
            std::thread::sleep(every);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_response_shapes() {
        let one = r#"{"uploading":{"id":42,"create_time":"2026-11-21T06:00:00Z","source_quantity":3,"line_quantity":2,"comment":"x","type":"CHATS","client_id_type":"CLIENT_ID","status":"UPLOADED"}}"#;
        let many = r#"{"uploadings":[{"id":43,"create_time":"2026-11-21T06:00:00Z","source_quantity":1,"line_quantity":1,"comment":"","type":"CHATS","client_id_type":"USER_ID","status":"PROCESSED"}]}"#;
        let a = parse_uploading(one).unwrap();
        assert_eq!(
            (a.id, a.status.as_str(), a.line_quantity, a.is_final()),
            (42, "UPLOADED", Some(2), false)
        );
        let b = parse_uploading(many).unwrap();
        assert_eq!((b.id, b.is_final()), (43, true));
        assert!(parse_uploading(r#"{"uploadings":[]}"#).is_err());
        assert!(parse_uploading("<html>").is_err());
    }

    #[test]
    fn token_never_printed() {
        let t = OAuthToken::new("y0_AgAAAAAsecretsecret").unwrap();
        assert!(!format!("{t:?}").contains("secret"));
        assert!(OAuthToken::new("a b").is_err());
        assert!(matches!(
            OAuthToken::load(None, None),
            Err(TokenError::Missing)
        ));
    }

    #[test]
    fn multipart_shape() {
        let csv = "DateTime,ChatPlatform\r\n1,telegram\r\n";
        let m = Multipart::new(csv, "chats.csv");
        let boundary = m
            .content_type
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut m.reader(csv), &mut text).unwrap();
        assert_eq!(text.len(), m.len(csv));
        assert!(text.starts_with(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\""
        )));
        assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")));
        assert_eq!(encode_query("Чаты 1"), "%D0%A7%D0%B0%D1%82%D1%8B%201");
    }

    #[test]
    fn file_comments_carry_their_key() {
        let key = file_key(12, 1_765_000_000_123);
        assert_eq!(key, "file 12 1765000000123");
        let c = file_comment(&key, "chattag");
        assert_eq!(c, "chattag file 12 1765000000123");
        assert!(comment_names(&c, &key));
        assert!(comment_names(&key, &key));
        // Upload 2 is not upload 12, nor 12 of another database.
        assert!(!comment_names(&c, &file_key(2, 1_765_000_000_123)));
        assert!(!comment_names(&c, &file_key(12, 765_000_000_123)));
        assert_eq!(file_comment(&key, "Чаты: май!"), format!("Чаты май {key}"));
        let long = file_comment(&key, &"x".repeat(400));
        assert_eq!(long.chars().count(), 255);
        assert!(comment_names(&long, &key));
    }

    #[test]
    fn retry_classes() {
        assert!(UploadError::Status {
            status: 503,
            body: String::new()
        }
        .is_retryable());
        assert!(UploadError::Status {
            status: 429,
            body: String::new()
        }
        .is_retryable());
        assert!(!UploadError::Status {
            status: 403,
            body: String::new()
        }
        .is_retryable());
        assert!(UploadError::Transport("refused".into()).is_retryable());
    }
}
