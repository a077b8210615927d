//! Serving HTTP/1.1 with the limits of [`HttpLimits`]: a header timeout, an idle keep-alive
//! timeout, a connection cap, and graceful shutdown. (The body timeout and size limit are a
//! middleware, `body.rs`.)
//!
//! `axum::serve` sets none of these and exposes no way to, so the accept loop is here and each
//! connection is hyper's own HTTP/1 connection (`hyper::server::conn::http1`) driving the axum
//! router, as `axum::serve` does inside:
//! - **Idle:** hyper's `header_read_timeout` (with hyper-util's tokio timer) starts whenever
//!   hyper waits for a request head, on a new connection and after every response, and closes
//!   the connection when no whole head has come. It is set to the idle timeout.
//! - **Header:** hyper has no separate timer for the head itself, so [`Watched`] (the socket as
//!   hyper reads it) starts one at a connection's start and at the first byte of each later
//!   request head, and fails the read when the head has not reached the router within the header
//!   timeout. A client that trickles its headers (slowloris) is cut off after that long, not
//!   after the idle timeout.
//! - **Cap:** a permit of a semaphore is taken *before* `accept`, so beyond the cap new
//!   connections wait in the kernel's listen queue (and time out there if it lasts) instead of
//!   being accepted and starved.
//! - **TLS** (when `tls_cert` is set, `tls.rs`): the handshake runs in the connection's task,
//!   after the permit is taken, and must finish within the header timeout; hyper then reads
//!   the decrypted stream exactly as it reads a plain one.
//! - **Shutdown:** accepting stops, every connection finishes the request it is serving and
//!   closes (hyper's `graceful_shutdown`), and this returns when the last one has.
//!
//! Each request carries `ConnectInfo<SocketAddr>` (the TCP peer), which `client_ip.rs` reads.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

use super::tls::Tls;
use crate::config::HttpLimits;

/// Serves `app` on `listener` until `shutdown`, then waits for every connection to finish.
/// With `tls`, every connection is HTTPS.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    tls: Option<Arc<Tls>>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let connections = TaskTracker::new();
    loop {
        let permit = tokio::select! {
            () = shutdown.cancelled() => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(&error).await;
                    continue;
                }
            },
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY for {peer}: {error}");
        }
        let app = app.clone();
        let shutdown = shutdown.clone();
        match &tls {
            None => connections.spawn(connection(stream, peer, app, limits, shutdown, permit)),
            Some(tls) => {
                let acceptor = tls.acceptor();
                connections.spawn(async move {
                    let handshake = acceptor.accept(stream);
                    match tokio::time::timeout(limits.header_timeout, handshake).await {
                        Ok(Ok(stream)) => {
                            connection(stream, peer, app, limits, shutdown, permit).await;
                        }
                        Ok(Err(error)) => {
                            tracing::debug!("TLS handshake with {peer} failed: {error}");
                        }
                        Err(_) => tracing::debug!("TLS handshake with {peer} timed out"),
                    }
                })
            }
        };
    }
    drop(listener);
    connections.close();
    connections.wait().await;
    Ok(())
}

/// An error from `accept`. One that belongs to a single connection (reset before it was
/// accepted) is ignored; others (out of file descriptors) are logged and waited out briefly, so
/// the loop does not spin.
async fn accept_failed(error: &io::Error) {
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    ) {
        return;
    }
    tracing::warn!("accepting an HTTP connection failed: {error}; retrying shortly");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Serves one connection until it ends, or until `shutdown` (then gracefully).
async fn connection<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: S,
    peer: SocketAddr,
    app: Router,
    limits: HttpLimits,
    shutdown: CancellationToken,
    _permit: OwnedSemaphorePermit,
) {
    let heads = Arc::new(AtomicU64::new(0));
    let io = TokioIo::new(Watched::new(
        stream,
        Arc::clone(&heads),
        limits.header_timeout,
    ));
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        // The head is whole: the header timer of this request stops.
        heads.fetch_add(1, Ordering::Relaxed);
        request.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(request.map(Body::new))
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(error) = result {
        tracing::debug!("HTTP connection from {peer} ended: {error}");
    }
}

/// The socket as hyper reads it, timing request heads: from the connection's start for its
/// first request, and from the first byte read after the previous head reached the router for
/// each later one. When a head has not reached the router (`heads` has not moved) within the
/// timeout, reading fails with `TimedOut` and hyper closes the connection.
///
/// Bytes read while a request is being handled (its body) also start the timer, which the next
/// head then stops; a client that sent a body its handler did not read and then goes quiet is
/// closed after the header timeout instead of the idle timeout, which is harmless.
struct Watched<S> {
    stream: S,
    heads: Arc<AtomicU64>,
    timeout: Duration,
    /// The value of `heads` when the running timer started; `None` when none runs.
    timing: Option<u64>,
    deadline: Pin<Box<Sleep>>,
}

impl<S> Watched<S> {
    fn new(stream: S, heads: Arc<AtomicU64>, timeout: Duration) -> Watched<S> {
        Watched {
            stream,
            heads,
            timeout,
            timing: Some(0),
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let heads = this.heads.load(Ordering::Relaxed);
        if this.timing.is_some_and(|started| started != heads) {
            this.timing = None;
        }
        if this.timing.is_some() && this.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request head did not arrive in time",
            )));
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut this.stream).poll_read(cx, buf);
        if this.timing.is_none()
            && matches!(read, Poll::Ready(Ok(())))
            && buf.filled().len() > before
        {
            this.timing = Some(heads);
            let at = Instant::now() + this.timeout;
            this.deadline.as_mut().reset(at);
            // Registers the waker, so the timer fires even if no more bytes come.
            let _ = this.deadline.as_mut().poll(cx);
        }
        read
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
