//! The dispute desk over HTTP (`/v1/admin/disputes`), with real handsets:
//! a conflict made by two handsets offline is listed, shown side by side,
//! settled at the desk and pulled by the handsets as a plain change; the
//! desk's lifecycle steps reach the handsets; refusals change nothing; and
//! another township's centre learns nothing.

use gridsync_client_core::NewDispute;
use gridsync_proto::{Action, Date, Lifecycle, RecordId, Role, Stage, Value};
use gridsync_tests::people::{self, GRID_A, OTHER_TOWNSHIP, POLICE, StaffSession, TOWNSHIP, VILLAGE_A};
use gridsync_tests::{Handset, Kind, TestServer};
use serde_json::{Value as Json, json};

gridsync_tests::matrix![
    a_conflict_made_offline_is_settled_at_the_desk_and_pulled_by_the_handsets,
    desk_steps_reach_the_handsets_and_refused_ones_change_nothing,
    lists_filter_and_page_and_other_townships_learn_nothing,
];

/// A staff member logged in to the admin API, reading JSON answers.
struct Desk(StaffSession);

impl Desk {
    fn login(server: &TestServer, name: &str, role: Role, place: &str) -> anyhow::Result<Self> {
        Ok(Self(StaffSession::login(server, name, role, place)?))
    }

    /// Status and JSON answer of a GET.
    fn get(&self, path: &str) -> anyhow::Result<(u16, Json)> {
        let response = self.0.get(path)?;
        Ok((response.status().as_u16(), response.json()?))
    }

    /// Status and JSON answer of a POST.
    fn post(&self, path: &str, body: &Json) -> anyhow::Result<(u16, Json)> {
        let response = self.0.post(path, body)?;
        Ok((response.status().as_u16(), response.json()?))
    }
}

fn dispute(category: &str, risk: i64, due: Option<Date>) -> NewDispute {
    NewDispute {
        place: None,
        source: "walk_in".into(),
        source_record: None,
        category: category.into(),
        summary: Some("邻里宅基地界线争执".into()),
        risk: Some(risk),
        parties: vec![],
        address: None,
        due,
    }
}

