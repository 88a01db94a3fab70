//! One handset's evening sync, as `client-core`'s `Store::sync_with` runs
//! it: its outbox in pushes of whole write groups, each sent after the
//! previous acknowledgement, then pull pages from cursor 0 (a handset's
//! first sync after its enrollment), each asked with the cursor the
//! previous page gave, until the server says there is no more.
//!
//! Every request is encoded when it is sent (pushes stamped with the
//! sending time, gzip-compressed from 256 bytes), signed with the handset's
//! own key and sent by [`crate::ingest::post_signed`], the (b) bench's
//! transport; the handset opens its own connection (its own HTTP client)
//! and closes it afterwards, as a phone that comes into signal does.

use std::time::{Duration, Instant};

use anyhow::Context;
use gridsync_proto::wire::{self, Limits};
use gridsync_proto::{PullRequest, PullResponse, PushRequest, PushResponse};
use gridsync_server_core::clock::now_ms;

use super::enroll;
use crate::ingest::{self, PUSH_PATH};

/// The path of a pull.
const PULL_PATH: &str = "/v1/sync/pull";
/// Largest pull page accepted (`client-core`'s bound).
const MAX_PULL_BYTES: usize = 64 * 1024 * 1024;
/// Most changes and snapshots in a pull page accepted (`client-core`'s bound).
const MAX_PULL_CHANGES: usize = 200_000;

/// One simulated handset and its day's work.
#[derive(Debug)]
pub(crate) struct Handset {
    /// Its index in the deployment's seats.
    pub(crate) index: usize,
    /// Its key and profile.
    pub(crate) enrolled: enroll::Handset,
    /// Its outbox, in pushes.
    pub(crate) pushes: Vec<PushRequest>,
    /// When, from the start of the window, it syncs.
    pub(crate) at: Duration,
}

/// What one sync did and took.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Synced {
    /// From the first request to the last answer: pushes and pulls.
    pub(crate) latency: Duration,
    /// Of which the pushes.
    pub(crate) push_time: Duration,
    /// How late it started after its moment (waiting for a free client).
    pub(crate) lag: Duration,
    /// Push requests.
    pub(crate) pushes: u32,
    /// Changes pushed (and accepted).
    pub(crate) changes: u64,
    /// Request bytes of the pushes, as sent.
    pub(crate) push_bytes: u64,
    /// Pull pages.
    pub(crate) pages: u32,
    /// Changes received.
    pub(crate) pulled_changes: u64,
    /// Records received whole (snapshots).
    pub(crate) pulled_snapshots: u64,
    /// Answer bytes of the pulls (the envelope, after transport decompression).
    pub(crate) pull_bytes: u64,
}

/// Runs `handset`'s sync against the server at `base`, `page` changes per
/// pull page; `lag` is how late it starts.
pub(crate) async fn sync(handset: Handset, base: &str, page: u32, lag: Duration) -> anyhow::Result<Synced> {
    let Handset { index, enrolled, pushes, .. } = handset;
    let signer = &enrolled.signer;
    let client = reqwest::Client::builder().no_proxy().build().context("cannot build an HTTP client")?;
    let mut synced = Synced { lag, ..Synced::default() };
    let started = Instant::now();
    let push_url = format!("{base}{PUSH_PATH}");
    for (n, mut push) in pushes.into_iter().enumerate() {
        let what = || format!("handset {index} push {n}");
        push.sent_ms = now_ms();
        let count = push.changes().count() as u32;
        let (body, gzipped) = ingest::as_sent(&push);
        synced.push_bytes += body.len() as u64;
        let answer = ingest::post_signed(&client, signer, &push_url, PUSH_PATH, body, gzipped)
            .await
            .with_context(what)?;
        let ack: PushResponse = wire::decode(&answer, &Limits::DEFAULT)
            .with_context(|| format!("{}: bad acknowledgement", what()))?;
        ingest::check_ack(&ack, count).with_context(what)?;
        synced.pushes += 1;
        synced.changes += u64::from(ack.accepted);
    }
    synced.push_time = started.elapsed();

    let pull_url = format!("{base}{PULL_PATH}");
    let limits = Limits { max_bytes: MAX_PULL_BYTES, max_changes: MAX_PULL_CHANGES };
    let (mut cursor, mut profile_version) = (0, enrolled.profile_version);
    loop {
        let what = || format!("handset {index} pull page {}", synced.pages);
        let request = PullRequest { device: enrolled.device, cursor, limit: page, profile_version };
        let encoded = wire::encode(&request);
        let gzipped = encoded.len() >= wire::COMPRESS_MIN_BYTES;
        let body = if gzipped { wire::gzip(&encoded) } else { encoded };
        let answer = ingest::post_signed(&client, signer, &pull_url, PULL_PATH, body, gzipped)
            .await
            .with_context(what)?;
        synced.pull_bytes += answer.len() as u64;
        let page: PullResponse = wire::decode(&answer, &limits).with_context(what)?;
        synced.pages += 1;
        synced.pulled_changes += page.changes.len() as u64;
        synced.pulled_snapshots += page.snapshots.len() as u64;
        cursor = page.cursor;
        if let Some(profile) = &page.profile {
            profile_version = profile.version;
        }
        if !page.more {
            break;
        }
    }
    synced.latency = started.elapsed();
    Ok(synced)
}
