//! The store conformance suite: every case of `cases`, `registry`, `deliveries`, `usage`, `links` and `money` runs against every backend, as its
//! own test.
//!
//! To add a backend, implement `backends::Backend` for its fixture and invoke `store_conformance!`
//! with a module name and an async constructor of the fixture.

mod backends;
mod cases;
mod deliveries;
mod links;
mod money;
mod redis_backends;
mod registry;
mod support;
mod usage;

/// Generates, in a module named `$backend`, one `#[tokio::test]` per conformance case, each running
/// the case against a fixture from `$fixture` (a closure returning a future of a `backends::Backend`).
///
/// With `optional`, the future yields an `Option` of a fixture, and each case prints that it skipped
/// the backend when it is `None` (a backend whose server is not installed, outside CI).
macro_rules! store_conformance {
    ($backend:ident, optional $fixture:expr) => {
        store_conformance!(@cases $backend, $fixture, cases [
            checks_connectivity_and_knows_no_thread_yet,
            load_thread_reads_what_load_reads,
            inbound_opens_the_window_and_a_reply_opens_a_free_tier_service_conversation,
            templates_open_a_conversation_of_their_category,
            a_denied_free_form_message_records_nothing_and_leaves_its_id_free,
            the_same_id_twice_has_the_effect_of_one,
            a_message_id_is_unique_per_thread,
            state_survives_reopening_a_durable_store,
            sweeping_removes_expired_records_and_keeps_live_ones,
            concurrent_templates_for_one_thread_open_one_conversation,
            the_free_tier_is_exact_under_concurrency,
            free_service_messages_are_exact_under_concurrency,
        ], registry [
            registry_entries_are_versioned_and_compare_and_set,
            concurrent_registry_updates_are_all_kept,
            templates_are_listed_in_order_and_paged,
            registry_survives_reopening_a_durable_store,
            a_paused_template_is_denied_and_recorded_nothing,
            consent_guards_apply_through_the_store,
            the_marketing_cap_is_exact_under_concurrency,
            the_registry_category_prices_the_message,
            the_messaging_limit_is_exact_under_concurrency_across_replicas,
            a_registry_write_is_seen_by_the_next_decision_of_every_replica,
            a_read_plan_brings_its_entries_in_order,
        ], deliveries [
            predictions_are_written_with_their_step_and_statuses_reconcile,
            statuses_apply_once_in_any_order_and_under_concurrency,
            deliveries_are_kept_for_their_retention,
        ], usage [
            usage_is_the_exact_sum_of_the_answered_prices_under_concurrency,
            usage_outlives_the_predictions,
            a_failed_status_moves_usage_once,
        ], links [
            linked_ids_name_one_thread,
            a_link_made_while_recording_loses_nothing,
            a_number_change_moves_the_customer,
        ], money [
            volume_tiers_are_exact_across_a_boundary_under_concurrency,
            a_budget_is_never_exceeded_under_concurrency,
        ]);
    };
    ($backend:ident, $fixture:expr) => {
        store_conformance!($backend, optional || async { Some(($fixture)().await) });
    };
    (@cases $backend:ident, $fixture:expr, $($module:ident [$($case:ident),* $(,)?]),* $(,)?) => {
        mod $backend {
            $($(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let Some(fixture) = ($fixture)().await else {
                        hourglass_testkit::redis::say_skipped(&format!("{} on {}: its server is not available", stringify!($case), stringify!($backend)));
                        return;
                    };
                    crate::$module::$case(fixture).await;
                }
            )*)*
        }
    };
}

store_conformance!(memory, || async { crate::backends::Memory });
store_conformance!(sled, || async { crate::backends::Sled::new() });
store_conformance!(
    redis,
    optional || async { crate::redis_backends::Redis::single() }
);
store_conformance!(
    redis_cluster,
    optional || async { crate::redis_backends::Redis::cluster() }
);
