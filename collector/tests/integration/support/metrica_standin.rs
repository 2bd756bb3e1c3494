//! A local stand-in for Metrica's chat upload API, implementing the documented contract and
//! recording what it received:
//!
//! * `POST /management/v1/counter/{id}/offline_conversions/upload?type=CHATS[&comment=]`,
//!   `multipart/form-data` with the CSV in field `file`, `Authorization: OAuth <token>`;
//!   answers the upload object, alternately as `{"uploading":{…}}` and `{"uploadings":[{…}]}`
//!   (the documentation shows both);
//! * `GET …/offline_conversions/uploading/{id}`: `UPLOADED` first, then `PROCESSED`, or
//!   `LINKAGE_FAILURE` when no row carries a visitor ID;
//! * `GET …/offline_conversions/uploadings?limit=&offset=`: the counter's uploads with their
//!   comments, `{"uploadings":[…]}` (documented default limit 10,000);
//! * on demand (`drop_answers`), an upload that is accepted and stored but whose connection is
//!   closed before the answer (the answer lost on the way back);
//! * `POST …/offline_conversions/upload?type=BASIC` (or no `type`): offline conversions, checked
//!   for the documented `Target`, `DateTime` and at least one of `ClientId` / `UserId` / `Yclid` /
//!   `PurchaseId`;
//! * on demand (`refuse_columns`), a 400 naming a chat column it does not accept — Metrica's
//!   documentation does not say how it answers an unknown column, so this is the case to survive;
//! * errors in Metrica's shape (`{"errors":[…],"code":…,"message":…}`): 403 for a bad token,
//!   400 for a malformed request or file, 503 on demand (`fail_next`) to test retries.
//!
//! It validates the file the way the documentation describes: `DateTime` (Unix seconds, in the
//! past) and `ChatPlatform` (whatsapp | telegram | viber) in every row, at least one chat-partner
//! column; `line_quantity` counts the rows that pass.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Clone, Debug)]
pub struct Received {
    pub counter: u64,
    pub authorized: bool,
    pub comment: Option<String>,
    pub csv: Option<String>,
    /// The answer's status code.
    pub status: u16,
}

#[derive(Clone, Debug)]
pub struct Stored {
    pub id: u64,
    /// `CHATS` or `BASIC`.
    pub kind: String,
    pub counter: u64,
    pub csv: String,
    pub source_quantity: u64,
    pub line_quantity: u64,
    pub attributed: u64,
    pub polls: u32,
    /// The `comment` it was sent with.
    pub comment: String,
}

#[derive(Default)]
pub struct State {
    pub token: String,
    /// Answer the next N upload requests with 503.
    pub fail_next: u32,
    /// Chat-file headers answered with 400 "Unknown column".
    pub refuse_columns: Vec<String>,
    pub received: Vec<Received>,
    pub uploads: Vec<Stored>,
    pub status_requests: u32,
    /// Once this many files are stored, the next upload request is read and then left without
    /// an answer until [`Standin::release`] (a client killed mid-upload); it is never stored.
    pub hold_after: Option<usize>,
    /// The CSV of each held request.
    pub held: Vec<String>,
    pub released: bool,
    /// Once `drop_from` files are stored, accept and store the next N uploads, then close the
    /// connection without an answer.
    pub drop_answers: u32,
    pub drop_from: usize,
    /// Answer the next N requests for the list of uploads with 503.
    pub fail_lists: u32,
    /// Requests for the list of uploads.
    pub list_requests: u32,
}

pub struct Standin {
    pub base: String,
    pub state: Arc<Mutex<State>>,
}

impl Standin {
    /// `upload metrica` for counter 12345 from 2025-01-01 against this stand-in, one attempt,
    /// short waits: the call the tests outside metrica_upload.rs share.
    pub fn single_upload_args(&self) -> [&str; 14] {
        [
            "upload",
            "metrica",
            "--counter",
            "12345",
            "--from",
            "2025-01-01",
            "--metrica-api",
            &self.base,
            "--attempts",
            "1",
            "--wait",
            "3s",
            "--poll-interval",
            "50ms",
        ]
    }

