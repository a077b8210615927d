//! The HTTP server's limits over real TCP: a request head must arrive within the header
//! timeout, idle keep-alive connections close, bodies must arrive in time, and connections
//! beyond the cap wait until one closes. These wait in real time (the network timeouts are
//! what is tested), with timeouts of a second or two.

use std::time::{Duration, Instant};

use latchkey_tests::TestDaemon;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn daemon(header: u64, idle: u64, body: u64, connections: usize) -> TestDaemon {
    TestDaemon::start_with(|config| {
        config.http.header_timeout = Duration::from_secs(header);
        config.http.idle_timeout = Duration::from_secs(idle);
        config.http.body_timeout = Duration::from_secs(body);
        config.http.max_connections = connections;
    })
    .await
}

async fn connect(t: &TestDaemon) -> TcpStream {
    TcpStream::connect(t.daemon.http_addr()).await.unwrap()
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";

/// Reads until the connection closes (or fails); what was read, and when it closed. Gives up
/// after `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Option<Instant>) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => {
                return (String::from_utf8_lossy(&seen).into(), Some(Instant::now()));
            }
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&seen).into(), None),
        }
    }
}

/// Reads one response to a `/healthz` (a small body) and returns its text.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("a response in time")
            .unwrap();
        assert!(n > 0, "closed before a whole response: {seen:?}");
        seen.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&seen).into_owned();
        if text.contains("\r\n\r\n") && text.ends_with('}') {
            return text;
        }
    }
}

#[tokio::test]
async fn half_a_request_head_is_cut_off_after_the_header_timeout() {
    let t = daemon(1, 30, 30, 100).await;
    let mut stream = connect(&t).await;
    let started = Instant::now();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    let (seen, closed) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    let closed = closed.expect("the connection is closed");
    let after = closed - started;
    assert!(after >= Duration::from_millis(900), "{after:?}");
    assert!(after < Duration::from_secs(5), "{after:?}");
    assert!(!seen.contains("200 OK"), "never served: {seen}");
}

#[tokio::test]
async fn a_head_trickled_byte_by_byte_is_cut_off_too() {
    let t = daemon(1, 30, 30, 100).await;
    let mut stream = connect(&t).await;
    let started = Instant::now();
    let head =
        b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut closed_after = None;
    for byte in head {
        if stream.write_all(&[*byte]).await.is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if started.elapsed() > Duration::from_secs(6) {
            break;
        }
    }
    let (seen, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(!seen.contains("200 OK"), "never served: {seen}");
    let after = closed_after.unwrap_or_else(|| closed.expect("closed") - started);
    assert!(after < Duration::from_secs(4), "{after:?}");
}

#[tokio::test]
async fn idle_keep_alive_connections_close_after_the_idle_timeout() {
    let t = daemon(1, 3, 30, 100).await;
    let mut stream = connect(&t).await;
    stream.write_all(HEALTHZ).await.unwrap();
    assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));
    // Idle for longer than the header timeout: the connection is still there.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    stream.write_all(HEALTHZ).await.unwrap();
    assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));
    // Idle for the idle timeout: closed.
    let idle_from = Instant::now();
    let (seen, closed) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert_eq!(seen, "");
    let after = closed.expect("the idle connection is closed") - idle_from;
    assert!(after >= Duration::from_millis(2_500), "{after:?}");
    assert!(after < Duration::from_secs(6), "{after:?}");
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_a_408() {
    let t = daemon(5, 30, 1, 100).await;
    let mut stream = connect(&t).await;
    stream
        .write_all(
            b"POST /lc HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ncode=AAAA",
        )
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("an answer in time")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_one() {
    let t = daemon(10, 30, 30, 2).await;
    let first = connect(&t).await;
    let _second = connect(&t).await;
    // Give the daemon a moment to take both.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = connect(&t).await;
    third.write_all(HEALTHZ).await.unwrap();
    let mut buf = [0u8; 1024];
    let early = tokio::time::timeout(Duration::from_millis(700), third.read(&mut buf)).await;
    assert!(early.is_err(), "served beyond the cap");
    drop(first);
    assert!(read_response(&mut third).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn shutdown_lets_a_request_in_flight_finish() {
    let t = daemon(10, 30, 30, 100).await;
    let mut stream = connect(&t).await;
    // Half a body: the request is in flight when the daemon is told to stop.
    stream
        .write_all(
            b"POST /lc HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 9\r\n\r\ncode",
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopping = tokio::spawn(async move { t.stop().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!stopping.is_finished(), "waits for the request in flight");
    stream.write_all(b"=AAAA").await.unwrap();
    let mut buf = [0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    // Refused by the CSRF check, but answered: the request was finished, not dropped.
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    tokio::time::timeout(Duration::from_secs(5), stopping)
        .await
        .expect("the daemon stops")
        .unwrap();
}
