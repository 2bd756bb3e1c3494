//! The accept loop: HTTP/1.1 connections with a header timeout, an idle timeout (no bytes in
//! either direction), a cap on open connections, and a raised file-descriptor limit.
//!
//! `axum::serve` has none of these: a client that sends a header byte every few seconds, or
//! opens a socket and says nothing, holds a descriptor for ever, and about a thousand of them
//! exhaust the usual limit of 1,024 and stop the server answering anyone.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Sleep;
use tower_service::Service;

use crate::config::Limits;

/// Descriptors kept back from the connection cap for the database, the inbox and logs.
const RESERVED_FDS: u64 = 64;
/// How long shutdown waits for open requests.
const DRAIN: Duration = Duration::from_secs(10);

/// Connection counters for `/metrics`.
#[derive(Clone, Default)]
pub struct ConnectionStats {
    pub refused: Counter,
    pub timed_out: Counter,
}

impl ConnectionStats {
    pub fn register(registry: &mut Registry) -> ConnectionStats {
        let s = ConnectionStats::default();
        registry.register(
            "chattag_http_connections_refused",
            "Connections closed on accept because --max-connections were open",
            s.refused.clone(),
        );
        registry.register(
            "chattag_http_connections_timed_out",
            "Connections closed for a header, idle or body timeout",
            s.timed_out.clone(),
        );
        s
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns the connection cap that fits
/// in it; says in the log what it found when that is less than asked for.
pub fn fit_connection_cap(wanted: usize) -> usize {
    let limit = raise_fd_limit();
    let fits = usize::try_from(limit.saturating_sub(RESERVED_FDS).max(16)).unwrap_or(usize::MAX);
    if fits < wanted {
        tracing::warn!(
            fd_limit = limit,
            max_connections = fits,
            asked = wanted,
            "the file-descriptor limit is low: connections capped to fit it (raise LimitNOFILE / ulimit -n)"
        );
        fits
    } else {
        wanted
    }
}

fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        tracing::warn!(error = %io::Error::last_os_error(), "cannot read the file-descriptor limit");
        return 1024;
    }
    if lim.rlim_cur < lim.rlim_max {
        let before = lim.rlim_cur;
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } == 0 {
            tracing::info!(
                from = before,
                to = lim.rlim_cur,
                "raised the file-descriptor limit"
            );
        } else {
            tracing::warn!(error = %io::Error::last_os_error(), limit = before, "cannot raise the file-descriptor limit");
            return before;
        }
    }
    lim.rlim_cur
}

/// Serves `app` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &Limits,
    stats: ConnectionStats,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let idle = limits.idle_timeout;
    let mut last_refusal_log: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors (EMFILE) or a connection reset before accept: wait a
                    // moment instead of spinning, and say so.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            // Closing at once frees the descriptor; the client sees a reset and may retry.
            drop(tcp);
            stats.refused.inc();
            if last_refusal_log.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                last_refusal_log = Some(Instant::now());
                tracing::warn!(
                    max_connections = limits.max_connections,
                    "connection cap reached: new connections are closed"
                );
            }
            continue;
        };
        // Small JSON answers: do not wait for Nagle.
        let _ = tcp.set_nodelay(true);
        let router = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            let mut router = router.clone();
            router.call(req)
        });
        let conn = http.serve_connection(TokioIo::new(Watched::new(tcp, idle)), service);
        let conn = graceful.watch(conn);
        let stats = stats.clone();
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                if e.is_timeout() || is_idle(&e) {
                    stats.timed_out.inc();
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still open after {DRAIN:?}; stopping anyway");
    }
}

fn is_idle(e: &hyper::Error) -> bool {
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<io::Error>())
        .is_some_and(|io| io.kind() == io::ErrorKind::TimedOut)
}

/// A socket that fails with `TimedOut` once neither direction has moved a byte for `idle`.
struct Watched {
    io: TcpStream,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl Watched {
    fn new(io: TcpStream, idle: Duration) -> Watched {
        Watched {
            io,
            idle,
            deadline: Box::pin(tokio::time::sleep(idle)),
        }
    }

    fn moved(&mut self) {
        let at = tokio::time::Instant::now() + self.idle;
        self.deadline.as_mut().reset(at);
    }

    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.deadline.as_mut().poll(cx).is_ready()
    }
}

fn idle_error() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "connection idle")
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    self.moved();
                }
                Poll::Ready(r)
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(idle_error())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Watched {
    /// A write that moved bytes resets the idle clock; a pending one past it fails.
    fn written(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match polled {
            Poll::Ready(r) => {
                if r.as_ref().is_ok_and(|&n| n > 0) {
                    self.moved();
                }
                Poll::Ready(r)
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(idle_error())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        self.written(cx, polled)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.written(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
