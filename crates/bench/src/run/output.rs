//! What a measured crawl wrote, read back and checked against the ground
//! truth.

use std::collections::HashSet;

use anyhow::{Context, Result};
use serde_json::Value;

/// What one crawl wrote, checked against the ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct CrawlOutput {
    pub records: u64,
    pub distinct: u64,
    pub ok: u64,
    pub errors: u64,
    /// Distinct recorded URLs that are reachable pages.
    pub covered: u64,
    pub truth: u64,
}

impl CrawlOutput {
    pub fn duplicates(&self) -> u64 {
        self.records - self.distinct
    }

    pub fn coverage(&self) -> f64 {
        if self.truth == 0 {
            return 0.0;
        }
        self.covered as f64 / self.truth as f64
    }
}

/// Reads trawl's JSONL: recorded URLs are compared with `truth`, the
/// reachable page URLs.
pub fn analyse_output(jsonl: &str, truth: &HashSet<String>) -> Result<CrawlOutput> {
    let mut urls = HashSet::new();
    let mut output = CrawlOutput {
        records: 0,
        distinct: 0,
        ok: 0,
        errors: 0,
        covered: 0,
        truth: truth.len() as u64,
    };
    for (number, line) in jsonl.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record: Value = serde_json::from_str(line)
            .with_context(|| format!("output line {} is not JSON", number + 1))?;
        let url = record["url"]
            .as_str()
            .with_context(|| format!("output line {} has no url", number + 1))?;
        output.records += 1;
        output.ok += u64::from(record["status"].as_u64() == Some(200));
        output.errors += u64::from(!record["error"].is_null());
        if urls.insert(url.to_owned()) {
            output.covered += u64::from(truth.contains(url));
        }
    }
    output.distinct = urls.len() as u64;
    Ok(output)
}
