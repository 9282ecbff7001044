//! `PolicyService`, the gRPC handlers: each reads validate (`convert`) → `hourglass_store::ledger` →
//! `to_proto`.
//!
//! The rules live in `hourglass_core::step` and the atomic step in the ledger and the store; a handler
//! only connects them and bounds every call by the store timeout.

use std::future::Future;
use std::sync::Arc;

use hourglass_core::{BusinessId, Duration, Policy};
use hourglass_proto::v1 as pb;
use hourglass_proto::v1::policy_service_server::PolicyService;
use hourglass_store::{Store, ledger};
use tonic::{Request, Response, Status};

use crate::auth::Access;
use crate::config::WhenStoreUnavailable;
use crate::convert::{self, Clock, ToProto as _};
use crate::error::{Error, to_status};
use crate::metrics;

/// The deployment's pricing policy, replaced whole when the rate card is reloaded.
pub(crate) type SharedPolicy = crate::reload::Shared<Policy>;

/// The `hourglass.v1.PolicyService` implementation over a store.
pub(crate) struct PolicyServer {
    store: Arc<dyn Store>,
    policy: SharedPolicy,
    max_clock_skew: Duration,
    store_timeout: std::time::Duration,
    when_store_unavailable: WhenStoreUnavailable,
    decision_log: Option<crate::decision_log::Sink>,
}

impl PolicyServer {
    pub fn new(
        store: Arc<dyn Store>,
        policy: SharedPolicy,
        max_clock_skew: Duration,
        store_timeout: std::time::Duration,
        when_store_unavailable: WhenStoreUnavailable,
        decision_log: Option<crate::decision_log::Sink>,
    ) -> PolicyServer {
        PolicyServer {
            store,
            policy,
            max_clock_skew,
            store_timeout,
            when_store_unavailable,
            decision_log,
        }
    }

    fn clock(&self) -> Clock {
        Clock::system(self.max_clock_skew)
    }

