//! Every acceptance scenario of `tests/scenarios/*.json`, played over gRPC against a server on the
//! in-memory store and on sled.

use hourglass_e2e::InProcessServer;
use hourglass_e2e::scenario::{load, play};

const PUBLIC: &str = include_str!("../scenarios/public.json");
const EXTRA: &str = include_str!("../scenarios/extra.json");
const GUARDS: &str = include_str!("../scenarios/guards.json");

async fn play_all(store_url: &str) {
    let server = InProcessServer::start(&["--store", store_url]).await;
    let mut client = server.client().await;
    let mut registry = server.registry_client().await;
    let scenarios: Vec<_> = load(PUBLIC)
        .into_iter()
        .chain(load(EXTRA))
        .chain(load(GUARDS))
        .collect();
    assert!(
        scenarios.len() >= 25,
        "the scenario files hold {} scenarios",
        scenarios.len()
    );
    for scenario in &scenarios {
        play(&mut client, &mut registry, scenario).await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios_on_memory() {
    play_all("memory:").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios_on_sled() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    play_all(&format!("sled:{}", dir.path().join("data").display())).await;
}
