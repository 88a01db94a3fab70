//! The attack matrix of device authentication, enrollment, revocation and
//! wipe, against the real server on a loopback port.

use gridsync_client_core::{Error, NewDispute, Party, Signer, SigningKey, Store, Transport, Visit};
use gridsync_proto::wire::{self, CONTENT_TYPE};
use gridsync_proto::{ActorId, ErrorBody, ErrorCode, PullRequest, RecordId};
use gridsync_server_core::audit::{Event, Verdict};
use gridsync_server_core::clock::now_ms;
use gridsync_server_core::service::Caller;
use gridsync_server_core::service::people::code_digest;
use gridsync_server_core::storage::{NewEnrollment, StorageExt};
use gridsync_tests::people::{self, DAY_MS, RawDevice, http};
use gridsync_tests::{Handset, Kind, TestServer};

gridsync_tests::matrix![
    a_signed_request_from_an_enrolled_device_is_served,
    unsigned_and_unknown_devices_are_refused,
    a_wrong_key_or_an_altered_body_fails_the_signature,
    replays_and_stale_timestamps_are_refused,
    enrollment_codes_work_once_and_expire,
    a_message_naming_another_device_is_refused,
    revoked_devices_are_refused_and_deactivation_revokes_all,
    a_wipe_order_destroys_the_store,
    a_device_with_a_wrong_clock_corrects_it_and_syncs,
    refusals_are_audited_in_an_intact_chain,
    enrollment_attempts_are_rate_limited_per_address,
    a_handset_pinned_to_the_township_ca_enrolls_and_syncs_over_https
];

fn pull_body(device: ActorId) -> Vec<u8> {
    wire::encode(&PullRequest { device, cursor: 0, limit: 10, profile_version: 0 })
}

/// A routine visit to `address` in the user's own grid (6 changes).
fn visit(store: &mut Store, address: &str) -> Result<RecordId, Error> {
    store.record_visit(&Visit {
        grid: None,
        household: None,
        address: Some(address.to_owned()),
        visited_ms: now_ms(),
        person_category: "general".into(),
        purpose: "routine".into(),
        result: None,
        follow_up_due: None,
        gps: None,
    })
}

fn refusal(response: reqwest::blocking::Response) -> (u16, ErrorBody) {
    let status = response.status().as_u16();
    (status, response.json().expect("a JSON error body"))
}

fn enrolled(server: &TestServer, user: &str) -> RawDevice {
    people::ensure_worker(server, user, people::GRID_A).expect("user");
    let code = people::code_for(server, user).expect("code");
    RawDevice::enroll(&server.url(), &code).expect("enroll").0
}