    pub fn start(token: &str) -> Standin {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind stand-in");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(State {
            token: token.to_string(),
            ..State::default()
        }));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || {
                    let _ = handle(stream, &state);
                });
            }
        });
        Standin { base, state }
    }

    pub fn fail_next(&self, n: u32) {
        self.state.lock().unwrap().fail_next = n;
    }

    /// Holds the upload request that comes after `stored` accepted files (see `State::hold_after`).
    pub fn hold_after(&self, stored: usize) {
        self.state.lock().unwrap().hold_after = Some(stored);
    }

    /// CSVs of the requests held so far.
    pub fn held(&self) -> Vec<String> {
        self.state.lock().unwrap().held.clone()
    }

    /// Lets held requests go: they are answered 503 (to a client that is gone) and not stored.
    pub fn release(&self) {
        let mut st = self.state.lock().unwrap();
        st.released = true;
        st.hold_after = None;
    }

    /// Once `stored` files are stored, the next `n` accepted uploads are stored and their
    /// answers lost (see `State::drop_answers`).
    pub fn drop_answers_after(&self, stored: usize, n: u32) {
        let mut st = self.state.lock().unwrap();
        st.drop_from = stored;
        st.drop_answers = n;
    }

    /// The next `n` requests for the list of uploads fail with 503.
    pub fn fail_lists(&self, n: u32) {
        self.state.lock().unwrap().fail_lists = n;
    }

    pub fn refuse_columns(&self, names: &[&str]) {
        self.state.lock().unwrap().refuse_columns = names.iter().map(|n| n.to_string()).collect();
    }

    /// Accepted chat files (`type=CHATS`).
    pub fn chat_uploads(&self) -> Vec<Stored> {
        self.uploads()
            .into_iter()
            .filter(|u| u.kind == "CHATS")
            .collect()
    }

    /// Accepted offline-conversion files (`type=BASIC`).
    pub fn conversion_uploads(&self) -> Vec<Stored> {
        self.uploads()
            .into_iter()
            .filter(|u| u.kind == "BASIC")
            .collect()
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    pub fn uploads(&self) -> Vec<Stored> {
        self.state.lock().unwrap().uploads.clone()
    }
}

struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn read_request(stream: &mut TcpStream) -> std::io::Result<Request> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut req = Request {
        method,
        target,
        headers,
        body: Vec::new(),
    };
    if let Some(len) = req
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        req.body = vec![0; len];
        reader.read_exact(&mut req.body)?;
    } else if req
        .header("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            req.body.extend_from_slice(&chunk[..n]);
        }
    }
    Ok(req)
}

fn respond(stream: &mut TcpStream, status: u16, body: &str) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Service Unavailable",
    };
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn error_body(status: u16, kind: &str, message: &str) -> String {
    serde_json::json!({"errors": [{"error_type": kind, "message": message}], "code": status, "message": message}).to_string()
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| percent_decode(v))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `file` part of a multipart body.
fn multipart_file(content_type: &str, body: &[u8]) -> Option<String> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))?
        .trim_matches('"');
    let text = String::from_utf8(body.to_vec()).ok()?;
    let delim = format!("--{boundary}");
    for part in text.split(&delim) {
        let Some((head, content)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        if head.contains("name=\"file\"") {
            return Some(content.strip_suffix("\r\n").unwrap_or(content).to_string());
        }
    }
    None
}

/// Metrica-like validation: (rows, valid rows, rows with a visitor ID) or a file-level error.
fn validate_csv(csv: &str) -> Result<(u64, u64, u64), String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().ok_or("empty file")?.split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (Some(dt), Some(pl)) = (col("DateTime"), col("ChatPlatform")) else {
        return Err("DateTime and ChatPlatform columns are required".into());
    };
    let partner: Vec<usize> = ["ChatUsername", "ChatUserID", "PhoneNumber"]
        .iter()
        .filter_map(|c| col(c))
        .collect();
    if partner.is_empty() {
        return Err("a chat partner column is required".into());
    }
    let visitor: Vec<usize> = ["ClientID", "UserID", "Yclid", "PurchaseID"]
        .iter()
        .filter_map(|c| col(c))
        .collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (mut rows, mut valid, mut attributed) = (0, 0, 0);
    for line in lines.filter(|l| !l.is_empty()) {
        rows += 1;
        // The test data has no quoted commas in these columns; a simple split is enough here.
        let cells: Vec<&str> = line.split(',').collect();
        let ok_time = cells
            .get(dt)
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|t| t < now);
        let ok_platform = cells
            .get(pl)
            .is_some_and(|p| ["whatsapp", "telegram", "viber"].contains(p));
        let ok_partner = partner
            .iter()
            .any(|&i| cells.get(i).is_some_and(|v| !v.is_empty()));
        if ok_time && ok_platform && ok_partner {
            valid += 1;
            if visitor
                .iter()
                .any(|&i| cells.get(i).is_some_and(|v| !v.is_empty()))
            {
                attributed += 1;
            }
        }
    }
    Ok((rows, valid, attributed))
}

