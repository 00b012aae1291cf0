//! A tiny HTTP/1.1 responder for `/metrics` and `/healthz` on its own thread: no async runtime
//! needed (it serves sync and async programs alike), one request per connection, a scrape at a
//! time — what Prometheus needs and nothing more.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The content type of the Prometheus text exposition format.
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The most a request head may take (request line and headers).
const MAX_HEAD: usize = 8 * 1024;
/// How long a client may take to send its request or read the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Renders the body of `/metrics`.
pub type Render = Box<dyn Fn() -> String + Send + 'static>;

/// The serving thread; stops when dropped.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves on `listener` (already bound) until stopped.
    pub fn start(listener: TcpListener, render: Render) -> io::Result<Server> {
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("metrics-http".to_string())
            .spawn(move || serve(&listener, &render, &stopping))?;
        Ok(Server {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and waits for the request being answered, if any.
    pub fn stop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the blocking accept; if that cannot connect, the thread is left to end with
        // the process rather than hang the shutdown.
        if TcpStream::connect_timeout(&wake_addr(self.addr), Duration::from_secs(1)).is_ok() {
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Where to connect to reach a listener bound to `addr` (a wildcard address is reached on
/// loopback).
fn wake_addr(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

fn serve(listener: &TcpListener, render: &Render, stop: &AtomicBool) {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        if let Ok(stream) = conn {
            // A client that goes away mid-request is its own problem, not the service's.
            let _ = answer(stream, render);
        }
    }
}

fn answer(mut stream: TcpStream, render: &Render) -> io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let head = read_head(&mut stream)?;
    let (status, content_type, body) = route(&head, render);
    let head_only = head.starts_with("HEAD ");
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(response.as_bytes())?;
    if !head_only {
        stream.write_all(body.as_bytes())?;
    }
    stream.flush()
}

/// Reads up to the end of the request head (the requests served have no body).
fn read_head(stream: &mut TcpStream) -> io::Result<String> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < MAX_HEAD {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// The status line, content type and body for a request head.
fn route(head: &str, render: &Render) -> (&'static str, &'static str, String) {
    let mut words = head.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let plain = "text/plain; charset=utf-8";
    if method != "GET" && method != "HEAD" {
        return (
            "405 Method Not Allowed",
            plain,
            "only GET and HEAD\n".into(),
        );
    }
    match path {
        "/metrics" => ("200 OK", TEXT_FORMAT, render()),
        "/healthz" => ("200 OK", plain, "ok\n".into()),
        _ => (
            "404 Not Found",
            plain,
            "not found: try /metrics or /healthz\n".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let render: Render = Box::new(|| "m 1\n".to_string());
        let get = |head: &str| route(head, &render);
        assert_eq!(get("GET /metrics HTTP/1.1\r\n\r\n").2, "m 1\n");
        assert_eq!(get("GET /metrics?x=1 HTTP/1.1\r\n\r\n").0, "200 OK");
        assert_eq!(get("GET /healthz HTTP/1.0\r\n\r\n").2, "ok\n");
        assert_eq!(get("GET / HTTP/1.1\r\n\r\n").0, "404 Not Found");
        assert_eq!(
            get("POST /metrics HTTP/1.1\r\n\r\n").0,
            "405 Method Not Allowed"
        );
        assert_eq!(get("").0, "405 Method Not Allowed");
    }

    #[test]
    fn wildcard_addresses_are_woken_on_loopback() {
        let any: SocketAddr = "0.0.0.0:9466".parse().unwrap();
        assert_eq!(wake_addr(any), "127.0.0.1:9466".parse().unwrap());
        let any6: SocketAddr = "[::]:9466".parse().unwrap();
        assert_eq!(wake_addr(any6), "[::1]:9466".parse().unwrap());
    }
}
