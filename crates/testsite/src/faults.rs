//! Fault endpoints: servers that misbehave the ways real ones do.

use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;

use crate::Shared;
use crate::http::{Request, Response, head_bytes};
use crate::server::Wire;

/// What the connection loop should do after a fault handler ran.
#[derive(Debug)]
pub(crate) enum Handled {
    /// A normal response to write; the connection may be kept alive.
    Respond(Response),
    /// The handler wrote (or refused to write) by itself; close the connection.
    Close,
}

fn small_page(title: &str, body: &str) -> String {
    format!("<!DOCTYPE html><html><head><title>{title}</title></head><body>{body}</body></html>")
}

/// A fault that writes raw bytes, asked for over HTTP/2, where there is no
/// byte stream of its own to break.
fn http1_only(name: &str) -> Handled {
    Handled::Respond(Response::html(
        501,
        small_page(
            "HTTP/1.1 only",
            &format!("/fault/{name} breaks the HTTP/1.1 byte stream; it is not served over HTTP/2"),
        ),
    ))
}

/// Answers `/fault/...`. `stream` is the connection's byte stream over
/// HTTP/1.1, for the faults that write raw bytes; `None` over HTTP/2,
/// where those answer 501.
pub(crate) async fn handle<W: Wire>(
    shared: &Shared,
    request: &Request,
    stream: Option<&mut W>,
) -> std::io::Result<Handled> {
    let path = request.path();
    let rest = path.strip_prefix("/fault/").unwrap_or("");
    let (name, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let response = match name {
        "slow-headers" => {
            tokio::time::sleep(Duration::from_millis(request.query_u64("ms", 1000))).await;
            Response::html(200, small_page("Slow headers", "late"))
        }
        "drip" => {
            let Some(stream) = stream else {
                return Ok(http1_only(name));
            };
            let bytes = request.query_u64("bytes", 100);
            let pause = Duration::from_millis(request.query_u64("ms", 100));
            let head = head_bytes(
                200,
                &[("Content-Type".into(), "text/html".into())],
                Some(bytes),
            );
            stream.write_all(&head).await?;
            for _ in 0..bytes {
                tokio::time::sleep(pause).await;
                stream.write_all(b"x").await?;
                stream.flush().await?;
            }
            return Ok(Handled::Close);
        }
        "redirect-loop" => Response::html(302, "").header("Location", "/fault/redirect-loop"),
        "redirect-chain" => {
            let hops: u64 = tail.parse().unwrap_or(0);
            if hops == 0 {
                Response::html(
                    200,
                    small_page("Chain end", "<a href=\"/fault/leaf/chain\">leaf</a>"),
                )
            } else {
                Response::html(302, "")
                    .header("Location", format!("/fault/redirect-chain/{}", hops - 1))
            }
        }
        "redirect-to" => {
            let target = request.query("url").unwrap_or("/");
            Response::html(301, "").header("Location", target)
        }
        "auth" => {
            // A Basic-auth area (user `trawl`, password `secret`): a page
            // linking inside the area and, with `away=U`, to a redirect
            // that leaves for U.
            let authorized = request
                .headers
                .iter()
                .any(|(name, value)| name == "authorization" && value == "Basic dHJhd2w6c2VjcmV0");
            if !authorized {
                Response::html(401, small_page("Login required", "401"))
                    .header("WWW-Authenticate", "Basic realm=\"trawl test\"")
            } else {
                let away = request
                    .query("away")
                    .map(|url| format!("<a href=\"/fault/redirect-to?url={url}\">away</a>"))
                    .unwrap_or_default();
                let inner = if tail == "inner" {
                    String::new()
                } else {
                    "<a href=\"/fault/auth/inner\">inner</a>".to_owned()
                };
                Response::html(200, small_page("Members only", &format!("{inner}{away}")))
            }
        }
        "cookie" => {
            // `set` sets a consent cookie and links to `need`, which
            // answers 403 without it: a site behind a cookie wall.
            let consented = request.headers.iter().any(|(name, value)| {
                name == "cookie" && value.split(';').any(|pair| pair.trim() == "consent=yes")
            });
            match tail {
                "set" => Response::html(
                    200,
                    small_page("Consent", "<a href=\"/fault/cookie/need\">members</a>"),
                )
                .header("Set-Cookie", "consent=yes; Path=/; HttpOnly")
                .header("Set-Cookie", "tracker=1; Domain=.co.uk"),
                _ if !consented => Response::html(403, small_page("Consent needed", "403")),
                _ => Response::html(
                    200,
                    small_page(
                        "Behind the wall",
                        "<a href=\"/fault/leaf/consented\">leaf</a>",
                    ),
                ),
            }
        }
        "link-to" => {
            let target = request.query("url").unwrap_or("/").replace('"', "&quot;");
            Response::html(
                200,
                small_page("Link", &format!("<a href=\"{target}\">there</a>")),
            )
        }
        "huge" => {
            let Some(stream) = stream else {
                return Ok(http1_only(name));
            };
            let bytes = request.query_u64("bytes", 20 << 20);
            let head = head_bytes(
                200,
                &[("Content-Type".into(), "text/html".into())],
                Some(bytes),
            );
            stream.write_all(&head).await?;
            let chunk = vec![b'a'; 64 * 1024];
            let mut left = bytes;
            while left > 0 {
                let take = left.min(chunk.len() as u64) as usize;
                stream.write_all(&chunk[..take]).await?;
                left -= take as u64;
            }
            stream.flush().await?;
            return Ok(Handled::Close);
        }
        "gzip-bomb" => {
            let bytes = request.query_u64("bytes", 100 << 20);
            let body = shared.gzip_zeros(bytes).await;
            Response::html(200, body).header("Content-Encoding", "gzip")
        }
        "status" => {
            let status: u16 = tail.parse().unwrap_or(500);
            Response::html(status, small_page(&format!("Status {status}"), "status"))
        }
        "flaky" => {
            let fail = request.query_u64("fail", 1);
            let seen = shared.count_key(&format!("flaky/{tail}"));
            if seen <= fail {
                Response::html(503, small_page("Unavailable", "try again"))
            } else {
                Response::html(200, small_page("Flaky recovered", "ok"))
            }
        }
        "retry-after" => {
            let seconds = request.query_u64("secs", 1);
            if shared.count_key(&format!("retry-after/{tail}")) == 1 {
                Response::html(429, small_page("Slow down", "429"))
                    .header("Retry-After", seconds.to_string())
            } else {
                Response::html(200, small_page("Retry-After recovered", "ok"))
            }
        }
        "latin1" => encoded_page(
            request,
            encoding_rs::WINDOWS_1252,
            "iso-8859-1",
            "Café Ñandú",
            "Crème brûlée, déjà vu, naïve façade, señor año, garçon.",
        ),
        "sjis" => encoded_page(
            request,
            encoding_rs::SHIFT_JIS,
            "shift_jis",
            "日本語のページ",
            "これは日本語で書かれたページです。東京、大阪、京都、そして北海道。",
        ),
        "gb18030" => encoded_page(
            request,
            encoding_rs::GB18030,
            "gb18030",
            "中文网页",
            "这是一个用中文写的网页。北京、上海、广州和深圳都是大城市。",
        ),
        "utf16" => {
            let html = "<!DOCTYPE html><html><head><title>Ünïcödé Sïxtéén</title></head><body><a href=\"/p/1\">one</a></body></html>";
            let mut body = vec![0xFF, 0xFE];
            for unit in html.encode_utf16() {
                body.extend_from_slice(&unit.to_le_bytes());
            }
            Response {
                status: 200,
                headers: vec![("Content-Type".into(), "text/html".into())],
                body: Bytes::from(body),
            }
        }
        "rel-nofollow" => Response::html(
            200,
            small_page(
                "Rel nofollow",
                "<a href=\"/fault/leaf/relnf\" rel=\"nofollow\">sponsored</a> <a href=\"/fault/leaf/relok\">plain</a>",
            ),
        ),
        "malformed" => Response::html(
            200,
            "<html><head><title>Malformed <b>page</title><body><table><tr><a href=/fault/leaf/m1>one<td><div><a href='/fault/leaf/m2' >two<p><a href=\"/fault/leaf/m3\"\n>three</table><a href=\" /fault/leaf/m4 \">four",
        ),
        "binary-as-html" => {
            let mut body = vec![0u8; 4096];
            let mut rng = crate::site::SplitMix64::new(7);
            for byte in body.iter_mut().skip(16) {
                *byte = rng.next_u64() as u8;
            }
            Response::html(200, body)
        }
        "no-content-type" => Response::html(
            200,
            small_page("No type", "<a href=\"/fault/leaf/untyped\">leaf</a>"),
        )
        .without_content_type(),
        "trap" => {
            // Every URL under /fault/trap/ is a page, and each links to two
            // longer ones: a calendar-style `next/` and a repeating segment
            // pair, so a crawler without depth or path limits never ends.
            let body = small_page(
                "Trap",
                &format!(
                    "<a href=\"./next/\">next</a> <a href=\"{}/a/b/a/b/\">loop</a>",
                    attribute_safe(path.trim_end_matches('/'))
                ),
            );
            Response::html(200, body)
        }
        "links" => {
            let count = request.query_u64("n", 100);
            let mut body = String::with_capacity(count as usize * 40);
            for k in 0..count {
                body.push_str(&format!("<a href=\"/fault/leaf/{k}\">{k}</a>\n"));
            }
            Response::html(200, small_page("Many links", &body))
        }
        "leaf" => Response::html(200, small_page(&format!("Leaf {tail}"), "no links here")),
        "meta-nofollow" => Response::html(
            200,
            "<html><head><meta name=\"robots\" content=\"nofollow\"><title>Meta nofollow</title></head><body><a href=\"/fault/leaf/nofollowed\">x</a></body></html>",
        ),
        "x-robots-nofollow" => Response::html(
            200,
            small_page(
                "Header nofollow",
                "<a href=\"/fault/leaf/xnofollowed\">x</a>",
            ),
        )
        .header("X-Robots-Tag", "nofollow"),
        "base-href" => Response::html(
            200,
            "<html><head><base href=\"/fault/based/\"><title>Base</title></head><body><a href=\"page\">p</a></body></html>",
        ),
        "based" => Response::html(200, small_page("Based", "based")),
        "reset" => {
            let Some(stream) = stream else {
                return Ok(http1_only(name));
            };
            // SO_LINGER 0: closing sends RST instead of FIN, so the client
            // sees "connection reset", not an orderly (if early) end.
            stream.tcp().set_zero_linger()?;
            return Ok(Handled::Close);
        }
        "truncated" => {
            let Some(stream) = stream else {
                return Ok(http1_only(name));
            };
            let head = head_bytes(
                200,
                &[("Content-Type".into(), "text/html".into())],
                Some(1000),
            );
            stream.write_all(&head).await?;
            stream.write_all(&[b'a'; 100]).await?;
            stream.flush().await?;
            return Ok(Handled::Close);
        }
        "product" => {
            // A shop page with known content, for field extraction.
            let id = request.query_u64("id", 1);
            let body = format!(
                "<!DOCTYPE html><html><head><title>Kettle {id}</title></head><body>\
                 <div class=\"product\" data-sku=\"K-{id}\"><h1 class=\"name\">  Steel\n  <em>Kettle</em> {id} </h1>\
                 <p class=\"price\" data-currency=\"EUR\">&euro;&nbsp;{id}4.90</p>\
                 <ul><li class=\"tag\">kitchen</li><li class=\"tag\">steel &amp; glass</li></ul>\
                 <img src=\"/img/{id}-a.jpg\"><img src=\"/img/{id}-b.jpg\"></div>\
                 <a href=\"/fault/product?id={}\">next</a></body></html>",
                id + 1
            );
            Response::html(200, body)
        }
        "gzip-page" => {
            // A page served gzip-compressed, as most servers do.
            let page = small_page("Gzip page", "<a href=\"/fault/leaf/gzip\">leaf</a>");
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            // Writing into a Vec cannot fail.
            let _ = std::io::Write::write_all(&mut encoder, page.as_bytes());
            let body = Bytes::from(encoder.finish().unwrap_or_default());
            Response::html(200, body).header("Content-Encoding", "gzip")
        }
        "chunked" => {
            let Some(stream) = stream else {
                return Ok(http1_only(name));
            };
            // A whole page in three chunks, without Content-Length.
            let head = head_bytes(
                200,
                &[
                    ("Content-Type".into(), "text/html".into()),
                    ("Transfer-Encoding".into(), "chunked".into()),
                ],
                None,
            );
            stream.write_all(&head).await?;
            let page = small_page("Chunked page", "<a href=\"/fault/leaf/chunked\">leaf</a>");
            let (first, rest) = page.as_bytes().split_at(page.len() / 2);
            for chunk in [first, rest] {
                stream
                    .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .await?;
                stream.write_all(chunk).await?;
                stream.write_all(b"\r\n").await?;
            }
            stream.write_all(b"0\r\n\r\n").await?;
            stream.flush().await?;
            return Ok(Handled::Close);
        }
        "bad-chunked" => {
            let Some(stream) = stream else {
                return Ok(http1_only(name));
            };
            let head = head_bytes(
                200,
                &[
                    ("Content-Type".into(), "text/html".into()),
                    ("Transfer-Encoding".into(), "chunked".into()),
                ],
                None,
            );
            stream.write_all(&head).await?;
            stream
                .write_all(b"5\r\nhello\r\nZZZ-not-hex\r\nmore\r\n")
                .await?;
            stream.flush().await?;
            return Ok(Handled::Close);
        }
        "huge-headers" => {
            let Some(stream) = stream else {
                return Ok(http1_only(name));
            };
            let mut headers = vec![("Content-Type".to_owned(), "text/html".to_owned())];
            // `kib` KiB of header values (1 MiB by default) in values of
            // 8 KiB, more with the names.
            let filler = "v".repeat(8 * 1024);
            for index in 0..request.query_u64("kib", 1024).div_ceil(8) {
                headers.push((format!("X-Filler-{index}"), filler.clone()));
            }
            let body = small_page("Huge headers", "");
            let head = head_bytes(200, &headers, Some(body.len() as u64));
            stream.write_all(&head).await?;
            stream.write_all(body.as_bytes()).await?;
            stream.flush().await?;
            return Ok(Handled::Close);
        }
        _ => Response::html(404, small_page("Not found", "no such fault")),
    };
    Ok(Handled::Respond(response))
}

/// `path` made safe to put in a double-quoted attribute: request targets
/// are taken as sent, and a stray quote must not break the trap's markup.
fn attribute_safe(path: &str) -> String {
    path.replace('&', "&amp;")
        .replace('"', "%22")
        .replace('<', "%3C")
        .replace('>', "%3E")
}

fn encoded_page(
    request: &Request,
    encoding: &'static encoding_rs::Encoding,
    label: &str,
    title: &str,
    text: &str,
) -> Response {
    let declared = request.query("declared").unwrap_or("header");
    let meta = if declared == "meta" {
        format!("<meta charset=\"{label}\">")
    } else {
        String::new()
    };
    let html = format!(
        "<!DOCTYPE html><html><head>{meta}<title>{title}</title></head><body><p>{text}</p><a href=\"/p/1\">one</a></body></html>"
    );
    let (bytes, _, _) = encoding.encode(&html);
    let content_type = if declared == "header" {
        format!("text/html; charset={label}")
    } else {
        "text/html".to_owned()
    };
    Response {
        status: 200,
        headers: vec![("Content-Type".into(), content_type)],
        body: Bytes::from(bytes.into_owned()),
    }
}

/// `bytes` zero bytes, gzip-compressed: about 1 KB on the wire per MiB
/// inflated, built in time that does not grow with `bytes`.
///
/// Compressing all of it grows with `bytes`: 100 MiB at the best level
/// took over a second in a debug build on an idle machine, and under the
/// whole test suite's load the first response's headers went out after the
/// test crawl's 2-second deadline, so the crawl retried a bomb that should
/// have hit the body cap on its first attempt. So only one MiB is compressed, by a fresh
/// raw deflate stream ending in a full flush: its output refers to nothing
/// before it and ends on a byte boundary with a non-final block, so copies
/// of it can follow each other. A final empty block and the gzip trailer
/// (CRC-32 of the whole, combined from the per-MiB CRC) close the member.
pub(crate) fn gzip_zeros(bytes: u64) -> Bytes {
    const MIB: u64 = 1 << 20;
    let zeros = vec![0u8; MIB as usize];
    let whole_mib = deflate_segment(&zeros, flate2::FlushCompress::Full);
    let mut mib_crc = flate2::Crc::new();
    mib_crc.update(&zeros);

    // Magic, deflate, no flags, no mtime, no extra flags, unknown OS.
    let mut body = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    let mut crc = flate2::Crc::new();
    for _ in 0..bytes / MIB {
        body.extend_from_slice(&whole_mib);
        crc.combine(&mib_crc);
    }
    let rest = &zeros[..(bytes % MIB) as usize];
    body.extend_from_slice(&deflate_segment(rest, flate2::FlushCompress::Full));
    let mut rest_crc = flate2::Crc::new();
    rest_crc.update(rest);
    crc.combine(&rest_crc);
    body.extend_from_slice(&deflate_segment(&[], flate2::FlushCompress::Finish));
    body.extend_from_slice(&crc.sum().to_le_bytes());
    // ISIZE is the length modulo 2^32 (RFC 1952).
    body.extend_from_slice(&(bytes as u32).to_le_bytes());
    Bytes::from(body)
}

/// `input` through a fresh raw deflate stream, ended by `flush`.
fn deflate_segment(input: &[u8], flush: flate2::FlushCompress) -> Vec<u8> {
    let mut compress = flate2::Compress::new(flate2::Compression::best(), false);
    let mut output = Vec::with_capacity(input.len() / 64 + 64);
    loop {
        let consumed = compress.total_in() as usize;
        // Compressing into a Vec cannot fail; an error ends the segment.
        let status = compress
            .compress_vec(&input[consumed..], &mut output, flush)
            .unwrap_or(flate2::Status::StreamEnd);
        let all_in = compress.total_in() as usize == input.len();
        // A flush is complete once it returns with room to spare.
        let flushed = all_in && output.len() < output.capacity();
        if status == flate2::Status::StreamEnd
            || (flush != flate2::FlushCompress::Finish && flushed)
        {
            return output;
        }
        output.reserve(output.capacity().max(64));
    }
}
