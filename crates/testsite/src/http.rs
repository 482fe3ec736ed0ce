//! A deliberately small HTTP/1.1 server: GET/HEAD, keep-alive,
//! Content-Length or chunked bodies. It is written by hand because a test
//! site must be able to misbehave at the byte level (truncate bodies,
//! corrupt chunking, drip, reset), which a production server library is
//! built to prevent.

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest request head accepted; crawlers send a few hundred bytes.
const MAX_HEAD: usize = 64 * 1024;

/// A parsed request head.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: String,
    /// Path and query as sent.
    pub(crate) target: String,
    pub(crate) host: Option<String>,
    pub(crate) user_agent: Option<String>,
    /// Every header as sent, names lower-cased, in order.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) close: bool,
    /// `HTTP/1.1`, `HTTP/1.0` or (from the HTTP/2 server) `HTTP/2`.
    pub(crate) version: &'static str,
}

impl Request {
    pub(crate) fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    pub(crate) fn query(&self, name: &str) -> Option<&str> {
        let query = self.target.split_once('?')?.1;
        query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key == name).then_some(value)
        })
    }

    pub(crate) fn query_u64(&self, name: &str, default: u64) -> u64 {
        self.query(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }
}

/// Reads one request head from `stream`, keeping bytes of the next request
/// in `buffer`. `Ok(None)` when the peer closed the connection.
pub(crate) async fn read_request(
    stream: &mut (impl AsyncRead + Unpin),
    buffer: &mut Vec<u8>,
) -> std::io::Result<Option<Request>> {
    loop {
        if let Some(end) = find_head_end(buffer) {
            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
            buffer.drain(..end + 4);
            return Ok(parse_head(&head));
        }
        if buffer.len() > MAX_HEAD {
            return Ok(None);
        }
        let mut chunk = [0u8; 8192];
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}

fn find_head_end(buffer: &[u8]) -> Option<usize> {
    buffer.windows(4).position(|w| w == b"\r\n\r\n")
}

fn parse_head(head: &str) -> Option<Request> {
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split_whitespace();
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    let version = request_line.next().unwrap_or("HTTP/1.1");
    let mut request = Request {
        method,
        target,
        host: None,
        user_agent: None,
        headers: Vec::new(),
        close: version == "HTTP/1.0",
        version: if version == "HTTP/1.0" {
            "HTTP/1.0"
        } else {
            "HTTP/1.1"
        },
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let name = name.trim().to_ascii_lowercase();
        request.headers.push((name.clone(), value.to_owned()));
        match name.as_str() {
            "host" => request.host = Some(value.to_owned()),
            "user-agent" => request.user_agent = Some(value.to_owned()),
            "connection" => {
                let has = |token: &str| {
                    value
                        .split(',')
                        .any(|t| t.trim().eq_ignore_ascii_case(token))
                };
                if has("close") {
                    request.close = true;
                } else if has("keep-alive") {
                    request.close = false;
                }
            }
            _ => {}
        }
    }
    Some(request)
}

/// A complete response with a Content-Length.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Bytes,
}

impl Response {
    pub(crate) fn html(status: u16, body: impl Into<Bytes>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
            body: body.into(),
        }
    }

    pub(crate) fn header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    pub(crate) fn without_content_type(mut self) -> Response {
        self.headers
            .retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
        self
    }
}

pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// The status line and headers, ending with the blank line.
pub(crate) fn head_bytes(
    status: u16,
    headers: &[(String, String)],
    content_length: Option<u64>,
) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    if let Some(length) = content_length {
        head.push_str(&format!("Content-Length: {length}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// Writes `response` and flushes it (a TLS stream holds back what is not
/// flushed; flushing a TCP stream costs nothing).
pub(crate) async fn write_response(
    stream: &mut (impl AsyncWrite + Unpin),
    response: &Response,
    head_only: bool,
) -> std::io::Result<()> {
    write_unflushed(stream, response, head_only).await?;
    stream.flush().await
}

async fn write_unflushed(
    stream: &mut (impl AsyncWrite + Unpin),
    response: &Response,
    head_only: bool,
) -> std::io::Result<()> {
    // 1xx, 204 and 304 responses never have a body (RFC 9110 §6.4.1); a
    // body there would be read as the start of the next response.
    if matches!(response.status, 100..=199 | 204 | 304) {
        return stream
            .write_all(&head_bytes(response.status, &response.headers, None))
            .await;
    }
    let head = head_bytes(
        response.status,
        &response.headers,
        Some(response.body.len() as u64),
    );
    if head_only || response.body.is_empty() {
        return stream.write_all(&head).await;
    }
    if head.len() + response.body.len() <= 64 * 1024 {
        // One write, one segment: small pages are the benchmark's hot path.
        let mut whole = head;
        whole.extend_from_slice(&response.body);
        stream.write_all(&whole).await
    } else {
        stream.write_all(&head).await?;
        stream.write_all(&response.body).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_heads_parse() {
        let request = parse_head("GET /p/1?x=2&y HTTP/1.1\r\nHost: 127.0.0.1:9\r\nUser-Agent: trawl/0.1\r\nConnection: close").unwrap();
        assert_eq!(request.path(), "/p/1");
        assert_eq!(request.query("x"), Some("2"));
        assert_eq!(request.query("y"), Some(""));
        assert_eq!(request.host.as_deref(), Some("127.0.0.1:9"));
        assert!(request.close);
        assert!(parse_head("").is_none());
    }

    #[test]
    fn connection_tokens_decide_keep_alive() {
        let close = |head: &str| parse_head(head).unwrap().close;
        assert!(!close("GET / HTTP/1.1"));
        assert!(close("GET / HTTP/1.1\r\nConnection: keep-alive, Close"));
        assert!(!close("GET / HTTP/1.1\r\nConnection: Upgrade"));
        assert!(close("GET / HTTP/1.0"));
        assert!(close("GET / HTTP/1.0\r\nConnection: TE"));
        assert!(!close("GET / HTTP/1.0\r\nConnection: Keep-Alive"));
    }
}
