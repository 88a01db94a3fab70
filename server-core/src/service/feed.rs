//! The change feed for upstream systems: the merged records of a place
//! that changed after a log position, paged by the log position of each
//! record's last update, never by a timestamp, so that a provincial
//! platform mirroring a county resumes from the last page's `next` and
//! neither misses nor repeats a version of a record.
//!
//! A page holds each record at most once, as it stands in the snapshot,
//! with the position of its last update; pages run in (position, id)
//! order and never split the records of one position, so `next` is exact.
//! A record updated again later appears again, in a later page, with its
//! newer state. The feed carries personal data whole, so it is for the
//! roles that see parties' names ([`crate::policy::sees_party_names`]),
//! within their subtree, and every page is audited (`ledger.feed`).

use gridsync_proto::{Directory, ErrorCode, Hierarchy, RecordKind, RecordState, RecordView};
use serde::Serialize;

use super::{Caller, Service};
use crate::audit::Event;
use crate::error::{CoreError, CoreResult, StorageError};
use crate::home;
use crate::policy;
use crate::storage::{ReadTx, StorageExt, StorageResult};

/// Most records one page holds (a page may exceed it by the records of one
/// position, which are never split).
pub const MAX_FEED_PAGE: u32 = 1_000;

/// The kinds the feed carries.
const FEED_KINDS: [RecordKind; 5] = [
    RecordKind::Patrol,
    RecordKind::Visit,
    RecordKind::DailyReport,
    RecordKind::Dispute,
    RecordKind::Household,
];

/// One page of the feed.
#[derive(Debug, Clone, Serialize)]
pub struct FeedPage {
    /// The records, by (position, id).
    pub records: Vec<FeedRecord>,
    /// Where the next page starts (`after=`): every record updated at or
    /// before it has been in this page or an earlier one.
    pub next: u64,
    /// Whether more pages follow now.
    pub more: bool,
}

/// A record in the feed.
#[derive(Debug, Clone, Serialize)]
pub struct FeedRecord {
    /// The log position of its last update.
    pub position: u64,
    /// The merged record.
    pub record: RecordView,
    /// The files it references, each with whether it is uploaded and where
    /// to download it (none: the field is left out).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<super::attachments::AttachmentLine>,
}

impl Service {
    /// The records within `place` last updated after log position `after`,
    /// at most `limit` (1 to [`MAX_FEED_PAGE`]) but never splitting one
    /// position's records. A cursor past the log's end (a server restored
    /// from an older backup) is refused: the mirror must start again from 0.
    pub async fn feed(&self, caller: &Caller, place: &str, after: u64, limit: u32) -> CoreResult<FeedPage> {
        let (caller2, place2, cache) = (caller.clone(), place.to_owned(), self.directory.clone());
        let limit = limit.clamp(1, MAX_FEED_PAGE) as usize;
        let read = self
            .storage
            .read(move |tx| {
                let (_, dir) = cache.get(tx)?;
                caller2.require_reader_of(&dir, &place2, |who| policy::sees_party_names(who.role))?;
                page(tx, &dir, &place2, after, limit)
            })
            .await;
        let page = self.audited(caller, "ledger.feed", place, read).await?;
        let detail = format!("after={after} next={} records={}", page.next, page.records.len());
        self.audit(Event::new(caller.audit_name(), "ledger.feed", place, "ok").detail(detail)).await?;
        Ok(page)
    }
}

/// A page, read in one snapshot.
fn page(tx: &mut dyn ReadTx, dir: &Directory, place: &str, after: u64, limit: usize) -> CoreResult<FeedPage> {
    let high = tx.high_water()?;
    if after > high {
        return Err(CoreError::refused(
            ErrorCode::InvalidRequest,
            format!(
                "after: the cursor {after} is past this server's log (position {high}); the server was \
                 restored from an older backup: mirror again from 0"
            ),
        ));
    }
    // Up to `limit` records of each kind. When one kind had more, or all
    // of them more than `limit` together, the page ends at a position
    // `cut` below which every kind's records are all here; the records of
    // `cut` itself are then read whole.
    let mut found: Vec<(u64, RecordState)> = Vec::new();
    let mut cut: Option<u64> = None;
    for kind in FEED_KINDS {
        let rows = updated(tx, kind, after, high, limit)?;
        if rows.len() == limit {
            let last = rows.last().map_or(high, |r| r.0);
            cut = Some(cut.map_or(last, |c| c.min(last)));
        }
        found.extend(rows);
    }
    let order =
        |a: &(u64, RecordState), b: &(u64, RecordState)| a.0.cmp(&b.0).then_with(|| a.1.id().cmp(&b.1.id()));
    found.sort_by(order);
    if found.len() > limit {
        let last = found[limit - 1].0;
        cut = Some(cut.map_or(last, |c| c.min(last)));
    }
    let next = match cut {
        None => high,
        Some(cut) => {
            found.retain(|r| r.0 < cut);
            for kind in FEED_KINDS {
                found.extend(updated(tx, kind, cut - 1, cut, usize::MAX)?);
            }
            found.sort_by(order);
            cut
        }
    };
    let mut records = Vec::new();
    for (position, state) in found {
        if home::filed_place(&state).is_some_and(|p| dir.is_within(&p, Some(place))) {
            records.push(FeedRecord {
                position,
                attachments: super::attachments::lines_of(tx, &state)?,
                record: RecordView::with_receipts(&state, &|_| None),
            });
        }
    }
    Ok(FeedPage { records, next, more: next < high })
}

/// The records of `kind` updated in (`after`, `upto`], at most `limit`.
fn updated(
    tx: &mut dyn ReadTx,
    kind: RecordKind,
    after: u64,
    upto: u64,
    limit: usize,
) -> StorageResult<Vec<(u64, RecordState)>> {
    let (mut rows, mut failed) = (Vec::new(), None);
    tx.records_updated(kind, after, upto, limit, &mut |seq, bytes| match RecordState::from_bytes(bytes) {
        Ok(state) => rows.push((seq, state)),
        Err(_) => failed = Some(StorageError::corrupt("a record's state")),
    })?;
    failed.map_or(Ok(rows), Err)
}
