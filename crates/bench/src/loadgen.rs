//! The raw ceiling: a minimal keep-alive HTTP/1.1 load generator.
//!
//! `concurrency` connections, each a plain `TcpStream` loop: write
//! `GET /path HTTP/1.1`, read the head, skip `Content-Length` body bytes,
//! take the next path. No parsing of bodies, no TLS, no chunked encoding,
//! no pipelining: it is the cheapest client that fetches the same pages the
//! crawler fetches, so the server's rate under it is the ceiling.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub mod paced;

/// A response head longer than this is treated as garbage.
const MAX_HEAD: usize = 64 * 1024;
/// Attempts per path when the server closes a kept-alive connection.
const ATTEMPTS: u32 = 3;

/// The parts of a response head the load generator needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    /// Bytes of the head, final blank line included.
    pub head_len: usize,
    pub content_length: usize,
    /// `Connection: close` was sent: the server closes after this body.
    pub close: bool,
}

/// Parses a response head at the start of `buf`: `Ok(None)` while the
/// blank line has not arrived yet.
pub fn parse_response_head(buf: &[u8]) -> Result<Option<ResponseHead>> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        ensure!(buf.len() <= MAX_HEAD, "response head over {MAX_HEAD} bytes");
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..end]).context("response head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    ensure!(
        version.starts_with("HTTP/1."),
        "not an HTTP/1.x status line: {status_line:?}"
    );
    let status: u16 = parts
        .next()
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let mut content_length = None;
    let mut close = version == "HTTP/1.0";
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .with_context(|| format!("bad header line {line:?}"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let length = value
                .parse()
                .with_context(|| format!("bad Content-Length {value:?}"))?;
            content_length = Some(length);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            bail!("Transfer-Encoding {value:?} is not supported (Content-Length only)");
        } else if name.eq_ignore_ascii_case("connection") {
            close = value
                .split(',')
                .any(|token| token.trim().eq_ignore_ascii_case("close"));
        }
    }
    let bodyless = status < 200 || status == 204 || status == 304;
    let content_length = match content_length {
        Some(length) => length,
        None if bodyless => 0,
        None => bail!("status {status} without Content-Length"),
    };
    Ok(Some(ResponseHead {
        status,
        head_len: end + 4,
        content_length,
        close,
    }))
}

