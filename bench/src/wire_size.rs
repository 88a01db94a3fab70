//! (c) Wire size: the gridsync envelope (postcard) against JSON.
//!
//! Both encode the very same [`PushRequest`] pages that (b) sends (write
//! groups of whole local writes, with the device's clock): the envelope
//! with [`gridsync_proto::wire::encode`], JSON with `serde_json::to_vec` of
//! the derived `Serialize` (ids as hyphenated strings, enums externally
//! tagged). The pull pages of (d) are measured the same way. "Sent" is what `client-core` puts on
//! the wire: the envelope, gzip-compressed when it is at least
//! `COMPRESS_MIN_BYTES` long. JSON gzip-compressed the same way is printed
//! too, so the comparison can be read either way.
//!
//! Generated text repeats phrases from small pools, which flatters gzip. A
//! second measurement replaces every text (authors and text values) with
//! random CJK characters of the same length: the worst case for compression.
//! A per-operation breakdown encodes each change alone, and counts the free
//! text inside, which costs the same bytes in both encodings.

use std::collections::BTreeMap;

use gridsync_proto::{Change, Op, PullResponse, PushRequest, Value, wire};

use crate::ingest::as_sent;
use crate::workload::Rng;

/// Sizes of one group of changes.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Sizes {
    /// Changes in the group.
    pub(crate) changes: u64,
    /// Postcard bytes (whole envelopes, or each change alone in the breakdown).
    pub(crate) postcard: u64,
    /// JSON bytes of the same.
    pub(crate) json: u64,
    /// Bytes as sent (envelope, gzip when worth it); whole pushes only.
    pub(crate) sent: u64,
    /// JSON gzip-compressed the same way; whole pushes only.
    pub(crate) json_gzip: u64,
    /// UTF-8 bytes of free text (authors and text values) inside.
    pub(crate) text: u64,
}

impl Sizes {
    /// Postcard bytes per change.
    pub(crate) fn postcard_per_change(&self) -> f64 {
        self.postcard as f64 / self.changes.max(1) as f64
    }

    /// JSON bytes per change.
    pub(crate) fn json_per_change(&self) -> f64 {
        self.json as f64 / self.changes.max(1) as f64
    }

    /// Free-text bytes per change.
    pub(crate) fn text_per_change(&self) -> f64 {
        self.text as f64 / self.changes.max(1) as f64
    }

    /// The same ratio without the free text (the structure alone).
    pub(crate) fn structure_ratio(&self) -> f64 {
        self.postcard.saturating_sub(self.text) as f64 / self.json.saturating_sub(self.text).max(1) as f64
    }

    /// Postcard size as a share of JSON size.
    pub(crate) fn ratio(&self) -> f64 {
        self.postcard as f64 / self.json.max(1) as f64
    }

    /// Bytes as sent per change.
    pub(crate) fn sent_per_change(&self) -> f64 {
        self.sent as f64 / self.changes.max(1) as f64
    }

    /// Compressed JSON bytes per change.
    pub(crate) fn json_gzip_per_change(&self) -> f64 {
        self.json_gzip as f64 / self.changes.max(1) as f64
    }

    /// Bytes as sent as a share of plain JSON: the wire-size figure.
    pub(crate) fn sent_ratio(&self) -> f64 {
        self.sent as f64 / self.json.max(1) as f64
    }
}

/// What was measured.
#[derive(Debug)]
pub(crate) struct Report {
    /// Whole push requests: envelope vs JSON.
    pub(crate) pushes: Sizes,
    /// The same pushes with every text replaced by random CJK characters.
    pub(crate) random_text: Sizes,
    /// Each change alone, by operation (`create`, `set`, `append`).
    pub(crate) by_op: BTreeMap<&'static str, Sizes>,
}

