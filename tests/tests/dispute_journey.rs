//! A dispute's whole journey across four devices working offline: found and
//! mediated in a village, escalated to the township, escalated again to the
//! county, transferred to the county justice bureau, returned once for more
//! information and closed by the centre. The devices sync in random orders
//! between rounds of offline work. Every device that may see the dispute
//! ends with the server's state and its full history; the village and the
//! township devices no longer hold it once it has left their scope.

use gridsync_client_core::{Mediation, NewDispute, StepDetails};
use gridsync_proto::{Action, RecordId, RecordState, Role, Stage};
use gridsync_server_core::clock::now_ms;
use gridsync_tests::people::{COUNTY, JUSTICE, TOWNSHIP, VILLAGE_A};
use gridsync_tests::{Handset, Kind, TestServer};

gridsync_tests::matrix![a_dispute_escalated_twice_and_transferred_ends_identical_everywhere];

/// A small deterministic generator for sync orders.
struct Orders(u64);

impl Orders {
    fn shuffle(&mut self, n: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            order.swap(i, (self.0 % (i as u64 + 1)) as usize);
        }
        order
    }
}

struct Township {
    server: TestServer,
    /// Village staff, township centre, county centre, justice bureau.
    devices: [Handset; 4],
    orders: Orders,
}

const VILLAGE: usize = 0;
const CENTRE: usize = 1;
const COUNTY_CENTRE: usize = 2;
const BUREAU: usize = 3;

impl Township {
    fn start(kind: Kind, seed: u64) -> anyhow::Result<Self> {
        let server = TestServer::start(kind)?;
        let devices = [
            Handset::worker(&server, "东关村 张主任", VILLAGE_A)?,
            Handset::enrolled(&server, "城关镇综治中心 王", Role::TownshipAdmin, TOWNSHIP, None)?,
            Handset::enrolled(&server, "区综治中心 赵", Role::CountyAdmin, COUNTY, None)?,
            Handset::enrolled(&server, "区司法局 李", Role::Department, "", Some(JUSTICE))?,
        ];
        Ok(Self { server, devices, orders: Orders(seed) })
    }

    /// Every device syncs, in a fresh random order, `rounds` times.
    fn sync_all(&mut self, rounds: usize) -> anyhow::Result<()> {
        for _ in 0..rounds {
            for i in self.orders.shuffle(self.devices.len()) {
                self.devices[i].sync(&self.server)?;
            }
        }
        Ok(())
    }

    fn state(&self, device: usize, id: RecordId) -> Option<RecordState> {
        self.devices[device].store.get(id).expect("readable")
    }

    fn step(
        &mut self,
        device: usize,
        id: RecordId,
        action: Action,
        details: StepDetails,
    ) -> anyhow::Result<()> {
        self.devices[device].store.take_step(id, action, details)?;
        Ok(())
    }
}

fn note(text: &str) -> StepDetails {
    StepDetails { note: Some(text.into()), ..StepDetails::default() }
}

