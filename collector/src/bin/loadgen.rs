//! chattag-loadgen: sustained ingest load on a loopback collector, for
//! scripts/bench_collector.mjs. Bounded by time and request count; refuses non-loopback targets.
//!
//! Closed loop by default: each connection sends its next request when the previous answer
//! arrived (finds the highest throughput). With `--rate R` it is open loop: requests are
//! scheduled at R per second in total, spread over the connections, and each latency is
//! measured from the request's scheduled time, not from when a busy connection got to send it,
//! so a stalled server shows up in the percentiles (no coordinated omission).
//!
//! ```text
//! chattag-loadgen --url http://127.0.0.1:8787/v1/events --origin https://shop.example \
//!     --connections 32 --batch 10 --duration 10 [--warmup 2] [--max-requests N] [--rate R]
//! ```
//! Prints one JSON object on stdout: requests, events, statuses, rates and latency percentiles.
//!
//! With `--whatsapp-secret-file FILE` it posts WhatsApp Cloud API notifications instead (to
//! `/v1/webhooks/whatsapp`): `--batch` messages per notification, each from a new person (every
//! other one with a chat ID in its text), signed with the app secret in FILE as Meta signs them.
//! "events" are then messages.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chattag_core::{ChatId, Prefix};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Debug)]
struct Args {
    addr: SocketAddr,
    path: String,
    origin: String,
    connections: usize,
    batch: usize,
    duration: Duration,
    warmup: Duration,
    max_requests: u64,
    /// Requests per second in total (open loop); `None`: closed loop.
    rate: Option<u64>,
    /// WhatsApp app secret: post signed WhatsApp notifications instead of snippet batches.
    whatsapp_secret: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut url = None;
    let mut a = Args {
        addr: SocketAddr::from(([127, 0, 0, 1], 8787)),
        path: String::new(),
        origin: "https://shop.example".into(),
        connections: 32,
        batch: 10,
        duration: Duration::from_secs(10),
        warmup: Duration::from_secs(2),
        max_requests: 5_000_000,
        rate: None,
        whatsapp_secret: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let num = |v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag}: not a number: {v}"))
        };
        match flag.as_str() {
            "--url" => url = Some(value()?),
            "--origin" => a.origin = value()?,
            "--connections" => a.connections = num(value()?)?.clamp(1, 512) as usize,
            "--batch" => a.batch = num(value()?)?.clamp(1, 100) as usize,
            "--duration" => a.duration = Duration::from_secs(num(value()?)?.clamp(1, 120)),
            "--warmup" => a.warmup = Duration::from_secs(num(value()?)?.min(30)),
            "--max-requests" => a.max_requests = num(value()?)?,
            "--rate" => a.rate = Some(num(value()?)?.clamp(1, 1_000_000)),
            "--whatsapp-secret-file" => {
                let path = value()?;
                let secret = std::fs::read_to_string(&path)
                    .map_err(|e| format!("--whatsapp-secret-file {path}: {e}"))?;
                a.whatsapp_secret = Some(secret.trim().to_owned());
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    let url = url.ok_or("--url is required")?;
    let rest = url
        .strip_prefix("http://")
        .ok_or("--url must be http://127.0.0.1:PORT/path")?;
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    a.addr = host
        .parse()
        .map_err(|_| format!("--url host must be an IP:port, got {host}"))?;
    if !a.addr.ip().is_loopback() {
        return Err("refusing a non-loopback target".into());
    }
    a.path = path;
    Ok(a)
}

/// xorshift: unique-enough IDs for load, cheap enough not to be the bottleneck.
struct Rng(u64);
impl Rng {
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for b in out.iter_mut() {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *b = (self.0 >> 32) as u8;
        }
        out
    }
}

