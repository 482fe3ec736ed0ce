//! The cookie jar on disk: `--cookies` read before the crawl, the crawl
//! state's copy kept current while it runs (so `--resume` has it even
//! after a kill), `--save-cookies` written when it ends.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use trawl_fetcher::CookieJar;

use crate::config::ConfigError;

/// How often the state's copy of the jar is rewritten when it changed.
const KEEP_EVERY: Duration = Duration::from_secs(2);

/// Adds a Netscape cookies.txt to `jar`; errors name `flag` and the line.
pub fn load(jar: &CookieJar, path: &Path, flag: &'static str) -> Result<usize, ConfigError> {
    let error = |reason: String| ConfigError::File {
        flag,
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|io| error(io.to_string()))?;
    jar.load_netscape(&text)
        .map_err(|bad| error(bad.to_string()))
}

/// Writes `jar` to `path` as a Netscape cookies.txt, readable by its owner
/// only (it holds sessions), through a temporary file renamed into
/// place, so a crash never leaves half a jar.
pub fn save(jar: &CookieJar, path: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let text = jar.to_netscape();
    let temporary = path.with_extension("txt.partial");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

/// Rewrites `path` from `jar` whenever the jar changed, every
/// [`KEEP_EVERY`], on a blocking thread, until `stop`; then once more.
pub async fn keep(jar: Arc<CookieJar>, path: std::path::PathBuf, stop: CancellationToken) {
    let mut saved = jar.changes();
    loop {
        let stopping = tokio::select! {
            () = stop.cancelled() => true,
            () = tokio::time::sleep(KEEP_EVERY) => false,
        };
        let changes = jar.changes();
        if changes != saved {
            let (jar, path) = (Arc::clone(&jar), path.clone());
            match tokio::task::spawn_blocking(move || save(&jar, &path)).await {
                Ok(Ok(())) => saved = changes,
                Ok(Err(error)) => {
                    tracing::warn!("cannot keep the cookie jar in the crawl state: {error}")
                }
                Err(error) => tracing::warn!("cookie jar writer failed: {error}"),
            }
        }
        if stopping {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use url::Url;

    #[test]
    fn a_saved_jar_is_private_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cookies.txt");
        let jar = CookieJar::new();
        jar.accept("sid=abc", &Url::parse("http://a.example/").unwrap())
            .unwrap();
        save(&jar, &path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = CookieJar::new();
        assert_eq!(load(&again, &path, "cookies").unwrap(), 1);
        let missing = load(&again, &dir.path().join("nope.txt"), "cookies").unwrap_err();
        assert!(
            missing.to_string().starts_with("invalid --cookies"),
            "{missing}"
        );
    }
}
