//! Attachments on the handset (ADR 0033): attached encrypted and durable,
//! listed and read back, uploaded after a sync in chunks from the server's
//! offset, fetched on demand into a cache with a budget, and gone with the
//! records that reference them and with a wipe. The server is a fake that
//! speaks the attachment protocol in memory.

mod support;

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::Mutex;

use gridsync_client_core::{
    Error, NetworkKind, Request, Store, StoreKey, SyncObserver, SyncOptions, SyncPhase, SyncProgress,
    Transport,
};
use gridsync_proto::attachment::{AttachmentRef, CHUNK_BYTES, ContentHash, MAX_BYTES, Media};
use gridsync_proto::wire::attachments::{
    FETCH_PATH, FetchPiece, FetchRequest, STATUS_PATH, UPLOAD_PATH, UploadChunk, UploadQuery, UploadStatus,
};
use gridsync_proto::wire::{self, Limits};
use gridsync_proto::{
    ActorId, Change, Dot, ErrorBody, ErrorCode, Hlc, LoggedChange, Op, PullResponse, PushRequest,
    PushResponse, RecordId, RecordKind, Value,
};
use support::enrolled_store;

/// A JPEG of `len` bytes whose content depends on `seed`.
fn photo(len: usize, seed: u8) -> Vec<u8> {
    let mut bytes = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00".to_vec();
    let mut x = u32::from(seed) + 1;
    while bytes.len() < len {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        bytes.push((x >> 16) as u8);
    }
    bytes.truncate(len);
    bytes
}

fn refused(status: u16, code: ErrorCode) -> Error {
    Error::Rejected { status, body: ErrorBody::new(code, "refused by the fake server") }
}

/// One request the fake server saw.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    path: &'static str,
    offset: Option<u64>,
    len: usize,
    gzip: bool,
}

#[derive(Default)]
struct State {
    /// References by record, from pushed and seeded changes.
    refs: HashMap<RecordId, Vec<AttachmentRef>>,
    /// Files held whole.
    files: HashMap<ContentHash, Vec<u8>>,
    /// Uploads in progress.
    partial: HashMap<ContentHash, Vec<u8>>,
    /// Changes pulled by the next pull.
    page: Vec<Change>,
    /// Every change pushed: sent again to a store that pulls afresh.
    log: Vec<Change>,
    /// Records the next pull removes.
    removed: Vec<RecordId>,
    seen: Vec<Seen>,
    /// Requests of these paths fail with a network error while > 0.
    drop_after: Option<(&'static str, usize)>,
    /// Records whose pushed references the server does not keep.
    ignored: Vec<RecordId>,
    /// Upload chunks are refused with `quota_exceeded`.
    over_quota: bool,
    /// Upload chunks taken but answered with `upload_offset` (as if the
    /// answer to an earlier one was lost and this one crossed it).
    offset_refusals: usize,
    /// The server's epoch (0: 1).
    epoch: u64,
    /// The next sync request is answered with `device_wiped`.
    wipe: bool,
    cursor: u64,
}

/// A township server in memory: push, pull and the attachment messages.
#[derive(Default)]
struct Township(Mutex<State>);

fn body_of(request: &Request) -> (Vec<u8>, bool) {
    let gzip = request.headers.iter().any(|(name, value)| *name == "content-encoding" && value == "gzip");
    if gzip {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&request.body[..]).read_to_end(&mut out).expect("gzip body");
        (out, true)
    } else {
        (request.body.clone(), false)
    }
}

fn note_refs(refs: &mut HashMap<RecordId, Vec<AttachmentRef>>, change: &Change) {
    if let Op::Append { entry, body } = &change.op
        && entry == gridsync_proto::attachment::ENTRY
        && let Some(reference) = AttachmentRef::from_body(body)
    {
        refs.entry(change.record).or_default().push(reference);
    }
}

impl Township {
    fn reference(state: &State, record: RecordId, hash: ContentHash) -> Result<AttachmentRef, Error> {
        state
            .refs
            .get(&record)
            .and_then(|refs| refs.iter().find(|r| r.hash == hash))
            .cloned()
            .ok_or_else(|| refused(404, ErrorCode::NotFound))
    }

