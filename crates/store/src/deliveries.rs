//! Deliveries in the store (docs/SPEC.md sections 14 and 15.4): Meta's statuses kept per outbound
//! message beside Hourglass's prediction of it, delivery and read rates, and the reconciliation of the
//! two.
//!
//! A prediction is written with the step that records its message (`Commit::prediction`), under the
//! account the message counted for and the UTC day of its instant. A status is applied to the report
//! of its message by compare-and-swap, like a registry entry: statuses arrive in any order and more than
//! once, and `Report::record` makes each count once. A status finds its message among the days before
//! its own (`DELIVERY_LOOKBACK_DAYS`); a status of a message Hourglass never recorded is kept on its
//! own day, unmatched.
//!
//! Usage (docs/SPEC.md section 15.1) is kept beside them as per-day rows (`UsageRow`), outliving the
//! predictions: the ledger's commit adds a new prediction's `UsageChange::recorded`, and `note_status`
//! hands `Store::write_report` the `UsageChange::failed` of a report's first failure, so that each is
//! added once, in the same atomic write as what it counts.

use std::collections::BTreeMap;

use hourglass_core::{
    AccountId, BusinessId, DELIVERY_LOOKBACK_DAYS, DELIVERY_RETENTION, Day, DeliveryStats, Differences,
    Instant, MessageId, MessageRef, Outcome, Prediction, Report, StatusReport, TemplateName, ThreadKey,
    USAGE_RETENTION, Usage, UsageChange, reconcile as compare,
};

use crate::format::delivery::{PredictionRecord, ReportRecord};
use crate::format::{decode, encode};
use crate::{DeliveryKey, DeliveryRaw, Error, Store, UsageWrite, Version, links, registry};

/// How many times a report write retries after losing a race.
const MAX_ATTEMPTS: usize = 64;

/// How many records a listing reads at once.
const PAGE: usize = 500;

/// How many days of usage rows one store read asks for.
const USAGE_DAYS_READ: usize = 31;

/// The most discrepancies a reconciliation lists.
pub const MAX_DISCREPANCIES: usize = 100;

/// What applying a status did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Noted {
    /// Whether the report changed; false for a status already applied.
    pub changed: bool,
    /// The prediction of the message, when Hourglass recorded it.
    pub prediction: Option<Prediction>,
}