/// A batch shaped like the snippet's: for each chat ID an `issue` with the visitor's IDs and a
/// `click` on a Telegram bot link.
fn batch_body(rng: &mut Rng, batch: usize, ts: u64) -> String {
    let mut body = String::with_capacity(batch * 420);
    body.push('[');
    for i in 0..batch {
        if i > 0 {
            body.push(',');
        }
        let chat = ChatId::generate(&Prefix::DEFAULT, rng.bytes::<5>());
        let event_id = chattag_core::event::event_id(
            u64::try_from(chattag_collector::clock::now_ms()).unwrap_or(0),
            rng.bytes::<11>(),
        );
        let client_id =
            1_700_000_000_000_000_000u64 + u64::from(u32::from_le_bytes(rng.bytes::<4>()));
        if i % 2 == 0 {
            body.push_str(&format!(
                r#"{{"event_id":"{event_id}","type":"issue","chat_id":"{chat}","ts":{ts},"page":"https://shop.example/catalog/item-42?utm_source=yandex&utm_medium=cpc","referrer":"https://yandex.ru/","client_id":"{client_id}","yclid":"5123456789012345678","utm":{{"source":"yandex","medium":"cpc","campaign":"spring"}}}}"#
            ));
        } else {
            body.push_str(&format!(
                r#"{{"event_id":"{event_id}","type":"click","chat_id":"{chat}","ts":{ts},"page":"https://shop.example/catalog/item-42","client_id":"{client_id}","messenger":"telegram","link_kind":"telegram_bot","target":"https://t.me/shop_bot?start={chat}"}}"#
            ));
        }
    }
    body.push(']');
    body
}

/// A WhatsApp notification with `batch` messages, each from a new person (random 11-digit
/// phone), every other one carrying a fresh chat ID in its text, as a customer pasting the code.
fn whatsapp_body(rng: &mut Rng, batch: usize, ts_s: u64) -> String {
    let mut contacts = Vec::with_capacity(batch);
    let mut messages = Vec::with_capacity(batch);
    for i in 0..batch {
        let phone = 10_000_000_000u64 + u64::from(u32::from_le_bytes(rng.bytes::<4>())) * 2;
        let wamid = u128::from_le_bytes(rng.bytes::<16>());
        let text = if i % 2 == 0 {
            let chat = ChatId::generate(&Prefix::DEFAULT, rng.bytes::<5>());
            format!("Здравствуйте! Номер обращения: {chat}")
        } else {
            "Здравствуйте, диван в наличии?".to_owned()
        };
        contacts.push(format!(
            r#"{{"profile":{{"name":"Customer {i}"}},"wa_id":"{phone}"}}"#
        ));
        messages.push(format!(
            r#"{{"from":"{phone}","id":"wamid.{wamid:032x}","timestamp":"{ts_s}","type":"text","text":{{"body":"{text}"}}}}"#
        ));
    }
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"102290129340398","changes":[{{"value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550783881","phone_number_id":"106540352242922"}},"contacts":[{}],"messages":[{}]}},"field":"messages"}}]}}]}}"#,
        contacts.join(","),
        messages.join(",")
    )
}

#[derive(Default)]
struct Tally {
    ok: u64,
    non_2xx: u64,
    errors: u64,
    events: u64,
    latencies_us: Vec<u32>,
}

async fn one_request(
    stream: &mut BufReader<TcpStream>,
    head: &str,
    extra_header: &str,
    body: &str,
) -> std::io::Result<u16> {
    let mut req = String::with_capacity(head.len() + extra_header.len() + body.len() + 32);
    req.push_str(head);
    req.push_str(extra_header);
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    req.push_str(body);
    stream.get_mut().write_all(req.as_bytes()).await?;
    let mut line = String::new();
    stream.read_line(&mut line).await?;
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("bad status line {line:?}"),
            )
        })?;
    let mut len = 0usize;
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut sink = vec![0u8; len];
    stream.read_exact(&mut sink).await?;
    Ok(status)
}

