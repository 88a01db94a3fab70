//! The dispute desk of township and county centres: list the disputes of a
//! place, read one in full, settle a field's conflict, take a lifecycle
//! step. The web console's Disputes pages call these operations (over
//! `/v1/admin/disputes`), as the handsets call push and pull.
//!
//! | operation | who | audited |
//! |---|---|---|
//! | [`Service::list_disputes`] | readers ([`policy::may_read`]) of the place | refusals |
//! | [`Service::dispute`] | roles that see parties' names ([`policy::sees_party_names`]), the owner within their scope; with what the reader may do from the desk ([`DeskOffer`]) | every read (`dispute.read`) and refusal |
//! | [`Service::resolve_dispute_conflict`] | [`policy::may_handle_disputes`], then the record rules | every write (`dispute.resolve`) and refusal |
//! | [`Service::take_dispute_step`] | [`policy::may_handle_disputes`], then the lifecycle rules | every write (`dispute.step`) and refusal |
//!
//! A dispute outside the caller's scope is refused with `forbidden`; an id
//! that names no dispute answers `not_found`. Neither message says anything
//! about the dispute.
//!
//! # Writes are changes like a handset's
//!
//! The desk never edits a record in place. A write is a group of CRDT
//! changes authored by the server under the staff member's own desk actor
//! ([`author`], ADR 0016), judged by the same record rules a handset's push
//! is ([`gridsync_proto::check_group`], [`gridsync_proto::dispute::permit`]),
//! appended to the change log in one transaction with its audit row, and
//! pulled by every handset whose scope holds the dispute. A resolution
//! supersedes exactly the competing values the caller was shown, so it
//! replaces them on every replica; a value that arrived meanwhile is never
//! replaced unseen (the write is refused and the caller reads again).
//!
//! # Lists
//!
//! Every dispute's list line (stage, owner and flags from the lifecycle
//! fold, conflicts from the state) is kept in the service's memory and
//! brought up to date before each list from the disputes saved since
//! ([`crate::storage::SyncLogRead::records_updated`], by log position), so a
//! list folds only what changed; overdue is judged on the day of the list
//! ([`list::is_overdue`]). The first list after a start reads every
//! dispute once. `docs/PERFORMANCE.md` has the figures for a county of
//! 10,000 disputes.

pub mod author;
pub mod desk;
pub mod detail;
pub mod list;

use gridsync_proto::rules::RuleError;
use gridsync_proto::{Date, Directory, ErrorCode, Lifecycle, RecordId, RecordKind, RecordState, check_group};
use serde::Serialize;

pub use author::{by_desk, desk_actor};
pub use desk::{Choice, DESK_ACTIONS, DeskOffer, DeskStep, ResolveConflict};
pub use detail::{Candidate, DisputeDetail, FieldConflict};
pub use list::{DisputeLine, DisputePage, DisputeQuery};

use super::sync::{load_state, log_authored};
use super::{Caller, Service};
use crate::audit::Event;
use crate::error::{CoreError, CoreResult, Refusal, StorageError};
use crate::storage::{ReadTx, StorageExt, User, WriteTx};
use crate::{home, policy};

/// What a desk write did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeskWrite {
    /// The ids (`DEVICE:COUNTER`) of the changes it logged.
    pub changes: Vec<String>,
    /// The log position of its last change: handsets pull it from there.
    pub position: u64,
    /// The dispute as it stands after the write.
    pub dispute: DisputeDetail,
}