    fn status(state: &State, hash: ContentHash, size: u64) -> UploadStatus {
        if state.files.contains_key(&hash) {
            UploadStatus { complete: true, received: size, size }
        } else {
            let received = state.partial.get(&hash).map_or(0, |p| p.len() as u64);
            UploadStatus { complete: false, received, size }
        }
    }

    /// Seeds a record of another device referencing `bytes`, held whole here.
    fn seed_remote(&self, bytes: &[u8]) -> (RecordId, AttachmentRef) {
        let record = RecordId::generate(1_700_000_000_000);
        let reference = AttachmentRef {
            hash: ContentHash::of(bytes),
            size: bytes.len() as u64,
            media: Media::sniff(bytes).expect("media"),
            name: Some("现场照片.jpg".into()),
            of_entry: None,
        };
        let actor = ActorId::random();
        let change = |counter, op| Change {
            record,
            kind: RecordKind::Visit,
            dot: Dot { actor, counter },
            author: "乡镇 王".into(),
            time: Hlc::from_millis(1_700_000_000_000 + counter),
            op,
        };
        let mut state = self.0.lock().expect("lock");
        let append = change(2, Op::Append { entry: "attachment".into(), body: reference.to_entry_body() });
        note_refs(&mut state.refs, &append);
        state.page.extend([change(1, Op::Create), append]);
        state.files.insert(reference.hash, bytes.to_vec());
        (record, reference)
    }

    fn seen(&self, path: &str) -> Vec<Seen> {
        self.0.lock().expect("lock").seen.iter().filter(|s| s.path == path).cloned().collect()
    }
}

impl Transport for Township {
    fn send(&self, request: Request) -> Result<Vec<u8>, Error> {
        let (body, gzip) = body_of(&request);
        let mut state = self.0.lock().expect("lock");
        if let Some((path, left)) = &mut state.drop_after
            && *path == request.path
        {
            if *left == 0 {
                return Err(Error::Network("connection reset".into()));
            }
            *left -= 1;
        }
        let mut seen = Seen { path: request.path, offset: None, len: body.len(), gzip };
        let answer = match request.path {
            "/v1/sync/push" | "/v1/sync/pull" if state.wipe => Err(refused(410, ErrorCode::DeviceWiped)),
            "/v1/sync/push" => {
                let push: PushRequest = wire::decode(&body, &Limits::DEFAULT)?;
                let changes: Vec<Change> = push.changes().cloned().collect();
                let state = &mut *state;
                for change in changes.iter().filter(|c| !state.ignored.contains(&c.record)) {
                    note_refs(&mut state.refs, change);
                }
                state.log.extend(changes.iter().cloned());
                Ok(wire::encode(&PushResponse {
                    accepted: changes.len() as u32,
                    duplicates: 0,
                    high_seq: 0,
                    received_ms: 1_800_000_000_000,
                    refused: vec![],
                    epoch: state.epoch.max(1),
                }))
            }
            "/v1/sync/pull" => {
                let pull: gridsync_proto::PullRequest = wire::decode(&body, &Limits::DEFAULT)?;
                // A repaired store's first pull starts afresh.
                let reset = pull.cursor == u64::MAX;
                let mut page = if reset { state.log.clone() } else { vec![] };
                page.append(&mut state.page);
                let changes: Vec<LoggedChange> = page
                    .into_iter()
                    .map(|change| {
                        state.cursor += 1;
                        LoggedChange { seq: state.cursor, received_ms: 0, clock_suspect: false, change }
                    })
                    .collect();
                Ok(wire::encode(&PullResponse {
                    reset,
                    removed: std::mem::take(&mut state.removed),
                    rebuild: vec![],
                    snapshots: vec![],
                    changes,
                    withheld: 0,
                    profile: None,
                    cursor: state.cursor,
                    more: false,
                    epoch: state.epoch.max(1),
                }))
            }
            STATUS_PATH => {
                let query: UploadQuery = wire::decode(&body, &Limits::DEFAULT)?;
                Self::reference(&state, query.record, query.hash)
                    .map(|r| wire::encode(&Self::status(&state, query.hash, r.size)))
            }
            UPLOAD_PATH => {
                let chunk: UploadChunk = wire::decode(&body, &Limits::DEFAULT)?;
                seen.offset = Some(chunk.offset);
                seen.len = chunk.bytes.len();
                (|| {
                    let reference = Self::reference(&state, chunk.record, chunk.hash)?;
                    if state.over_quota {
                        return Err(refused(429, ErrorCode::QuotaExceeded));
                    }
                    assert!(chunk.bytes.len() <= CHUNK_BYTES);
                    if ContentHash::of(&chunk.bytes) != chunk.chunk_hash {
                        return Err(refused(400, ErrorCode::ChunkMismatch));
                    }
                    let partial = state.partial.entry(chunk.hash).or_default();
                    if partial.len() as u64 != chunk.offset {
                        return Err(refused(409, ErrorCode::UploadOffset));
                    }
                    partial.extend_from_slice(&chunk.bytes);
                    if state.offset_refusals > 0 {
                        state.offset_refusals -= 1;
                        return Err(refused(409, ErrorCode::UploadOffset));
                    }
                    let partial = state.partial.entry(chunk.hash).or_default();
                    if partial.len() as u64 == reference.size {
                        let whole = state.partial.remove(&chunk.hash).expect("partial");
                        if ContentHash::of(&whole) != reference.hash {
                            return Err(refused(422, ErrorCode::ContentMismatch));
                        }
                        state.files.insert(reference.hash, whole);
                    }
                    Ok(wire::encode(&Self::status(&state, chunk.hash, reference.size)))
                })()
            }
            FETCH_PATH => {
                let fetch: FetchRequest = wire::decode(&body, &Limits::DEFAULT)?;
                seen.offset = Some(fetch.offset);
                Self::reference(&state, fetch.record, fetch.hash).and_then(|reference| {
                    let file =
                        state.files.get(&fetch.hash).ok_or_else(|| refused(404, ErrorCode::NotFound))?;
                    let start = (fetch.offset as usize).min(file.len());
                    let end = (start + CHUNK_BYTES).min(file.len());
                    Ok(wire::encode(&FetchPiece {
                        size: reference.size,
                        media: reference.media,
                        offset: fetch.offset,
                        bytes: file[start..end].to_vec(),
                    }))
                })
            }
            other => panic!("unexpected request to {other}"),
        };
        state.seen.push(seen);
        answer
    }
}