/// A one-day enrollment code for `user` issued two days ago, so expired for
/// a day. No operation issues a code in the past, so it is written to the
/// storage directly, as issuing writes it: the code's digest and its audit
/// row, in one transaction.
fn expired_code(server: &TestServer, user: &str) -> anyhow::Result<String> {
    const LETTERS: &[u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    let random = SigningKey::generate()?.public_key().to_vec();
    let letters: Vec<char> = random.iter().take(20).map(|b| LETTERS[usize::from(b % 31)] as char).collect();
    let code = letters.chunks(5).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-");
    let (digest, user) = (code_digest(&code), user.to_owned());
    let op = people::operator(server)?;
    op.run(op.service().storage().write(move |tx, now| {
        let created_ms = now - 2 * DAY_MS;
        let expires_ms = created_ms + DAY_MS;
        tx.insert_enrollment(&NewEnrollment { code_hash: &digest, user: &user, created_ms, expires_ms })?;
        let event = Event::new(Caller::Operator.audit_name(), "enroll.issue", &user, "ok")
            .detail(format!("ttl_ms={DAY_MS}"));
        tx.append_audit(now, &event)?;
        Ok(())
    }))?;
    Ok(code)
}

fn a_signed_request_from_an_enrolled_device_is_served(kind: Kind) {
    let server = TestServer::start(kind).expect("server");
    let device = enrolled(&server, "li");
    let response = device.post(&server.url(), "/v1/sync/pull", pull_body(device.id)).expect("answer");
    assert_eq!(response.status().as_u16(), 200);
}

fn unsigned_and_unknown_devices_are_refused(kind: Kind) {
    let server = TestServer::start(kind).expect("server");
    let unsigned = http()
        .post(format!("{}/v1/sync/pull", server.url()))
        .header("content-type", CONTENT_TYPE)
        .body(pull_body(ActorId::random()))
        .send()
        .expect("answer");
    assert_eq!(refusal(unsigned).1.code, ErrorCode::Unauthenticated);

    let stranger_id = ActorId::random();
    let stranger = RawDevice {
        id: stranger_id,
        signer: Signer::new(stranger_id, SigningKey::generate().expect("key")),
        public_key: Vec::new(),
    };
    let (status, body) =
        refusal(stranger.post(&server.url(), "/v1/sync/pull", pull_body(stranger_id)).expect("answer"));
    assert_eq!((status, body.code), (401, ErrorCode::UnknownDevice));
}

fn a_wrong_key_or_an_altered_body_fails_the_signature(kind: Kind) {
    let server = TestServer::start(kind).expect("server");
    let device = enrolled(&server, "li");
    let impostor = RawDevice {
        id: device.id,
        signer: Signer::new(device.id, SigningKey::generate().expect("key")),
        public_key: Vec::new(),
    };
    let (status, body) =
        refusal(impostor.post(&server.url(), "/v1/sync/pull", pull_body(device.id)).expect("answer"));
    assert_eq!((status, body.code), (401, ErrorCode::BadSignature));

    // Signed for one body, sent with another.
    let signed_for = pull_body(device.id);
    let headers = device.signer.headers("POST", "/v1/sync/pull", &signed_for).expect("sign");
    let mut altered = signed_for.clone();
    *altered.last_mut().expect("non-empty") ^= 1;
    let mut request =
        http().post(format!("{}/v1/sync/pull", server.url())).header("content-type", CONTENT_TYPE);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let (status, body) = refusal(request.body(altered).send().expect("answer"));
    assert_eq!((status, body.code), (401, ErrorCode::BadSignature));
}

fn replays_and_stale_timestamps_are_refused(kind: Kind) {
    let server = TestServer::start(kind).expect("server");
    let device = enrolled(&server, "li");
    let body = pull_body(device.id);
    let headers = device.signer.headers("POST", "/v1/sync/pull", &body).expect("sign");
    let send = |headers: &[(&str, String)]| {
        let mut request =
            http().post(format!("{}/v1/sync/pull", server.url())).header("content-type", CONTENT_TYPE);
        for (name, value) in headers {
            request = request.header(*name, value.clone());
        }
        request.body(body.clone()).send().expect("answer")
    };
    assert_eq!(send(&headers).status().as_u16(), 200);
    let (status, refused) = refusal(send(&headers));
    assert_eq!((status, refused.code), (401, ErrorCode::ReplayedRequest));

    // A correctly signed request from a device whose clock is ten minutes behind.
    device.signer.correct_clock(now_ms() - 10 * 60 * 1000);
    let stale = device.signer.headers("POST", "/v1/sync/pull", &body).expect("sign");
    let (status, refused) = refusal(send(&stale));
    assert_eq!((status, refused.code), (401, ErrorCode::StaleTimestamp));
    let server_time = refused.server_time_ms.expect("the server tells its time");
    assert!(server_time.abs_diff(now_ms()) < 60_000);
}

fn enrollment_codes_work_once_and_expire(kind: Kind) {
    let server = TestServer::start(kind).expect("server");
    people::ensure_worker(&server, "zhao", people::GRID_B).expect("user");
    let code = people::code_for(&server, "zhao").expect("code");
    let (_, answer) = RawDevice::enroll(&server.url(), &code).expect("first use");
    assert_eq!(answer.user, "zhao");
    let again = RawDevice::enroll(&server.url(), &code).expect_err("second use");
    assert!(again.to_string().contains("enrollment_used"), "{again}");

    let expired = expired_code(&server, "zhao").expect("old code");
    let late = RawDevice::enroll(&server.url(), &expired).expect_err("expired");
    assert!(late.to_string().contains("enrollment_expired"), "{late}");
    let unknown = RawDevice::enroll(&server.url(), "AAAAA-BBBBB-CCCCC-DDDDD").expect_err("unknown");
    assert!(unknown.to_string().contains("enrollment_invalid"), "{unknown}");
}

fn a_message_naming_another_device_is_refused(kind: Kind) {
    let server = TestServer::start(kind).expect("server");
    let device = enrolled(&server, "li");
    let (status, body) =
        refusal(device.post(&server.url(), "/v1/sync/pull", pull_body(ActorId::random())).expect("answer"));
    assert_eq!((status, body.code), (403, ErrorCode::ActorMismatch));
}

fn revoked_devices_are_refused_and_deactivation_revokes_all(kind: Kind) -> anyhow::Result<()> {
    let server = TestServer::start(kind)?;
    let mut first = Handset::new(&server, "wang")?;
    let mut second = Handset::new(&server, "wang")?;
    visit(&mut first.store, "3-101")?;
    first.sync(&server)?;
    second.sync(&server)?;
    assert_eq!(second.store.list(&Default::default())?.len(), 1, "the user's other device holds the visit");

    people::operator(&server)?.revoke_device(first.store.device_id(), false)?;
    let err = first.store.sync(&server.transport()).expect_err("revoked");
    assert_eq!(err.server_code(), Some(ErrorCode::DeviceRevoked));
    assert!(first.store.list(&Default::default())?.len() == 1, "revocation without wipe keeps the data");
    second.sync(&server)?;

    people::operator(&server)?.deactivate_user("wang")?;
    let err = second.store.sync(&server.transport()).expect_err("user deactivated");
    assert_eq!(err.server_code(), Some(ErrorCode::DeviceRevoked));
    Ok(())
}

fn a_wipe_order_destroys_the_store(kind: Kind) -> anyhow::Result<()> {
    let server = TestServer::start(kind)?;
    let mut lost = Handset::new(&server, "li")?;
    let party = Party {
        name: "张三丰".into(),
        role: Some("applicant".into()),
        id_number: Some("530102199001011234".into()),
        phone: None,
        address: None,
    };
    lost.store.register_dispute(&NewDispute {
        place: None,
        source: "walk_in".into(),
        source_record: None,
        category: "邻里纠纷".into(),
        summary: None,
        risk: None,
        parties: vec![party],
        address: None,
        due: None,
    })?;
    let report = lost.sync(&server)?;
    assert_eq!(report.refused, 0);
    people::operator(&server)?.revoke_device(lost.store.device_id(), true)?;
    let err = lost.store.sync(&server.transport()).expect_err("wiped");
    assert!(matches!(err, Error::Wiped), "{err}");
    for pii in ["张三丰", "530102199001011234"] {
        assert!(!err.to_string().contains(pii), "no personal data in errors: {err}");
    }
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", lost.path().display());
        assert!(!std::path::Path::new(&file).exists(), "{file} still exists");
    }
    // The store refuses everything afterwards instead of recreating a file.
    assert!(matches!(lost.store.list(&Default::default()), Err(Error::Wiped)));
    Ok(())
}