impl Service {
    /// One page of the disputes owned within `query.place`, filtered, newest
    /// first, with the number of all that match. Refused with
    /// `unknown_place` for a place the directory does not know, `forbidden`
    /// for a caller who may not read it.
    pub async fn list_disputes(&self, caller: &Caller, query: DisputeQuery) -> CoreResult<DisputePage> {
        let (caller2, cache, place) = (caller.clone(), self.directory.clone(), query.place.clone());
        let index = self.disputes.clone();
        let today = self.today()?;
        let result = self
            .storage
            .read(move |tx| {
                let (_, dir) = cache.get(tx)?;
                caller2.require_reader_of(&dir, &query.place, |_| true)?;
                // A panic while it was held left the index at its last
                // complete position (it moves only after a whole catch-up).
                let mut index = index.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                index.catch_up(tx, today)?;
                Ok(index.page(&dir, &query, today))
            })
            .await;
        self.audited(caller, "dispute.list", place, result).await
    }

    /// One dispute in full: its line, lifecycle history, mediation sessions,
    /// conflicts side by side and whole record. Audited, since it shows the
    /// parties.
    pub async fn dispute(&self, caller: &Caller, id: RecordId) -> CoreResult<DisputeDetail> {
        let (caller2, cache) = (caller.clone(), self.directory.clone());
        let today = self.today()?;
        let result = self
            .storage
            .read(move |tx| {
                // The role first, so that a role that may not read disputes
                // learns nothing, not even whether the id exists.
                let may_see = |who: &User| policy::may_read(who) && policy::sees_party_names(who.role);
                caller2.require(may_see)?;
                let (_, dir) = cache.get(tx)?;
                let (record, lifecycle) = find(tx, id)?;
                reach(&caller2, &dir, &lifecycle, may_see)?;
                let township = home::of_record(&dir, &record);
                let as_of = tx.high_water()?;
                let mut detail = detail::detail(tx, &record, &lifecycle, &township, today, as_of)?;
                if let Caller::Staff(user) = &caller2 {
                    detail.desk = DeskOffer::of(user, &lifecycle.state, &dir);
                }
                Ok(detail)
            })
            .await;
        let detail = self.audited(caller, "dispute.read", id.to_string(), result).await?;
        self.audit(Event::new(caller.audit_name(), "dispute.read", id.to_string(), "ok")).await?;
        Ok(detail)
    }

    /// Settles the conflict of one field of a dispute with a change that
    /// supersedes every competing value the caller saw (see
    /// [`ResolveConflict`]), authored at the desk and synced to handsets.
    pub async fn resolve_dispute_conflict(
        &self,
        caller: &Caller,
        id: RecordId,
        request: ResolveConflict,
    ) -> CoreResult<DeskWrite> {
        let field = request.field.clone();
        self.desk_write(caller, id, "dispute.resolve", move |record, _, _, _| {
            let edits = desk::resolve_edits(record, &request)?;
            Ok((edits, format!("field={field}")))
        })
        .await
    }

    /// Takes a lifecycle step on a dispute (accept, escalate, transfer with
    /// its letter number, close, or any step the rules let the caller take),
    /// authored at the desk and synced to handsets. A step the stage or the
    /// caller's role and place does not allow is refused with the rules'
    /// code (`invalid_transition`, `forbidden`, `invalid_field`,
    /// `missing_field`) and changes nothing.
    pub async fn take_dispute_step(
        &self,
        caller: &Caller,
        id: RecordId,
        step: DeskStep,
    ) -> CoreResult<DeskWrite> {
        self.desk_write(caller, id, "dispute.step", move |_, lifecycle, actor, dir| {
            let edits = desk::step_edits(lifecycle, &step, actor, dir)?;
            Ok((edits, format!("action={}", step.action)))
        })
        .await
    }

    /// Today in the deployment's time zone.
    fn today(&self) -> CoreResult<Date> {
        let now = i64::try_from(crate::clock::now_ms()).unwrap_or(i64::MAX);
        Date::of_millis(now, self.settings.utc_offset_minutes).ok_or_else(|| {
            StorageError::new(crate::StorageErrorKind::Other, "the clock is out of range").into()
        })
    }