/// Offline conversions: (rows, valid rows, rows with a visitor ID) or a file-level error.
fn validate_conversions(csv: &str) -> Result<(u64, u64, u64), String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().ok_or("empty file")?.split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (Some(target), Some(dt)) = (col("Target"), col("DateTime")) else {
        return Err("Target and DateTime columns are required".into());
    };
    let ids: Vec<usize> = ["ClientId", "UserId", "Yclid", "PurchaseId"]
        .iter()
        .filter_map(|c| col(c))
        .collect();
    if ids.is_empty() {
        return Err("one of ClientId, UserId, Yclid, PurchaseId is required".into());
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (mut rows, mut valid) = (0, 0);
    for line in lines.filter(|l| !l.is_empty()) {
        rows += 1;
        let cells: Vec<&str> = line.split(',').collect();
        let ok = cells.get(target).is_some_and(|t| !t.is_empty())
            && cells
                .get(dt)
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|t| t < now)
            && ids
                .iter()
                .any(|&i| cells.get(i).is_some_and(|v| !v.is_empty()));
        valid += u64::from(ok);
    }
    Ok((rows, valid, valid))
}

fn uploading_json(u: &Stored, status: &str, comment: &str) -> serde_json::Value {
    serde_json::json!({"id": u.id, "create_time": "2026-11-21T06:00:00Z", "source_quantity": u.source_quantity,
        "line_quantity": u.line_quantity, "comment": comment, "type": u.kind, "client_id_type": "CLIENT_ID", "status": status})
}