fn household(store: &mut Store, plate: &str) -> RecordId {
    store.record_household("household", [("door_plate".to_owned(), Value::from(plate))]).expect("household")
}

fn files_in(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            entries.map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect()
        }
        Err(_) => vec![],
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn an_attached_photo_is_listed_read_exported_encrypted_and_stored_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = StoreKey::generate().expect("key");
    let mut store = enrolled_store(&dir.path().join("w.db"), "网格员 李", &key);
    let record = household(&mut store, "东关村 12 号");
    let before = store.pending().expect("pending");
    let bytes = photo(300_000, 1);
    let reference = store.attach(record, None, Some("门牌.jpg"), &bytes).expect("attach");
    assert_eq!(
        (reference.hash, reference.size, reference.media),
        (ContentHash::of(&bytes), 300_000, Media::Jpeg)
    );

    let listed = store.attachments(record).expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].reference, reference);
    assert!(listed[0].local && !listed[0].uploaded);
    assert_eq!(store.read_attachment(&reference.hash).expect("read"), bytes);
    // The reference syncs with the record: it waits in the outbox.
    assert_eq!(store.pending().expect("pending"), before + 1);

    // At rest: one file, named by neither its hash nor its name, holding neither.
    let att_dir = store.attachments_dir();
    let names = files_in(&att_dir);
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(!names[0].contains(&reference.hash.to_hex()));
    let on_disk = std::fs::read(att_dir.join(&names[0])).expect("file");
    assert!(!contains(&on_disk, &bytes[100..164]));
    assert!(!contains(&on_disk, b"JFIF"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&att_dir), 0o700);
        assert_eq!(mode(&att_dir.join(&names[0])), 0o600);
    }
    let db = std::fs::read(dir.path().join("w.db")).expect("db");
    assert!(!contains(&db, reference.hash.to_hex().as_bytes()));

    // The same bytes again, attached to another record and from a file: one file.
    let other = household(&mut store, "东关村 13 号");
    store.attach(other, None, None, &bytes).expect("attach again");
    let source = dir.path().join("photo.jpg");
    std::fs::write(&source, &bytes).expect("write");
    store.attach_file(other, None, Some("另一张"), &source).expect("attach file");
    assert_eq!(files_in(&att_dir).len(), 1);
    assert_eq!(store.attachments(other).expect("list").len(), 1, "one file, listed once");
    // The same reference again adds nothing.
    let pending = store.pending().expect("pending");
    store.attach(record, None, Some("门牌.jpg"), &bytes).expect("same again");
    assert_eq!(store.pending().expect("pending"), pending);

    // An export for a viewer, in the directory the app gives.
    let out = tempfile::tempdir().expect("out");
    let exported = store.export_attachment(&reference.hash, out.path()).expect("export");
    assert_eq!(exported.extension().and_then(|e| e.to_str()), Some("jpg"));
    assert_eq!(exported.parent(), Some(out.path()));
    assert_eq!(std::fs::read(&exported).expect("exported"), bytes);

    // A store reopened reads it back; another key does not open the store.
    drop(store);
    let store = Store::open(&dir.path().join("w.db"), &key).expect("open");
    assert_eq!(store.read_attachment(&reference.hash).expect("read"), bytes);
    assert!(matches!(
        store.read_attachment(&ContentHash::of(b"never attached")),
        Err(Error::AttachmentUnavailable(_))
    ));
}