fn a_conflict_made_offline_is_settled_at_the_desk_and_pulled_by_the_handsets(
    kind: Kind,
) -> anyhow::Result<()> {
    let server = TestServer::start(kind)?;
    let mut jia = Handset::worker(&server, "网格员 甲", GRID_A)?;
    let mut yi = Handset::worker(&server, "网格员 乙", GRID_A)?;
    let id = jia.store.register_dispute(&dispute("邻里纠纷", 1, None))?;
    jia.sync(&server)?;
    yi.sync(&server)?;

    // Offline, both raise the risk, differently.
    jia.store.set(id, [("risk".to_owned(), Value::Int(2))])?;
    yi.store.set(id, [("risk".to_owned(), Value::Int(3))])?;
    jia.sync(&server)?;
    yi.sync(&server)?;
    jia.sync(&server)?;
    assert!(jia.store.get(id)?.expect("held").in_conflict("risk"));

    let desk = Desk::login(&server, "镇综治中心 吴", Role::TownshipAdmin, TOWNSHIP)?;
    let (status, page) = desk.get(&format!("/v1/admin/disputes?place={TOWNSHIP}&conflict=true"))?;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["id"], id.to_string());
    assert_eq!(page["items"][0]["conflicts"], json!(["risk"]));

    // Side by side: who wrote what, on which device, when.
    let (status, detail) = desk.get(&format!("/v1/admin/disputes/{id}"))?;
    assert_eq!(status, 200, "{detail}");
    let candidates = detail["conflicts"][0]["candidates"].as_array().expect("candidates").clone();
    assert_eq!(detail["conflicts"][0]["field"], "risk");
    assert_eq!(candidates.len(), 2);
    let by = |author: &str| candidates.iter().find(|c| c["author"] == author).expect("a candidate").clone();
    let (of_jia, of_yi) = (by("网格员 甲"), by("网格员 乙"));
    assert_eq!((of_jia["value"].clone(), of_yi["value"].clone()), (json!(2), json!(3)));
    assert_eq!(of_jia["device"], jia.store.device_id().to_string());
    assert_eq!(of_yi["device"], yi.store.device_id().to_string());
    for c in [&of_jia, &of_yi] {
        assert!(c["time_ms"].as_u64().is_some_and(|t| t > 0) && c["received_ms"].as_u64().is_some());
        assert_eq!(c["desk"], false);
    }

    // A resolution naming only one of the values would replace the other unseen: refused.
    let seen: Vec<Json> = candidates.iter().map(|c| c["id"].clone()).collect();
    let partial = json!({"field": "risk", "seen": [seen[0].clone()], "pick": of_yi["id"].clone()});
    let (status, refused) = desk.post(&format!("/v1/admin/disputes/{id}/resolve"), &partial)?;
    assert_eq!((status, refused["code"].as_str()), (400, Some("invalid_transition")));

    let choice = json!({"field": "risk", "seen": seen, "pick": of_yi["id"].clone()});
    let (status, written) = desk.post(&format!("/v1/admin/disputes/{id}/resolve"), &choice)?;
    assert_eq!(status, 200, "{written}");
    assert_eq!(written["dispute"]["conflicts"], json!([]));
    assert_eq!(written["dispute"]["record"]["fields"]["risk"], 3);
    let (_, page) = desk.get(&format!("/v1/admin/disputes?place={TOWNSHIP}&conflict=true"))?;
    assert_eq!(page["total"], 0, "the list follows the desk's write");
    // Settled once: the same request again finds no conflict.
    let (status, again) = desk.post(&format!("/v1/admin/disputes/{id}/resolve"), &choice)?;
    assert_eq!((status, again["code"].as_str()), (400, Some("invalid_transition")));

    // The handsets pull the desk's change like any other.
    jia.sync(&server)?;
    yi.sync(&server)?;
    let on_server = server.inspect()?.record(id)?.expect("the server has it");
    for handset in [&jia, &yi] {
        let state = handset.store.get(id)?.expect("held");
        assert_eq!(state.value("risk"), Some(&Value::Int(3)));
        assert!(!state.has_conflicts());
        assert_eq!(state, on_server);
        assert!(handset.store.conflicts()?.is_empty());
    }
    let stamp = &on_server.values("risk")[0].stamp;
    assert_eq!(stamp.author, "镇综治中心 吴");
    assert!(gridsync_server_core::service::disputes::by_desk(stamp));

    // A handset's later edit follows the desk's value: no new conflict.
    jia.store.set(id, [("risk".to_owned(), Value::Int(4))])?;
    jia.sync(&server)?;
    yi.sync(&server)?;
    assert_eq!(yi.store.get(id)?.expect("held").value("risk"), Some(&Value::Int(4)));
    assert!(!server.inspect()?.record(id)?.expect("held").has_conflicts());
    Ok(())
}

