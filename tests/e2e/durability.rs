//! Crash safety: every record the server acknowledged survives `kill -9` of the server on sled.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hourglass_e2e::{BinaryServer, connect, fresh_business_id};
use hourglass_proto::v1 as pb;
use tokio::sync::Mutex;

fn record(business_id: &str, n: u64) -> pb::RecordMessageRequest {
    let customer_id = format!("9198{:08}", n);
    let message = pb::OutboundMessage {
        kind: Some(pb::outbound_message::Kind::Template(pb::Template {
            name: "tpl_marketing".to_owned(),
            language: "en".to_owned(),
            category: pb::Category::Marketing as i32,
        })),
    };
    pb::RecordMessageRequest {
        message_id: format!("wamid.crash.{n}"),
        business_id: business_id.to_owned(),
        customer_id,
        at: Some(prost_types::Timestamp {
            seconds: 1_714_521_600 + n as i64,
            nanos: 0,
        }),
        direction: Some(pb::record_message_request::Direction::Outbound(message)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_records_survive_kill_9() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store_url = format!("sled:{}", dir.path().join("data").display());
    let server = BinaryServer::start(&store_url).await;
    let business_id = fresh_business_id();
    let acknowledged: Arc<Mutex<Vec<(u64, pb::Decision)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));

    let mut writers = Vec::new();
    for writer_idx in 0..8u64 {
        let mut client = connect(server.addr).await;
        let (business_id, acknowledged, stop) = (business_id.clone(), acknowledged.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut n = writer_idx;
            while !stop.load(Ordering::Relaxed) && n < 1_000_000 {
                match client.record_message(record(&business_id, n)).await {
                    Ok(response) => {
                        let decision = response
                            .into_inner()
                            .decision
                            .expect("an outbound answer has a decision");
                        acknowledged.lock().await.push((n, decision));
                    }
                    Err(_) => break,
                }
                n += 8;
            }
        }));
    }
    // Let records stream in, then kill the server in the middle of the stream.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while acknowledged.lock().await.len() < 400 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.kill_9();
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.expect("writer task");
    }
    let acknowledged = acknowledged.lock().await.clone();
    assert!(
        acknowledged.len() >= 100,
        "only {} records were acknowledged before the kill",
        acknowledged.len()
    );

    let server = BinaryServer::start(&store_url).await;
    let mut client = connect(server.addr).await;
    for (n, decision) in &acknowledged {
        let answer = client
            .record_message(record(&business_id, *n))
            .await
            .expect("record again")
            .into_inner();
        assert!(answer.duplicate, "acknowledged record {n} was lost in the crash");
        assert_eq!(
            answer.decision.as_ref(),
            Some(decision),
            "record {n} answers as before the crash"
        );
    }
    eprintln!("{} acknowledged records survived kill -9", acknowledged.len());
}