#[test]
fn empty_unknown_oversized_and_badly_named_files_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = StoreKey::generate().expect("key");
    let mut store = enrolled_store(&dir.path().join("w.db"), "w", &key);
    let record = household(&mut store, "1 号");
    let pending = store.pending().expect("pending");
    let mut too_large = photo(1024, 2);
    too_large.resize(MAX_BYTES as usize + 1, 7);
    let long_name = "名".repeat(201);
    let cases: [(&[u8], Option<&str>); 5] = [
        (b"", None),
        (b"plain text, not a photo", None),
        (b"MZ\x90\x00\x03\x00\x00\x00", None),
        (&too_large, None),
        (&photo(1000, 3), Some(&long_name)),
    ];
    for (bytes, name) in cases {
        let refused = store.attach(record, None, name, bytes).expect_err("refused");
        assert!(matches!(refused, Error::BadFile(_)), "{refused}");
        assert!(!refused.is_damage());
        assert!(!store.is_damaged());
    }
    let source = dir.path().join("big.jpg");
    std::fs::write(&source, &too_large).expect("write");
    assert!(matches!(store.attach_file(record, None, None, &source), Err(Error::BadFile(_))));
    assert_eq!(store.pending().expect("pending"), pending);
    assert!(store.attachments(record).expect("list").is_empty());
    assert!(files_in(&store.attachments_dir()).is_empty());
}

#[test]
fn an_upload_goes_on_from_the_servers_offset_and_never_resends_what_it_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = StoreKey::generate().expect("key");
    let mut store = enrolled_store(&dir.path().join("w.db"), "w", &key);
    let record = household(&mut store, "1 号");
    let bytes = photo(2 * CHUNK_BYTES + 1000, 4);
    let reference = store.attach(record, None, None, &bytes).expect("attach");
    let server = Township::default();
    // The connection drops after the status and one chunk.
    server.0.lock().expect("lock").drop_after = Some((UPLOAD_PATH, 1));
    let report = store.sync(&server).expect("the text sync succeeds");
    assert_eq!((report.pushed, report.uploaded, report.uploads_deferred), (5, 0, 1));
    assert_eq!(report.uploaded_bytes, CHUNK_BYTES as u64);
    assert!(!store.attachments(record).expect("list")[0].uploaded);

    server.0.lock().expect("lock").drop_after = None;
    let report = store.sync(&server).expect("sync");
    assert_eq!((report.uploaded, report.uploads_deferred, report.upload_failed), (1, 0, 0));
    assert_eq!(report.uploaded_bytes, (CHUNK_BYTES + 1000) as u64);
    let chunks = server.seen(UPLOAD_PATH);
    let offsets: Vec<Option<u64>> = chunks.iter().map(|s| s.offset).collect();
    assert_eq!(offsets, [Some(0), Some(CHUNK_BYTES as u64), Some(2 * CHUNK_BYTES as u64)]);
    assert!(chunks.iter().all(|s| !s.gzip), "photos are not compressed");
    assert_eq!(server.0.lock().expect("lock").files.get(&reference.hash), Some(&bytes));
    assert!(store.attachments(record).expect("list")[0].uploaded);

    // Uploaded: the next sync asks nothing more.
    let asked = server.seen(STATUS_PATH).len();
    store.sync(&server).expect("sync");
    assert_eq!(server.seen(STATUS_PATH).len(), asked);
}