    /// One desk write, all or nothing in one transaction: check the caller
    /// against the data, make the edits, author them, judge them with the
    /// record rules, log them, audit. Refusals of staff are audited too.
    async fn desk_write<F>(
        &self,
        caller: &Caller,
        id: RecordId,
        action: &'static str,
        make: F,
    ) -> CoreResult<DeskWrite>
    where
        F: FnOnce(
                &RecordState,
                &Lifecycle,
                &gridsync_proto::Actor,
                &Directory,
            ) -> CoreResult<(Vec<gridsync_proto::Edit>, String)>
            + Send
            + 'static,
    {
        let (caller2, cache) = (caller.clone(), self.directory.clone());
        let today = self.today()?;
        let result = self
            .storage
            .write(move |tx, now| {
                let Caller::Staff(session) = &caller2 else {
                    return Err(CoreError::refused(
                        ErrorCode::Forbidden,
                        "changes from the dispute desk are signed by a staff member: log in to the admin API",
                    ));
                };
                // The user as stored now, not as the session began.
                let user = tx.user(&session.name)?.filter(|u| u.active).ok_or_else(CoreError::forbidden)?;
                if !policy::may_handle_disputes(&user) {
                    return Err(CoreError::forbidden());
                }
                let (_, dir) = cache.get(tx)?;
                let (before, lifecycle) = find(tx, id)?;
                reach(&Caller::Staff(user.clone()), &dir, &lifecycle, |_| true)?;
                let actor = user.actor();
                let (edits, what) = make(&before, &lifecycle, &actor, &dir)?;
                let (after, changes) = author::author_group(&before, &user.name, edits, now)?;
                check_group(Some(&before), &after, &changes, &actor, dir.as_ref()).map_err(refusal)?;
                let position = log_authored(tx, &dir, &before, &after, &changes, now)?;
                let ids: Vec<String> = changes.iter().map(|c| c.dot.to_string()).collect();
                let event = Event::new(caller2.audit_name(), action, id.to_string(), "ok")
                    .detail(format!("{what} changes={}", ids.join(",")));
                tx.append_audit(now, &event)?;
                let lifecycle =
                    Lifecycle::of(&after).ok_or_else(|| StorageError::corrupt("a dispute's state"))?;
                let township = home::of_record(&dir, &after);
                let mut dispute =
                    detail::detail(tx_read(tx), &after, &lifecycle, &township, today, position)?;
                dispute.desk = DeskOffer::of(&user, &lifecycle.state, &dir);
                Ok(DeskWrite { changes: ids, position, dispute })
            })
            .await;
        self.audited(caller, action, id.to_string(), result).await
    }
}

/// The write transaction as a reader.
fn tx_read(tx: &mut dyn WriteTx) -> &mut dyn ReadTx {
    tx
}

/// The dispute `id` and its lifecycle; `not_found` for an unknown id, a
/// record of another kind or a dispute whose registration has not arrived.
fn find(tx: &mut dyn ReadTx, id: RecordId) -> CoreResult<(RecordState, Lifecycle)> {
    let not_found = || CoreError::refused(ErrorCode::NotFound, "no such dispute");
    let record = load_state(tx, id)?.filter(|r| r.kind() == RecordKind::Dispute).ok_or_else(not_found)?;
    let lifecycle = Lifecycle::of(&record).ok_or_else(not_found)?;
    Ok((record, lifecycle))
}

/// Refuses a staff member whose scope does not hold the dispute's owner,
/// or whom `also` refuses, with a message that tells nothing of the dispute.
fn reach(
    caller: &Caller,
    dir: &Directory,
    lifecycle: &Lifecycle,
    also: impl FnOnce(&User) -> bool,
) -> CoreResult<()> {
    caller.require(|who| {
        policy::may_read(who) && policy::within(dir, &lifecycle.state.owner, &who.scope) && also(who)
    })
}

/// A rule's refusal, with its code and field (named in the message too:
/// the HTTP error body has no field of its own).
fn refusal(rule: RuleError) -> CoreError {
    let mut refusal = Refusal::new(rule.code, rule.to_string());
    refusal.field = rule.field;
    refusal.into()
}
