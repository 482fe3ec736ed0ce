//! The server: the accept loop, one task per connection, and the router
//! that sends each request to a page, robots.txt, the sitemaps or a fault.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::{TcpListener, TcpStream};

use crate::http::{self, Response, read_request, write_response};
use crate::site::{self, page_path, render};
use crate::{RequestRecord, Shared, faults, lock};

pub(crate) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    // Connection tasks live in this set, so aborting the accept loop (on
    // shutdown or drop) ends them too.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // Best effort: without TCP_NODELAY the site is only slower.
                    let _ = stream.set_nodelay(true);
                    connections.spawn(serve_connection(stream, Arc::clone(&shared)));
                }
                // Out of file descriptors, or a connection that died in the
                // queue: wait a little instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Serves requests on one connection until the client closes it, asks to
/// (`Connection: close`, HTTP/1.0), a fault ends it, or a write fails.
async fn serve_connection(mut stream: TcpStream, shared: Arc<Shared>) {
    // Bytes read past the current request head (pipelined requests).
    let mut buffer = Vec::with_capacity(4096);
    loop {
        let request = match read_request(&mut stream, &mut buffer).await {
            Ok(Some(request)) => request,
            _ => return,
        };
        lock(&shared.log).push(RequestRecord {
            path: request.target.clone(),
            host: request.host.clone(),
            user_agent: request.user_agent.clone(),
            headers: request.headers.clone(),
            // tokio's clock: a test on a paused clock reads virtual spacing.
            at: tokio::time::Instant::now().into_std(),
        });
        let head_only = request.method == "HEAD";
        let response = match route(&shared, &request, &mut stream).await {
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

fn sitemap(shared: &Shared, request: &http::Request, path: &str) -> Response {
    let base = format!("http://{}", request.host.as_deref().unwrap_or("127.0.0.1"));
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

async fn route(
    shared: &Shared,
    request: &http::Request,
    stream: &mut TcpStream,
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
                    render(
                        &shared.graph,
                        page,
                        &format!("http://{host}"),
                        shared.config.page_bytes,
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
