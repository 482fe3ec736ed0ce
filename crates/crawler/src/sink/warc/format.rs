//! WARC 1.1 records as bytes: pure functions, no I/O.

use std::fmt::Write as _;
use std::time::SystemTime;

use sha1::{Digest, Sha1};
use trawl_fetcher::Exchange;

use crate::sink::Truncation;

/// What the `warcinfo` record at the start of each file says.
#[derive(Debug, Clone, Default)]
pub struct WarcInfo {
    /// The `software` field, e.g. `trawl/0.1.0`.
    pub software: String,
    /// More `name: value` fields: the crawl's settings.
    pub fields: Vec<(String, String)>,
}

/// One record in pieces, so a body is never copied into a record buffer:
/// the WARC head (with the HTTP head for a response), the body, the
/// closing CRLF CRLF.
pub(crate) struct Record<'a> {
    pub(crate) head: Vec<u8>,
    pub(crate) body: &'a [u8],
}

/// What ends every record.
pub(crate) const RECORD_END: &[u8] = b"\r\n\r\n";

impl Record<'_> {
    pub(crate) fn pieces(&self) -> [&[u8]; 3] {
        [&self.head, self.body, RECORD_END]
    }
}

/// The request and response records of one exchange.
pub(crate) struct Pair<'a> {
    pub(crate) request: Record<'static>,
    pub(crate) response: Record<'a>,
    /// The response's `WARC-Payload-Digest`, without the `sha1:` label.
    pub(crate) payload_digest: String,
}

fn sha1_base32(bytes: &[u8]) -> String {
    data_encoding::BASE32.encode(&Sha1::digest(bytes))
}

fn record_id() -> String {
    format!("<urn:uuid:{}>", uuid::Uuid::new_v4())
}

fn warc_date(at: SystemTime) -> String {
    humantime::format_rfc3339_micros(at).to_string()
}

/// A record's head: `WARC/1.1`, the header lines given, the block's
/// length, the blank line.
fn record_head(headers: &[(&str, String)], block_len: usize) -> Vec<u8> {
    let mut head = String::from("WARC/1.1\r\n");
    for (name, value) in headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    let _ = write!(head, "Content-Length: {block_len}\r\n\r\n");
    head.into_bytes()
}

/// A record whose block is `block`, whole.
fn record(headers: &[(&str, String)], block: &[u8]) -> Vec<u8> {
    let mut bytes = record_head(headers, block.len());
    bytes.extend_from_slice(block);
    bytes.extend_from_slice(RECORD_END);
    bytes
}

/// The `warcinfo` record of file `filename`.
pub(crate) fn warcinfo(info: &WarcInfo, filename: &str) -> Vec<u8> {
    let mut block = format!(
        "software: {}\r\nformat: WARC File Format 1.1\r\nconformsTo: http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\n",
        info.software
    );
    for (name, value) in &info.fields {
        let _ = write!(block, "{name}: {value}\r\n");
    }
    record(
        &[
            ("WARC-Type", "warcinfo".to_owned()),
            ("WARC-Record-ID", record_id()),
            ("WARC-Date", warc_date(SystemTime::now())),
            ("WARC-Filename", filename.to_owned()),
            ("Content-Type", "application/warc-fields".to_owned()),
        ],
        block.as_bytes(),
    )
}