#[test]
fn an_offset_refusal_asks_the_status_again_and_goes_on_from_there() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = StoreKey::generate().expect("key");
    let mut store = enrolled_store(&dir.path().join("w.db"), "w", &key);
    let record = household(&mut store, "1 号");
    let bytes = photo(2 * CHUNK_BYTES, 16);
    store.attach(record, None, None, &bytes).expect("attach");
    let server = Township::default();
    server.0.lock().expect("lock").offset_refusals = 1;
    let report = store.sync(&server).expect("sync");
    assert_eq!((report.uploaded, report.upload_failed), (1, 0));
    let offsets: Vec<Option<u64>> = server.seen(UPLOAD_PATH).iter().map(|s| s.offset).collect();
    assert_eq!(offsets, [Some(0), Some(CHUNK_BYTES as u64)]);
    assert_eq!(server.seen(STATUS_PATH).len(), 2);
    assert_eq!(server.0.lock().expect("lock").files.get(&ContentHash::of(&bytes)), Some(&bytes));
}

#[test]
fn a_server_restored_from_a_backup_is_sent_the_files_it_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = StoreKey::generate().expect("key");
    let mut store = enrolled_store(&dir.path().join("w.db"), "w", &key);
    let record = household(&mut store, "1 号");
    let bytes = photo(1000, 17);
    store.attach(record, None, Some("a"), &bytes).expect("attach");
    let server = Township::default();
    assert_eq!(store.sync(&server).expect("sync").uploaded, 1);
    // Restored from a backup taken before the photo arrived.
    {
        let mut state = server.0.lock().expect("lock");
        state.epoch = 2;
        state.files.clear();
    }
    let report = store.sync(&server).expect("sync");
    assert!(report.requeued > 0);
    assert_eq!((report.uploaded, report.uploaded_bytes), (1, 1000));
    assert_eq!(server.0.lock().expect("lock").files.get(&ContentHash::of(&bytes)), Some(&bytes));
}

#[test]
fn a_file_attached_to_an_entry_names_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = StoreKey::generate().expect("key");
    let mut store = enrolled_store(&dir.path().join("w.db"), "w", &key);
    let record = household(&mut store, "1 号");
    store.note(record, "门牌照片").expect("note");
    let note = store.get(record).expect("get").expect("record").entries()[0].stamp.dot;
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.extend(std::iter::repeat_n(b'x', 5000));
    let reference = store.attach(record, Some(note), None, &pdf).expect("attach");
    assert_eq!((reference.media, reference.of_entry), (Media::Pdf, Some(note)));
    let listed = store.attachments(record).expect("list");
    assert_eq!(listed[0].reference.of_entry, Some(note));
    let out = tempfile::tempdir().expect("out");
    let exported = store.export_attachment(&reference.hash, out.path()).expect("export");
    assert_eq!(exported.extension().and_then(|e| e.to_str()), Some("pdf"));
}

#[test]
fn a_file_the_server_has_already_is_not_sent_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = StoreKey::generate().expect("key");
    let mut store = enrolled_store(&dir.path().join("w.db"), "w", &key);
    let record = household(&mut store, "1 号");
    let bytes = photo(CHUNK_BYTES + 1, 5);
    store.attach(record, None, None, &bytes).expect("attach");
    let server = Township::default();
    server.0.lock().expect("lock").files.insert(ContentHash::of(&bytes), bytes.clone());
    let report = store.sync(&server).expect("sync");
    assert_eq!((report.uploaded, report.uploaded_bytes), (1, 0));
    assert!(server.seen(UPLOAD_PATH).is_empty());
    assert!(store.attachments(record).expect("list")[0].uploaded);
}

