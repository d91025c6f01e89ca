//! A raw HTTP/1.1 client over TCP, for what a well-behaved client library won't do: send a head byte by byte,
//! stall a body, stream 100 MB while reading the answer that cuts it short.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An answer as it came over the wire.
#[derive(Debug)]
pub struct RawReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Assert an answer in `statuses` carrying Graph's error envelope with the request's ids; returns the error.
    #[track_caller]
    pub fn envelope(&self, statuses: &[u16]) -> Value {
        assert!(statuses.contains(&self.status), "status {} not in {statuses:?}: {}", self.status, self.text());
        assert!(self.header("content-type").is_some_and(|c| c.starts_with("application/json")), "{self:?}");
        let body: Value = serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.text()));
        let error = body["error"].clone();
        assert!(error["code"].as_str().is_some_and(|c| !c.is_empty()), "{body}");
        assert!(error["message"].as_str().is_some_and(|c| !c.is_empty()), "{body}");
        assert!(error["innerError"]["date"].is_string(), "{body}");
        let request_id = error["innerError"]["request-id"].as_str().unwrap_or_else(|| panic!("no request-id: {body}"));
        assert_eq!(self.header("request-id"), Some(request_id), "{body}");
        error
    }
}

/// How the body goes out after the head.
pub enum Sending {
    Nothing,
    All(Vec<u8>),
    /// `total` bytes, `chunk` at a time (in the chunked encoding when `chunked`), as fast as the server takes
    /// them, stopping when it answers or closes. The bytes are `{"displayName":"aaaa…`.
    Stream {
        total: u64,
        chunk: usize,
        chunked: bool,
    },
    /// `prefix`, then nothing more, the connection held open.
    Stall {
        prefix: Vec<u8>,
    },
    /// `bytes` one at a time, `every` apart.
    Trickle {
        bytes: Vec<u8>,
        every: Duration,
    },
}

/// Send `head` (its blank line included) and the body; return the answer, read while the body is still going
/// out, and how many body bytes were written by then. `None` when the server refused the connection or closed
/// it without an answer.
pub async fn exchange(addr: &str, head: &[u8], sending: Sending, wait: Duration) -> (Option<RawReply>, u64) {
    // A server that is gone (or closed at once) gives no answer: the caller says which.
    let Ok(stream) = TcpStream::connect(addr).await else { return (None, 0) };
    let (mut rd, mut wr) = stream.into_split();
    if wr.write_all(head).await.is_err() {
        return (None, 0);
    }
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let writer = tokio::spawn(async move {
        let count = |n: usize| counter.fetch_add(n as u64, Ordering::Relaxed);
        match sending {
            Sending::Nothing => {}
            Sending::All(bytes) => {
                if wr.write_all(&bytes).await.is_ok() {
                    count(bytes.len());
                }
            }
            Sending::Stream { total, chunk, chunked } => {
                let mut block = vec![b'a'; chunk];
                block[..16].copy_from_slice(br#"{"displayName":""#);
                let mut left = total;
                while left > 0 {
                    let n = chunk.min(left as usize);
                    let framed = if chunked {
                        [format!("{n:x}\r\n").as_bytes(), &block[..n], b"\r\n"].concat()
                    } else {
                        block[..n].to_vec()
                    };
                    if wr.write_all(&framed).await.is_err() {
                        break;
                    }
                    count(n);
                    left -= n as u64;
                    block[..16].fill(b'a');
                }
                if chunked && left == 0 {
                    let _ = wr.write_all(b"0\r\n\r\n").await;
                }
            }
            Sending::Stall { prefix } => {
                if wr.write_all(&prefix).await.is_ok() {
                    count(prefix.len());
                }
            }
            Sending::Trickle { bytes, every } => {
                for b in bytes {
                    if wr.write_all(&[b]).await.is_err() {
                        break;
                    }
                    count(1);
                    tokio::time::sleep(every).await;
                }
            }
        }
        // Keep the write half, and so the connection, open until the answer is read.
        std::future::pending::<()>().await;
        drop(wr);
    });
    let reply =
        tokio::time::timeout(wait, read_reply(&mut rd)).await.unwrap_or_else(|_| panic!("no answer within {wait:?}"));
    writer.abort();
    (reply, sent.load(Ordering::Relaxed))
}

/// Send a bodyless request and return its answer.
pub async fn request(addr: &str, head: &[u8]) -> Option<RawReply> {
    exchange(addr, head, Sending::Nothing, Duration::from_secs(20)).await.0
}

/// The head of a request: `method target`, then `headers`, then the blank line.
pub fn head(method: &str, target: &str, headers: &[(&str, String)]) -> Vec<u8> {
    let mut out = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// Send `head` one byte every `every`; returns what came back and when the server closed the connection.
pub async fn trickle_head(addr: &str, head: &[u8], every: Duration, give_up: Duration) -> (Vec<u8>, Duration) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let started = Instant::now();
    let bytes = head.to_vec();
    let writer = tokio::spawn(async move {
        for b in bytes {
            if wr.write_all(&[b]).await.is_err() {
                return;
            }
            tokio::time::sleep(every).await;
        }
        std::future::pending::<()>().await;
    });
    let mut received = Vec::new();
    let read = tokio::time::timeout(give_up, rd.read_to_end(&mut received)).await;
    writer.abort();
    assert!(read.is_ok(), "the connection was still open after {give_up:?}");
    (received, started.elapsed())
}

async fn read_reply(rd: &mut (impl AsyncReadExt + Unpin)) -> Option<RawReply> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 8192];
        match rd.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_string(), v.trim().to_string())).collect();
    let mut body = buf[head_end..].to_vec();
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok());
    match length {
        Some(n) => {
            while body.len() < n {
                let mut chunk = [0u8; 8192];
                match rd.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(k) => body.extend_from_slice(&chunk[..k]),
                }
            }
            body.truncate(n);
        }
        None => {
            let _ = rd.read_to_end(&mut body).await;
        }
    }
    Some(RawReply { status, headers, body })
}