/// Applies a status of the message `message_id` of `thread`, as Meta reported it at `status.at`.
pub async fn note_status(
    store: &dyn Store,
    thread: &ThreadKey,
    message_id: &MessageId,
    status: &StatusReport,
    now: Instant,
) -> Result<Noted, Error> {
    // A status names the customer by phone number, BSUID or both: its message is kept under the
    // thread the customer's ids lead to now, or, when it was recorded before they were linked, under
    // the id the status names.
    let canonical = links::resolve(store, thread).await?;
    let account = match registry::registration(store, &canonical.business_id, status.at).await? {
        Some(registered) => registered.id,
        None => canonical.unregistered_account(),
    };
    let mut threads = vec![canonical];
    if threads[0] != *thread {
        threads.push(thread.clone());
    }
    // The message's own day is at most a day after the status's (clocks differ), or some days before.
    let today = Day::of(status.at);
    let keys: Vec<DeliveryKey> = threads
        .iter()
        .flat_map(|thread| {
            let message = MessageRef {
                thread: thread.clone(),
                message_id: message_id.clone(),
            };
            let account = account.clone();
            (-DELIVERY_LOOKBACK_DAYS..=1).rev().map(move |n| DeliveryKey {
                account: account.clone(),
                day: today.plus_days(n),
                message: message.clone(),
            })
        })
        .collect();
    let found = store.read_deliveries(&keys).await?;
    let place = found
        .iter()
        .position(|raw| raw.prediction.is_some())
        .or_else(|| found.iter().position(|raw| raw.report.is_some()));
    let (key, mut raw) = match place {
        Some(n) => (keys[n].clone(), found[n].clone()),
        None => (
            DeliveryKey {
                day: today,
                ..keys[0].clone()
            },
            DeliveryRaw::default(),
        ),
    };
    let record_name = format!("delivery {}/{}", key.account, key.message);
    let prediction = raw
        .prediction
        .as_deref()
        .map(|bytes| decode_prediction(&record_name, bytes))
        .transpose()?;
    for _ in 0..MAX_ATTEMPTS {
        let (version, before) = match &raw.report {
            Some((version, bytes)) => (*version, Some(decode_report(&record_name, bytes)?)),
            None => (Version(0), None),
        };
        let mut report = before.clone().unwrap_or_default();
        if !report.record(status) {
            return Ok(Noted {
                changed: false,
                prediction,
            });
        }
        let bytes = encode(&ReportRecord::from(&report));
        let keep_until = now.plus(DELIVERY_RETENTION);
        // The report's first failure moves the message's usage, in the same write, so it moves once.
        let change = prediction.as_ref().and_then(|prediction| {
            UsageChange::failed(
                &key.message.thread.business_id,
                prediction,
                before.as_ref(),
                &report,
            )
        });
        let usage = change.as_ref().map(|change| UsageWrite {
            change,
            keep_until: now.plus(USAGE_RETENTION),
        });
        if store
            .write_report(&key, version, &bytes, now, keep_until, usage)
            .await?
        {
            return Ok(Noted {
                changed: true,
                prediction,
            });
        }
        raw = store
            .read_deliveries(std::slice::from_ref(&key))
            .await?
            .pop()
            .unwrap_or_default();
    }
    Err(Error::Unavailable {
        message: format!("{record_name} is written by too many writers at once"),
        source: None,
    })
}

/// One message of a period: its prediction, Meta's report, or both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub message: MessageRef,
    pub prediction: Option<Prediction>,
    pub report: Option<Report>,
}

impl Delivery {
    /// The instant the message belongs to its period by: when it was recorded, else when Meta first
    /// reported it.
    fn at(&self) -> Option<Instant> {
        match &self.prediction {
            Some(prediction) => Some(prediction.at),
            None => self.report.as_ref().and_then(Report::first_at),
        }
    }
}

/// Calls `each` with every delivery of `account` in `[start, end)`, day by day, each day's in the order
/// of their message.
async fn each_delivery(
    store: &dyn Store,
    account: &AccountId,
    start: Instant,
    end: Instant,
    mut each: impl FnMut(Delivery),
) -> Result<(), Error> {
    if end <= start {
        return Ok(());
    }
    let (first, last) = (
        Day::of(start),
        Day::of(end.minus(hourglass_core::Duration::MILLISECOND)),
    );
    let mut day = first;
    while day <= last {
        let mut after: Option<String> = None;
        loop {
            let page = store
                .list_deliveries(account, day, after.as_deref(), PAGE)
                .await?;
            let full = page.len() == PAGE;
            for (name, raw) in page {
                let record_name = format!("delivery {account}/{name}");
                let message = MessageRef::parse(&name)
                    .ok_or_else(|| Error::corrupt(format!("{record_name} names no message")))?;
                let delivery = Delivery {
                    message,
                    prediction: raw
                        .prediction
                        .as_deref()
                        .map(|bytes| decode_prediction(&record_name, bytes))
                        .transpose()?,
                    report: raw
                        .report
                        .as_ref()
                        .map(|(_, bytes)| decode_report(&record_name, bytes))
                        .transpose()?,
                };
                if delivery.at().is_some_and(|at| start <= at && at < end) {
                    each(delivery);
                }
                after = Some(name);
            }
            if !full {
                break;
            }
        }
        day = day.plus_days(1);
    }
    Ok(())
}