/// The request the load generator sends for `path`.
pub fn request_bytes(path: &str, host: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: trawl-bench\r\nAccept: */*\r\n\r\n")
        .into_bytes()
}

/// What the load generator measured.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadResult {
    /// Responses received.
    pub requests: u64,
    /// Responses with status 200.
    pub ok: u64,
    /// Body bytes received.
    pub body_bytes: u64,
    /// Connections opened (the server may close kept-alive ones).
    pub connections: u64,
    pub elapsed: Duration,
}

impl LoadResult {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Requests every path in `paths` once over `concurrency` keep-alive
/// connections to `addr`. Fails on the first request that fails
/// [`ATTEMPTS`] times.
pub async fn run(
    addr: SocketAddr,
    paths: Arc<Vec<String>>,
    concurrency: usize,
) -> Result<LoadResult> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.clamp(1, paths.len().max(1)) {
        let paths = Arc::clone(&paths);
        let next = Arc::clone(&next);
        workers.spawn(worker(addr, paths, next));
    }
    let mut total = LoadResult {
        requests: 0,
        ok: 0,
        body_bytes: 0,
        connections: 0,
        elapsed: Duration::ZERO,
    };
    while let Some(joined) = workers.join_next().await {
        let part = joined.context("load generator task panicked")??;
        total.requests += part.requests;
        total.ok += part.ok;
        total.body_bytes += part.body_bytes;
        total.connections += part.connections;
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

async fn worker(
    addr: SocketAddr,
    paths: Arc<Vec<String>>,
    next: Arc<AtomicUsize>,
) -> Result<LoadResult> {
    let host = addr.to_string();
    let mut result = LoadResult {
        requests: 0,
        ok: 0,
        body_bytes: 0,
        connections: 0,
        elapsed: Duration::ZERO,
    };
    let mut connection: Option<Connection> = None;
    loop {
        let index = next.fetch_add(1, Ordering::Relaxed);
        let Some(path) = paths.get(index) else {
            return Ok(result);
        };
        let head = get(addr, &host, path, &mut connection, &mut result.connections).await?;
        result.requests += 1;
        result.ok += u64::from(head.status == 200);
        result.body_bytes += head.content_length as u64;
    }
}

/// One GET over `connection` with `host` as `Host`, opening it first if
/// there is none and again when the server closed a kept-alive one (at
/// most [`ATTEMPTS`] tries); counts the connections opened in `opened`.
/// Leaves `connection` empty when the server said it closes after this.
async fn get(
    addr: SocketAddr,
    host: &str,
    path: &str,
    connection: &mut Option<Connection>,
    opened: &mut u64,
) -> Result<ResponseHead> {
    let request = request_bytes(path, host);
    let mut attempt = 1;
    loop {
        let conn = match connection {
            Some(conn) => conn,
            None => {
                *opened += 1;
                connection.insert(Connection::open(addr).await?)
            }
        };
        match conn.exchange(&request).await {
            Ok(head) => {
                if head.close {
                    *connection = None;
                }
                return Ok(head);
            }
            // A kept-alive connection the server closed: reconnect.
            Err(_) if attempt < ATTEMPTS => {
                *connection = None;
                attempt += 1;
            }
            Err(error) => return Err(error.context(format!("GET {path}"))),
        }
    }
}

/// One keep-alive connection and the bytes read past the last response.
#[derive(Debug)]
struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
    scratch: Vec<u8>,
}

impl Connection {
    async fn open(addr: SocketAddr) -> Result<Connection> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            buf: Vec::with_capacity(8 * 1024),
            scratch: vec![0; 64 * 1024],
        })
    }

    /// Sends one request and reads its whole response.
    async fn exchange(&mut self, request: &[u8]) -> Result<ResponseHead> {
        self.stream.write_all(request).await?;
        let head = loop {
            if let Some(head) = parse_response_head(&self.buf)? {
                break head;
            }
            self.buf.reserve(8 * 1024);
            let read = self.stream.read_buf(&mut self.buf).await?;
            ensure!(read > 0, "connection closed before the response head");
        };
        let total = head.head_len + head.content_length;
        if self.buf.len() >= total {
            self.buf.drain(..total);
            return Ok(head);
        }
        let mut remaining = total - self.buf.len();
        self.buf.clear();
        while remaining > 0 {
            let read = self.stream.read(&mut self.scratch).await?;
            ensure!(
                read > 0,
                "connection closed with {remaining} body bytes missing"
            );
            if read > remaining {
                // Not expected without pipelining, but keep it for the next head.
                self.buf.extend_from_slice(&self.scratch[remaining..read]);
                remaining = 0;
            } else {
                remaining -= read;
            }
        }
        Ok(head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_complete_head_is_parsed() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\ncontent-length: 5\r\n\r\nhello";
        let head = parse_response_head(raw).unwrap().unwrap();
        assert_eq!(
            head,
            ResponseHead {
                status: 200,
                head_len: raw.len() - 5,
                content_length: 5,
                close: false,
            }
        );
    }

    #[test]
    fn a_partial_head_asks_for_more() {
        assert_eq!(parse_response_head(b"").unwrap(), None);
        assert_eq!(
            parse_response_head(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n").unwrap(),
            None
        );
    }

    #[test]
    fn connection_close_and_http_1_0_are_noticed() {
        let head = parse_response_head(
            b"HTTP/1.1 404 Not Found\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!((head.status, head.close), (404, true));
        let head = parse_response_head(b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(head.close);
    }

    #[test]
    fn bodyless_statuses_need_no_length() {
        let head = parse_response_head(b"HTTP/1.1 304 Not Modified\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(head.content_length, 0);
    }

    #[test]
    fn unsupported_or_broken_heads_are_errors() {
        for raw in [
            &b"HTTP/1.1 200 OK\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n",
            b"HTTP/1.1 abc OK\r\nContent-Length: 1\r\n\r\n",
            b"SSH-2.0-OpenSSH\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        ] {
            assert!(
                parse_response_head(raw).is_err(),
                "{:?} should fail",
                String::from_utf8_lossy(raw)
            );
        }
        let endless = vec![b'x'; MAX_HEAD + 1];
        assert!(parse_response_head(&endless).is_err());
    }

    #[test]
    fn requests_are_keep_alive_gets() {
        assert_eq!(
            request_bytes("/p/7", "127.0.0.1:9"),
            b"GET /p/7 HTTP/1.1\r\nHost: 127.0.0.1:9\r\nUser-Agent: trawl-bench\r\nAccept: */*\r\n\r\n"
        );
    }
}