async fn connection(
    args: Arc<Args>,
    index: usize,
    seed: u64,
    started: Instant,
    budget: Arc<AtomicU64>,
) -> Tally {
    let mut tally = Tally::default();
    let mut rng = Rng(seed | 1);
    let head = match args.whatsapp_secret {
        None => format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nOrigin: {}\r\nContent-Type: text/plain;charset=UTF-8\r\n",
            args.path, args.addr, args.origin
        ),
        Some(_) => format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n",
            args.path, args.addr
        ),
    };
    let end = started + args.warmup + args.duration;
    let measure_from = started + args.warmup;
    let ts = 1_763_700_000_000u64;
    let mut stream = None;
    // Open loop: this connection's slots, interleaved with the other connections' slots.
    let interval = args
        .rate
        .map(|r| Duration::from_secs_f64(args.connections as f64 / r as f64));
    let mut next_slot = started
        + interval.map_or(Duration::ZERO, |iv| {
            iv * index as u32 / args.connections as u32
        });
    while Instant::now() < end {
        if budget.fetch_sub(1, Ordering::Relaxed) == 0 {
            break;
        }
        if stream.is_none() {
            match TcpStream::connect(args.addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    stream = Some(BufReader::new(s));
                }
                Err(_) => {
                    tally.errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let Some(s) = stream.as_mut() else { continue };
        let (body, signature) = match &args.whatsapp_secret {
            None => (batch_body(&mut rng, args.batch, ts), String::new()),
            Some(secret) => {
                let now_s = u64::try_from(chattag_collector::clock::now_ms() / 1000).unwrap_or(0);
                let body = whatsapp_body(&mut rng, args.batch, now_s);
                let sig = chattag_collector::signing::hmac_sha256_hex(secret, body.as_bytes());
                (body, format!("X-Hub-Signature-256: sha256={sig}\r\n"))
            }
        };
        let t0 = match interval {
            Some(iv) => {
                let slot = next_slot;
                next_slot += iv;
                if slot >= end {
                    break;
                }
                tokio::time::sleep_until(slot.into()).await;
                slot
            }
            None => Instant::now(),
        };
        let result = one_request(s, &head, &signature, &body).await;
        let took = t0.elapsed();
        let measured = t0 >= measure_from;
        match result {
            Ok(status) if (200..300).contains(&status) => {
                if measured {
                    tally.ok += 1;
                    tally.events += args.batch as u64;
                    tally
                        .latencies_us
                        .push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
                }
            }
            Ok(_) => {
                if measured {
                    tally.non_2xx += 1;
                }
            }
            Err(_) => {
                tally.errors += 1;
                stream = None;
            }
        }
    }
    tally
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    f64::from(sorted[rank.min(sorted.len() - 1)]) / 1000.0
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => Arc::new(a),
        Err(e) => {
            eprintln!("chattag-loadgen: {e}");
            return ExitCode::FAILURE;
        }
    };
    // One worker thread: the generator should take about one core, leaving the rest to the
    // server, like an external load tool would.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("chattag-loadgen: {e}");
            return ExitCode::FAILURE;
        }
    };
    let total = runtime.block_on(async {
        let started = Instant::now();
        let budget = Arc::new(AtomicU64::new(args.max_requests));
        let seed0 = started.elapsed().as_nanos() as u64
            ^ u64::from(std::process::id()).rotate_left(29)
            ^ 0x9E37_79B9_7F4A_7C15;
        let tasks: Vec<_> = (0..args.connections)
            .map(|i| {
                tokio::spawn(connection(
                    Arc::clone(&args),
                    i,
                    seed0.wrapping_add((i as u64 + 1) * 0x2545_F491_4F6C_DD1D),
                    started,
                    Arc::clone(&budget),
                ))
            })
            .collect();
        let mut total = Tally::default();
        for t in tasks {
            if let Ok(t) = t.await {
                total.ok += t.ok;
                total.non_2xx += t.non_2xx;
                total.errors += t.errors;
                total.events += t.events;
                total.latencies_us.extend(t.latencies_us);
            }
        }
        total
    });
    let mut lat = total.latencies_us;
    lat.sort_unstable();
    let secs = args.duration.as_secs_f64();
    let out = serde_json::json!({
        "connections": args.connections,
        "rate": args.rate,
        "batch": args.batch,
        "duration_s": secs,
        "requests_ok": total.ok,
        "non_2xx": total.non_2xx,
        "errors": total.errors,
        "events": total.events,
        "requests_per_s": total.ok as f64 / secs,
        "events_per_s": total.events as f64 / secs,
        "p50_ms": percentile(&lat, 50.0),
        "p90_ms": percentile(&lat, 90.0),
        "p99_ms": percentile(&lat, 99.0),
        "max_ms": lat.last().map_or(0.0, |&m| f64::from(m) / 1000.0),
    });
    println!("{out}");
    ExitCode::SUCCESS
}