/// Encodes every push both ways.
pub(crate) fn measure(pushes: &[Vec<PushRequest>], seed: u64) -> anyhow::Result<Report> {
    let mut total = Sizes::default();
    let mut random_text = Sizes::default();
    let mut rng = Rng::new(seed ^ 0x7e47);
    let mut by_op: BTreeMap<&'static str, Sizes> = BTreeMap::new();
    for push in pushes.iter().flatten() {
        add_push(&mut total, push)?;
        let mut scrambled = push.clone();
        scrambled.groups.iter_mut().flatten().for_each(|c| scramble(c, &mut rng));
        add_push(&mut random_text, &scrambled)?;
        for change in push.changes() {
            let text = text_bytes(change);
            let op = match change.op {
                Op::Create => "create",
                Op::Set { .. } => "set",
                Op::Append { .. } => "append",
            };
            let s = by_op.entry(op).or_default();
            s.changes += 1;
            s.postcard += postcard::to_allocvec(change)?.len() as u64;
            s.json += serde_json::to_vec(change)?.len() as u64;
            s.text += text;
        }
    }
    Ok(Report { pushes: total, random_text, by_op })
}

fn add_push(sizes: &mut Sizes, push: &PushRequest) -> anyhow::Result<()> {
    let json = serde_json::to_vec(push)?;
    sizes.changes += push.changes().count() as u64;
    sizes.postcard += wire::encode(push).len() as u64;
    sizes.sent += as_sent(push).0.len() as u64;
    sizes.json += json.len() as u64;
    sizes.json_gzip += wire::gzip(&json).len() as u64;
    sizes.text += push.changes().map(text_bytes).sum::<u64>();
    Ok(())
}

/// Pull pages, envelope against JSON. "Sent" is the envelope gzip-compressed
/// with [`wire::gzip`] when at least `COMPRESS_MIN_BYTES` long; the server's
/// HTTP compression, which answers the client's `Accept-Encoding`, may
/// compress a little differently.
pub(crate) fn measure_pull(pages: &[PullResponse]) -> anyhow::Result<Sizes> {
    let mut sizes = Sizes::default();
    for page in pages {
        // Changes only: a snapshot's state has dot-keyed maps, which JSON
        // cannot key; the (d) report gives the snapshots' bytes on the wire.
        let json = serde_json::to_vec(&PullResponse { snapshots: Vec::new(), ..page.clone() })?;
        let body = wire::encode(page);
        sizes.changes += page.changes.len() as u64;
        sizes.postcard += body.len() as u64;
        sizes.sent +=
            if body.len() >= wire::COMPRESS_MIN_BYTES { wire::gzip(&body).len() } else { body.len() } as u64;
        sizes.json += json.len() as u64;
        sizes.json_gzip += wire::gzip(&json).len() as u64;
        sizes.text += page.changes.iter().map(|l| text_bytes(&l.change)).sum::<u64>();
    }
    Ok(sizes)
}

/// Replaces every text of a change (author, text values, map keys stay)
/// with random CJK characters of the same character count.
fn scramble(change: &mut Change, rng: &mut Rng) {
    change.author = random_cjk(change.author.chars().count(), rng);
    match &mut change.op {
        Op::Create => {}
        Op::Set { value, .. } => scramble_value(value, rng),
        Op::Append { body, .. } => body.values_mut().for_each(|v| scramble_value(v, rng)),
    }
}

fn scramble_value(value: &mut Value, rng: &mut Rng) {
    match value {
        Value::Text(s) => *s = random_cjk(s.chars().count(), rng),
        Value::List(l) => l.iter_mut().for_each(|v| scramble_value(v, rng)),
        Value::Map(m) => m.values_mut().for_each(|v| scramble_value(v, rng)),
        Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => {}
    }
}

/// `n` characters drawn uniformly from the CJK Unified Ideographs block.
fn random_cjk(n: usize, rng: &mut Rng) -> String {
    (0..n).filter_map(|_| char::from_u32(0x4E00 + (rng.next_u64() % 0x51A6) as u32)).collect()
}

/// Bytes of free text in a change: its author and every text value.
fn text_bytes(change: &Change) -> u64 {
    let values = match &change.op {
        Op::Create => 0,
        Op::Set { value, .. } => value_text(value),
        Op::Append { body, .. } => body.values().map(value_text).sum(),
    };
    change.author.len() as u64 + values
}

fn value_text(value: &Value) -> u64 {
    match value {
        Value::Text(s) => s.len() as u64,
        Value::List(l) => l.iter().map(value_text).sum(),
        Value::Map(m) => m.values().map(value_text).sum(),
        Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => 0,
    }
}
