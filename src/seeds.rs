//! The seed file: one URL per line, `#` comments and blank lines ignored.

use std::path::{Path, PathBuf};

use trawl_frontier::parse_canonical;
use url::Url;

/// What is wrong with a seed file; every variant names the file (and line).
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("cannot read seed file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: `{text}` is not a crawlable URL: {reason}", path.display())]
    BadLine {
        path: PathBuf,
        line: usize,
        text: String,
        reason: String,
    },
    #[error("seed file {} has no URLs (one http or https URL per line; `#` starts a comment)", path.display())]
    Empty { path: PathBuf },
}

/// Reads and validates every seed before the crawl makes any request.
pub fn load(path: &Path) -> Result<Vec<Url>, SeedError> {
    let bytes = std::fs::read(path).map_err(|source| SeedError::Read {
        path: path.to_owned(),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    parse(path, &text)
}

/// Parses seed-file text; `path` is only used in error messages.
pub fn parse(path: &Path, text: &str) -> Result<Vec<Url>, SeedError> {
    let mut seeds = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim().trim_start_matches('\u{feff}').trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_canonical(line) {
            Ok(url) => seeds.push(url),
            Err(error) => {
                return Err(SeedError::BadLine {
                    path: path.to_owned(),
                    line: index + 1,
                    text: line.to_owned(),
                    reason: error.to_string(),
                });
            }
        }
    }
    if seeds.is_empty() {
        return Err(SeedError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(seeds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<Vec<String>, String> {
        parse(Path::new("seeds.txt"), text)
            .map(|seeds| seeds.into_iter().map(String::from).collect())
            .map_err(|error| error.to_string())
    }

    #[test]
    fn comments_blank_lines_and_whitespace_are_ignored() {
        let seeds =
            parse_text("# my seeds\n\n  http://A.example/x#frag  \n\thttps://b.example\n").unwrap();
        assert_eq!(seeds, ["http://a.example/x", "https://b.example/"]);
    }

    #[test]
    fn a_bad_line_names_file_and_line() {
        let error = parse_text("http://a.example/\n# ok\nftp://b.example/\n").unwrap_err();
        assert!(
            error.starts_with("seeds.txt:3: `ftp://b.example/`"),
            "{error}"
        );
        assert!(error.contains("unsupported scheme"), "{error}");
        let error = parse_text("not a url\n").unwrap_err();
        assert!(error.starts_with("seeds.txt:1:"), "{error}");
    }

    #[test]
    fn an_empty_file_is_an_error() {
        let error = parse_text("# nothing here\n\n").unwrap_err();
        assert!(error.contains("has no URLs"), "{error}");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any text: seeds, or an error that names the file (and a line
            /// when one is at fault), never a panic.
            #[test]
            fn any_text_gives_seeds_or_a_located_error(
                lines in proptest::collection::vec(prop_oneof![
                    Just("http://a.example/".to_owned()),
                    Just("# comment".to_owned()),
                    Just(String::new()),
                    "\\PC{0,40}",
                ], 0..12),
            ) {
                match parse_text(&lines.join("\n")) {
                    Ok(seeds) => prop_assert!(!seeds.is_empty()),
                    Err(error) => prop_assert!(error.contains("seeds.txt"), "{}", error),
                }
            }
        }
    }
}
