//! Meta's own HTTP calls (`--webhook-listen`), for a gateway that tees Meta's requests to Hourglass:
//! `GET` answers Meta's verification, `POST` ingests the body with its `X-Hub-Signature-256` and
//! answers 200 only once every item is durably applied, so that Meta retries anything else. Served by
//! axum, the HTTP stack tonic is built on, on every path.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use subtle::ConstantTimeEq;

use super::{Ingestor, MAX_PAYLOAD_BYTES};
use crate::error::Error;

/// What the endpoint needs.
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    pub ingestor: Arc<Ingestor>,
    /// `--webhook-verify-token`: without one, verification is refused.
    pub verify_token: Option<String>,
}

/// Returns the endpoint's router: the same answers on every path, since Meta calls the one URL it
/// was given.
pub(crate) fn router(endpoint: Endpoint) -> Router {
    let routes = get(verify).post(ingest);
    Router::new()
        .route("/", routes.clone())
        .route("/{*path}", routes)
        .layer(DefaultBodyLimit::max(MAX_PAYLOAD_BYTES))
        .with_state(endpoint)
}

/// Meta's verification request: `hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`.
#[derive(Debug, serde::Deserialize)]
struct Verification {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

async fn verify(
    State(endpoint): State<Endpoint>,
    query: Result<Query<Verification>, QueryRejection>,
) -> Response {
    let Ok(Query(verification)) = query else {
        return (StatusCode::BAD_REQUEST, "malformed verification query\n").into_response();
    };
    let Some(expected) = endpoint.verify_token.as_deref() else {
        return (
            StatusCode::FORBIDDEN,
            "this server has no --webhook-verify-token, so it verifies no subscription\n",
        )
            .into_response();
    };
    let token_matches = verification
        .verify_token
        .as_deref()
        .is_some_and(|token| bool::from(token.as_bytes().ct_eq(expected.as_bytes())));
    match (
        verification.mode.as_deref(),
        token_matches,
        verification.challenge,
    ) {
        (Some("subscribe"), true, Some(challenge)) => {
            tracing::info!("webhook subscription verified");
            (StatusCode::OK, challenge).into_response()
        }
        (Some("subscribe"), true, None) => {
            (StatusCode::BAD_REQUEST, "hub.challenge is missing\n").into_response()
        }
        _ => (
            StatusCode::FORBIDDEN,
            "verification needs hub.mode=subscribe and the hub.verify_token this server was given\n",
        )
            .into_response(),
    }
}

async fn ingest(State(endpoint): State<Endpoint>, headers: HeaderMap, body: Bytes) -> Response {
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|value| value.to_str().ok());
    match endpoint
        .ingestor
        .ingest(&crate::auth::Access::default(), &body, signature)
        .await
    {
        Ok(response) => {
            let errors: Vec<_> = response
                .errors
                .iter()
                .map(|error| serde_json::json!({"path": error.path, "reason": error.reason}))
                .collect();
            let summary = serde_json::json!({
                "applied": response.applied,
                "duplicates": response.duplicates,
                "ignored": response.ignored,
                "errors": errors,
            });
            (
                StatusCode::OK,
                [("content-type", "application/json")],
                format!("{summary}\n"),
            )
                .into_response()
        }
        Err(error) => {
            let status = match &error {
                Error::Invalid(_) => StatusCode::BAD_REQUEST,
                Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
                Error::PermissionDenied(_) => StatusCode::FORBIDDEN,
                Error::NotFound(_) => StatusCode::NOT_FOUND,
                Error::Store(_) | Error::StoreTimeout { .. } => StatusCode::SERVICE_UNAVAILABLE,
            };
            // The gRPC mapping logs and words the error once; HTTP repeats its message.
            let message = crate::error::to_status(error).message().to_owned();
            (status, format!("{message}\n")).into_response()
        }
    }
}
