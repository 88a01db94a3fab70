//! How the server authors a change (ADR 0016).
//!
//! A change made at the desk is a change like a handset's: a dot, an author,
//! a hybrid time and an op, made by [`gridsync_proto::edit::make_group`],
//! checked by the same record rules, logged, and pulled by every handset
//! whose scope holds the dispute.
//!
//! * **Actor.** Each staff member writes under their own actor,
//!   [`desk_actor`]: a version 8 UUID derived from their user name, so it
//!   is stable across restarts and processes without being stored, and
//!   never equal to a device's random id (enrollment refuses derived ids).
//! * **Counter.** The next counter is read from the record's merged state
//!   ([`RecordState::next_counter`]), inside the write transaction that
//!   appends the change: the server's state of a record holds every dot the
//!   server ever logged for it, its own included, and both backends run one
//!   write transaction at a time on the sync log (SQLite: one writer
//!   thread; PostgreSQL: the log's advisory write lock), so no counter is
//!   ever handed out twice.
//! * **Time.** A hybrid clock that has observed every stamp of the record
//!   (except stamps more than [`CLOCK_SUSPECT_MS`] ahead of the server: a
//!   wrong handset clock must not drag the server's into the future), then
//!   ticked at the server's time: the desk's change sorts after what it
//!   replaces.

use gridsync_proto::edit::{Author, Edit, EditError, make_group};
use gridsync_proto::record::Stamp;
use gridsync_proto::{ActorId, Change, ErrorCode, Hlc, HlcClock, RecordState};

use crate::error::{CoreError, CoreResult, Refusal};
use crate::service::sync::CLOCK_SUSPECT_MS;

/// The first part of every desk actor's derivation.
const DESK: &str = "gridsync desk actor";

/// The actor under which the server writes `user`'s desk changes.
pub fn desk_actor(user: &str) -> ActorId {
    ActorId::derived(&[DESK, user])
}

/// Whether a value, entry or step was written at the desk (by its author's
/// desk actor) rather than on a handset.
pub fn by_desk(stamp: &Stamp) -> bool {
    stamp.dot.actor.is_derived() && stamp.dot.actor == desk_actor(&stamp.author)
}

/// Makes `user`'s desk write group of `edits` on `before`: the new state
/// and the changes, numbered, stamped and checked for validity (not yet
/// against the record rules).
pub(crate) fn author_group(
    before: &RecordState,
    user: &str,
    edits: Vec<Edit>,
    now: u64,
) -> CoreResult<(RecordState, Vec<Change>)> {
    let mut clock = HlcClock::default();
    let horizon = now.saturating_add(CLOCK_SUSPECT_MS);
    for time in stamps(before).filter(|t| t.millis <= horizon) {
        clock.observe(time);
    }
    let mut after = before.clone();
    let mut author = Author { device: desk_actor(user), name: user, clock: &mut clock, now_ms: now };
    let changes = make_group(&mut after, &mut author, false, edits).map_err(|e| match e {
        EditError::Invalid(why) => CoreError::from(Refusal::new(ErrorCode::InvalidField, why.to_string())),
        EditError::Merge(why) => CoreError::from(Refusal::new(ErrorCode::InvalidChange, why.to_string())),
    })?;
    Ok((after, changes))
}

/// Every hybrid time stamped on the record: its creation, live values and entries.
fn stamps(record: &RecordState) -> impl Iterator<Item = Hlc> + '_ {
    let values = record.field_names().flat_map(|f| record.values(f)).map(|fv| fv.stamp.time);
    let entries = record.entries().into_iter().map(|e| e.stamp.time);
    record.created().map(|c| c.time).into_iter().chain(values).chain(entries)
}

#[cfg(test)]
mod tests {
    use gridsync_proto::{Dot, Op, RecordId, RecordKind};

    use super::*;

    fn set(record: &mut RecordState, actor: ActorId, time: u64, value: &str) -> Change {
        let change = Change {
            record: record.id(),
            kind: RecordKind::Dispute,
            dot: Dot { actor, counter: record.next_counter(&actor) },
            author: "worker".into(),
            time: Hlc::from_millis(time),
            op: Op::Set { field: "category".into(), value: value.into(), supersedes: vec![] },
        };
        record.apply(&change).expect("applies");
        change
    }

    #[test]
    fn the_desk_supersedes_every_value_it_saw_after_the_latest_and_numbers_on() {
        let mut record = RecordState::new(RecordId::generate(1), RecordKind::Dispute);
        set(&mut record, ActorId::random(), 5_000, "a");
        set(&mut record, ActorId::random(), 9_000, "b");
        let far = set(&mut record, ActorId::random(), 10_000_000, "c");
        assert!(record.in_conflict("category"));
        let edits = vec![Edit::Set("category".into(), "b".into())];
        let (after, changes) = author_group(&record, "吴", edits.clone(), 8_000).expect("made");
        assert!(!after.has_conflicts());
        let change = &changes[0];
        assert_eq!(
            (change.dot.actor, change.dot.counter, change.author.as_str()),
            (desk_actor("吴"), 1, "吴")
        );
        assert!(change.time > Hlc::from_millis(9_000) && change.time < far.time, "{:?}", change.time);
        assert!(by_desk(&after.values("category")[0].stamp));
        let (_, next) = author_group(&after, "吴", edits, 8_000).expect("made");
        assert_eq!(next[0].dot.counter, 2, "the counter comes from the record's state");
        let long = vec![Edit::Set("category".into(), "x".repeat(70_000).into())];
        assert!(author_group(&after, "吴", long, 8_000).is_err());
    }
}