    /// Awaits a store call for at most the store timeout (`bounded`).
    fn bounded<'a, T: 'a>(
        &self,
        call: impl Future<Output = Result<T, hourglass_store::Error>> + Send + 'a,
    ) -> impl Future<Output = Result<T, Error>> + Send + 'a {
        bounded(self.store_timeout, call)
    }

    /// Checks that the caller may touch `business` (`--auth-file`).
    async fn check_business(&self, access: &Access, business: &BusinessId) -> Result<(), Error> {
        access
            .business(
                self.store.as_ref(),
                self.store_timeout,
                business,
                self.clock().now,
            )
            .await
    }

    async fn answer_authorize(
        &self,
        access: Access,
        request: pb::AuthorizeRequest,
    ) -> Result<pb::AuthorizeResponse, Error> {
        let logged = self.decision_log.as_ref().map(|_| request.clone());
        let event = convert::authorize_from_proto(request, self.clock())?;
        let policy = self.policy.current();
        hourglass_core::check_priced(&policy, &event)?;
        let decided = async {
            self.check_business(&access, &event.thread.business_id).await?;
            self.bounded(ledger::authorize(self.store.as_ref(), &policy, &event))
                .await
        };
        // The degraded answer is the same for every business, and writes nothing: a caller whose
        // business could not be checked learns nothing from it.
        let decision = match decided.await {
            Ok(decision) => decision,
            Err(error) if error.is_store_unavailable() && self.allows_degraded(&event) => {
                tracing::warn!(%error, "the store is unavailable: a reply is allowed in degraded mode");
                metrics::degraded_answer();
                return Ok(pb::AuthorizeResponse {
                    decision: Some(degraded_reply()),
                });
            }
            Err(error) => return Err(error),
        };
        tracing::debug!(allowed = decision.is_allowed(), "authorized");
        let decision = decision.to_proto();
        if let (Some(sink), Some(request)) = (&self.decision_log, &logged) {
            sink.authorize(request, event.at, Some(&decision));
        }
        Ok(pb::AuthorizeResponse {
            decision: Some(decision),
        })
    }

    /// Returns whether `event` may be answered without the store: a free-form message, under
    /// `--when-store-unavailable allow-replies` (docs/SPEC.md section 16).
    fn allows_degraded(&self, event: &hourglass_core::Event) -> bool {
        self.when_store_unavailable == WhenStoreUnavailable::AllowReplies
            && matches!(
                event.message,
                hourglass_core::Message::Outbound(hourglass_core::Outbound::FreeForm)
            )
    }

    async fn answer_authorize_batch(
        &self,
        access: Access,
        request: pb::AuthorizeBatchRequest,
    ) -> Result<pb::AuthorizeBatchResponse, Error> {
        let logged = self
            .decision_log
            .as_ref()
            .map(|_| (request.business_id.clone(), request.message.clone()));
        let events = convert::authorize_batch_from_proto(request, self.clock())?;
        let policy = self.policy.current();
        if let Some(event) = events.first() {
            hourglass_core::check_priced(&policy, event)?;
            // Every event of a batch is of its one business.
            self.check_business(&access, &event.thread.business_id).await?;
        }
        // A batch reads as many threads as it has customers: it may take longer than one call.
        let timeout = self.store_timeout.saturating_mul(20);
        let decisions = bounded(
            timeout,
            ledger::authorize_batch(self.store.as_ref(), &policy, &events),
        )
        .await?;
        let response = convert::batch_to_proto(&events, &decisions);
        if let (Some(sink), Some((business_id, message)), Some(event)) =
            (&self.decision_log, &logged, events.first())
        {
            sink.authorize_batch(business_id, message.as_ref(), event.at, &response);
        }
        Ok(response)
    }

    async fn answer_record_message(
        &self,
        access: Access,
        request: pb::RecordMessageRequest,
    ) -> Result<pb::RecordMessageResponse, Error> {
        let logged = self.decision_log.as_ref().map(|_| request.clone());
        let entry = convert::record_from_proto(request, self.clock())?;
        let policy = self.policy.current();
        hourglass_core::check_priced(&policy, &entry.event)?;
        self.check_business(&access, &entry.event.thread.business_id)
            .await?;
        // A call cut short by the timeout may still complete in the store; the gateway's retry with the
        // same message id then gets the recorded answer, marked duplicate.
        let answer = self
            .bounded(ledger::record(self.store.as_ref(), &policy, &entry))
            .await?;
        tracing::debug!(
            duplicate = answer.duplicate,
            allowed = answer.decision.as_ref().map(hourglass_core::Decision::is_allowed),
            "recorded"
        );
        let response = answer.to_proto();
        if let (Some(sink), Some(request)) = (&self.decision_log, &logged) {
            sink.record(request, entry.event.at, &response);
        }
        Ok(response)
    }

    async fn answer_list_open_conversations(
        &self,
        access: Access,
        request: pb::ListOpenConversationsRequest,
    ) -> Result<pb::ListOpenConversationsResponse, Error> {
        let convert::ListOpenConversations { thread, at } =
            convert::list_open_conversations_from_proto(request, self.clock())?;
        self.check_business(&access, &thread.business_id).await?;
        let state = self.bounded(ledger::thread(self.store.as_ref(), &thread)).await?;
        let view = hourglass_core::view(&state, at);
        tracing::debug!(n_conversations = view.conversations.len(), "listed");
        Ok(view.to_proto())
    }
}