#[test]
fn wifi_only_uploads_wait_for_wifi_and_quota_defers_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = StoreKey::generate().expect("key");
    let path = dir.path().join("w.db");
    let mut store = enrolled_store(&path, "w", &key);
    let record = household(&mut store, "1 号");
    store.attach(record, None, None, &photo(5000, 6)).expect("attach");
    store.set_wifi_only(true).expect("wifi only");
    store.set_network(NetworkKind::Cellular);
    let server = Township::default();
    let report = store.sync(&server).expect("sync");
    assert_eq!((report.pushed, report.uploaded, report.uploads_deferred), (5, 0, 1));
    assert!(server.seen(STATUS_PATH).is_empty());

    // The setting is kept; the network is the app's to tell again.
    drop(store);
    let mut store = Store::open(&path, &key).expect("open");
    assert!(store.wifi_only().expect("setting"));
    assert_eq!(store.network(), NetworkKind::Unknown);
    store.set_network(NetworkKind::Wifi);
    server.0.lock().expect("lock").over_quota = true;
    let report = store.sync(&server).expect("over quota, the sync still succeeds");
    assert_eq!((report.uploaded, report.uploads_deferred), (0, 1));
    server.0.lock().expect("lock").over_quota = false;
    let report = store.sync(&server).expect("sync");
    assert_eq!((report.uploaded, report.uploaded_bytes), (1, 5000));
}

#[test]
fn a_file_the_server_refuses_is_left_and_the_next_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = StoreKey::generate().expect("key");
    let mut store = enrolled_store(&dir.path().join("w.db"), "w", &key);
    let first = household(&mut store, "1 号");
    let second = household(&mut store, "2 号");
    store.attach(first, None, None, &photo(1000, 7)).expect("attach");
    store.attach(second, None, None, &photo(1000, 8)).expect("attach");
    let server = Township::default();
    // The server does not hold the first record's reference: `not_found`.
    server.0.lock().expect("lock").ignored.push(first);
    let report = store.sync(&server).expect("sync");
    assert_eq!((report.uploaded, report.upload_failed, report.uploads_deferred), (1, 1, 0));
    assert!(!store.attachments(first).expect("list")[0].uploaded);
    assert!(store.attachments(second).expect("list")[0].uploaded);
    // Kept, and asked about again in the next run.
    let asked = server.seen(STATUS_PATH).len();
    let report = store.sync(&server).expect("sync");
    assert_eq!(report.upload_failed, 1);
    assert_eq!(server.seen(STATUS_PATH).len(), asked + 1);
}

#[test]
fn a_fetch_resumes_and_the_cache_keeps_to_its_budget() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = StoreKey::generate().expect("key");
    let mut store = enrolled_store(&dir.path().join("w.db"), "w", &key);
    let server = Township::default();
    let first = photo(2 * CHUNK_BYTES + 10, 11);
    let second = photo(CHUNK_BYTES + 10, 12);
    let (record_a, ref_a) = server.seed_remote(&first);
    let (record_b, ref_b) = server.seed_remote(&second);
    let report = store.sync(&server).expect("sync");
    assert_eq!(report.pulled, 4);
    // Pulled, never fetched in bootstrap.
    let listed = store.attachments(record_a).expect("list");
    assert_eq!(listed.len(), 1);
    assert!(!listed[0].local);
    assert!(server.seen(FETCH_PATH).is_empty());
    assert!(matches!(store.read_attachment(&ref_a.hash), Err(Error::AttachmentUnavailable(_))));

    // The link drops after the first piece; the next fetch goes on from there.
    server.0.lock().expect("lock").drop_after = Some((FETCH_PATH, 1));
    assert!(matches!(store.fetch_attachment(&server, record_a, &ref_a.hash), Err(Error::Network(_))));
    server.0.lock().expect("lock").drop_after = None;
    let info = store.fetch_attachment(&server, record_a, &ref_a.hash).expect("fetch");
    assert!(info.local && info.uploaded);
    let offsets: Vec<Option<u64>> = server.seen(FETCH_PATH).iter().map(|s| s.offset).collect();
    let chunk = CHUNK_BYTES as u64;
    assert_eq!(offsets, [Some(0), Some(chunk), Some(2 * chunk)]);
    assert_eq!(store.read_attachment(&ref_a.hash).expect("read"), first);
    // Held already: not fetched again.
    store.fetch_attachment(&server, record_a, &ref_a.hash).expect("fetch");
    assert_eq!(server.seen(FETCH_PATH).len(), 3);

    // A file the record does not reference is not fetched.
    assert!(matches!(
        store.fetch_attachment(&server, record_a, &ref_b.hash),
        Err(Error::AttachmentUnavailable(_))
    ));

    // A budget for one file: fetching the second evicts the first, not an own file.
    let own_record = household(&mut store, "1 号");
    let own = photo(3 * CHUNK_BYTES, 13);
    store.attach(own_record, None, None, &own).expect("attach");
    store.set_attachment_budget(first.len() as u64 + 1).expect("budget");
    assert!(store.attachments(record_a).expect("list")[0].local);
    store.fetch_attachment(&server, record_b, &ref_b.hash).expect("fetch");
    assert!(!store.attachments(record_a).expect("list")[0].local, "least recently opened goes first");
    assert!(store.attachments(record_b).expect("list")[0].local);
    assert_eq!(store.read_attachment(&ContentHash::of(&own)).expect("own files are never evicted"), own);
    assert_eq!(store.attachment_budget().expect("budget"), first.len() as u64 + 1);
}

