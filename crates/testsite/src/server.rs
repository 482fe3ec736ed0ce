//! The server: the accept loop, one task per connection (after a TLS
//! handshake in HTTPS mode), and the router that sends each request to a
//! page, robots.txt, the sitemaps or a fault.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::http::{self, Response, read_request, write_response};
use crate::site::{self, page_path, render_page};
use crate::{RequestRecord, Shared, faults, lock};

/// A byte stream the HTTP/1.1 server speaks on: plain TCP, or TLS over it.
pub(crate) trait Wire: AsyncRead + AsyncWrite + Unpin + Send {
    /// The TCP socket underneath, for faults that act on it (SO_LINGER).
    fn tcp(&self) -> &TcpStream;
}

impl Wire for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Wire for tokio_rustls::server::TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
}

pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    tls: Option<TlsAcceptor>,
) {
    // Connection tasks live in this set, so aborting the accept loop (on
    // shutdown or drop) ends them too.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    shared.connections.fetch_add(1, Ordering::Relaxed);
                    // Best effort: without TCP_NODELAY the site is only slower.
                    let _ = stream.set_nodelay(true);
                    let shared = Arc::clone(&shared);
                    match &tls {
                        None => connections.spawn(serve_connection(stream, shared)),
                        Some(acceptor) => {
                            connections.spawn(serve_tls(acceptor.clone(), stream, shared))
                        }
                    };
                }
                // Out of file descriptors, or a connection that died in the
                // queue: wait a little instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// The TLS handshake, then HTTP/2 if ALPN chose `h2`, HTTP/1.1 otherwise.
/// A failed handshake (the client did not trust the certificate, or spoke
/// no TLS) is counted and the connection dropped.
async fn serve_tls(acceptor: TlsAcceptor, stream: TcpStream, shared: Arc<Shared>) {
    let stream = match acceptor.accept(stream).await {
        Ok(stream) => stream,
        Err(_) => {
            shared.tls_failures.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
        crate::h2::serve(stream, shared).await;
    } else {
        serve_connection(stream, shared).await;
    }
}

/// Serves HTTP/1.1 requests on one connection until the client closes it,
/// asks to (`Connection: close`, HTTP/1.0), a fault ends it, or a write
/// fails.
async fn serve_connection<W: Wire>(mut stream: W, shared: Arc<Shared>) {
    // Bytes read past the current request head (pipelined requests).
    let mut buffer = Vec::with_capacity(4096);
    loop {
        let request = match read_request(&mut stream, &mut buffer).await {
            Ok(Some(request)) => request,
            _ => return,
        };
        log_request(&shared, &request);
        let head_only = request.method == "HEAD";
        let response = match route(&shared, &request, Some(&mut stream)).await {
            Ok(faults::Handled::Respond(response)) => response,
            Ok(faults::Handled::Close) | Err(_) => return,
        };
        if write_response(&mut stream, &response, head_only)
            .await
            .is_err()
            || request.close
        {
            return;
        }
    }
}

pub(crate) fn log_request(shared: &Shared, request: &http::Request) {
    lock(&shared.log).push(RequestRecord {
        path: request.target.clone(),
        host: request.host.clone(),
        user_agent: request.user_agent.clone(),
        headers: request.headers.clone(),
        version: request.version,
        // tokio's clock: a test on a paused clock reads virtual spacing.
        at: tokio::time::Instant::now().into_std(),
    });
}

fn sitemap(shared: &Shared, request: &http::Request, path: &str) -> Response {
    let base = format!(
        "{}://{}",
        shared.scheme,
        request.host.as_deref().unwrap_or("127.0.0.1")
    );
    if path == "/sitemap.xml" {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n<sitemap><loc>{base}/sitemaps/unlinked.xml.gz</loc></sitemap>\n</sitemapindex>\n"
        );
        return Response {
            status: 200,
            headers: vec![("Content-Type".into(), "application/xml".into())],
            body: Bytes::from(body),
        };
    }
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for page in (1..shared.pages.len()).filter(|&page| site::is_unlinked(page)) {
        xml.push_str(&format!(
            "<url><loc>{base}{}</loc></url>\n",
            page_path(page)
        ));
    }
    xml.push_str("<url><loc>http://outside.invalid/from-sitemap</loc></url>\n</urlset>\n");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = std::io::Write::write_all(&mut encoder, xml.as_bytes());
    Response {
        status: 200,
        headers: vec![("Content-Type".into(), "application/gzip".into())],
        body: Bytes::from(encoder.finish().unwrap_or_default()),
    }
}

/// Answers one request. `stream` is the HTTP/1.1 byte stream, for faults
/// that write raw bytes; `None` over HTTP/2.
pub(crate) async fn route<W: Wire>(
    shared: &Shared,
    request: &http::Request,
    stream: Option<&mut W>,
) -> std::io::Result<faults::Handled> {
    let path = request.path();
    if path == "/robots.txt" {
        let response = match &shared.config.robots_txt {
            Some(text) => Response {
                status: shared.config.robots_status,
                headers: vec![("Content-Type".into(), "text/plain".into())],
                body: Bytes::from(text.clone()),
            },
            None => Response::html(404, "<title>Not found</title>"),
        };
        return Ok(faults::Handled::Respond(response));
    }
    if shared.config.sitemaps && (path == "/sitemap.xml" || path == "/sitemaps/unlinked.xml.gz") {
        return Ok(faults::Handled::Respond(sitemap(shared, request, path)));
    }
    if path.starts_with("/fault/") {
        return faults::handle(shared, request, stream).await;
    }
    let page = if path == "/" {
        Some(0)
    } else {
        path.strip_prefix("/p/")
            .and_then(|n| n.parse::<usize>().ok())
    };
    let response = match page.and_then(|page| shared.pages.get(page).map(|body| (page, body))) {
        Some((page, body)) => {
            if !shared.config.latency.is_zero() {
                tokio::time::sleep(shared.config.latency).await;
            }
            match (&request.host, shared.config.hosts > 1) {
                (Some(host), true) => Response::html(
                    200,
                    render_page(
                        &shared.graph,
                        page,
                        &format!("{}://{host}", shared.scheme),
                        &shared.config,
                    ),
                ),
                _ => Response::html(200, body.clone()),
            }
        }
        None => Response::html(
            404,
            "<!DOCTYPE html><title>Not found</title><p>no such page</p>",
        ),
    };
    Ok(faults::Handled::Respond(response))
}
