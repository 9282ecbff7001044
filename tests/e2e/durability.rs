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

/// The spend a budget holds and the usage of a month survive `kill -9` on sled with the records: both
/// are written in the record's own atomic commit, so after a restart they agree with each other
/// exactly, and count every acknowledged message (and at most the few in flight at the kill).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spend_and_usage_survive_kill_9_with_their_records() {
    const WRITERS: u64 = 8;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store_url = format!("sled:{}", dir.path().join("data").display());
    let server = BinaryServer::start(&store_url).await;
    let business_id = fresh_business_id();
    let account_id = format!("waba-{business_id}");
    let account = pb::PutAccountRequest {
        account_id: account_id.clone(),
        currency: "INR".to_owned(),
        monthly_budget: Some(pb::Money {
            currency_code: "INR".to_owned(),
            units: 1_000_000,
            nanos: 0,
        }),
        ..Default::default()
    };
    hourglass_e2e::register(server.addr, account, &business_id).await;
    let acknowledged: Arc<Mutex<Vec<pb::Decision>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer_idx in 0..WRITERS {
        let mut client = connect(server.addr).await;
        let (business_id, acknowledged, stop) = (business_id.clone(), acknowledged.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut n = writer_idx;
            while !stop.load(Ordering::Relaxed) && n < 1_000_000 {
                match client.record_message(record(&business_id, n)).await {
                    Ok(response) => {
                        let decision = response.into_inner().decision.expect("a decision");
                        acknowledged.lock().await.push(decision);
                    }
                    Err(_) => break,
                }
                n += WRITERS;
            }
        }));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while acknowledged.lock().await.len() < 200 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.kill_9();
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.expect("writer task");
    }
    let acknowledged = acknowledged.lock().await.clone();
    assert!(
        acknowledged.len() >= 50,
        "only {} acknowledged",
        acknowledged.len()
    );
    let nanos = |money: &pb::Money| i128::from(money.units) * 1_000_000_000 + i128::from(money.nanos);
    let prices: Vec<i128> = acknowledged
        .iter()
        .map(|decision| {
            nanos(
                decision
                    .charge
                    .as_ref()
                    .and_then(|charge| charge.price.as_ref())
                    .expect("a price"),
            )
        })
        .collect();
    let price = prices[0];
    assert!(
        price > 0 && prices.iter().all(|each| *each == price),
        "one price per message"
    );

    let server = BinaryServer::start(&store_url).await;
    let mut usage = hourglass_e2e::usage_client(server.addr).await;
    let at = Some(prost_types::Timestamp {
        seconds: 1_714_521_600,
        nanos: 0,
    });
    let budget = usage
        .get_budget(pb::GetBudgetRequest {
            account_id: account_id.clone(),
            at,
        })
        .await
        .expect("GetBudget")
        .into_inner();
    let spent = nanos(budget.spent.as_ref().expect("a spend"));
    let month = usage
        .get_usage(pb::GetUsageRequest {
            account_id,
            start: at,
            end: Some(prost_types::Timestamp {
                seconds: 1_714_521_600 + 31 * 86_400,
                nanos: 0,
            }),
            granularity: pb::UsageGranularity::Monthly as i32,
            dimensions: Vec::new(),
        })
        .await
        .expect("GetUsage")
        .into_inner();
    let [point] = &month.data_points[..] else {
        panic!("one month, one currency: {month:?}");
    };
    assert_eq!(
        nanos(point.cost.as_ref().expect("a cost")),
        spent,
        "usage and spend agree exactly"
    );
    assert_eq!(spent % price, 0);
    let counted = u64::try_from(spent / price).expect("a count");
    assert_eq!(point.volume, counted);
    let acknowledged = acknowledged.len() as u64;
    assert!(
        (acknowledged..=acknowledged + WRITERS).contains(&counted),
        "{counted} counted for {acknowledged} acknowledged"
    );
    eprintln!("{acknowledged} acknowledged, {counted} counted in the spend and the usage after kill -9");
}
