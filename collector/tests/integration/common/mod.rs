//! Test harness: the real `chattag-collector` binary on a free loopback port with a temporary
//! database, a minimal HTTP/1.1 client, and generators of valid events.
//!
//! The backend: SQLite (a file in the server's temporary directory), or, when
//! `CHATTAG_TEST_POSTGRES` holds the URL of a PostgreSQL cluster (`scripts/postgres.sh start`),
//! a fresh database on it per server, dropped afterwards. Tests that are about SQLite itself
//! (the inbox, its files, the disk floor) skip on PostgreSQL with [`skip_on_postgres`].

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub mod webhooks;

use chattag_core::{ChatId, Prefix};
use serde_json::{json, Value};

pub const ORIGIN: &str = "https://shop.example";
pub const TOKEN: &str = "test-read-token-0123456789";

const DEFAULT_ENV: [(&str, &str); 2] = [("CHATTAG_READ_TOKEN", TOKEN), ("CHATTAG_RATE_LIMIT", "0")];

pub struct Server {
    pub child: Child,
    pub addr: String,
    /// Held, not read: the temporary directory (database, inbox) is removed when the server is.
    #[allow(dead_code)]
    pub dir: tempfile::TempDir,
    /// The SQLite file (unused on PostgreSQL).
    pub db: PathBuf,
    /// The PostgreSQL database of this server, when the suite runs on PostgreSQL and this
    /// server owns it (dropped with it).
    pub pg: Option<PgDb>,
    /// The PostgreSQL URL this server uses (owned or shared with another server).
    pg_url: Option<String>,
    args: Vec<String>,
}

/// The base URL of the test cluster when the suite runs on PostgreSQL.
pub fn postgres_base() -> Option<String> {
    std::env::var("CHATTAG_TEST_POSTGRES")
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// True (after saying why on stderr) when the suite runs on PostgreSQL and this test is about
/// SQLite itself: `if skip_on_postgres("…") { return; }`.
pub fn skip_on_postgres(reason: &str) -> bool {
    if postgres_base().is_some() {
        eprintln!("skipped on PostgreSQL: {reason}");
        return true;
    }
    false
}

/// A fresh database on the test cluster, dropped (with its connections) when dropped.
pub struct PgDb {
    pub url: String,
    admin: String,
    name: String,
}

impl PgDb {
    pub fn create(base: &str) -> PgDb {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "chattag_t{}_{}_{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst),
            now_ms() % 1_000_000
        );
        let (root, _) = base.rsplit_once('/').expect("database URL with a path");
        let mut admin =
            postgres::Client::connect(base, postgres::NoTls).expect("connect to the test cluster");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create test database");
        PgDb {
            url: format!("{root}/{name}"),
            admin: base.to_owned(),
            name,
        }
    }

    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).expect("connect to the test database")
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

impl Server {
    /// Starts on a fresh temporary database with `ORIGIN` allowed, `TOKEN` as read token and
    /// rate limiting off, plus `extra` flags.
    pub fn start(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("data").join("chattag.db");
        let mut args: Vec<String> = vec!["--allowed-origin".into(), ORIGIN.into()];
        args.extend(extra.iter().map(|s| s.to_string()));
        // Limiting off through the env twin, so that a test may still pass --rate-limit.
        Server::launch(dir, db, args, &DEFAULT_ENV)
    }

    /// Like `start` but with exactly `args` and `env` (no defaults added).
    pub fn start_raw(args: &[&str], env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("chattag.db");
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        Server::launch(dir, db, args, env)
    }

