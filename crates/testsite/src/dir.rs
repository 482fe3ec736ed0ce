//! A folder of real pages served as a site, for benchmarks on the web's
//! own markup (the Rust documentation, say: `$(rustc --print
//! sysroot)/share/doc/rust/html`), on the same hand-written HTTP/1.1 as
//! the synthetic site.
//!
//! `/a/b.html` is `ROOT/a/b.html`; a folder is its `index.html`; anything
//! that is not a file under the root (`..` included) is 404. Files are
//! read when asked for (the page cache keeps them), with the content type
//! their extension names. Every request is counted by path, so a bench
//! can check that each page was fetched once.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::http::{Response, read_request, write_response};

/// A folder served on 127.0.0.1; stopped when dropped.
#[derive(Debug)]
pub struct DirSite {
    addr: SocketAddr,
    hits: Arc<Mutex<HashMap<String, u32>>>,
    connections: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl DirSite {
    /// Serves `root` on `port` (0: a free one) of 127.0.0.1.
    pub async fn start(root: PathBuf, port: u16) -> std::io::Result<DirSite> {
        if !root.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} is not a folder", root.display()),
            ));
        }
        let listener = TcpListener::bind((IpAddr::from([127, 0, 0, 1]), port)).await?;
        let addr = listener.local_addr()?;
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let connections_accepted = Arc::new(AtomicU64::new(0));
        let root = Arc::new(root);
        let task = tokio::spawn({
            let hits = Arc::clone(&hits);
            let accepted_count = Arc::clone(&connections_accepted);
            async move {
                let mut connections = tokio::task::JoinSet::new();
                loop {
                    tokio::select! {
                        accepted = listener.accept() => if let Ok((stream, _)) = accepted {
                            accepted_count.fetch_add(1, Ordering::Relaxed);
                            let _ = stream.set_nodelay(true);
                            connections.spawn(serve(stream, Arc::clone(&root), Arc::clone(&hits)));
                        },
                        Some(_) = connections.join_next(), if !connections.is_empty() => {}
                    }
                }
            }
        });
        Ok(DirSite {
            addr,
            hits,
            connections: connections_accepted,
            task,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Requests per path (with query) so far.
    pub fn hits(&self) -> HashMap<String, u32> {
        self.hits
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Drop for DirSite {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut stream: TcpStream, root: Arc<PathBuf>, hits: Arc<Mutex<HashMap<String, u32>>>) {
    let mut buffer = Vec::with_capacity(4096);
    while let Ok(Some(request)) = read_request(&mut stream, &mut buffer).await {
        *hits
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(request.target.clone())
            .or_default() += 1;
        let response = match file_for(&root, request.path()) {
            Some(path) => match tokio::fs::read(&path).await {
                Ok(body) => Response {
                    status: 200,
                    headers: vec![("Content-Type".into(), content_type(&path).into())],
                    body: Bytes::from(body),
                },
                Err(_) => Response::html(404, "not found"),
            },
            None => Response::html(404, "not found"),
        };
        let head_only = request.method == "HEAD";
        if write_response(&mut stream, &response, head_only)
            .await
            .is_err()
            || request.close
        {
            return;
        }
    }
}

/// The file a request path names under `root`, if it is one.
fn file_for(root: &Path, path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(path)?;
    let mut file = root.to_path_buf();
    for component in Path::new(decoded.trim_start_matches('/')).components() {
        match component {
            Component::Normal(part) => file.push(part),
            Component::CurDir => {}
            // `..`, a root or a prefix: outside the folder.
            _ => return None,
        }
    }
    if file.is_dir() {
        file.push("index.html");
    }
    file.is_file().then_some(file)
}

fn percent_decode(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = std::str::from_utf8(bytes.get(at + 1..at + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            at += 3;
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|ext| ext.to_str()) {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("txt" | "md") => "text/plain; charset=utf-8",
        Some("xml") => "application/xml",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("std/vec")).unwrap();
        std::fs::write(dir.path().join("std/index.html"), "<p>std</p>").unwrap();
        std::fs::write(dir.path().join("std/vec/struct.Vec.html"), "vec").unwrap();
        std::fs::write(dir.path().join("a b.html"), "space").unwrap();
        let found = |path: &str| {
            file_for(dir.path(), path).map(|file| file.strip_prefix(dir.path()).unwrap().to_owned())
        };
        assert_eq!(found("/std/"), Some(PathBuf::from("std/index.html")));
        assert_eq!(found("/std"), Some(PathBuf::from("std/index.html")));
        assert_eq!(
            found("/std/vec/struct.Vec.html"),
            Some(PathBuf::from("std/vec/struct.Vec.html"))
        );
        assert_eq!(found("/a%20b.html"), Some(PathBuf::from("a b.html")));
        assert_eq!(found("/std/../../etc/passwd"), None);
        assert_eq!(found("/%2e%2e/x"), None);
        assert_eq!(found("/missing.html"), None);
        assert_eq!(found("/std/vec/"), None, "a folder without index.html");
        assert_eq!(
            content_type(Path::new("a/b.html")),
            "text/html; charset=utf-8"
        );
    }

    #[tokio::test]
    async fn a_folder_is_served_and_counted() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "<a href=\"x.html\">x</a>").unwrap();
        let site = DirSite::start(dir.path().to_owned(), 0).await.unwrap();
        let mut stream = TcpStream::connect(site.addr).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).await.unwrap();
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        assert!(text.ends_with("<a href=\"x.html\">x</a>"), "{text}");
        assert_eq!(site.hits().get("/"), Some(&1));
        assert_eq!(site.connections(), 1);
        assert!(DirSite::start(dir.path().join("nope"), 0).await.is_err());
    }
}