fn handle(mut stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let req = read_request(&mut stream)?;
    let (path, query) = req.target.split_once('?').unwrap_or((&req.target, ""));
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut st = state.lock().unwrap();
    let authorized = req.header("authorization") == Some(&format!("OAuth {}", st.token));
    match (req.method.as_str(), segments.as_slice()) {
        ("POST", ["management", "v1", "counter", counter, "offline_conversions", "upload"]) => {
            let counter: u64 = counter.parse().unwrap_or(0);
            let comment = query_param(query, "comment");
            let kind = query_param(query, "type").unwrap_or_else(|| "BASIC".into());
            let csv = req
                .header("content-type")
                .and_then(|ct| multipart_file(ct, &req.body));
            if st.hold_after.is_some_and(|n| st.uploads.len() >= n) {
                st.held.push(csv.clone().unwrap_or_default());
                drop(st);
                while !state.lock().unwrap().released {
                    std::thread::sleep(Duration::from_millis(20));
                }
                return respond(
                    &mut stream,
                    503,
                    &error_body(503, "backend_error", "connection lost"),
                );
            }
            let mut record = Received {
                counter,
                authorized,
                comment: comment.clone(),
                csv: csv.clone(),
                status: 200,
            };
            let (status, body) = if !authorized {
                (403, error_body(403, "invalid_token", "Invalid oauth_token"))
            } else if !matches!(kind.as_str(), "CHATS" | "BASIC") {
                (
                    400,
                    error_body(400, "invalid_parameter", "type must be CHATS or BASIC"),
                )
            } else if st.fail_next > 0 {
                st.fail_next -= 1;
                (
                    503,
                    error_body(503, "backend_error", "Service temporarily unavailable"),
                )
            } else {
                let header = csv.as_deref().and_then(|c| c.lines().next()).unwrap_or("");
                let refused = header
                    .split(',')
                    .find(|h| kind == "CHATS" && st.refuse_columns.iter().any(|r| r == h))
                    .map(str::to_owned);
                let validate = if kind == "CHATS" {
                    validate_csv
                } else {
                    validate_conversions
                };
                match csv.as_deref().map(validate) {
                    _ if refused.is_some() => (
                        400,
                        error_body(
                            400,
                            "invalid_uploading",
                            &format!("Unknown column: {}", refused.unwrap_or_default()),
                        ),
                    ),
                    None => (
                        400,
                        error_body(
                            400,
                            "invalid_parameter",
                            "multipart field 'file' is required",
                        ),
                    ),
                    Some(Err(e)) => (400, error_body(400, "invalid_uploading", &e)),
                    Some(Ok((rows, valid, attributed))) => {
                        let id = 1000 + st.uploads.len() as u64;
                        let u = Stored {
                            id,
                            kind: kind.clone(),
                            counter,
                            csv: csv.clone().unwrap_or_default(),
                            source_quantity: rows,
                            line_quantity: valid,
                            attributed,
                            polls: 0,
                            comment: comment.clone().unwrap_or_default(),
                        };
                        let obj = uploading_json(&u, "UPLOADED", comment.as_deref().unwrap_or(""));
                        // Both documented shapes, alternately.
                        let body = if st.uploads.len().is_multiple_of(2) {
                            serde_json::json!({"uploading": obj})
                        } else {
                            serde_json::json!({"uploadings": [obj]})
                        };
                        let drop_answer = st.drop_answers > 0 && st.uploads.len() >= st.drop_from;
                        st.uploads.push(u);
                        if drop_answer {
                            st.drop_answers -= 1;
                            st.received.push(record);
                            // Stored; the connection closes with no answer.
                            return Ok(());
                        }
                        (200, body.to_string())
                    }
                }
            };
            record.status = status;
            st.received.push(record);
            drop(st);
            respond(&mut stream, status, &body)
        }
        ("GET", ["management", "v1", "counter", counter, "offline_conversions", "uploadings"]) => {
            st.list_requests += 1;
            if !authorized {
                drop(st);
                return respond(
                    &mut stream,
                    403,
                    &error_body(403, "invalid_token", "Invalid oauth_token"),
                );
            }
            if st.fail_lists > 0 {
                st.fail_lists -= 1;
                drop(st);
                return respond(
                    &mut stream,
                    503,
                    &error_body(503, "backend_error", "Service temporarily unavailable"),
                );
            }
            let counter: u64 = counter.parse().unwrap_or(0);
            let num = |name: &str, default: usize| {
                query_param(query, name)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(default)
            };
            let (limit, offset) = (num("limit", 10_000), num("offset", 0));
            let list: Vec<serde_json::Value> = st
                .uploads
                .iter()
                .filter(|u| u.counter == counter)
                .skip(offset)
                .take(limit)
                .map(|u| uploading_json(u, "UPLOADED", &u.comment))
                .collect();
            let body = serde_json::json!({ "uploadings": list }).to_string();
            drop(st);
            respond(&mut stream, 200, &body)
        }
        (
            "GET",
            ["management", "v1", "counter", _counter, "offline_conversions", "uploading", id],
        ) => {
            st.status_requests += 1;
            if !authorized {
                drop(st);
                return respond(
                    &mut stream,
                    403,
                    &error_body(403, "invalid_token", "Invalid oauth_token"),
                );
            }
            let id: u64 = id.parse().unwrap_or(0);
            let Some(u) = st.uploads.iter_mut().find(|u| u.id == id) else {
                drop(st);
                return respond(
                    &mut stream,
                    404,
                    &error_body(404, "not_found", "upload not found"),
                );
            };
            u.polls += 1;
            let status = match (u.polls, u.attributed) {
                (1, _) => "UPLOADED",
                (_, 0) => "LINKAGE_FAILURE",
                _ => "PROCESSED",
            };
            let body =
                serde_json::json!({"uploading": uploading_json(u, status, &u.comment)}).to_string();
            drop(st);
            respond(&mut stream, 200, &body)
        }
        _ => {
            drop(st);
            respond(
                &mut stream,
                404,
                &error_body(404, "not_found", "no such method"),
            )
        }
    }
}
