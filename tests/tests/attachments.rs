//! Attachments end to end (issue 16, ADR 0033), real handset stores against
//! the real server on a loopback port, on both backends: a 5 MB photo
//! attached offline uploads after its record, survives a sync cut
//! mid-upload and a killed app, and resumes without sending an
//! acknowledged chunk again; a second device of the grid fetches it on
//! demand, a device of another grid is refused; an identical file is not
//! sent twice; a corrupted chunk is refused; staff download it, audited;
//! a wipe erases the files.

use std::sync::Mutex;

use gridsync_client_core::{Error, NetworkKind, NewDispute, Request, Transport};
use gridsync_proto::attachment::CHUNK_BYTES;
use gridsync_proto::wire::attachments::{FETCH_PATH, FetchRequest, STATUS_PATH, UPLOAD_PATH, UploadChunk};
use gridsync_proto::wire::{self, Limits};
use gridsync_proto::{ContentHash, ErrorBody, ErrorCode, Role};
use gridsync_server_core::StorageExt;
use gridsync_server_core::clock::now_ms;
use gridsync_server_core::ledger::Month;
use gridsync_server_core::service::Caller;
use gridsync_tests::people::{self, GRID_A, GRID_B, RawDevice, StaffSession, TOWNSHIP};
use gridsync_tests::{DiesAfter, Handset, Kind, TestServer};
use serde_json::Value as Json;

gridsync_tests::matrix![
    a_photo_resumes_after_a_cut_and_reaches_the_grid_only,
    an_identical_file_is_not_sent_again_and_a_corrupted_chunk_is_refused,
    the_dispute_register_counts_a_dispute_s_attachments,
    uploads_wait_for_wifi_when_asked_and_a_wipe_erases_the_files,
];

/// A JPEG-looking photo of `len` bytes whose content depends on `seed`.
fn photo(len: usize, seed: u8) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..len).map(|i| ((i * 7 + i / 251) as u8) ^ seed).collect();
    bytes[..11].copy_from_slice(b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00");
    bytes
}

/// A transport that forwards to another and notes the offset of every
/// upload chunk it carries.
#[derive(Debug)]
struct Watching<T> {
    inner: T,
    offsets: Mutex<Vec<u64>>,
    statuses: Mutex<u32>,
}

impl<T> Watching<T> {
    fn new(inner: T) -> Self {
        Self { inner, offsets: Mutex::new(Vec::new()), statuses: Mutex::new(0) }
    }

    fn offsets(&self) -> Vec<u64> {
        self.offsets.lock().expect("offsets").clone()
    }
}

impl<T: Transport> Transport for Watching<T> {
    fn send(&self, request: Request) -> Result<Vec<u8>, Error> {
        if request.path == UPLOAD_PATH {
            let chunk: UploadChunk =
                wire::decode(&request.body, &Limits::DEFAULT).expect("an uncompressed chunk");
            self.offsets.lock().expect("offsets").push(chunk.offset);
        } else if request.path == STATUS_PATH {
            *self.statuses.lock().expect("statuses") += 1;
        }
        self.inner.send(request)
    }
}

/// Every audited action with its actor, oldest first.
fn audit_actions(server: &TestServer) -> anyhow::Result<Vec<(String, String)>> {
    let op = people::operator(server)?;
    let rows = op.block_on(op.service().storage().read(|tx| {
        let mut rows = Vec::new();
        tx.audit_rows(&mut |row| {
            rows.push((row.event.action, row.event.actor));
            true
        })?;
        Ok(rows)
    }))?;
    Ok(rows)
}