#[test]
fn files_leave_with_the_last_record_that_references_them_and_with_a_wipe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = StoreKey::generate().expect("key");
    let mut store = enrolled_store(&dir.path().join("w.db"), "w", &key);
    let server = Township::default();
    let bytes = photo(1000, 14);
    let (remote, reference) = server.seed_remote(&bytes);
    store.sync(&server).expect("sync");
    store.fetch_attachment(&server, remote, &reference.hash).expect("fetch");
    let own_record = household(&mut store, "1 号");
    store.attach(own_record, None, None, &photo(2000, 15)).expect("attach");
    store.sync(&server).expect("sync");
    let att_dir = store.attachments_dir();
    assert_eq!(files_in(&att_dir).len(), 2);

    // The remote record leaves the device's scope: its file goes, the own one stays.
    server.0.lock().expect("lock").removed = vec![remote];
    let report = store.sync(&server).expect("sync");
    assert_eq!(report.removed, 1);
    assert_eq!(files_in(&att_dir).len(), 1);
    assert!(store.attachments(own_record).expect("list")[0].local);

    // A wipe order erases the files with the store.
    server.0.lock().expect("lock").wipe = true;
    assert!(matches!(store.sync(&server), Err(Error::Wiped)));
    assert!(!att_dir.exists());
    assert!(!dir.path().join("w.db").exists());
}

#[test]
fn a_repair_keeps_the_devices_own_files_and_they_are_uploaded_after_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = StoreKey::generate().expect("key");
    let path = dir.path().join("w.db");
    let mut store = enrolled_store(&path, "w", &key);
    let record = household(&mut store, "1 号");
    let bytes = photo(CHUNK_BYTES + 5, 18);
    store.attach(record, None, None, &bytes).expect("attach");
    let att_dir = store.attachments_dir();
    drop(store);
    // Damage the records table (as a failing flash chip would); the outbox survives.
    let root: i64 = {
        let conn = rusqlite::Connection::open(&path).expect("open");
        conn.pragma_update(None, "journal_mode", "DELETE").expect("fold the WAL in");
        conn.query_row("SELECT rootpage FROM sqlite_schema WHERE name = 'records'", [], |r| r.get(0))
            .expect("root page")
    };
    smash(&path, root as u64);
    let report = gridsync_client_core::doctor::repair(&path, &key).expect("repair");
    assert!(report.repaired);
    assert_eq!(files_in(&att_dir).len(), 1, "the directory is kept");

    let mut store = Store::open(&path, &key).expect("open");
    let server = Township::default();
    let sync = store.sync(&server).expect("sync");
    assert_eq!((sync.uploaded, sync.upload_failed), (1, 0));
    assert_eq!(server.0.lock().expect("lock").files.get(&ContentHash::of(&bytes)), Some(&bytes));
    assert_eq!(store.read_attachment(&ContentHash::of(&bytes)).expect("read"), bytes);
}