fn desk_steps_reach_the_handsets_and_refused_ones_change_nothing(kind: Kind) -> anyhow::Result<()> {
    let server = TestServer::start(kind)?;
    let mut worker = Handset::worker(&server, "网格员 丙", GRID_A)?;
    let id = worker.store.register_dispute(&dispute("土地权属", 2, None))?;
    worker.sync(&server)?;
    let desk = Desk::login(&server, "镇综治中心 郑", Role::TownshipAdmin, TOWNSHIP)?;
    let steps = format!("/v1/admin/disputes/{id}/steps");

    let (status, accepted) = desk.post(&steps, &json!({"action": "accept"}))?;
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(accepted["dispute"]["line"]["stage"], "accepted");
    worker.sync(&server)?;
    let lifecycle = worker.store.lifecycle(id)?.expect("a dispute");
    assert_eq!(lifecycle.state.stage, Stage::Accepted);
    let step = lifecycle.steps.last().expect("the desk's step");
    assert_eq!((step.step.action, step.author.as_str()), (Action::Accept, "镇综治中心 郑"));
    assert_eq!(step.step.by.role, Role::TownshipAdmin);

    // Refused: the stage does not allow closing, a transfer needs its letter,
    // a stale head, another township's centre. Nothing changes.
    let before = server.inspect()?.record(id)?;
    let head = accepted["dispute"]["head"].clone();
    let (status, refused) = desk.post(&steps, &json!({"action": "close"}))?;
    assert_eq!((status, refused["code"].as_str()), (400, Some("invalid_transition")), "{refused}");
    let (status, refused) = desk.post(&steps, &json!({"action": "transfer", "unit": POLICE}))?;
    assert_eq!((status, refused["code"].as_str()), (400, Some("missing_field")));
    assert!(refused["message"].as_str().is_some_and(|m| m.starts_with("letter_number:")), "{refused}");
    let (status, refused) = desk.post(&steps, &json!({"action": "fly"}))?;
    assert_eq!((status, refused["code"].as_str()), (400, Some("invalid_request")));
    let neighbour = Desk::login(&server, "柳湖镇综治中心", Role::TownshipAdmin, OTHER_TOWNSHIP)?;
    let (status, refused) = neighbour.post(&steps, &json!({"action": "escalate"}))?;
    assert_eq!((status, refused["code"].as_str()), (403, Some("forbidden")));
    let auditor = Desk::login(&server, "审计 冯", Role::Auditor, TOWNSHIP)?;
    let (status, _) = auditor.post(&steps, &json!({"action": "escalate"}))?;
    assert_eq!(status, 403, "auditors read, they do not act");
    assert_eq!(server.inspect()?.record(id)?, before, "refused steps left no trace");

    // Transfer to the police station with its letter, then it reaches the handset.
    let letter =
        json!({"action": "transfer", "unit": POLICE, "letter_number": "城综转〔2026〕7号", "after": head});
    let (status, moved) = desk.post(&steps, &letter)?;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(
        (moved["dispute"]["line"]["stage"].as_str(), moved["dispute"]["line"]["handler"].as_str()),
        (Some("transferred"), Some(POLICE))
    );
    // The head the desk saw is no longer the head.
    let (status, stale) = desk.post(&steps, &json!({"action": "escalate", "after": head}))?;
    assert_eq!((status, stale["code"].as_str()), (400, Some("invalid_transition")));
    worker.sync(&server)?;
    let on_handset = Lifecycle::of(&worker.store.get(id)?.expect("held")).expect("a dispute");
    assert_eq!(on_handset.state.stage, Stage::Transferred);
    assert_eq!(on_handset.state.handler.as_deref(), Some(POLICE));
    let transfer = on_handset.steps.last().expect("the transfer");
    assert_eq!(transfer.step.letter_number.as_deref(), Some("城综转〔2026〕7号"));

    // Every desk write and refusal is audited; no value appears in the trail.
    let audit = server.inspect()?.audit()?;
    let of = |action: &str, outcome: &str| {
        audit.iter().filter(|r| r.event.action == action && r.event.outcome == outcome).count()
    };
    assert_eq!(of("dispute.step", "ok"), 2, "accept and transfer");
    assert!(of("dispute.step", "invalid_transition") >= 2 && of("dispute.step", "forbidden") == 2);
    assert!(audit.iter().all(|r| !r.event.detail.contains("城综转") && !r.event.detail.contains("土地")));

    // No device may enroll under a desk actor.
    let code = people::code_for(&server, "网格员 丙")?;
    let forged = gridsync_server_core::service::disputes::desk_actor("镇综治中心 郑");
    let request = gridsync_proto::EnrollRequest {
        code,
        device: forged,
        public_key: gridsync_proto::auth::b64(&[7u8; 32]),
    };
    let answer = people::http().post(format!("{}/v1/enroll", server.url())).json(&request).send()?;
    assert_eq!(answer.status().as_u16(), 400, "a derived id is no device's");

    // Escalation from the desk on a second dispute moves it up one level;
    // its owner is then the village, still the township's.
    let second = worker.store.register_dispute(&dispute("婚姻家庭", 1, None))?;
    worker.sync(&server)?;
    let (status, up) = desk.post(
        &format!("/v1/admin/disputes/{second}/steps"),
        &json!({"action": "escalate", "note": "村里调不了"}),
    )?;
    assert_eq!(status, 200, "{up}");
    assert_eq!(up["dispute"]["line"]["owner"], VILLAGE_A);
    worker.sync(&server)?;
    assert!(worker.store.get(second)?.is_none(), "it left the grid worker's scope");
    assert_eq!(
        server.inspect()?.record(second)?.and_then(|r| Lifecycle::of(&r)).map(|l| l.state.owner),
        Some(VILLAGE_A.to_owned())
    );
    Ok(())
}

