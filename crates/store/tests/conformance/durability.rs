//! `SledStore`'s acknowledged writes survive `kill -9`: a child process records messages and reports
//! each acknowledged one, the test kills it mid-stream, and the reopened store knows every one of them.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use hourglass_core::BusinessId;
use hourglass_store::{SledStore, Store};

use crate::support::{T0, inbound, mk_policy, mk_thread, unique_business};

/// Tells the child side where the database is; set only on the child process.
const DIR_VAR: &str = "HOURGLASS_CRASH_TEST_DIR";
/// Tells the child side which business to record for.
const BUSINESS_VAR: &str = "HOURGLASS_CRASH_TEST_BUSINESS";
/// Acknowledgements the parent waits for before it kills the child.
const ACKNOWLEDGED: usize = 300;
/// Concurrent writers in the child, so that the kill lands among grouped flushes.
const WRITERS: u32 = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("hourglass.sled");
    let business = unique_business();
    let mut child = Command::new(std::env::current_exe().expect("the test binary has a path"))
        .args([
            "--exact",
            "durability::child_records_until_killed",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DIR_VAR, &path)
        .env(BUSINESS_VAR, business.as_str())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the test binary starts again as the child");
    let stdout = child.stdout.take().expect("the child's stdout is piped");
    let acknowledged = tokio::task::spawn_blocking(move || {
        let mut acknowledged = Vec::with_capacity(ACKNOWLEDGED);
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("the child writes text");
            if let Some(rest) = line.strip_prefix("acked ") {
                let (customer, id) = rest.split_once(' ').expect("acked CUSTOMER ID");
                acknowledged.push((customer.parse::<u32>().expect("a customer number"), id.to_owned()));
                if acknowledged.len() == ACKNOWLEDGED {
                    break;
                }
            }
        }
        acknowledged
    })
    .await
    .expect("the reader does not panic");
    // `Child::kill` sends SIGKILL on Unix: sled gets no chance to flush anything more.
    child.kill().expect("the child can be killed");
    child.wait().expect("the killed child is reaped");
    assert_eq!(acknowledged.len(), ACKNOWLEDGED, "the child stopped early");

    let store: Arc<dyn Store> =
        Arc::new(SledStore::open(&path).expect("the killed child's database reopens"));
    let policy = mk_policy();
    for (customer, id) in &acknowledged {
        let message = inbound(&mk_thread(&business, *customer), id, T0);
        let answer = store.record(&message, &policy).await.expect("records");
        assert!(
            answer.duplicate,
            "acknowledged message {id} of customer {customer} was lost"
        );
    }
}

/// The child side of `acknowledged_writes_survive_kill_9`: records inbound messages until killed,
/// printing `acked CUSTOMER ID` after each acknowledged one. Without its variables (a normal test
/// run) it returns at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn child_records_until_killed() {
    let (Ok(path), Ok(business)) = (std::env::var(DIR_VAR), std::env::var(BUSINESS_VAR)) else {
        return;
    };
    let business = BusinessId::new(&business).expect("the parent passes a valid business id");
    let store = Arc::new(SledStore::open(path).expect("sled opens"));
    let policy = Arc::new(mk_policy());
    let writers: Vec<_> = (0..WRITERS)
        .map(|customer| {
            let (store, policy, thread) = (
                Arc::clone(&store),
                Arc::clone(&policy),
                mk_thread(&business, customer),
            );
            tokio::spawn(async move {
                for n in 0.. {
                    let id = format!("in-{n}");
                    store
                        .record(&inbound(&thread, &id, T0), &policy)
                        .await
                        .expect("records");
                    println!("acked {customer} {id}");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writers run until killed");
    }
}
