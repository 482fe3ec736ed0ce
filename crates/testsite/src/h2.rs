//! HTTP/2 for the HTTPS mode: hyper's server on a TLS connection whose
//! ALPN chose `h2`, answering through the same router as HTTP/1.1. The
//! faults that break the HTTP/1.1 byte stream answer 501 here.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use crate::Shared;
use crate::faults::Handled;
use crate::http::{Request, Response};
use crate::server::{log_request, route};

/// Serves HTTP/2 on `stream` until the client goes away.
pub(crate) async fn serve(stream: TlsStream<TcpStream>, shared: Arc<Shared>) {
    let service = hyper::service::service_fn(move |request| {
        let shared = Arc::clone(&shared);
        async move { Ok::<_, Infallible>(answer(&shared, request).await) }
    });
    // The connection's end (the client closed it, or broke the protocol)
    // is of no interest to a test site.
    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

async fn answer(
    shared: &Shared,
    request: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let request = from_hyper(&request);
    log_request(shared, &request);
    let head_only = request.method == "HEAD";
    let response = match route(shared, &request, None::<&mut TlsStream<TcpStream>>).await {
        Ok(Handled::Respond(response)) => response,
        // Only the byte-level faults close a connection, and over HTTP/2
        // they answer 501 instead.
        Ok(Handled::Close) | Err(_) => Response::html(500, ""),
    };
    to_hyper(response, head_only)
}

/// The request as the HTTP/1.1 parser would have given it; the host is
/// the `:authority` (or a `Host` header, which HTTP/2 clients may send).
fn from_hyper(request: &hyper::Request<Incoming>) -> Request {
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let header = |wanted: &str| {
        headers
            .iter()
            .find(|(name, _)| name == wanted)
            .map(|(_, value)| value.clone())
    };
    Request {
        method: request.method().as_str().to_owned(),
        target: request
            .uri()
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |target| target.as_str().to_owned()),
        host: request
            .uri()
            .authority()
            .map(|authority| authority.as_str().to_owned())
            .or_else(|| header("host")),
        user_agent: header("user-agent"),
        headers,
        close: false,
        version: "HTTP/2",
    }
}

/// Headers HTTP/2 forbids (RFC 9113 §8.2.2): the HTTP/1.1 router's
/// responses may carry them.
const CONNECTION_SPECIFIC: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

fn to_hyper(response: Response, head_only: bool) -> hyper::Response<Full<Bytes>> {
    let no_body = head_only || matches!(response.status, 204 | 304);
    let mut builder = hyper::Response::builder().status(response.status);
    for (name, value) in &response.headers {
        if !CONNECTION_SPECIFIC
            .iter()
            .any(|forbidden| name.eq_ignore_ascii_case(forbidden))
        {
            builder = builder.header(name.as_str(), value.as_str());
        }
    }
    let body = if no_body { Bytes::new() } else { response.body };
    builder.body(Full::new(body)).unwrap_or_else(|_| {
        // A status or header HTTP/2 cannot carry (a 1xx final status).
        let mut fallback = hyper::Response::new(Full::new(Bytes::new()));
        *fallback.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
        fallback
    })
}