fn journey(kind: Kind, seed: u64) -> anyhow::Result<()> {
    let mut t = Township::start(kind, seed)?;
    let id = t.devices[VILLAGE].store.register_dispute(&NewDispute {
        place: None,
        source: "patrol".into(),
        source_record: None,
        category: "土地纠纷".into(),
        summary: Some("两户因宅基地边界发生争执".into()),
        risk: Some(2),
        parties: vec![],
        address: Some("东关村三组".into()),
        due: None,
    })?;
    t.step(VILLAGE, id, Action::Accept, StepDetails::default())?;
    t.sync_all(2)?;
    assert!(t.state(CENTRE, id).is_some() && t.state(COUNTY_CENTRE, id).is_some(), "above the village");
    assert!(t.state(BUREAU, id).is_none(), "not transferred yet");

    // Offline: the village mediates, fails and escalates; meanwhile the
    // township, which has not heard, notes a call from a party, and the
    // county asks the justice bureau to assist (协办函).
    t.step(VILLAGE, id, Action::Mediate, StepDetails::default())?;
    let session = Mediation {
        time_ms: now_ms(),
        outcome: "failed".into(),
        place: Some("村委会".into()),
        participants: Some("双方当事人、村调委会".into()),
        note: Some("双方各执一词".into()),
    };
    t.devices[VILLAGE].store.add_mediation(id, &session)?;
    t.step(VILLAGE, id, Action::Escalate, note("村级调解未果，上报乡镇"))?;
    t.devices[CENTRE].store.note(id, "当事人来电反映情况")?;
    let assist = StepDetails {
        unit: Some(JUSTICE.into()),
        letter_number: Some("崆综协〔2026〕3号".into()),
        ..note("请协助法律咨询")
    };
    t.step(COUNTY_CENTRE, id, Action::Assist, assist)?;
    t.sync_all(2)?;
    assert!(t.state(VILLAGE, id).is_none(), "escalated: gone from the village device");
    let lifecycle = t.devices[CENTRE].store.lifecycle(id)?.expect("the township holds it");
    assert_eq!((lifecycle.state.stage, lifecycle.state.owner.as_str()), (Stage::Accepted, TOWNSHIP));
    assert!(t.state(BUREAU, id).is_some(), "the cooperating bureau now holds it");

    // The township mediates and escalates again, to the county.
    t.step(CENTRE, id, Action::Mediate, StepDetails::default())?;
    t.step(CENTRE, id, Action::Escalate, note("涉及多户，上报区综治中心"))?;
    t.sync_all(2)?;
    assert!(t.state(CENTRE, id).is_none(), "escalated again: gone from the township device");

    // The county centre transfers it to the bureau (转办), which signs for
    // it, handles it and asks to close it; returned once, then closed.
    let transfer = StepDetails {
        unit: Some(JUSTICE.into()),
        letter_number: Some("崆综转〔2026〕17号".into()),
        ..note("宅基地确权争议，转司法局办理")
    };
    t.step(COUNTY_CENTRE, id, Action::Transfer, transfer)?;
    t.sync_all(2)?;
    let receipt = StepDetails { receipt: Some("司法局回执 2026-118".into()), ..StepDetails::default() };
    t.step(BUREAU, id, Action::AcceptTransfer, receipt)?;
    t.step(BUREAU, id, Action::RequestClosure, note("经人民调解达成协议"))?;
    t.sync_all(2)?;
    t.step(COUNTY_CENTRE, id, Action::Return, note("请补充调解协议书"))?;
    t.sync_all(2)?;
    t.devices[BUREAU].store.note(id, "已补充调解协议书扫描件")?;
    t.step(BUREAU, id, Action::RequestClosure, note("协议书已补充"))?;
    t.sync_all(2)?;
    t.step(COUNTY_CENTRE, id, Action::ConfirmClosure, note("同意销号"))?;
    t.sync_all(2)?;

    let server = t.server.inspect()?.record(id)?.expect("the server holds the dispute");
    for device in [COUNTY_CENTRE, BUREAU] {
        assert_eq!(t.state(device, id).as_ref(), Some(&server), "seed {seed}: device {device} differs");
        assert_eq!(t.devices[device].store.pending()?, 0);
    }
    for device in [VILLAGE, CENTRE] {
        assert!(t.state(device, id).is_none(), "seed {seed}: device {device} still holds it");
    }
    let lifecycle = t.devices[BUREAU].store.lifecycle(id)?.expect("a dispute");
    assert_eq!(lifecycle.state.stage, Stage::Closed);
    assert_eq!(lifecycle.state.owner, COUNTY);
    assert_eq!(lifecycle.state.handler.as_deref(), Some(JUSTICE));
    assert!(lifecycle.state.cooperating.contains(JUSTICE));
    assert!(!lifecycle.flagged(), "nothing clashed");
    let actions: Vec<&str> = lifecycle.steps.iter().map(|s| s.step.action.name()).collect();
    assert_eq!(
        actions,
        [
            "accept",
            "assist", // the county's letter outranks the village's concurrent mediation
            "mediate",
            "escalate",
            "mediate",
            "escalate",
            "transfer",
            "accept_transfer",
            "request_closure",
            "return",
            "request_closure",
            "confirm_closure"
        ],
        "seed {seed}: the full history, in order"
    );
    // Every entry made on every device is there: 12 steps, 1 mediation session, 2 notes.
    assert_eq!(server.entries().len(), 15);
    let view = t.devices[BUREAU].store.view(id)?.expect("view");
    let steps = view.lifecycle.expect("a lifecycle").steps;
    assert!(steps.iter().all(|s| s.stamp.received_ms.is_some()), "every step has its receipt");
    assert_eq!(steps[7].receipt.as_deref(), Some("司法局回执 2026-118"));
    assert_eq!(steps[6].letter.as_deref(), Some("transfer"));
    Ok(())
}

fn a_dispute_escalated_twice_and_transferred_ends_identical_everywhere(kind: Kind) -> anyhow::Result<()> {
    for seed in [0x9e37_79b9_7f4a_7c15, 42, 20_240_301] {
        journey(kind, seed)?;
    }
    Ok(())
}
