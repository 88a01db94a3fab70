//! The storage conformance suite: what every [`Storage`] backend must pass,
//! written against the trait family and the [`Service`](crate::Service),
//! never against a particular database.
//!
//! Each case is a `pub async fn(Arc<dyn Storage>)` that gets a fresh, empty
//! storage, drives it (through the service's operator calls, or through the
//! storage traits directly) and panics with a message naming the broken
//! guarantee. The cases cover the guarantees listed in [`crate::storage`]:
//!
//! | guarantee | cases |
//! |---|---|
//! | pushes and pulls through the service | [`push_then_pull_round_trip`], [`repeated_push_is_idempotent`], [`reused_dot_refuses_the_whole_push`], [`refused_group_leaves_nothing_and_is_rebuilt`], [`pull_cursors_are_per_device`], [`scope_follows_the_directory`], [`records_follow_their_home`], [`records_stream_by_kind`], [`the_server_epoch_is_made_and_renewed`] |
//! | 1, 2: isolated, all-or-nothing write jobs | [`failed_write_jobs_leave_no_trace`] |
//! | 3: read snapshots | [`read_jobs_see_one_snapshot`] |
//! | 4, 5: the safe high-water mark, rising positions | [`high_water_stays_below_running_writes`], [`cursors_hold_under_concurrent_pushes`] |
//! | 6: one audit chain | [`audit_chain_links_every_row`] |
//! | the directory version and cache | [`directory_version_moves_with_every_change`], [`directory_cache_follows_other_services`] |
//! | identity | [`users_are_stored_and_assigned`], [`enrollment_codes_are_single_use`], [`sessions_expire`], [`revocation_keeps_the_first_time_and_deactivation_revokes`] |
//! | the report read side | [`daily_reports_are_read_back`] |
//! | locked months | [`months_lock_once_and_read_back`] |
//! | figures for monitoring | [`vitals_count_conflicts_devices_and_size`] |
//! | attachments | [`attachments_upload_resume_and_stay_in_scope`], [`attachments_mismatch_and_limits_refuse`] |
//!
//! # Running it for a backend
//!
//! Compile this crate with the feature `conformance` in the backend's
//! `[dev-dependencies]`, and give [`conformance_suite!`](crate::conformance_suite)
//! a factory: an async closure (or `async fn`) that makes a fresh, empty
//! storage and returns it with whatever must outlive it ([`Keep`]: a
//! temporary directory, a writer thread's handle, a database to drop). The
//! macro expands to one `#[test]` per case, so every case runs on its own
//! storage and fails on its own:
//!
//! ```ignore
//! // a backend's tests/conformance.rs
//! use std::sync::Arc;
//!
//! use gridsync_server_core::conformance::{Fresh, Keep};
//! use gridsync_server_core::Storage;
//! use gridsync_server_sqlite::SqliteStorage;
//!
//! async fn fresh() -> Fresh {
//!     let dir = tempfile::tempdir().expect("a temporary directory");
//!     let (storage, writer) = SqliteStorage::open(dir.path()).expect("a fresh database opens");
//!     (Arc::new(storage) as Arc<dyn Storage>, Box::new((writer, dir)) as Keep)
//! }
//!
//! gridsync_server_core::conformance_suite!(fresh);
//! ```
//!
//! (`server-sqlite/tests/conformance.rs` keeps a small guard instead of the
//! tuple, which joins the writer thread before the directory is removed. A
//! server database such as PostgreSQL would create a database or schema
//! per case and return a guard that drops it.)
//!
//! Each test builds its own multi-threaded Tokio runtime with two workers
//! ([`run`]), so the backend's test crate needs no Tokio attributes of its
//! own. The storage goes to the case (which drops it when it ends); the
//! runtime shuts down next; what [`Keep`] holds is dropped last, also when
//! the case panics.
//!
//! To run one case by hand (say, while debugging a backend), call
//! [`run`] with the factory and the case, e.g.
//! `run(fresh, conformance::sessions_expire)`.
//!
//! # How the cases are written
//!
//! Records are real: patrols and daily reports made with
//! [`gridsync_proto::make_group`] by grid workers at their own grid, so the
//! record rules accept them. No case sleeps: concurrent work is ordered
//! with channels, and a job that must stay open (a write in flight, a read
//! snapshot held) blocks inside the job on a channel that the case releases.
//! Those cases assume what every MVCC or WAL database gives: a read job
//! does not wait for a write job in flight, nor a write for an open read. A
//! backend that serializes them hangs there instead of failing.
//!
//! The pages of one pull share the scope computed on its first page (see
//! [`crate::service::sync::pull`]): a record that enters a device's scope
//! while it pages arrives on its next pull, so a case that waits for a
//! device to catch up pulls once more after its last page.

mod attachments;
mod audit;
mod concurrency;
mod directory;
mod fixture;
mod identity;
mod ledgers;
mod reports;
mod stats;
mod sync;

use std::any::Any;
use std::sync::Arc;

pub use attachments::{attachments_mismatch_and_limits_refuse, attachments_upload_resume_and_stay_in_scope};
pub use audit::audit_chain_links_every_row;
pub use concurrency::{
    cursors_hold_under_concurrent_pushes, failed_write_jobs_leave_no_trace,
    high_water_stays_below_running_writes, read_jobs_see_one_snapshot,
};
pub use directory::{directory_cache_follows_other_services, directory_version_moves_with_every_change};
pub use identity::{
    enrollment_codes_are_single_use, revocation_keeps_the_first_time_and_deactivation_revokes,
    sessions_expire, users_are_stored_and_assigned,
};
pub use ledgers::{an_indexed_month_is_the_month_read_whole, months_lock_once_and_read_back};
pub use reports::daily_reports_are_read_back;
pub use stats::vitals_count_conflicts_devices_and_size;
pub use sync::{
    changes_of_reads_only_the_named_records, pull_cursors_are_per_device, pull_pages_cut_at_log_positions,
    push_then_pull_round_trip, records_are_sent_whole_as_snapshots, records_follow_their_home,
    records_stream_by_kind, refused_group_leaves_nothing_and_is_rebuilt, repeated_push_is_idempotent,
    reused_dot_refuses_the_whole_push, scope_follows_the_directory, the_server_epoch_is_made_and_renewed,
};