fn lists_filter_and_page_and_other_townships_learn_nothing(kind: Kind) -> anyhow::Result<()> {
    let server = TestServer::start(kind)?;
    let mut worker = Handset::worker(&server, "网格员 丁", GRID_A)?;
    let today = Handset::today();
    let past = today.previous().and_then(|d| d.previous()).expect("a date");
    let mut ids: Vec<RecordId> = Vec::new();
    for (category, risk, due) in [
        ("邻里纠纷", 1, None),
        ("邻里纠纷", 3, Some(past)),
        ("婚姻家庭", 3, Some(today)),
        ("劳资纠纷", 4, Some(past)),
        ("邻里纠纷", 2, None),
    ] {
        ids.push(worker.store.register_dispute(&dispute(category, risk, due))?);
        std::thread::sleep(std::time::Duration::from_millis(2)); // distinct, ordered ids
    }
    worker.store.take_step(
        ids[3],
        Action::Resolve,
        gridsync_client_core::StepDetails { note: Some("已调解".into()), ..Default::default() },
    )?;
    worker.sync(&server)?;
    let desk = Desk::login(&server, "区综治中心 王", Role::CountyAdmin, "5301")?;
    let list = |query: &str| -> anyhow::Result<Json> {
        let (status, page) = desk.get(&format!("/v1/admin/disputes?place=5301{query}"))?;
        anyhow::ensure!(status == 200, "{query}: {page}");
        Ok(page)
    };
    let ids_of = |page: &Json| -> Vec<String> {
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let newest_first: Vec<String> = ids.iter().rev().map(ToString::to_string).collect();
    assert_eq!(ids_of(&list("")?), newest_first);
    assert_eq!(list("&category=邻里纠纷")?["total"], 3);
    assert_eq!(list("&risk=3")?["total"], 2);
    assert_eq!(ids_of(&list("&stage=resolved")?), [ids[3].to_string()]);
    assert_eq!(
        ids_of(&list("&overdue=true")?),
        [ids[1].to_string()],
        "due yesterday and still open; the resolved one is not overdue"
    );
    assert_eq!(list("&overdue=false")?["total"], 4);
    assert_eq!(list(&format!("&owner={GRID_A}"))?["total"], 5);
    assert_eq!(list(&format!("&owner={TOWNSHIP}"))?["total"], 0);
    assert_eq!(list("&flagged=true")?["total"], 0);
    assert_eq!(list("&conflict=true")?["total"], 0);

    // Pages of two, following the cursor, newest first, each with the total.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = list(&format!("&limit=2{cursor}"))?;
        assert_eq!(page["total"], 5);
        seen.extend(ids_of(&page));
        match page["next"].as_str() {
            Some(next) => cursor = format!("&before={next}"),
            None => break,
        }
    }
    assert_eq!(seen, newest_first);
    let (status, bad) = desk.get("/v1/admin/disputes?place=5301&stage=lost")?;
    assert_eq!((status, bad["code"].as_str()), (400, Some("invalid_request")));

    // Another township's centre: its own place lists nothing of ours, ours is
    // forbidden, and one of our disputes is forbidden with nothing of it told.
    let neighbour = Desk::login(&server, "柳湖镇综治中心 赵", Role::TownshipAdmin, OTHER_TOWNSHIP)?;
    let (status, theirs) = neighbour.get(&format!("/v1/admin/disputes?place={OTHER_TOWNSHIP}"))?;
    assert_eq!((status, theirs["total"].as_u64()), (200, Some(0)));
    let (status, refused) = neighbour.get(&format!("/v1/admin/disputes?place={TOWNSHIP}"))?;
    assert_eq!((status, refused["code"].as_str()), (403, Some("forbidden")));
    let (status, refused) = neighbour.get(&format!("/v1/admin/disputes/{}", ids[0]))?;
    assert_eq!((status, refused["code"].as_str()), (403, Some("forbidden")));
    let told = refused.to_string();
    for secret in ["邻里", "宅基地", GRID_A, "网格员"] {
        assert!(!told.contains(secret), "the refusal tells {secret}: {told}");
    }
    let (status, missing) = desk.get(&format!("/v1/admin/disputes/{}", RecordId::generate(1)))?;
    assert_eq!((status, missing["code"].as_str()), (404, Some("not_found")));
    let (status, _) = desk.get("/v1/admin/disputes/not-an-id")?;
    assert_eq!(status, 404);
    // Auditors list (no personal data in a line) but do not open a dispute.
    let auditor = Desk::login(&server, "审计 陈", Role::Auditor, TOWNSHIP)?;
    let (status, lines) = auditor.get(&format!("/v1/admin/disputes?place={TOWNSHIP}"))?;
    assert_eq!((status, lines["total"].as_u64()), (200, Some(5)));
    assert!(!lines.to_string().contains("宅基地"), "a line holds no summary");
    let (status, _) = auditor.get(&format!("/v1/admin/disputes/{}", ids[0]))?;
    assert_eq!(status, 403);
    Ok(())
}
