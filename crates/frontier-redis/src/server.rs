//! A throwaway `redis-server` on a free loopback port, for tests and the
//! benchmark: started by path, stopped by PID, with a tiny blocking client
//! for the few commands a test reads (`INFO`, `MEMORY USAGE`, `DBSIZE`).
//!
//! The binary is `$TEST_REDIS_SERVER`, else `redis-server` from `PATH`,
//! else `/usr/bin/redis-server`. A missing binary is an error, never a
//! skip: the tests that need a server must fail without one.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why a test server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// No binary.
    #[error(
        "cannot run {}: {source} (install redis-server, or set TEST_REDIS_SERVER to its path)",
        path.display()
    )]
    Missing {
        /// The binary tried.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// Started, but never answered PING.
    #[error("redis-server on port {port} did not answer within 10 s")]
    NoAnswer {
        /// Its port.
        port: u16,
    },
    /// A socket operation failed.
    #[error("talking to redis-server: {0}")]
    Io(#[from] std::io::Error),
}

/// A running `redis-server`, killed (by PID) when dropped.
#[derive(Debug)]
pub struct TestServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    appendonly: bool,
}

/// The `redis-server` binary the tests use.
pub fn server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TEST_REDIS_SERVER") {
        return PathBuf::from(path);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("redis-server"))
            .find(|path| path.is_file())
    });
    on_path.unwrap_or_else(|| PathBuf::from("/usr/bin/redis-server"))
}

impl TestServer {
    /// A server without persistence, its files (none) in `dir`.
    pub fn start(dir: &Path) -> Result<TestServer, ServerError> {
        TestServer::launch(dir, free_port()?, false)
    }

    /// A server with the AOF on (`appendfsync always`), so a restart loses
    /// nothing.
    pub fn start_durable(dir: &Path) -> Result<TestServer, ServerError> {
        TestServer::launch(dir, free_port()?, true)
    }

    fn launch(dir: &Path, port: u16, appendonly: bool) -> Result<TestServer, ServerError> {
        let mut server = TestServer {
            child: None,
            port,
            dir: dir.to_owned(),
            appendonly,
        };
        server.spawn()?;
        Ok(server)
    }

    // Blocking by design: tests start and restart servers from plain
    // threads, outside any runtime.
    #[allow(clippy::disallowed_methods)]
    fn spawn(&mut self) -> Result<(), ServerError> {
        let path = server_binary();
        let mut command = Command::new(&path);
        command
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--dir")
            .arg(&self.dir)
            .arg("--save")
            .arg("")
            .arg("--daemonize")
            .arg("no")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if self.appendonly {
            command
                .args(["--appendonly", "yes", "--appendfsync", "always"])
                .args(["--appendfilename", "trawl.aof"]);
        } else {
            command.args(["--appendonly", "no"]);
        }
        let child = command
            .spawn()
            .map_err(|source| ServerError::Missing { path, source })?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(reply) = self.command(&["PING"])
                && reply == "PONG"
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        Err(ServerError::NoAnswer { port: self.port })
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's PID while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the server (SIGKILL, by PID) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server and starts it again on the same port and folder
    /// (with the AOF on, it reloads everything).
    pub fn restart(&mut self) -> Result<(), ServerError> {
        self.kill();
        self.spawn()
    }

    /// Sends one command; the reply flattened to text (arrays joined by
    /// newlines, nil as an empty string, errors prefixed `-`).
    pub fn command(&self, args: &[&str]) -> Result<String, ServerError> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(request.as_bytes())?;
        let mut reader = BufReader::new(stream);
        read_reply(&mut reader)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> Result<u16, ServerError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn read_reply(reader: &mut impl BufRead) -> Result<String, ServerError> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let line = line.trim_end_matches("\r\n");
    let bad = || ServerError::Io(std::io::Error::other(format!("bad reply {line:?}")));
    let (kind, rest) = line.split_at_checked(1).ok_or_else(bad)?;
    match kind {
        "+" | ":" => Ok(rest.to_owned()),
        "-" => Ok(format!("-{rest}")),
        "$" => {
            let len: i64 = rest.parse().map_err(|_| bad())?;
            if len < 0 {
                return Ok(String::new());
            }
            let mut body = vec![0; len as usize + 2];
            reader.read_exact(&mut body)?;
            body.truncate(len as usize);
            Ok(String::from_utf8_lossy(&body).into_owned())
        }
        "*" => {
            let len: i64 = rest.parse().map_err(|_| bad())?;
            let mut items = Vec::new();
            for _ in 0..len.max(0) {
                items.push(read_reply(reader)?);
            }
            Ok(items.join("\n"))
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_flatten_to_text() {
        let mut reply = &b"*3\r\n+OK\r\n$5\r\nhello\r\n$-1\r\n"[..];
        assert_eq!(read_reply(&mut reply).unwrap(), "OK\nhello\n");
        let mut error = &b"-ERR no\r\n"[..];
        assert_eq!(read_reply(&mut error).unwrap(), "-ERR no");
        let mut junk = &b"?\r\n"[..];
        assert!(read_reply(&mut junk).is_err());
    }
}