fn a_photo_resumes_after_a_cut_and_reaches_the_grid_only(kind: Kind) -> anyhow::Result<()> {
    let server = TestServer::start(kind)?;
    let mut li = Handset::worker(&server, "网格员 李", GRID_A)?;
    li.store.set_network(NetworkKind::Wifi);
    let file = photo(5 * 1024 * 1024, 1);
    let hash = ContentHash::of(&file);
    let chunks = file.len().div_ceil(CHUNK_BYTES) as u64;

    // Offline: a patrol and its photo.
    let patrol = li.store.start_patrol(now_ms())?;
    let reference = li.store.attach(patrol, None, Some("现场照片"), &file)?;
    assert_eq!((reference.hash, reference.size), (hash, file.len() as u64));
    let held = li.store.attachments(patrol)?;
    assert!(held[0].local && !held[0].uploaded);

    // The link drops after the server acknowledged the third chunk: the
    // text is through, the photo waits.
    let cut = DiesAfter::new(server.transport(), UPLOAD_PATH, 3);
    let report = li.store.sync(&cut)?;
    assert!(report.pushed > 0, "the record's text goes first and is not held back");
    assert_eq!((report.uploaded, report.uploads_deferred), (0, 1), "{report:?}");
    // The app is killed and started again.
    li.restart()?;
    let watching = Watching::new(server.transport());
    let report = li.store.sync(&watching)?;
    assert_eq!(report.uploaded, 1, "{report:?}");
    let offsets = watching.offsets();
    assert_eq!(offsets.first(), Some(&(3 * CHUNK_BYTES as u64)), "resumes at the acknowledged offset");
    assert!(offsets.iter().all(|o| *o >= 3 * CHUNK_BYTES as u64), "no acknowledged chunk is sent again");
    assert_eq!(offsets.len() as u64, chunks - 3);
    assert_eq!(report.uploaded_bytes, file.len() as u64 - 3 * CHUNK_BYTES as u64);
    assert!(li.store.attachments(patrol)?[0].uploaded);

    // A second device of the grid has the record, not the file, until it asks.
    let mut wang = Handset::worker(&server, "网格员 王", GRID_A)?;
    wang.sync(&server)?;
    let seen = wang.store.attachments(patrol)?;
    assert_eq!(seen.len(), 1);
    assert!(!seen[0].local, "attachments are not fetched with the records");
    let info = wang.store.fetch_attachment(&server.transport(), patrol, &hash)?;
    assert!(info.local);
    assert_eq!(wang.store.read_attachment(&hash)?, file, "the same bytes arrive");

    // A worker of another grid has not the record, so its phone does not
    // ask; and its device asking all the same, knowing both ids, is refused.
    let mut zhao = Handset::worker(&server, "网格员 赵", GRID_B)?;
    zhao.sync(&server)?;
    assert!(matches!(
        zhao.store.fetch_attachment(&server.transport(), patrol, &hash),
        Err(Error::NotFound(_))
    ));
    let code = people::code_for(&server, "网格员 赵")?;
    let (raw, _) = RawDevice::enroll(&server.url(), &code)?;
    let ask = FetchRequest { device: raw.id, record: patrol, hash, offset: 0 };
    let answer = raw.post(&server.url(), FETCH_PATH, wire::encode(&ask))?;
    assert_eq!(answer.status().as_u16(), 404);
    assert_eq!(answer.json::<ErrorBody>()?.code, ErrorCode::NotFound);

    // Township staff list and download it; each download is audited.
    let staff = StaffSession::login(&server, "镇综治中心 孙", Role::TownshipAdmin, TOWNSHIP)?;
    let list: Json = staff.get(&format!("/v1/admin/records/{patrol}/attachments"))?.json()?;
    assert_eq!(list[0]["sha256"], hash.to_hex());
    assert_eq!(list[0]["uploaded"], true);
    let href = list[0]["href"].as_str().expect("a download link").to_owned();
    let download = staff.get(&href)?;
    assert_eq!(download.status().as_u16(), 200);
    assert_eq!(download.headers()["content-type"], "image/jpeg");
    assert_eq!(download.bytes()?.as_ref(), &file[..]);
    assert!(
        audit_actions(&server)?
            .contains(&("attachment.download".to_owned(), "user:镇综治中心 孙".to_owned())),
        "the staff download is audited"
    );
    // The change feed carries the patrol with its attachment's link.
    let feed = staff.get(&format!("/v1/admin/feed?place={TOWNSHIP}"))?.text()?;
    let line = feed
        .lines()
        .map(serde_json::from_str::<Json>)
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .find(|l| l["record"]["id"] == patrol.to_string())
        .expect("the patrol is in the feed");
    assert_eq!(line["attachments"][0]["href"], href.as_str());
    assert_eq!(line["attachments"][0]["uploaded"], true);
    Ok(())
}

