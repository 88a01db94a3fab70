//! Two offline steps that clash: the village worker marks a dispute resolved
//! while the township escalates it. Whatever order they sync in, every
//! replica ends with the same state: the township's escalation stands, the
//! resolution is kept in the history, overridden and flagged for the owner,
//! and the owner's acknowledgement clears the flag everywhere.

use gridsync_client_core::{NewDispute, StepDetails};
use gridsync_proto::dispute::StepStatus;
use gridsync_proto::{Action, Lifecycle, Role, Stage};
use gridsync_tests::people::{TOWNSHIP, VILLAGE_A};
use gridsync_tests::{Handset, Kind, TestServer};

gridsync_tests::matrix![a_resolve_and_a_concurrent_escalation_merge_to_one_flagged_state_in_either_order];

fn clash(kind: Kind, village_first: bool) -> anyhow::Result<()> {
    let server = TestServer::start(kind)?;
    let mut village = Handset::worker(&server, "村调委会 周", VILLAGE_A)?;
    let mut township = Handset::enrolled(&server, "镇综治中心 吴", Role::TownshipAdmin, TOWNSHIP, None)?;
    let mut county = Handset::enrolled(&server, "区综治中心 郑", Role::CountyAdmin, "5301", None)?;
    let dispute = NewDispute {
        place: None,
        source: "walk_in".into(),
        source_record: None,
        category: "婚姻家庭".into(),
        summary: Some("夫妻财产分割争执".into()),
        risk: Some(1),
        parties: vec![],
        address: None,
        due: None,
    };
    let id = village.store.register_dispute(&dispute)?;
    village.store.take_step(id, Action::Accept, StepDetails::default())?;
    village.sync(&server)?;
    township.sync(&server)?;

    // Offline, at the same time.
    let settled = StepDetails { note: Some("现场调解，双方签字".into()), ..StepDetails::default() };
    let resolve = village.store.take_step(id, Action::Resolve, settled)?;
    let taken =
        StepDetails { note: Some("涉及财产较大，镇里接手".into()), ..StepDetails::default() };
    let escalate = township.store.take_step(id, Action::Escalate, taken)?;

    let (first, second) =
        if village_first { (&mut village, &mut township) } else { (&mut township, &mut village) };
    first.sync(&server)?;
    second.sync(&server)?;
    first.sync(&server)?;
    county.sync(&server)?;

    let on_server = server.inspect()?.record(id)?.expect("the server has it");
    for (name, device) in [("township", &township), ("county", &county)] {
        assert_eq!(device.store.get(id)?.as_ref(), Some(&on_server), "{name} differs from the server");
    }
    // Ownership moved to the township: the village device no longer holds it.
    assert!(village.store.get(id)?.is_none());

    let lifecycle = Lifecycle::of(&on_server).expect("a dispute");
    assert_eq!((lifecycle.state.stage, lifecycle.state.owner.as_str()), (Stage::Accepted, TOWNSHIP));
    let status = |dot| lifecycle.step(dot).map(|s| s.status);
    assert_eq!(status(escalate), Some(StepStatus::Applied));
    assert_eq!(status(resolve), Some(StepStatus::Overridden), "kept, not lost");
    assert_eq!(lifecycle.unacknowledged, vec![resolve]);
    assert!(lifecycle.flagged());

    // The owner acknowledges; the flag clears on every replica.
    township.store.take_step(id, Action::Acknowledge, StepDetails::default())?;
    township.sync(&server)?;
    county.sync(&server)?;
    for device in [&township, &county] {
        let lifecycle = device.store.lifecycle(id)?.expect("a dispute");
        assert!(!lifecycle.flagged());
        assert_eq!(lifecycle.step(resolve).map(|s| s.status), Some(StepStatus::Overridden));
    }
    assert_eq!(county.store.get(id)?, server.inspect()?.record(id)?);
    Ok(())
}

fn a_resolve_and_a_concurrent_escalation_merge_to_one_flagged_state_in_either_order(
    kind: Kind,
) -> anyhow::Result<()> {
    clash(kind, true)?;
    clash(kind, false)
}
