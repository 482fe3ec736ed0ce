use super::*;
use crate::scope::ScopeMode;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn config() -> LocalConfig {
    LocalConfig::new(
        Scope::new(ScopeMode::Any, Vec::new(), Vec::new()),
        Limits::default(),
    )
}

fn seed(n: usize) -> Entry {
    Entry::seed(CanonicalUrl::parse(&format!("http://h{}.example/{n}", n % 3)).unwrap())
}

#[test]
fn a_failed_journal_write_names_the_file_and_keeps_the_lines_for_a_retry() {
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::create(&dir.path().join("s"), false).unwrap();
    let mut config = config();
    config.journal = Some(state.clone());
    let store = LocalStore::new(config).unwrap();
    let journal = store.journal.clone().unwrap();
    let writable = std::mem::replace(
        &mut lock(&journal).file,
        File::open(state.queue_file()).unwrap(),
    );
    let runtime = runtime();
    runtime
        .block_on(store.add(vec![seed(0)], Found::Seed))
        .unwrap();
    let error = runtime.block_on(store.sync()).unwrap_err().to_string();
    assert!(error.contains("queue.tsv"), "{error}");
    assert_eq!(std::fs::read(state.queue_file()).unwrap(), b"");
    runtime
        .block_on(store.add(vec![seed(1)], Found::Seed))
        .unwrap();
    lock(&journal).file = writable;
    runtime.block_on(store.sync()).unwrap();
    assert_eq!(
        std::fs::read_to_string(state.queue_file()).unwrap(),
        "0\t-\thttp://h0.example/0\n0\t-\thttp://h1.example/1\n",
        "both lines, in order, once each"
    );
}

#[test]
fn a_sync_returns_only_once_everything_added_before_it_is_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::create(&dir.path().join("s"), false).unwrap();
    let mut config = config();
    config.journal = Some(state.clone());
    let store = Arc::new(LocalStore::new(config).unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let store = Arc::clone(&store);
            let path = state.queue_file();
            runtime.spawn(async move {
                for round in 0..20 {
                    let entry = seed(task * 100 + round);
                    let line = format!("0\t-\t{}\n", entry.url);
                    store.add(vec![entry], Found::Seed).await.unwrap();
                    store.sync().await.unwrap();
                    let text = std::fs::read_to_string(&path).unwrap();
                    assert!(text.contains(&line), "{line} not durable after its sync");
                }
            })
        })
        .collect();
    for task in tasks {
        runtime.block_on(task).unwrap();
    }
    let text = std::fs::read_to_string(state.queue_file()).unwrap();
    assert_eq!(text.lines().count(), 160);
    assert!(
        text.lines()
            .all(|line| Entry::parse_journal_line(line).is_some())
    );
}

#[test]
fn a_resume_cuts_a_partial_journal_line_before_appending() {
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::create(&dir.path().join("s"), false).unwrap();
    std::fs::write(
        state.queue_file(),
        "0\t-\thttp://h0.example/0\n1\thttp://h0.exa",
    )
    .unwrap();
    let store = LocalStore::resume(config(), state.clone(), &HashSet::new(), 0).unwrap();
    let runtime = runtime();
    let admitted = runtime
        .block_on(store.add(vec![seed(0), seed(1)], Found::Seed))
        .unwrap();
    assert_eq!(admitted, vec![Admission::Seen, Admission::Queued]);
    runtime.block_on(store.sync()).unwrap();
    assert_eq!(
        std::fs::read_to_string(state.queue_file()).unwrap(),
        "0\t-\thttp://h0.example/0\n0\t-\thttp://h1.example/1\n"
    );
}

#[test]
fn a_lost_spill_chunk_fails_the_claim() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config();
    config.spill = Some(SpillConfig {
        dir: dir.path().to_owned(),
        hot_budget: 1,
        chunk_entries: 1,
        seen_hot_budget: None,
    });
    let store = LocalStore::new(config).unwrap();
    let runtime = runtime();
    runtime
        .block_on(store.add((0..30).map(seed).collect(), Found::Seed))
        .unwrap();
    store.lock().core.lose_spill_file();
    let open = |_: &str, _: Instant| Ok(());
    let mut failed = None;
    for _ in 0..30 {
        match runtime.block_on(store.claim(4, Instant::now(), &open)) {
            Ok(Claim::Ready(leases)) => {
                for lease in leases {
                    store.complete(lease.token);
                }
            }
            Ok(other) => panic!("the lost chunk went unreported: {other:?}"),
            Err(error) => {
                failed = Some(error);
                break;
            }
        }
    }
    let error = failed.expect("a claim fails").to_string();
    assert!(error.contains("spill file"), "{error}");
    assert!(
        runtime
            .block_on(store.claim(4, Instant::now(), &open))
            .is_err(),
        "and every claim after it"
    );
}