/// How Hourglass's predictions of a period compare with what Meta reported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reconciliation {
    pub matched: u64,
    pub mismatched: u64,
    /// Of the mismatched, how many differ in each field (one message may differ in several).
    pub category_differs: u64,
    pub pricing_type_differs: u64,
    pub billable_differs: u64,
    pub pending: u64,
    pub failed: u64,
    pub unmatched: u64,
    /// The first `MAX_DISCREPANCIES` mismatched or unmatched messages, in the order listed.
    pub discrepancies: Vec<Discrepancy>,
}

/// A message whose prediction and report disagree, or that Hourglass never recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discrepancy {
    pub delivery: Delivery,
    /// What differs; none for an unmatched message.
    pub differences: Option<Differences>,
}

/// Compares the predictions of an account's messages in `[start, end)` with Meta's reports.
pub async fn reconcile(
    store: &dyn Store,
    account: &AccountId,
    start: Instant,
    end: Instant,
) -> Result<Reconciliation, Error> {
    let mut summary = Reconciliation::default();
    each_delivery(store, account, start, end, |delivery| {
        let outcome = compare(delivery.prediction.as_ref(), delivery.report.as_ref());
        let differences = match outcome {
            None => return,
            Some(Outcome::Matched) => {
                summary.matched += 1;
                return;
            }
            Some(Outcome::Pending) => {
                summary.pending += 1;
                return;
            }
            Some(Outcome::Failed) => {
                summary.failed += 1;
                return;
            }
            Some(Outcome::Unmatched) => {
                summary.unmatched += 1;
                None
            }
            Some(Outcome::Mismatched(differences)) => {
                summary.mismatched += 1;
                summary.category_differs += u64::from(differences.category);
                summary.pricing_type_differs += u64::from(differences.pricing_type);
                summary.billable_differs += u64::from(differences.billable);
                Some(differences)
            }
        };
        if summary.discrepancies.len() < MAX_DISCREPANCIES {
            summary.discrepancies.push(Discrepancy {
                delivery,
                differences,
            });
        }
    })
    .await?;
    Ok(summary)
}

/// Sums the usage of an account's messages in `[start, end)` into `usage`: the usage rows of every day
/// of `usage`'s zone the period touches, each day whole (`Usage::days`). The rows outlive the
/// predictions: they are kept `USAGE_RETENTION`.
pub async fn usage(
    store: &dyn Store,
    account: &AccountId,
    start: Instant,
    end: Instant,
    usage: &mut Usage,
) -> Result<(), Error> {
    let days = usage.days(start, end);
    for days in days.chunks(USAGE_DAYS_READ) {
        for (row, counts) in store.read_usage(account, days).await? {
            usage.add_row(&row, &counts);
        }
    }
    Ok(())
}

/// Delivery counts of one business and template (none: free-form messages and messages Hourglass
/// never recorded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsRow {
    pub business: BusinessId,
    pub template: Option<TemplateName>,
    pub stats: DeliveryStats,
}

/// Counts delivery and read rates of an account's messages in `[start, end)`, per business and
/// template, ordered by both.
pub async fn stats(
    store: &dyn Store,
    account: &AccountId,
    start: Instant,
    end: Instant,
) -> Result<Vec<StatsRow>, Error> {
    let mut rows: BTreeMap<(BusinessId, Option<TemplateName>), DeliveryStats> = BTreeMap::new();
    each_delivery(store, account, start, end, |delivery| {
        let template = delivery
            .prediction
            .as_ref()
            .and_then(|prediction| prediction.template.clone());
        rows.entry((delivery.message.thread.business_id.clone(), template))
            .or_default()
            .count(delivery.prediction.is_some(), delivery.report.as_ref());
    })
    .await?;
    Ok(rows
        .into_iter()
        .map(|((business, template), stats)| StatsRow {
            business,
            template,
            stats,
        })
        .collect())
}

fn decode_prediction(name: &str, bytes: &[u8]) -> Result<Prediction, Error> {
    Prediction::try_from(decode::<PredictionRecord>(name, bytes)?)
}

fn decode_report(name: &str, bytes: &[u8]) -> Result<Report, Error> {
    Report::try_from(decode::<ReportRecord>(name, bytes)?)
}
