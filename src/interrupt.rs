//! Ctrl-C during a crawl: the first stops it gracefully, the second at once.

use trawl_crawler::Shutdown;

/// First Ctrl-C: stop handing out URLs and let in-flight requests finish.
/// Second: abort them; records already made are still flushed.
pub(crate) async fn watch_ctrl_c(shutdown: Shutdown, bar: indicatif::ProgressBar) {
    let mut interrupts = match Interrupts::new() {
        Ok(interrupts) => interrupts,
        Err(error) => {
            tracing::warn!("cannot listen for Ctrl-C: {error}");
            return;
        }
    };
    if interrupts.next().await.is_none() {
        return;
    }
    bar.suspend(|| {
        eprintln!("trawl: interrupted; finishing requests in flight (Ctrl-C again to stop now)")
    });
    shutdown.graceful.cancel();
    if interrupts.next().await.is_none() {
        return;
    }
    bar.suspend(|| eprintln!("trawl: stopping now"));
    shutdown.immediate.cancel();
}

/// One listener for the whole run, so a second Ctrl-C that arrives while
/// the first is being handled is not missed.
#[cfg(unix)]
struct Interrupts(tokio::signal::unix::Signal);

#[cfg(unix)]
impl Interrupts {
    fn new() -> std::io::Result<Self> {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).map(Interrupts)
    }
    async fn next(&mut self) -> Option<()> {
        self.0.recv().await
    }
}

#[cfg(not(unix))]
struct Interrupts;

#[cfg(not(unix))]
impl Interrupts {
    fn new() -> std::io::Result<Self> {
        Ok(Interrupts)
    }
    async fn next(&mut self) -> Option<()> {
        tokio::signal::ctrl_c().await.ok()
    }
}
