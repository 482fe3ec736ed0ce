//! A forward proxy for the proxy tests: absolute-form requests
//! (`GET http://host:port/path`) for http targets, `CONNECT host:port`
//! tunnels for https ones, SOCKS5 (no login) on the same port, told apart
//! by the first byte, an optional Basic login for HTTP, and a log of
//! every request it was asked to carry: the log is what proves traffic
//! went through it.
//!
//! It connects to loopback addresses only (anything else is refused with
//! 403), so a test can never send traffic off the machine through it.
//! One request per client connection, answered with `Connection: close`:
//! simple, and a client then never reuses a connection the proxy closes.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The longest request or response head the proxy reads.
const MAX_HEAD: usize = 64 * 1024;

/// One request the proxy was asked to carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxiedRequest {
    /// `GET`, `CONNECT`, `SOCKS5`, …
    pub method: String,
    /// The request target as sent: an absolute URL, or `host:port` (for
    /// SOCKS5 the host as the client sent it: a name or an address).
    pub target: String,
    /// The `Proxy-Authorization` header, if any.
    pub proxy_authorization: Option<String>,
    /// Whether the proxy carried it (false: refused, 403 or 407).
    pub carried: bool,
}

/// A running forward proxy on 127.0.0.1; stopped when dropped.
#[derive(Debug)]
pub struct ForwardProxy {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<ProxiedRequest>>>,
    task: JoinHandle<()>,
    /// The CA that signed the proxy's certificate, for [`ForwardProxy::start_tls`].
    ca_pem: Option<String>,
}

impl ForwardProxy {
    /// Starts a proxy on a free loopback port. With `login`
    /// (`user`, `password`), requests without those Basic credentials get
    /// 407.
    pub async fn start(login: Option<(&str, &str)>) -> std::io::Result<ForwardProxy> {
        ForwardProxy::bind(login, None).await
    }

    /// [`ForwardProxy::start`] speaking TLS to its clients (an
    /// `https://` proxy; HTTP only, no SOCKS): its certificate, for
    /// `127.0.0.1`, is signed by a new CA, [`ForwardProxy::ca_pem`].
    pub async fn start_tls(login: Option<(&str, &str)>) -> std::io::Result<ForwardProxy> {
        let tls = crate::TlsConfig {
            alpn: vec![b"http/1.1".to_vec()],
            ..crate::TlsConfig::default()
        };
        let (server, ca_pem) = crate::tls::server_config(&tls)?;
        ForwardProxy::bind(
            login,
            Some((tokio_rustls::TlsAcceptor::from(server), ca_pem)),
        )
        .await
    }

    async fn bind(
        login: Option<(&str, &str)>,
        tls: Option<(tokio_rustls::TlsAcceptor, String)>,
    ) -> std::io::Result<ForwardProxy> {
        let (acceptor, ca_pem) = tls.unzip();
        let listener = TcpListener::bind((IpAddr::from([127, 0, 0, 1]), 0)).await?;
        let addr = listener.local_addr()?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let expected = login.map(|(user, password)| {
            format!(
                "Basic {}",
                data_encoding::BASE64.encode(format!("{user}:{password}").as_bytes())
            )
        });
        let task = tokio::spawn({
            let log = Arc::clone(&log);
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    let log = Arc::clone(&log);
                    let expected = expected.clone();
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        // A broken connection only ends that connection.
                        let _ = match acceptor {
                            Some(acceptor) => match acceptor.accept(client).await {
                                Ok(tls) => carry_http(tls, &log, expected.as_deref()).await,
                                Err(_) => Ok(()),
                            },
                            None => carry(client, &log, expected.as_deref()).await,
                        };
                    });
                }
            }
        });
        Ok(ForwardProxy {
            addr,
            log,
            task,
            ca_pem,
        })
    }

    /// `http://127.0.0.1:PORT` (`https://` for [`ForwardProxy::start_tls`]).
    pub fn url(&self) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// The PEM of the CA that signed a TLS proxy's certificate.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<ProxiedRequest> {
        self.log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads a head up to its blank line; returns it and whatever followed.
async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut buffer = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            let rest = buffer.split_off(end + 4);
            return Ok(Some((String::from_utf8_lossy(&buffer).into_owned(), rest)));
        }
        if buffer.len() > MAX_HEAD {
            return Err(std::io::Error::other("head too large"));
        }
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}

/// The loopback address `authority` (`host:port`) names, if it is one.
fn loopback(authority: &str) -> Option<SocketAddr> {
    let (host, port) = authority.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::from([127, 0, 0, 1])
    } else {
        host.parse().ok()?
    };
    ip.is_loopback().then_some(SocketAddr::new(ip, port))
}

async fn refuse<S: AsyncWrite + Unpin>(
    client: &mut S,
    status: &str,
    extra: &str,
) -> std::io::Result<()> {
    let head =
        format!("HTTP/1.1 {status}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n");
    client.write_all(head.as_bytes()).await?;
    client.shutdown().await
}

async fn carry(
    client: TcpStream,
    log: &Mutex<Vec<ProxiedRequest>>,
    expected_login: Option<&str>,
) -> std::io::Result<()> {
    let mut first = [0u8; 1];
    if client.peek(&mut first).await? == 0 {
        return Ok(());
    }
    if first[0] == 5 {
        return socks5(client, log).await;
    }
    carry_http(client, log, expected_login).await
}

