//! One fetch task: robots.txt, politeness, the fetch with its retries,
//! then the page handed to a parser thread (HTML) or finished here.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::time::Instant;
use trawl_fetcher::{Fetched, Retry, RobotsRules, backoff_delay};
use trawl_frontier::{Entry, StoreLease};

use crate::crawler::{LeaseGuard, Pipeline};
use crate::observe::CrawlEvent;
use crate::page::{failure_record, finish_page};
use crate::parse_pool::PageJob;
use crate::redirect::Redirects;
use crate::sink::Finished;

/// Fetches one URL (after its host's robots.txt, with retries), then
/// extracts its links, queues them and emits its record.
pub(crate) async fn process(guard: LeaseGuard, lease: StoreLease, permit: OwnedSemaphorePermit) {
    let pipeline = Arc::clone(&guard.pipeline);
    let StoreLease { entry, host, .. } = lease;
    let rules = match &pipeline.robots {
        Some(robots) => {
            let rules = robots.rules_for(&host, &entry.url).await;
            if let Some(delay) = rules.crawl_delay() {
                pipeline.policy.set_crawl_delay(&host, delay);
                pipeline.report_pace(&host);
            }
            if !rules.allowed(&entry.url) {
                let record =
                    failure_record(&entry, rules.refusal_kind(), rules.refusal(&entry.url));
                let finished = Finished::record(record).leased(guard.token);
                let _ = pipeline.finished.send(finished).await;
                return;
            }
            Some(rules)
        }
        None => None,
    };
    // Requests dispatched before robots.txt (and its Crawl-delay) were known,
    // or held up by it, are spaced here by the delay and the rate.
    if let Some(start) = pipeline
        .policy
        .claim_start(&host, Instant::now().into_std())
    {
        tokio::time::sleep_until(Instant::from_std(start)).await;
    }
    pipeline.stats.fetch_started(&host);
    pipeline
        .observers
        .emit(&CrawlEvent::FetchStarted { host: &host });
    let (fetched, attempts) = fetch_with_retries(&pipeline, &entry, &host, rules.as_deref()).await;
    pipeline.stats.fetch_finished(&host, fetched.elapsed);
    pipeline.observers.emit(&CrawlEvent::FetchFinished {
        host: &host,
        elapsed: fetched.elapsed,
        status: fetched.status,
    });
    let html = fetched.error.is_none()
        && trawl_extractor::is_html_body(fetched.content_type.as_deref(), &fetched.body);
    // Hashing a saved body is CPU work too: it goes to a parser thread.
    let hash = pipeline.settings.save_bodies.is_some() && !fetched.body.is_empty();
    if html || hash {
        // The parser thread finishes the page (links, record) and gives the
        // lease and the permit back, so this task ends here and is not
        // woken again.
        let job = PageJob {
            guard,
            permit,
            entry,
            fetched,
            attempts,
            html,
        };
        let Err(mpsc::error::SendError(job)) = pipeline.parse_pool.jobs.send(job).await else {
            return;
        };
        tracing::error!(url = %job.fetched.final_url, "HTML extraction failed: no parser threads");
        let (finished, _) = finish_page(&pipeline, &job.entry, job.fetched, None, job.attempts);
        let _ = pipeline
            .finished
            .send(finished.leased(job.guard.token))
            .await;
        return;
    }
    // Not HTML: no links to queue.
    let (finished, _) = finish_page(&pipeline, &entry, fetched, None, attempts);
    // A closed channel means the output failed and the crawl is stopping.
    let _ = pipeline.finished.send(finished.leased(guard.token)).await;
    drop(guard);
}

/// Fetches with up to `retries` more attempts for transient failures. A
/// 429 or 503 (with or without `Retry-After`) rests the whole host, not
/// only this URL.
async fn fetch_with_retries(
    pipeline: &Pipeline,
    entry: &Entry,
    host: &str,
    rules: Option<&RobotsRules>,
) -> (Fetched, u32) {
    // Redirect targets this fetch marked seen stay followable on a retry.
    let mut redirects = Redirects::new(pipeline, host, rules);
    let settings = &pipeline.settings;
    let fetcher = if pipeline.policy.keeps_connection(host) {
        &pipeline.fetcher
    } else {
        &pipeline.closing_fetcher
    };
    let mut attempts = 0;
    loop {
        attempts += 1;
        let fetched = fetcher.fetch_with(&entry.url, &mut redirects).await;
        if fetched.status.is_some() {
            pipeline.policy.observe(host, fetched.elapsed);
            pipeline.report_pace(host);
        }
        let delay = match fetched.retry() {
            Some(Retry::After(delay)) => delay.min(settings.max_retry_after),
            Some(Retry::Backoff) => backoff_delay(
                attempts - 1,
                Duration::from_millis(500),
                Duration::from_secs(30),
                jitter(entry, attempts),
            ),
            _ => return (fetched, attempts),
        };
        if attempts > settings.retries || pipeline.graceful.is_cancelled() {
            return (fetched, attempts);
        }
        if matches!(fetched.status, Some(429 | 503)) {
            pipeline
                .policy
                .pause(host, (Instant::now() + delay).into_std());
            pipeline.report_pace(host);
        }
        tracing::debug!(url = %entry.url, attempt = attempts, ?delay, "retrying");
        pipeline.stats.retried();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = pipeline.graceful.cancelled() => return (fetched, attempts),
        }
    }
}

/// A number in [0, 1) that differs per URL and attempt, so retries of many
/// URLs spread out instead of arriving together. Deterministic: the same
/// URL and attempt always wait the same.
fn jitter(entry: &Entry, attempt: u32) -> f64 {
    let hash = trawl_frontier::fingerprint_str(entry.url.as_str())
        ^ u64::from(attempt).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // A final mix so neighbouring attempts land far apart.
    let mixed = (hash ^ (hash >> 33)).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    (mixed >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_is_in_range_and_differs_by_attempt() {
        let entry = crate::page::entry(
            trawl_frontier::CanonicalUrl::parse("http://a.example/x").unwrap(),
            0,
            None,
        );
        let values: Vec<f64> = (1..=4).map(|attempt| jitter(&entry, attempt)).collect();
        assert!(
            values.iter().all(|value| (0.0..1.0).contains(value)),
            "{values:?}"
        );
        assert_ne!(values[0], values[1]);
        assert_eq!(
            jitter(&entry, 1),
            values[0],
            "the same URL and attempt wait the same"
        );
    }
}