fn http_version(version: reqwest::Version) -> &'static str {
    match version {
        reqwest::Version::HTTP_09 => "HTTP/0.9",
        reqwest::Version::HTTP_10 => "HTTP/1.0",
        reqwest::Version::HTTP_2 => "HTTP/2.0",
        reqwest::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// Response headers that describe the wire bytes, not the decoded body
/// the archive holds: dropped, and kept under `X-Archive-Orig-`.
const WIRE_HEADERS: [&str; 3] = ["content-encoding", "transfer-encoding", "content-length"];

/// The HTTP response's head as archived: status line and headers fitted
/// to the decoded body (the body follows it in the block).
fn response_head(exchange: &Exchange, body: &[u8]) -> Vec<u8> {
    let reason = reqwest::StatusCode::from_u16(exchange.status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .unwrap_or("");
    let mut block = format!(
        "{} {} {reason}\r\n",
        http_version(exchange.version),
        exchange.status
    )
    .into_bytes();
    for (name, value) in &exchange.headers {
        let wire = WIRE_HEADERS.contains(&name.as_str());
        if wire {
            block.extend_from_slice(b"X-Archive-Orig-");
        }
        block.extend_from_slice(name.as_str().as_bytes());
        block.extend_from_slice(b": ");
        block.extend_from_slice(value.as_bytes());
        block.extend_from_slice(b"\r\n");
    }
    block.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    block
}

fn request_block(exchange: &Exchange) -> Vec<u8> {
    let mut target = exchange.url.path().to_owned();
    if let Some(query) = exchange.url.query() {
        target.push('?');
        target.push_str(query);
    }
    let mut block = format!("GET {target} HTTP/1.1\r\n");
    for (name, value) in &exchange.request_headers {
        let _ = write!(block, "{name}: {value}\r\n");
    }
    block.push_str("\r\n");
    block.into_bytes()
}

/// The request and response records of `exchange`, with `body` as the
/// response's payload.
pub(crate) fn exchange<'a>(
    exchange: &Exchange,
    body: &'a [u8],
    truncated: Option<Truncation>,
) -> Pair<'a> {
    let date = warc_date(exchange.started);
    let target = exchange.url.as_str().to_owned();
    let response_id = record_id();
    let request_id = record_id();
    let ip = exchange.remote_addr.map(|addr| addr.ip().to_string());

    let http_head = response_head(exchange, body);
    let payload = Sha1::digest(body);
    let block = Sha1::new()
        .chain_update(&http_head)
        .chain_update(body)
        .finalize();
    let payload_digest = data_encoding::BASE32.encode(&payload);
    let mut headers = vec![
        ("WARC-Type", "response".to_owned()),
        ("WARC-Record-ID", response_id.clone()),
        ("WARC-Date", date.clone()),
        ("WARC-Target-URI", target.clone()),
    ];
    if let Some(ip) = &ip {
        headers.push(("WARC-IP-Address", ip.clone()));
    }
    headers.push((
        "Content-Type",
        "application/http;msgtype=response".to_owned(),
    ));
    headers.push((
        "WARC-Block-Digest",
        format!("sha1:{}", data_encoding::BASE32.encode(&block)),
    ));
    headers.push(("WARC-Payload-Digest", format!("sha1:{payload_digest}")));
    match truncated {
        Some(Truncation::Length) => headers.push(("WARC-Truncated", "length".to_owned())),
        Some(Truncation::Unspecified) => headers.push(("WARC-Truncated", "unspecified".to_owned())),
        None => {}
    }
    let mut head = record_head(&headers, http_head.len() + body.len());
    head.extend_from_slice(&http_head);
    let response = Record { head, body };

    let block = request_block(exchange);
    let mut headers = vec![
        ("WARC-Type", "request".to_owned()),
        ("WARC-Record-ID", request_id),
        ("WARC-Date", date),
        ("WARC-Target-URI", target),
        ("WARC-Concurrent-To", response_id),
    ];
    if let Some(ip) = ip {
        headers.push(("WARC-IP-Address", ip));
    }
    headers.push((
        "Content-Type",
        "application/http;msgtype=request".to_owned(),
    ));
    headers.push(("WARC-Block-Digest", format!("sha1:{}", sha1_base32(&block))));
    let mut head = record_head(&headers, block.len());
    head.extend_from_slice(&block);
    let request = Record { head, body: &[] };
    Pair {
        request,
        response,
        payload_digest,
    }
}

/// The SURT form of a URL, CDX's sort key: `http://www.Example.com:8080/a?b`
/// → `com,example:8080)/a?b`.
pub(crate) fn surt(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host);
    let mut key: String = host.rsplit('.').collect::<Vec<_>>().join(",");
    if let Some(port) = url.port() {
        let _ = write!(key, ":{port}");
    }
    key.push(')');
    key.push_str(url.path());
    if let Some(query) = url.query() {
        key.push('?');
        key.push_str(query);
    }
    key
}

/// Appends the CDXJ line of `exchange`'s response record (`length` bytes
/// at `offset` in `filename`).
pub(crate) fn cdxj_line(
    out: &mut Vec<u8>,
    exchange: &Exchange,
    digest: &str,
    length: u64,
    offset: u64,
    filename: &str,
) {
    let timestamp = humantime::format_rfc3339_seconds(exchange.started)
        .to_string()
        .chars()
        .filter(char::is_ascii_digit)
        .collect::<String>();
    let mime = exchange
        .headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.split(';').next().unwrap_or("").trim().to_owned())
        .unwrap_or_else(|| "unk".to_owned());
    let fields = serde_json::json!({
        "url": exchange.url.as_str(),
        "mime": mime,
        "status": exchange.status.to_string(),
        "digest": digest,
        "length": length.to_string(),
        "offset": offset.to_string(),
        "filename": filename,
    });
    let _ = writeln!(
        WriteAdapter(out),
        "{} {timestamp} {fields}",
        surt(&exchange.url)
    );
}

/// `fmt::Write` into a byte buffer.
struct WriteAdapter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for WriteAdapter<'_> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        self.0.extend_from_slice(text.as_bytes());
        Ok(())
    }
}