fn an_identical_file_is_not_sent_again_and_a_corrupted_chunk_is_refused(kind: Kind) -> anyhow::Result<()> {
    let server = TestServer::start(kind)?;
    let mut li = Handset::worker(&server, "网格员 李", GRID_A)?;
    let mut wang = Handset::worker(&server, "网格员 王", GRID_A)?;
    for handset in [&mut li, &mut wang] {
        handset.store.set_network(NetworkKind::Wifi);
    }
    let file = photo(600 * 1024, 2);
    let hash = ContentHash::of(&file);
    let first = li.store.start_patrol(now_ms())?;
    li.store.attach(first, None, None, &file)?;
    assert_eq!(li.sync(&server)?.uploaded, 1);

    // The same photo on another phone, on another record: asked about, not sent.
    let second = wang.store.start_patrol(now_ms())?;
    wang.store.attach(second, None, None, &file)?;
    let watching = Watching::new(server.transport());
    let report = wang.store.sync(&watching)?;
    assert_eq!((report.uploaded, report.uploaded_bytes), (1, 0), "{report:?}");
    assert!(watching.offsets().is_empty(), "no chunk of a file the server has");
    assert!(*watching.statuses.lock().expect("statuses") >= 1);
    assert!(wang.store.attachments(second)?[0].uploaded, "the server has it: done");
    assert_eq!(wang.store.read_attachment(&hash)?, file);

    // A device whose chunk does not match its hash is refused, and nothing
    // of the chunk counts.
    let other = photo(300 * 1024, 3);
    let third = li.store.start_patrol(now_ms())?;
    li.store.attach(third, None, None, &other)?;
    li.store.set_network(NetworkKind::Cellular);
    li.store.set_wifi_only(true)?;
    li.sync(&server)?; // the record goes, the file waits for Wi-Fi
    people::ensure_worker(&server, "网格员 周", GRID_A)?;
    let code = people::code_for(&server, "网格员 周")?;
    let (raw, _) = RawDevice::enroll(&server.url(), &code)?;
    let mut bytes = other[..CHUNK_BYTES].to_vec();
    let chunk_hash = ContentHash::of(&bytes);
    bytes[1000] ^= 0x40;
    let chunk = UploadChunk {
        device: raw.id,
        record: third,
        hash: ContentHash::of(&other),
        offset: 0,
        chunk_hash,
        bytes,
    };
    let answer = raw.post(&server.url(), UPLOAD_PATH, wire::encode(&chunk))?;
    assert_eq!(answer.status().as_u16(), 400);
    let refusal: ErrorBody = answer.json()?;
    assert_eq!(refusal.code, ErrorCode::ChunkMismatch);
    // The honest phone, back on Wi-Fi, uploads it from the start.
    li.store.set_network(NetworkKind::Wifi);
    let watching = Watching::new(server.transport());
    assert_eq!(li.store.sync(&watching)?.uploaded, 1);
    assert_eq!(watching.offsets().first(), Some(&0));
    Ok(())
}

fn the_dispute_register_counts_a_dispute_s_attachments(kind: Kind) -> anyhow::Result<()> {
    let server = TestServer::start(kind)?;
    let mut li = Handset::worker(&server, "网格员 李", GRID_A)?;
    li.store.set_network(NetworkKind::Wifi);
    let dispute = li.store.register_dispute(&NewDispute {
        place: None,
        source: "patrol".into(),
        source_record: None,
        category: "邻里纠纷".into(),
        summary: Some("两户因排水沟发生争执".into()),
        risk: Some(1),
        parties: vec![],
        address: None,
        due: None,
    })?;
    li.store.attach(dispute, None, Some("现场"), &photo(200 * 1024, 5))?;
    li.store.attach(dispute, None, Some("调解协议书"), &photo(300 * 1024, 6))?;
    assert_eq!(li.sync(&server)?.uploaded, 2);
    let op = people::operator(&server)?;
    let month: Month = Handset::today().to_string()[..7].parse().map_err(anyhow::Error::msg)?;
    let ledgers = op.run(op.service().month_ledgers(&Caller::Operator, TOWNSHIP, month))?;
    let row = ledgers.rows.iter().find(|r| r.id == dispute).expect("the dispute is on the register");
    assert_eq!(row.attachments, 2, "附件数");
    Ok(())
}

fn uploads_wait_for_wifi_when_asked_and_a_wipe_erases_the_files(kind: Kind) -> anyhow::Result<()> {
    let server = TestServer::start(kind)?;
    let mut li = Handset::worker(&server, "网格员 李", GRID_A)?;
    li.store.set_wifi_only(true)?;
    li.store.set_network(NetworkKind::Cellular);
    let file = photo(700 * 1024, 4);
    let patrol = li.store.start_patrol(now_ms())?;
    li.store.attach(patrol, None, None, &file)?;
    let watching = Watching::new(server.transport());
    let report = li.store.sync(&watching)?;
    assert!(report.pushed > 0);
    assert_eq!((report.uploaded, report.uploads_deferred), (0, 1));
    assert!(watching.offsets().is_empty(), "nothing of the file on a mobile network");
    li.store.set_network(NetworkKind::Wifi);
    assert_eq!(li.sync(&server)?.uploaded, 1);

    let dir = li.store.attachments_dir();
    assert!(std::fs::read_dir(&dir)?.next().is_some(), "the photo is kept on the phone");
    people::operator(&server)?.revoke_device(li.store.device_id(), true)?;
    match li.store.sync(&server.transport()) {
        Err(Error::Wiped) => {}
        other => panic!("a wipe order must wipe, got {other:?}"),
    }
    assert!(!dir.exists(), "the wipe erased the attachment files");
    Ok(())
}