fn a_device_with_a_wrong_clock_corrects_it_and_syncs(kind: Kind) -> anyhow::Result<()> {
    /// Answers the first request with `stale_timestamp` and a server time an hour ahead.
    struct SkewedOnce<T> {
        inner: T,
        done: std::sync::atomic::AtomicBool,
    }
    impl<T: Transport> Transport for SkewedOnce<T> {
        fn send(&self, request: gridsync_client_core::Request) -> Result<Vec<u8>, Error> {
            if !self.done.swap(true, std::sync::atomic::Ordering::SeqCst) {
                return Err(Error::Rejected {
                    status: 401,
                    body: ErrorBody {
                        server_time_ms: Some(now_ms()),
                        ..ErrorBody::new(ErrorCode::StaleTimestamp, "stale")
                    },
                });
            }
            self.inner.send(request)
        }
    }
    let server = TestServer::start(kind)?;
    let mut device = Handset::new(&server, "li")?;
    device.store.start_patrol(now_ms())?;
    let skewed = SkewedOnce { inner: server.transport(), done: Default::default() };
    let report = device.store.sync(&skewed)?;
    // The patrol's create, grid and started_ms (was 1: an empty create).
    assert_eq!(report.pushed, 3);
    Ok(())
}

fn refusals_are_audited_in_an_intact_chain(kind: Kind) -> anyhow::Result<()> {
    let server = TestServer::start(kind)?;
    let device = enrolled(&server, "li");
    let impostor = RawDevice {
        id: device.id,
        signer: Signer::new(device.id, SigningKey::generate()?),
        public_key: Vec::new(),
    };
    impostor.post(&server.url(), "/v1/sync/pull", pull_body(device.id))?;
    let audit = server.inspect()?.audit()?;
    let count = |action: &str, outcome: Option<&str>| {
        let outcome_is = |o: &str| outcome.is_none_or(|expected| o == expected);
        audit.iter().filter(|row| row.event.action == action && outcome_is(&row.event.outcome)).count()
    };
    assert_eq!(count("sync.refused", Some("bad_signature")), 1);
    assert_eq!(count("device.enroll", None), 1);
    let verdict = gridsync_server::operator::verify_audit(&server.database())?;
    assert!(matches!(verdict, Verdict::Intact { .. }), "{verdict:?}");
    Ok(())
}