/// One HTTP proxy request: absolute form or CONNECT.
async fn carry_http<S: AsyncRead + AsyncWrite + Unpin>(
    mut client: S,
    log: &Mutex<Vec<ProxiedRequest>>,
    expected_login: Option<&str>,
) -> std::io::Result<()> {
    let Some((head, rest)) = read_head(&mut client).await? else {
        return Ok(());
    };
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let target = request_line.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let proxy_authorization = headers
        .iter()
        .find(|(name, _)| name == "proxy-authorization")
        .map(|(_, value)| value.clone());
    let authority = if method == "CONNECT" {
        Some(target.clone())
    } else {
        target
            .strip_prefix("http://")
            .map(|rest| rest.split('/').next().unwrap_or_default().to_owned())
    };
    let upstream_addr = authority.as_deref().and_then(loopback);
    let authorized =
        expected_login.is_none_or(|login| proxy_authorization.as_deref() == Some(login));
    let carried = authorized && upstream_addr.is_some();
    log.lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(ProxiedRequest {
            method: method.clone(),
            target: target.clone(),
            proxy_authorization,
            carried,
        });
    if !authorized {
        return refuse(
            &mut client,
            "407 Proxy Authentication Required",
            "Proxy-Authenticate: Basic realm=\"test proxy\"\r\n",
        )
        .await;
    }
    let Some(upstream_addr) = upstream_addr else {
        return refuse(&mut client, "403 Forbidden", "").await;
    };
    let Ok(mut upstream) = TcpStream::connect(upstream_addr).await else {
        return refuse(&mut client, "502 Bad Gateway", "").await;
    };
    if method == "CONNECT" {
        client
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await?;
        upstream.write_all(&rest).await?;
        tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
        return Ok(());
    }
    // Absolute form to origin form, hop-by-hop headers dropped.
    let path_start = target["http://".len()..]
        .find('/')
        .map_or(target.len(), |index| index + "http://".len());
    let path = if path_start < target.len() {
        &target[path_start..]
    } else {
        "/"
    };
    let mut forwarded = format!("{method} {path} HTTP/1.1\r\n");
    for (name, value) in &headers {
        if !matches!(
            name.as_str(),
            "proxy-authorization" | "proxy-connection" | "connection" | "keep-alive"
        ) {
            forwarded.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    forwarded.push_str("Connection: close\r\n\r\n");
    upstream.write_all(forwarded.as_bytes()).await?;
    upstream.write_all(&rest).await?;
    let Some((response_head, body_start)) = read_head(&mut upstream).await? else {
        return refuse(&mut client, "502 Bad Gateway", "").await;
    };
    let mut response = String::new();
    for line in response_head.trim_end_matches("\r\n").split("\r\n") {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            response.push_str(line);
            response.push_str("\r\n");
        }
    }
    response.push_str("Connection: close\r\n\r\n");
    client.write_all(response.as_bytes()).await?;
    client.write_all(&body_start).await?;
    tokio::io::copy(&mut upstream, &mut client).await?;
    client.shutdown().await
}

/// SOCKS5 (RFC 1928), no authentication, CONNECT only.
async fn socks5(mut client: TcpStream, log: &Mutex<Vec<ProxiedRequest>>) -> std::io::Result<()> {
    let mut greeting = [0u8; 2];
    client.read_exact(&mut greeting).await?;
    let mut methods = vec![0u8; usize::from(greeting[1])];
    client.read_exact(&mut methods).await?;
    if !methods.contains(&0) {
        return client.write_all(&[5, 0xFF]).await;
    }
    client.write_all(&[5, 0]).await?;
    let mut request = [0u8; 4];
    client.read_exact(&mut request).await?;
    let host = match request[3] {
        1 => {
            let mut octets = [0u8; 4];
            client.read_exact(&mut octets).await?;
            IpAddr::from(octets).to_string()
        }
        3 => {
            let mut length = [0u8; 1];
            client.read_exact(&mut length).await?;
            let mut name = vec![0u8; usize::from(length[0])];
            client.read_exact(&mut name).await?;
            String::from_utf8_lossy(&name).into_owned()
        }
        4 => {
            let mut octets = [0u8; 16];
            client.read_exact(&mut octets).await?;
            format!("[{}]", IpAddr::from(octets))
        }
        _ => return Err(std::io::Error::other("unknown SOCKS5 address type")),
    };
    let mut port = [0u8; 2];
    client.read_exact(&mut port).await?;
    let target = format!("{host}:{}", u16::from_be_bytes(port));
    let upstream_addr = (request[1] == 1).then(|| loopback(&target)).flatten();
    log.lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(ProxiedRequest {
            method: "SOCKS5".to_owned(),
            target,
            proxy_authorization: None,
            carried: upstream_addr.is_some(),
        });
    // Reply code 2: "connection not allowed by ruleset".
    let refused = [5, 2, 0, 1, 0, 0, 0, 0, 0, 0];
    let Some(upstream_addr) = upstream_addr else {
        return client.write_all(&refused).await;
    };
    let Ok(mut upstream) = TcpStream::connect(upstream_addr).await else {
        return client.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]).await;
    };
    client.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets_are_carried() {
        assert_eq!(
            loopback("127.0.0.1:8080"),
            Some("127.0.0.1:8080".parse().unwrap())
        );
        assert_eq!(loopback("[::1]:443"), Some("[::1]:443".parse().unwrap()));
        assert!(loopback("localhost:80").is_some());
        assert_eq!(loopback("10.0.0.1:80"), None);
        assert_eq!(loopback("example.com:443"), None);
        assert_eq!(loopback("127.0.0.1"), None);
    }
}