/// Overwrites page `page` (1-based, not the header's) of the closed store at `path`.
fn smash(path: &Path, page: u64) {
    use std::io::{Seek, SeekFrom, Write};
    assert!(page > 1, "the file header stays intact");
    let mut file = std::fs::OpenOptions::new().write(true).open(path).expect("open the file");
    file.seek(SeekFrom::Start((page - 1) * 4096)).expect("seek");
    file.write_all(&[0xA5; 4096]).expect("write garbage");
    file.sync_all().expect("sync");
}

#[test]
fn a_fetched_file_that_does_not_match_its_reference_is_not_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = StoreKey::generate().expect("key");
    let mut store = enrolled_store(&dir.path().join("w.db"), "w", &key);
    let server = Township::default();
    let bytes = photo(CHUNK_BYTES + 100, 19);
    let (record, reference) = server.seed_remote(&bytes);
    store.sync(&server).expect("sync");
    let mut wrong = bytes.clone();
    wrong[CHUNK_BYTES + 50] ^= 1;
    server.0.lock().expect("lock").files.insert(reference.hash, wrong);
    let refused = store.fetch_attachment(&server, record, &reference.hash).expect_err("mismatch");
    assert!(matches!(refused, Error::AttachmentUnavailable(_)), "{refused}");
    assert!(!store.attachments(record).expect("list")[0].local);
    assert!(files_in(&store.attachments_dir()).is_empty(), "nothing of it is kept");
    // The server's copy repaired: fetched from the start.
    server.0.lock().expect("lock").files.insert(reference.hash, bytes.clone());
    store.fetch_attachment(&server, record, &reference.hash).expect("fetch");
    let offsets: Vec<Option<u64>> = server.seen(FETCH_PATH).iter().map(|s| s.offset).collect();
    assert_eq!(offsets, [Some(0), Some(CHUNK_BYTES as u64), Some(0), Some(CHUNK_BYTES as u64)]);
    assert_eq!(store.read_attachment(&reference.hash).expect("read"), bytes);

    // A cached copy damaged on disk is dropped when read, and fetched again.
    let names = files_in(&store.attachments_dir());
    let file = store.attachments_dir().join(&names[0]);
    let mut on_disk = std::fs::read(&file).expect("file");
    let middle = on_disk.len() / 2;
    on_disk[middle] ^= 0x40;
    std::fs::write(&file, on_disk).expect("damage");
    let damaged = store.read_attachment(&reference.hash).expect_err("damaged");
    assert!(matches!(damaged, Error::AttachmentUnavailable(_)) && !store.is_damaged(), "{damaged}");
    assert!(!store.attachments(record).expect("list")[0].local);
    store.fetch_attachment(&server, record, &reference.hash).expect("fetch again");
    assert_eq!(store.read_attachment(&reference.hash).expect("read"), bytes);
}

/// Keeps every progress report.
#[derive(Default)]
struct Watcher(Mutex<Vec<SyncProgress>>);

impl SyncObserver for Watcher {
    fn progress(&self, progress: &SyncProgress) {
        self.0.lock().expect("lock").push(progress.clone());
    }
}

#[test]
fn uploads_report_their_progress_in_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = StoreKey::generate().expect("key");
    let mut store = enrolled_store(&dir.path().join("w.db"), "w", &key);
    let record = household(&mut store, "1 号");
    let size = 2 * CHUNK_BYTES as u64 + 1;
    store.attach(record, None, None, &photo(size as usize, 20)).expect("attach");
    let watcher = Watcher::default();
    store.sync_observed(&Township::default(), &SyncOptions::default(), &watcher).expect("sync");
    let seen = watcher.0.lock().expect("lock").clone();
    let uploading: Vec<(u64, u64)> = seen
        .iter()
        .filter(|p| p.phase == SyncPhase::Uploading)
        .map(|p| (p.uploaded_bytes, p.to_upload_bytes))
        .collect();
    let chunk = CHUNK_BYTES as u64;
    assert_eq!(uploading, [(chunk, size), (2 * chunk, size), (size, size), (size, size)]);
    let last = seen.last().expect("progress");
    assert_eq!((last.phase, last.uploaded_bytes, last.to_upload_bytes), (SyncPhase::Finished, size, size));
}