fn enrollment_attempts_are_rate_limited_per_address(kind: Kind) {
    let server = TestServer::start_on(kind, |s| s.enrollments_per_minute = 2).expect("server");
    for _ in 0..2 {
        let guess = RawDevice::enroll(&server.url(), "WRONG-GUESS").expect_err("unknown code");
        assert!(guess.to_string().contains("enrollment_invalid"), "{guess}");
    }
    let third = RawDevice::enroll(&server.url(), "WRONG-GUESS").expect_err("limited");
    assert!(third.to_string().contains("rate_limited"), "{third}");
}

fn a_handset_pinned_to_the_township_ca_enrolls_and_syncs_over_https(kind: Kind) -> anyhow::Result<()> {
    let tls = tempfile::tempdir()?;
    let files = gridsync_server::tls::write_self_signed(tls.path(), &["127.0.0.1".to_owned()], 30, false)?;
    let server = TestServer::start_on(kind, |s| {
        s.tls_cert = Some(files.cert.clone());
        s.tls_key = Some(files.key.clone());
    })?;
    assert!(server.url().starts_with("https://"));
    people::ensure_worker(&server, "li", people::GRID_A)?;
    let code = people::code_for(&server, "li")?;

    let dir = tempfile::tempdir()?;
    let key = gridsync_client_core::StoreKey::generate()?;
    let mut store = gridsync_client_core::Store::init(&dir.path().join("h.db"), &server.url(), "li", &key)?;
    // Without the pin, the township's own CA is not trusted.
    let unpinned = store.http_transport()?;
    assert!(matches!(store.enroll(&unpinned, &code), Err(Error::Certificate(_))));
    store.pin_ca(&std::fs::read(&files.ca)?)?;
    store.enroll(&store.http_transport()?, &code)?;
    visit(&mut store, "3-101")?;
    let report = store.sync(&store.http_transport()?)?;
    // A typed visit is 6 changes (was 2: a create and a household).
    assert_eq!(report.pushed, 6);
    assert_eq!(server.inspect()?.change_count()?, 6);
    Ok(())
}