    /// Like `start_raw`, on the SQLite database at `db` whatever the suite's backend (e.g. on a
    /// volume the test mounted in `dir`).
    pub fn start_at(
        dir: tempfile::TempDir,
        db: PathBuf,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Server {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let (child, addr) = spawn(db.as_os_str(), &args, env);
        Server {
            child,
            addr,
            dir,
            db,
            pg: None,
            pg_url: None,
            args,
        }
    }

    fn launch(
        dir: tempfile::TempDir,
        db: PathBuf,
        args: Vec<String>,
        env: &[(&str, &str)],
    ) -> Server {
        let pg = postgres_base().map(|base| PgDb::create(&base));
        let (child, addr) = spawn(&db_arg(&db, pg.as_ref()), &args, env);
        Server {
            child,
            addr,
            dir,
            db,
            pg_url: pg.as_ref().map(|p| p.url.clone()),
            pg,
            args,
        }
    }

    /// Another server process on `db` (a PostgreSQL URL shared with another server, which owns
    /// the database), with exactly `args` and `env`.
    pub fn on_database(db: &str, args: &[&str], env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let (child, addr) = spawn(std::ffi::OsStr::new(db), &args, env);
        Server {
            child,
            addr,
            db: dir.path().join("unused.db"),
            dir,
            pg: None,
            pg_url: Some(db.to_owned()),
            args,
        }
    }

    /// What `--db` says for this server: its file, or its PostgreSQL database's URL.
    pub fn db_arg(&self) -> std::ffi::OsString {
        match &self.pg_url {
            Some(url) => url.into(),
            None => self.db.as_os_str().to_owned(),
        }
    }

    /// The PostgreSQL URL this server uses (`None` on SQLite).
    pub fn pg_url(&self) -> Option<&str> {
        self.pg_url.as_deref()
    }

    /// A direct connection to this server's PostgreSQL database (`None` on SQLite).
    pub fn pg_client(&self) -> Option<postgres::Client> {
        self.pg_url.as_ref().map(|url| {
            postgres::Client::connect(url, postgres::NoTls).expect("connect to the test database")
        })
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, as an init system stops a service, and waits for the process to end: the
    /// shutdown code runs. Returns whether it exited successfully.
    pub fn terminate(&mut self) -> bool {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "kill -TERM failed");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the server") {
                return status.success();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the server did not stop within 20 s of SIGTERM"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Starts the binary again on the same database and flags (new port).
    pub fn restart(&mut self) {
        self.kill9();
        let (child, addr) = spawn(&self.db_arg(), &self.args, &DEFAULT_ENV);
        self.child = child;
        self.addr = addr;
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        request(&self.addr, method, path, headers, body)
    }

    /// POST /v1/events from the allowed origin as the snippet sends it (text/plain).
    pub fn post_events(&self, body: &Value) -> Response {
        self.post_raw(&serde_json::to_vec(body).expect("json"))
    }

    pub fn post_raw(&self, body: &[u8]) -> Response {
        self.request(
            "POST",
            "/v1/events",
            &[
                ("Origin", ORIGIN),
                ("Content-Type", "text/plain;charset=UTF-8"),
            ],
            body,
        )
    }

    pub fn get_authed(&self, path: &str) -> Response {
        let auth = format!("Bearer {TOKEN}");
        self.request("GET", path, &[("Authorization", &auth)], b"")
    }

    /// Waits until every acknowledged event is applied to the tables (ingest answers once an
    /// event is durable in the inbox; the tables follow a moment later).
    pub fn caught_up(&self) {
        let applied = wait_until(Duration::from_secs(10), || {
            let res = self.request("GET", "/healthz", &[], b"");
            res.status == 200 && res.json()["inbox_backlog"] == 0
        });
        assert!(applied, "the collector did not apply its inbox within 10 s");
    }

    /// Direct read of the database file (the server may be running: WAL readers are fine),
    /// once everything acknowledged is applied.
    pub fn db_count(&self, sql: &str) -> i64 {
        self.caught_up();
        match self.pg_client() {
            // Any integer (count, sum) as bigint.
            Some(mut client) => client
                .query_one(&format!("SELECT ({sql})::bigint"), &[])
                .map(|row| row.get::<_, Option<i64>>(0).unwrap_or(0))
                .expect("count query"),
            None => read_only(&self.db)
                .query_row(sql, [], |r| r.get(0))
                .expect("count query"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One value read back from either backend.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Text(String),
}

/// A value of a [`Cell`]: `i64`, `String`, `bool` (an integer flag) or an `Option` of them.
pub trait FromCell: Sized {
    fn from_cell(cell: &Cell) -> Self;
}

impl FromCell for i64 {
    fn from_cell(cell: &Cell) -> i64 {
        match cell {
            Cell::Int(v) => *v,
            other => panic!("expected an integer, got {other:?}"),
        }
    }
}

impl FromCell for String {
    fn from_cell(cell: &Cell) -> String {
        match cell {
            Cell::Text(v) => v.clone(),
            other => panic!("expected text, got {other:?}"),
        }
    }
}

impl FromCell for bool {
    fn from_cell(cell: &Cell) -> bool {
        i64::from_cell(cell) != 0
    }
}

impl<T: FromCell> FromCell for Option<T> {
    fn from_cell(cell: &Cell) -> Option<T> {
        match cell {
            Cell::Null => None,
            other => Some(T::from_cell(other)),
        }
    }
}

/// One row read back from either backend.
#[derive(Clone, Debug)]
pub struct DbRow(pub Vec<Cell>);

impl DbRow {
    pub fn get<T: FromCell>(&self, i: usize) -> T {
        T::from_cell(&self.0[i])
    }
}

impl Server {
    /// The rows of `sql` (plain SQL both engines read alike), once everything acknowledged is
    /// applied.
    pub fn rows(&self, sql: &str) -> Vec<DbRow> {
        self.caught_up();
        match self.pg_client() {
            Some(mut client) => client
                .query(sql, &[])
                .expect("query")
                .iter()
                .map(|row| {
                    DbRow(
                        row.columns()
                            .iter()
                            .enumerate()
                            .map(|(i, col)| pg_cell(row, i, col.type_()))
                            .collect(),
                    )
                })
                .collect(),
            None => {
                let conn = read_only(&self.db);
                let mut stmt = conn.prepare(sql).expect("query");
                let n = stmt.column_count();
                stmt.query_map([], |r| {
                    (0..n)
                        .map(|i| {
                            Ok(match r.get_ref(i)? {
                                rusqlite::types::ValueRef::Null => Cell::Null,
                                rusqlite::types::ValueRef::Integer(v) => Cell::Int(v),
                                rusqlite::types::ValueRef::Real(v) => Cell::Int(v as i64),
                                rusqlite::types::ValueRef::Text(t)
                                | rusqlite::types::ValueRef::Blob(t) => {
                                    Cell::Text(String::from_utf8_lossy(t).into_owned())
                                }
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()
                        .map(DbRow)
                })
                .expect("query")
                .map(|r| r.expect("row"))
                .collect()
            }
        }
    }

    /// Runs `statements` in one transaction (the server may be running).
    pub fn execute_in_one_transaction(&self, statements: &[String]) {
        self.caught_up();
        match self.pg_client() {
            Some(mut client) => {
                let mut tx = client.transaction().expect("begin");
                for sql in statements {
                    tx.batch_execute(sql).expect("statement");
                }
                tx.commit().expect("commit");
            }
            None => {
                let mut conn = rusqlite::Connection::open(&self.db).expect("open db");
                conn.busy_timeout(Duration::from_secs(5))
                    .expect("busy timeout");
                let tx = conn.transaction().expect("begin");
                for sql in statements {
                    tx.execute_batch(sql).expect("statement");
                }
                tx.commit().expect("commit");
            }
        }
    }

    /// The privacy key this server hashes with (beside the SQLite file, or in the PostgreSQL
    /// database's `privacy_key` table).
    pub fn privacy_key(&self) -> chattag_collector::privacy::key::PrivacyKey {
        use chattag_collector::privacy::key::PrivacyKey;
        let Some(mut client) = self.pg_client() else {
            return PrivacyKey::load_or_create(&self.db).expect("privacy key");
        };
        let key: String = client
            .query_one("SELECT key FROM privacy_key WHERE id = 1", &[])
            .expect("privacy key row")
            .get(0);
        // Through a key file, the one way to build a key outside the collector.
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("pg.db");
        std::fs::write(PrivacyKey::path_for(&db), key).expect("write key file");
        PrivacyKey::load_or_create(&db).expect("privacy key")
    }

    /// PostgreSQL: the tables with a row whose text holds `needle` (what a file scan is on
    /// SQLite).
    pub fn tables_holding(&self, needle: &str) -> Vec<String> {
        self.rows(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
        )
        .iter()
        .map(|r| r.get::<String>(0))
        .filter(|table| {
            self.db_count(&format!(
                "SELECT count(*) FROM {table} x WHERE x::text LIKE '%{needle}%'"
            )) > 0
        })
        .collect()
    }

    /// The one row of `sql`.
    pub fn row(&self, sql: &str) -> DbRow {
        let mut rows = self.rows(sql);
        assert_eq!(rows.len(), 1, "{sql}");
        rows.remove(0)
    }
}

fn pg_cell(row: &postgres::Row, i: usize, ty: &postgres::types::Type) -> Cell {
    use postgres::types::Type;
    let int = |v: Option<i64>| v.map_or(Cell::Null, Cell::Int);
    match *ty {
        Type::INT8 => int(row.get(i)),
        Type::INT4 => int(row.get::<_, Option<i32>>(i).map(i64::from)),
        Type::INT2 => int(row.get::<_, Option<i16>>(i).map(i64::from)),
        Type::BOOL => int(row.get::<_, Option<bool>>(i).map(i64::from)),
        _ => row
            .get::<_, Option<String>>(i)
            .map_or(Cell::Null, Cell::Text),
    }
}

/// A read-only connection to a test database (a running server's too: WAL readers are fine).
/// It reads what is in the tables now; `Server::caught_up` first when that must include every
/// acknowledged event.
pub fn read_only(db: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open db read-only")
}

fn db_arg(db: &std::path::Path, pg: Option<&PgDb>) -> std::ffi::OsString {
    match pg {
        Some(pg) => pg.url.clone().into(),
        None => db.as_os_str().to_owned(),
    }
}

fn spawn(db: &std::ffi::OsStr, args: &[String], env: &[(&str, &str)]) -> (Child, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chattag-collector"));
    cmd.arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--db")
        .arg(db)
        .args(args);
    for var in [
        "CHATTAG_READ_TOKEN",
        "CHATTAG_ALLOWED_ORIGINS",
        "CHATTAG_RATE_LIMIT",
        "CHATTAG_CONFIG",
        "CHATTAG_LISTEN",
        "CHATTAG_DB",
        "CHATTAG_DATABASE_URL",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("CHATTAG_LOG", "warn");
    // The free-space floor is off: these databases hold kilobytes, and a test must not fail
    // because the machine running it is short of disk (tests/disk_space.rs sets its own floor
    // with --min-free-mb, which wins over the environment).
    cmd.env("CHATTAG_MIN_FREE_MB", "0");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn collector");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read listening line");
    let addr = line
        .trim()
        .strip_prefix("chattag-collector listening on http://")
        .unwrap_or_else(|| panic!("unexpected first stdout line: {line:?}"))
        .to_owned();
    (child, addr)
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// `(code, index, field)` of an error body.
    pub fn error(&self) -> (String, Option<u64>, Option<String>) {
        let v = self.json();
        let e = &v["error"];
        assert!(
            e["message"].as_str().is_some_and(|m| !m.is_empty()),
            "error without message: {v}"
        );
        (
            e["code"].as_str().unwrap_or_default().to_owned(),
            e["index"].as_u64(),
            e["field"].as_str().map(str::to_owned),
        )
    }
}

/// One request on its own connection (`Connection: close`).
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    try_request(addr, method, path, headers, body)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

pub fn try_request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    // The server may answer (413) and close before reading a large body; ignore that error.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> std::io::Result<Response> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no header end"))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| bad("head not utf-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or_else(|| bad("no status line"))?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad status"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body).ok_or_else(|| bad("bad chunked body"))?;
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..line_end]).ok()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

static SEQ: AtomicU64 = AtomicU64::new(1);

/// Pseudo-random bytes, distinct per call within a test process (tests need unique IDs, not
/// unpredictable ones).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut x = nanos
        ^ SEQ
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ u64::from(std::process::id()) << 32;
    let mut out = [0u8; N];
    for b in out.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = (x >> 24) as u8;
    }
    out
}

pub fn new_chat_id() -> String {
    ChatId::generate(&Prefix::DEFAULT, random_bytes::<5>()).into_string()
}

pub fn new_event_id() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    chattag_core::event::event_id(now, random_bytes::<11>())
}

pub const TS: u64 = 1_763_700_000_000;

pub fn issue(chat_id: &str) -> Value {
    json!({
        "event_id": new_event_id(), "type": "issue", "chat_id": chat_id, "ts": TS,
        "page": "https://shop.example/p/1?utm_source=yandex", "referrer": "https://yandex.ru/",
        "client_id": "1700000000123456789", "yclid": "5123456789012345678",
        "utm": {"source": "yandex", "medium": "cpc", "campaign": "spring"}
    })
}

pub fn click(chat_id: &str) -> Value {
    json!({
        "event_id": new_event_id(), "type": "click", "chat_id": chat_id, "ts": TS + 5_000,
        "page": "https://shop.example/p/1", "client_id": "1700000000123456789",
        "messenger": "telegram", "link_kind": "telegram_bot",
        "target": format!("https://t.me/shop_bot?start={chat_id}")
    })
}

/// The wall clock in ms, as the collector reads it.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