#[tonic::async_trait]
impl PolicyService for PolicyServer {
    #[tracing::instrument(
        name = "authorize",
        skip_all,
        fields(
            business_id = %crate::telemetry::short(&request.get_ref().business_id),
            customer_id = %crate::telemetry::personal(&request.get_ref().customer_id),
        )
    )]
    async fn authorize(
        &self,
        request: Request<pb::AuthorizeRequest>,
    ) -> Result<Response<pb::AuthorizeResponse>, Status> {
        let started = std::time::Instant::now();
        let result = self
            .answer_authorize(Access::of(&request), request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status);
        if let Ok(response) = &result {
            metrics::decisions("Authorize", response.get_ref().decision.as_ref(), false);
        }
        log_request("Authorize", started, &result, |answer| answer.decision.as_ref());
        result
    }

    #[tracing::instrument(name = "authorize_batch", skip_all)]
    async fn authorize_batch(
        &self,
        request: Request<pb::AuthorizeBatchRequest>,
    ) -> Result<Response<pb::AuthorizeBatchResponse>, Status> {
        let started = std::time::Instant::now();
        let result = self
            .answer_authorize_batch(Access::of(&request), request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status);
        if let Ok(response) = &result {
            let decisions = response.get_ref().results.iter();
            metrics::decisions(
                "AuthorizeBatch",
                decisions.filter_map(|result| result.decision.as_ref()),
                false,
            );
        }
        log_request("AuthorizeBatch", started, &result, |_| None);
        result
    }

    #[tracing::instrument(
        name = "record_message",
        skip_all,
        fields(
            business_id = %crate::telemetry::short(&request.get_ref().business_id),
            customer_id = %crate::telemetry::personal(&request.get_ref().customer_id),
            message_id = %crate::telemetry::personal(&request.get_ref().message_id),
        )
    )]
    async fn record_message(
        &self,
        request: Request<pb::RecordMessageRequest>,
    ) -> Result<Response<pb::RecordMessageResponse>, Status> {
        let started = std::time::Instant::now();
        let result = self
            .answer_record_message(Access::of(&request), request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status);
        if let Ok(response) = &result {
            let answer = response.get_ref();
            // A duplicate repeats an answer whose price was counted when it was first recorded.
            metrics::decisions("RecordMessage", answer.decision.as_ref(), !answer.duplicate);
        }
        log_request("RecordMessage", started, &result, |answer| {
            answer.decision.as_ref()
        });
        result
    }

    #[tracing::instrument(
        name = "list_open_conversations",
        skip_all,
        fields(
            business_id = %crate::telemetry::short(&request.get_ref().business_id),
            customer_id = %crate::telemetry::personal(&request.get_ref().customer_id),
        )
    )]
    async fn list_open_conversations(
        &self,
        request: Request<pb::ListOpenConversationsRequest>,
    ) -> Result<Response<pb::ListOpenConversationsResponse>, Status> {
        let started = std::time::Instant::now();
        let result = self
            .answer_list_open_conversations(Access::of(&request), request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status);
        log_request("ListOpenConversations", started, &result, |_| None);
        result
    }
}

/// Awaits a store call for at most `timeout`.
///
/// The call is boxed once, here: a ledger call's future is kilobytes (a `RecordMessage` about 5 KB), and
/// held by value it would be copied whole into every future that awaits it, up to the handler's, which
/// tonic boxes (about 16 KB before, copied at every layer; `docs/PERFORMANCE.md`).
pub(crate) fn bounded<'a, T: 'a>(
    timeout: std::time::Duration,
    call: impl Future<Output = Result<T, hourglass_store::Error>> + Send + 'a,
) -> impl Future<Output = Result<T, Error>> + Send + 'a {
    let call = tokio::time::timeout(timeout, Box::pin(call));
    async move {
        match call.await {
            Ok(result) => Ok(result?),
            Err(_elapsed) => {
                metrics::store_timeout();
                Err(Error::StoreTimeout {
                    timeout_ms: timeout.as_millis(),
                })
            }
        }
    }
}

/// The degraded answer to a free-form message while the store is unavailable: allowed, with no
/// charge and no window, since neither could be read.
fn degraded_reply() -> pb::Decision {
    pb::Decision {
        allowed: true,
        explanation: "the store is unavailable: this free-form message is allowed without checking the \
                      customer service window or pricing it (--when-store-unavailable allow-replies), and \
                      nothing is recorded; send it only as a reply to a customer who wrote in the last 24 h"
            .to_owned(),
        decision_source: pb::DecisionSource::Degraded.into(),
        ..pb::Decision::default()
    }
}

/// Logs one line per request at `info`, inside the request's span (whose ids are hashed, see
/// `telemetry::personal`): the method, the gRPC status code, the deny reason of a decision and what a
/// guard in shadow would have denied (so an operator can count a guard's shadow denials before
/// enforcing it), and the latency. Nothing of the request's values is logged here.
pub(crate) fn log_request<T>(
    method: &'static str,
    started: std::time::Instant,
    result: &Result<Response<T>, Status>,
    decision: impl FnOnce(&T) -> Option<&pb::Decision>,
) {
    let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let name = |reason: i32| {
        pb::DenyReason::try_from(reason)
            .ok()
            .filter(|reason| *reason != pb::DenyReason::Unspecified)
            .map(|reason| reason.as_str_name())
    };
    let (code, deny_reason, shadow_deny_reason) = match result {
        Ok(response) => match decision(response.get_ref()) {
            Some(decision) => (
                tonic::Code::Ok,
                name(decision.deny_reason),
                name(decision.shadow_deny_reason),
            ),
            None => (tonic::Code::Ok, None, None),
        },
        Err(status) => (status.code(), None, None),
    };
    tracing::info!(method, code = ?code, deny_reason, shadow_deny_reason, latency_us, "request");
}
