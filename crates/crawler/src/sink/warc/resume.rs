//! What a resumed crawl finds of its archive: which file was last, and how
//! much of it is whole records.

use std::io::{BufRead, BufReader, Read, Seek};
use std::path::Path;

use super::{error, numbered};
use crate::sink::SinkError;

/// Rotated files probed at most when looking for the last one.
const MAX_FILES: u32 = 1_000_000;

/// The number of the last file an earlier run wrote (1 without rotation or
/// when there is none).
pub(super) fn last_index(path: &Path, rotating: bool) -> u32 {
    if !rotating {
        return 1;
    }
    let mut index = 1;
    while index < MAX_FILES && numbered(path, index + 1).exists() {
        index += 1;
    }
    index
}

/// Cuts `file` after its last whole record; returns the length kept.
pub(super) fn cut_torn_tail(
    path: &Path,
    file: &std::fs::File,
    gzip: bool,
    len: u64,
) -> Result<u64, SinkError> {
    let reader = file.try_clone().map_err(|source| error(path, source))?;
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    reader
        .seek(std::io::SeekFrom::Start(0))
        .map_err(|source| error(path, source))?;
    let whole = if gzip {
        whole_members(&mut reader, len)
    } else {
        whole_records(&mut reader, len)
    };
    if whole < len {
        file.set_len(whole).map_err(|source| error(path, source))?;
    }
    Ok(whole)
}

/// Bytes of whole gzip members from the start. A member that does not
/// decode to its end (cut short, or its checksum wrong) ends the whole.
fn whole_members<R: BufRead + Seek>(reader: &mut R, len: u64) -> u64 {
    let mut whole = 0;
    while whole < len {
        let mut member = flate2::bufread::GzDecoder::new(&mut *reader);
        if std::io::copy(&mut member, &mut std::io::sink()).is_err() {
            break;
        }
        // The bufread decoder consumes exactly its member.
        match reader.stream_position() {
            Ok(end) if end > whole => whole = end,
            _ => break,
        }
    }
    whole
}

/// Bytes of whole plain WARC records from the start.
fn whole_records<R: BufRead>(reader: &mut R, len: u64) -> u64 {
    let mut whole = 0;
    let mut line = Vec::new();
    'records: while whole < len {
        let mut consumed = 0u64;
        let mut content_length = None;
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break 'records,
                Ok(read) => consumed += read as u64,
            }
            if line == b"\r\n" {
                break;
            }
            let text = String::from_utf8_lossy(&line);
            if let Some((name, value)) = text.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                content_length = value.trim().parse::<u64>().ok();
            }
        }
        let Some(block) = content_length else {
            break;
        };
        // The block and the record's closing CRLF CRLF.
        let rest = block + 4;
        match std::io::copy(&mut reader.take(rest), &mut std::io::sink()) {
            Ok(copied) if copied == rest => whole += consumed + rest,
            _ => break,
        }
    }
    whole
}

/// Cuts `file` after its last newline; returns the length kept.
pub(super) fn cut_partial_line(path: &Path, file: &std::fs::File) -> Result<u64, SinkError> {
    let len = file.metadata().map_err(|source| error(path, source))?.len();
    let mut reader = file.try_clone().map_err(|source| error(path, source))?;
    reader
        .seek(std::io::SeekFrom::Start(0))
        .map_err(|source| error(path, source))?;
    let mut keep = 0u64;
    let mut position = 0u64;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = reader
            .read(&mut buffer)
            .map_err(|source| error(path, source))?;
        if read == 0 {
            break;
        }
        if let Some(last) = buffer[..read].iter().rposition(|&b| b == b'\n') {
            keep = position + last as u64 + 1;
        }
        position += read as u64;
    }
    if keep < len {
        file.set_len(keep).map_err(|source| error(path, source))?;
    }
    Ok(keep)
}
