//! The HTTP/1.1 the stub speaks: reading a request, writing a response, form decoding.

use std::io::{self, BufRead, Read, Write};
use std::time::Duration;

use crate::Request;

/// Longest request line or header line the stub reads.
const MAX_LINE: u64 = 64 * 1024;
/// Most headers in one request.
const MAX_HEADERS: usize = 200;
/// Largest request body the stub reads.
const MAX_BODY: u64 = 16 * 1024 * 1024;

#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Body,
    pub(crate) trickle: Option<Duration>,
    pub(crate) cut_after: Option<u64>,
}

#[derive(Debug, Clone)]
pub(crate) enum Body {
    Bytes(Vec<u8>),
    /// This many filler bytes, generated while writing.
    Filler(u64),
}

impl Response {
    pub(crate) fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Body::Bytes(Vec::new()),
            trickle: None,
            cut_after: None,
        }
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(name))
    }
}

impl Body {
    fn len(&self) -> u64 {
        match self {
            Body::Bytes(b) => b.len() as u64,
            Body::Filler(n) => *n,
        }
    }
}

/// Reads one request; None at end of stream, on a read error or timeout, or on input that
/// is not an HTTP/1.x request head.
pub(crate) fn read_request(r: &mut impl BufRead) -> Option<Request> {
    // Tolerate empty lines before the request line (RFC 9112 section 2.2).
    let line = loop {
        let line = read_line(r)?;
        if !line.is_empty() {
            break line;
        }
    };
    let mut parts = line.splitn(3, ' ');
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let version = parts.next()?.to_owned();
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let line = read_line(r)?;
        if line.is_empty() {
            break;
        }
        if headers.len() == MAX_HEADERS {
            return None;
        }
        let (k, v) = line.split_once(':')?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let mut req = Request {
        method,
        target,
        version,
        headers,
        body: Vec::new(),
        client_cert: None,
    };
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        req.body = read_chunked(r)?;
    } else if let Some(len) = req.header("content-length") {
        let len: u64 = len.parse().ok()?;
        if len > MAX_BODY {
            return None;
        }
        let mut body = Vec::new();
        r.take(len).read_to_end(&mut body).ok()?;
        if body.len() as u64 != len {
            return None;
        }
        req.body = body;
    }
    Some(req)
}

/// One line without its CRLF (or bare LF); None at end of stream or when too long.
fn read_line(r: &mut impl BufRead) -> Option<String> {
    let mut buf = Vec::new();
    let n = r.take(MAX_LINE).read_until(b'\n', &mut buf).ok()?;
    if n == 0 || buf.last() != Some(&b'\n') {
        return None;
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

fn read_chunked(r: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(r)?;
        let size = line.split(';').next()?.trim();
        let size = u64::from_str_radix(size, 16).ok()?;
        if size == 0 {
            // Trailers, up to the blank line.
            while !read_line(r)?.is_empty() {}
            return Some(body);
        }
        if body.len() as u64 + size > MAX_BODY {
            return None;
        }
        let before = body.len();
        r.take(size).read_to_end(&mut body).ok()?;
        if (body.len() - before) as u64 != size || !read_line(r)?.is_empty() {
            return None;
        }
    }
}

/// Writes `response`. Ok(true) when all of it went out, Ok(false) when it was cut short on
/// purpose (`cut_after`) or because the stub stopped while trickling.
pub(crate) fn write_response(
    w: &mut dyn Write,
    response: &Response,
    keep_alive: bool,
    sleep: &dyn Fn(Duration) -> bool,
) -> io::Result<bool> {
    let len = response.body.len();
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    if !response.has_header("content-length") && !response.has_header("transfer-encoding") {
        head.push_str(&format!("Content-Length: {len}\r\n"));
    }
    if !keep_alive && !response.has_header("connection") {
        head.push_str("Connection: close\r\n");
    }
    for (k, v) in &response.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())?;

    let send = response.cut_after.map_or(len, |cut| cut.min(len));
    let mut sent = 0u64;
    let filler = [b'x'; 16 * 1024];
    while sent < send {
        let chunk: &[u8] = match &response.body {
            Body::Bytes(b) => &b[to_usize(sent)..to_usize(send)],
            Body::Filler(_) => &filler[..to_usize((send - sent).min(filler.len() as u64))],
        };
        let chunk = match response.trickle {
            Some(gap) => {
                w.flush()?;
                if !sleep(gap) {
                    return Ok(false);
                }
                &chunk[..1]
            }
            None => chunk,
        };
        w.write_all(chunk)?;
        sent += chunk.len() as u64;
    }
    w.flush()?;
    Ok(response.cut_after.is_none_or(|cut| cut >= len))
}

/// An offset into a body held in memory, which therefore fits in usize.
fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// The reason phrase the stub sends: the usual one, or `Stub` for codes without one here.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Stub",
    }
}

/// The pairs of an `application/x-www-form-urlencoded` body, decoded.
pub(crate) fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    body.split(|&b| b == b'&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let mut it = kv.splitn(2, |&b| b == b'=');
            let k = decode(it.next().unwrap_or_default());
            let v = decode(it.next().unwrap_or_default());
            (k, v)
        })
        .collect()
}

fn decode(s: &[u8]) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < s.len() => {
                let hex = std::str::from_utf8(&s[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        assert_eq!(
            form_pairs(b"a=1&b=x%2By+z&c=%3D%&d"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x+y z".into()),
                ("c".into(), "=%".into()),
                ("d".into(), String::new()),
            ]
        );
    }

    #[test]
    fn reads_content_length_and_chunked_bodies() {
        let mut r = &b"POST /t HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n1;x=y\r\n!\r\n0\r\n\r\n"[..];
        let a = read_request(&mut r).expect("first");
        assert_eq!(
            (a.method.as_str(), a.target.as_str(), &a.body[..]),
            ("POST", "/t", &b"abc"[..])
        );
        let b = read_request(&mut r).expect("second");
        assert_eq!(b.body, b"hi!");
        assert_eq!(read_request(&mut r), None);
    }

    #[test]
    fn refuses_what_is_not_a_request() {
        for input in [
            &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"[..],
            b"GET /\r\n\r\n",
            b"GET / SPDY/3\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort",
            b"POST / HTTP/1.1\r\nno colon\r\n\r\n",
        ] {
            assert_eq!(read_request(&mut &input[..]), None, "{input:?}");
        }
    }
}