use crate::storage::Storage;

/// What must stay alive as long as a storage is used (a temporary
/// directory, a writer thread's handle, …); dropped after the case.
pub type Keep = Box<dyn Any + Send>;

/// What a backend's factory returns: a fresh, empty storage and what must
/// outlive it.
pub type Fresh = (Arc<dyn Storage>, Keep);

/// The name of every case, in the order [`conformance_suite!`](crate::conformance_suite) runs them.
/// A new case is exported above and named here and in the macro (a unit
/// test checks that the two lists agree).
pub const CASES: &[&str] = &[
    "push_then_pull_round_trip",
    "repeated_push_is_idempotent",
    "reused_dot_refuses_the_whole_push",
    "refused_group_leaves_nothing_and_is_rebuilt",
    "pull_cursors_are_per_device",
    "scope_follows_the_directory",
    "records_follow_their_home",
    "records_stream_by_kind",
    "records_are_sent_whole_as_snapshots",
    "pull_pages_cut_at_log_positions",
    "changes_of_reads_only_the_named_records",
    "the_server_epoch_is_made_and_renewed",
    "cursors_hold_under_concurrent_pushes",
    "high_water_stays_below_running_writes",
    "failed_write_jobs_leave_no_trace",
    "read_jobs_see_one_snapshot",
    "directory_version_moves_with_every_change",
    "directory_cache_follows_other_services",
    "users_are_stored_and_assigned",
    "enrollment_codes_are_single_use",
    "sessions_expire",
    "revocation_keeps_the_first_time_and_deactivation_revokes",
    "audit_chain_links_every_row",
    "daily_reports_are_read_back",
    "months_lock_once_and_read_back",
    "an_indexed_month_is_the_month_read_whole",
    "vitals_count_conflicts_devices_and_size",
    "attachments_upload_resume_and_stay_in_scope",
    "attachments_mismatch_and_limits_refuse",
];

/// Runs one case on a fresh storage from `factory`, in its own
/// multi-threaded Tokio runtime (two workers). Panics when the case does.
///
/// Drop order: the case owns the storage and drops it as it ends; then the
/// runtime shuts down (finishing blocking work); then `Keep` is dropped,
/// even when the case panicked.
pub fn run<F, C>(factory: F, case: C)
where
    F: AsyncFnOnce() -> Fresh,
    C: AsyncFnOnce(Arc<dyn Storage>),
{
    let mut keep: Option<Keep> = None;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a Tokio runtime for the conformance case");
    runtime.block_on(async {
        let (storage, kept) = factory().await;
        keep = Some(kept);
        case(storage).await;
    });
    drop(runtime);
    drop(keep);
}

/// Expands to one `#[test]` per conformance case, each running the case on
/// a fresh storage from the factory (see the [module doc](crate::conformance)).
///
/// The factory is an expression for something callable as
/// `async () -> Fresh`: an `async fn` path or an async closure. It is
/// evaluated once per test.
#[macro_export]
macro_rules! conformance_suite {
    ($factory:expr $(,)?) => {
        $crate::conformance_suite!(@cases $factory;
            push_then_pull_round_trip,
            repeated_push_is_idempotent,
            reused_dot_refuses_the_whole_push,
            refused_group_leaves_nothing_and_is_rebuilt,
            pull_cursors_are_per_device,
            scope_follows_the_directory,
            records_follow_their_home,
            records_stream_by_kind,
            records_are_sent_whole_as_snapshots,
            pull_pages_cut_at_log_positions,
            changes_of_reads_only_the_named_records,
            the_server_epoch_is_made_and_renewed,
            cursors_hold_under_concurrent_pushes,
            high_water_stays_below_running_writes,
            failed_write_jobs_leave_no_trace,
            read_jobs_see_one_snapshot,
            directory_version_moves_with_every_change,
            directory_cache_follows_other_services,
            users_are_stored_and_assigned,
            enrollment_codes_are_single_use,
            sessions_expire,
            revocation_keeps_the_first_time_and_deactivation_revokes,
            audit_chain_links_every_row,
            daily_reports_are_read_back,
            months_lock_once_and_read_back,
            an_indexed_month_is_the_month_read_whole,
            vitals_count_conflicts_devices_and_size,
            attachments_upload_resume_and_stay_in_scope,
            attachments_mismatch_and_limits_refuse,
        );
    };
    (@cases $factory:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::conformance::run($factory, $crate::conformance::$case);
            }
        )*
    };
}

#[cfg(test)]
mod tests {
    use super::CASES;

    /// The macro's list and [`CASES`] name the same cases: each name
    /// appears once in the macro's source.
    #[test]
    fn the_macro_runs_every_case_once() {
        let source = include_str!("conformance.rs");
        let start = source.find("(@cases $factory;\n").expect("the macro's case list");
        let list = &source[start..];
        let end = list.find(");").expect("the end of the macro's case list");
        let names: Vec<&str> = list["(@cases $factory;\n".len()..end]
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect();
        assert_eq!(names, CASES, "the macro's cases and CASES differ");
    }
}
