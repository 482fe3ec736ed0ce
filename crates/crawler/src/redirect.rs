//! Which redirects a fetch follows: robots.txt on the same host, then the
//! store's admission (scope and already-seen).

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;

use trawl_fetcher::{RedirectPolicy, RedirectVerdict, RobotsRules, StopReason};
use trawl_frontier::{CanonicalUrl, RedirectAdmission};
use url::Url;

use crate::crawler::Pipeline;

/// The redirect policy of one URL's fetch, across its retries.
pub(crate) struct Redirects<'p> {
    pipeline: &'p Pipeline,
    host: &'p str,
    rules: Option<&'p RobotsRules>,
    /// Targets this fetch marked seen: still followable on a retry.
    own_targets: HashSet<CanonicalUrl>,
}

impl<'p> Redirects<'p> {
    pub(crate) fn new(
        pipeline: &'p Pipeline,
        host: &'p str,
        rules: Option<&'p RobotsRules>,
    ) -> Self {
        Redirects {
            pipeline,
            host,
            rules,
            own_targets: HashSet::new(),
        }
    }

    async fn decide(&mut self, target: &Url) -> RedirectVerdict {
        let Ok(canonical) = CanonicalUrl::new(target) else {
            return RedirectVerdict::Stop(StopReason::OutOfScope);
        };
        if let Some(rules) = self.rules
            && canonical.host_key() == self.host
            && !rules.allowed(&canonical)
        {
            return RedirectVerdict::Stop(StopReason::Disallowed);
        }
        if self.own_targets.contains(&canonical) {
            return RedirectVerdict::Follow;
        }
        match self.pipeline.store.admit_redirect(&canonical).await {
            Ok(RedirectAdmission::Follow) => {
                self.own_targets.insert(canonical);
                RedirectVerdict::Follow
            }
            Ok(RedirectAdmission::OutOfScope) => RedirectVerdict::Stop(StopReason::OutOfScope),
            Ok(RedirectAdmission::AlreadySeen) => RedirectVerdict::Stop(StopReason::AlreadySeen),
            Err(error) => {
                // Without the store's word the target may be a duplicate:
                // not followed, and the crawl stops.
                self.pipeline.fail(error.into());
                RedirectVerdict::Stop(StopReason::AlreadySeen)
            }
        }
    }
}

impl RedirectPolicy for Redirects<'_> {
    fn verdict<'a>(
        &'a mut self,
        target: &'a Url,
    ) -> Pin<Box<dyn Future<Output = RedirectVerdict> + Send + 'a>> {
        Box::pin(self.decide(target))
    }
}
