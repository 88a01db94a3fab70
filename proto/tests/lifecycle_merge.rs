//! The dispute lifecycle as records merge: a full dispute from a village to
//! a county department and its closure (with the access keys it is filed
//! under), the clash of two offline steps and its acknowledgement, steps
//! waiting for a missing parent, how `check_group` judges steps against what
//! their author saw, and a property test that every replica folds the same
//! steps, however they arrive, to the same lifecycle.

mod support;

use std::collections::BTreeSet;

use gridsync_proto::access::access;
use gridsync_proto::dispute::{LifeState, StepBy, StepStatus};
use gridsync_proto::{
    Action, ActorId, Change, Dot, ErrorCode, Hlc, Lifecycle, Op, RecordKind, RecordState, Role, Stage, Step,
    Value,
};
use proptest::prelude::*;
use proptest::sample::Index;
use support::*;

// ---------------------------------------------------------------------------
// (c) A dispute from the village to a county department, and its closure.

#[test]
fn a_dispute_goes_from_the_village_to_a_county_department_and_is_closed() {
    let mut d = registered();
    let at_stage = |d: &RecordState| lifecycle(d).state;
    assert_eq!(at_stage(&d), LifeState::registered(VILLAGE));
    assert_eq!(keys(&d), BTreeSet::from([place_key(VILLAGE)]));
    assert!(access(&d).open);

    let mut taken = vec![Action::Accept, Action::Mediate];
    take(&mut d, &cadre(), Action::Accept, |_| {});
    take(&mut d, &cadre(), Action::Mediate, |s| s.note = Some("村调委会组织双方调解".into()));
    let session = change(
        &d,
        device("cun-ganbu"),
        "cun-ganbu",
        T0 + 600_000,
        Op::Append {
            entry: "mediation".into(),
            body: [
                ("time_ms".to_owned(), Value::Int(1_780_000_600_000)),
                ("outcome".to_owned(), "failed".into()),
            ]
            .into_iter()
            .collect(),
        },
    );
    submit(&mut d, &[session], &cadre()).expect("the village records a failed session");
    assert_eq!(at_stage(&d).stage, Stage::Mediating);

    // The village cannot settle it: up to the township.
    take(&mut d, &cadre(), Action::Escalate, |s| s.to = Some(TOWNSHIP.into()));
    taken.push(Action::Escalate);
    let s = at_stage(&d);
    assert_eq!((s.stage, s.owner.as_str()), (Stage::Accepted, TOWNSHIP));
    assert_eq!(keys(&d), BTreeSet::from([place_key(TOWNSHIP)]), "the village key is gone");
    assert_eq!(code(attempt(&d, &cadre(), Action::Mediate, |_| {})), Some(ErrorCode::Forbidden));

    // Nor the township: up to the county.
    take(&mut d, &township(), Action::Mediate, |_| {});
    take(&mut d, &township(), Action::Escalate, |s| s.to = Some(COUNTY.into()));
    taken.extend([Action::Mediate, Action::Escalate]);
    let s = at_stage(&d);
    assert_eq!((s.stage, s.owner.as_str()), (Stage::Accepted, COUNTY));
    assert_eq!(keys(&d), BTreeSet::from([place_key(COUNTY)]));
    assert_eq!(
        code(attempt(&d, &township(), Action::Transfer, |s| s.unit = Some(JUSTICE.into()))),
        Some(ErrorCode::Forbidden)
    );

    // The county centre transfers it to the justice bureau.
    take(&mut d, &county(), Action::Transfer, |s| {
        s.unit = Some(JUSTICE.into());
        s.letter_number = Some("崆综转〔2026〕31号".into());
    });
    let s = at_stage(&d);
    assert_eq!((s.stage, s.handler.as_deref()), (Stage::Transferred, Some(JUSTICE)));
    assert_eq!(keys(&d), BTreeSet::from([place_key(COUNTY), unit_key(JUSTICE)]));
    assert_eq!(code(attempt(&d, &police(), Action::AcceptTransfer, |_| {})), Some(ErrorCode::Forbidden));

    take(&mut d, &justice(), Action::AcceptTransfer, |s| s.receipt = Some("司法局签收".into()));
    take(&mut d, &justice(), Action::RequestClosure, |s| s.note = Some("已出具调解书".into()));
    assert_eq!(at_stage(&d).stage, Stage::ClosureRequested);
    assert_eq!(code(attempt(&d, &justice(), Action::ConfirmClosure, |_| {})), Some(ErrorCode::Forbidden));

    // The centre asks for more, the department answers, the centre closes.
    take(&mut d, &county(), Action::Return, |s| s.note = Some("请补充回访记录".into()));
    let s = at_stage(&d);
    assert_eq!((s.stage, s.handler.as_deref()), (Stage::Handling, Some(JUSTICE)));
    take(&mut d, &justice(), Action::RequestClosure, |s| s.note = Some("已补充回访记录".into()));
    take(&mut d, &county(), Action::ConfirmClosure, |_| {});
    taken.extend([
        Action::Transfer,
        Action::AcceptTransfer,
        Action::RequestClosure,
        Action::Return,
        Action::RequestClosure,
        Action::ConfirmClosure,
    ]);

    let l = lifecycle(&d);
    assert_eq!(l.state.stage, Stage::Closed);
    assert!(l.state.stage.is_resolved());
    assert_eq!((l.state.owner.as_str(), l.state.handler.as_deref()), (COUNTY, Some(JUSTICE)));
    assert!(!access(&d).open, "a closed dispute may leave the devices");
    assert_eq!(keys(&d), BTreeSet::from([place_key(COUNTY), unit_key(JUSTICE)]));
    assert_eq!(
        l.steps.iter().map(|s| s.step.action).collect::<Vec<_>>(),
        taken,
        "every step is kept in order"
    );
    assert!(l.steps.iter().all(|s| s.status == StepStatus::Applied));
    assert!(!l.flagged());
    // Nothing moves a closed dispute.
    assert_eq!(code(attempt(&d, &county(), Action::Close, |_| {})), Some(ErrorCode::InvalidTransition));
    let remind = attempt(&d, &justice(), Action::Remind, |s| s.unit = Some(JUSTICE.into()));
    assert_eq!(code(remind), Some(ErrorCode::InvalidTransition));
}

// ---------------------------------------------------------------------------
// (d) Clashes.

/// Every order of `changes` applied to `base`.
fn permutations(changes: &[Change]) -> Vec<Vec<Change>> {
    if changes.len() <= 1 {
        return vec![changes.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..changes.len() {
        let mut rest = changes.to_vec();
        let first = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first.clone());
            out.push(tail);
        }
    }
    out
}

fn applied(base: &RecordState, changes: &[Change]) -> RecordState {
    let mut state = base.clone();
    for c in changes {
        state.apply(c).expect("the change merges");
    }
    state
}

#[test]
fn the_township_escalation_wins_over_a_concurrent_village_resolve_in_any_order() {
    let mut base = registered();
    let accepted = take(&mut base, &cadre(), Action::Accept, |_| {});
    // Offline, the village settles it (earlier by the clock) while the
    // township, not having heard, takes it over.
    let resolve = step_change(&base, &cadre(), Action::Resolve, Some(accepted), 10, |s| {
        s.note = Some("双方达成口头协议".into());
    });
    let escalate = step_change(&base, &township(), Action::Escalate, Some(accepted), 20, |s| {
        s.to = Some(TOWNSHIP.into());
    });

    let one = applied(&base, &[resolve.clone(), escalate.clone()]);
    let two = applied(&base, &[escalate.clone(), resolve.clone()]);
    assert_eq!(one, two);
    let l = lifecycle(&one);
    assert_eq!(l, lifecycle(&two));
    assert_eq!((l.state.stage, l.state.owner.as_str()), (Stage::Accepted, TOWNSHIP));
    assert_eq!(l.step(escalate.dot).map(|s| s.status), Some(StepStatus::Applied));
    assert_eq!(l.step(resolve.dot).map(|s| s.status), Some(StepStatus::Overridden), "kept, not lost");
    assert_eq!(l.steps.iter().map(|s| s.dot).collect::<Vec<_>>(), [accepted, escalate.dot, resolve.dot]);
    assert_eq!(l.head, Some(escalate.dot));
    assert!(l.flagged());
    assert_eq!(l.unacknowledged, [resolve.dot]);
    assert_eq!(keys(&one), BTreeSet::from([place_key(TOWNSHIP)]));

    // The server accepts both in either order: the resolve was valid where
    // its author stood ("neither is lost").
    for (order, authors) in
        [([&resolve, &escalate], [cadre(), township()]), ([&escalate, &resolve], [township(), cadre()])]
    {
        let mut server = base.clone();
        for (c, who) in order.into_iter().zip(&authors) {
            submit(&mut server, std::slice::from_ref(c), who)
                .unwrap_or_else(|e| panic!("{} from {}: {e}", c.dot, who.user));
        }
        assert_eq!(server, one);
    }

    // The village no longer owns it and cannot acknowledge; the township does.
    let by_village = step_change(&one, &cadre(), Action::Acknowledge, l.head, 30, |s| {
        s.acknowledges = vec![resolve.dot];
    });
    let result = submit(&mut one.clone(), &[by_village], &cadre());
    assert_eq!(code(result), Some(ErrorCode::Forbidden));
    let ack = step_change(&one, &township(), Action::Acknowledge, l.head, 30, |s| {
        s.acknowledges = vec![resolve.dot];
        s.note = Some("已知悉村里调解情况，由镇里统一处理".into());
    });
    let mut server = one.clone();
    submit(&mut server, std::slice::from_ref(&ack), &township()).expect("the owner acknowledges");
    let acked = lifecycle(&server);
    assert!(!acked.flagged());
    assert!(acked.unacknowledged.is_empty());
    assert_eq!(acked.step(ack.dot).map(|s| s.status), Some(StepStatus::Applied));
    assert_eq!(
        acked.step(resolve.dot).map(|s| s.status),
        Some(StepStatus::Overridden),
        "still in the history"
    );
    assert_eq!(acked.state.stage, Stage::Accepted);

    // Whatever order the three arrive in, every replica agrees.
    for order in permutations(&[resolve, escalate, ack]) {
        let replica = applied(&base, &order);
        assert_eq!(replica, server);
        assert_eq!(lifecycle(&replica), acked);
    }
}

#[test]
fn a_step_whose_parent_has_not_arrived_waits() {
    let mut base = registered();
    let accepted = take(&mut base, &cadre(), Action::Accept, |_| {});
    // The township mediates from a device whose change has not arrived yet.
    let township_device = ActorId::from_bytes([0x99; 16]);
    let mut mediate = step_change(&base, &township(), Action::Mediate, Some(accepted), 5, |_| {});
    mediate.dot = Dot { actor: township_device, counter: 1 };
    let resolve = step_change(&base, &township(), Action::Resolve, Some(mediate.dot), 6, |s| {
        s.note = Some("镇调委会调解成功".into());
    });
    let follow_up = step_change(
        &applied(&base, std::slice::from_ref(&resolve)),
        &township(),
        Action::FollowUp,
        Some(resolve.dot),
        7,
        |_| {},
    );

    let early = applied(&base, &[follow_up.clone(), resolve.clone()]);
    let l = lifecycle(&early);
    assert_eq!(l.state.stage, Stage::Accepted, "waiting steps change nothing");
    assert_eq!(l.head, Some(accepted));
    assert!(!l.flagged());
    assert_eq!(l.steps[0].dot, accepted);
    for dot in [resolve.dot, follow_up.dot] {
        let s = l.step(dot).expect("kept");
        assert_eq!((s.status, s.before.as_ref()), (StepStatus::Waiting, None));
    }
    // The server refuses a step that follows one it has not received.
    let mut server = base.clone();
    let result = submit(&mut server, std::slice::from_ref(&resolve), &township());
    assert_eq!(code_field(result), Some((ErrorCode::InvalidTransition, Some("step".into()))));

    // When the parent arrives, the waiting steps apply in order.
    let complete = applied(&early, &[mediate.clone()]);
    let l = lifecycle(&complete);
    assert_eq!(l.state.stage, Stage::FollowedUp);
    assert_eq!(
        l.steps.iter().map(|s| s.dot).collect::<Vec<_>>(),
        [accepted, mediate.dot, resolve.dot, follow_up.dot]
    );
    assert!(l.steps.iter().all(|s| s.status == StepStatus::Applied));
    assert_eq!(applied(&base, &[mediate, resolve, follow_up]), complete);
}

#[test]
fn stale_steps_are_judged_where_their_author_stood() {
    let mut base = registered();
    let accepted = take(&mut base, &cadre(), Action::Accept, |_| {});
    let mut server = base.clone();
    take(&mut server, &township(), Action::Escalate, |s| s.to = Some(TOWNSHIP.into()));
    // Valid where its author stood: accepted, overridden, flagged.
    let resolve = step_change(&base, &cadre(), Action::Resolve, Some(accepted), 9, |s| {
        s.note = Some("已调解".into());
    });
    let mut accepting = server.clone();
    submit(&mut accepting, std::slice::from_ref(&resolve), &cadre()).expect("valid where it was made");
    assert_eq!(lifecycle(&accepting).step(resolve.dot).map(|s| s.status), Some(StepStatus::Overridden));
    // Not valid even where its author stood: refused.
    let by_grid = step_change(&base, &grid_worker(), Action::Resolve, Some(accepted), 9, |s| {
        s.note = Some("网格员自行化解".into());
    });
    assert_eq!(code(submit(&mut server.clone(), &[by_grid], &grid_worker())), Some(ErrorCode::Forbidden));
    let without_note = step_change(&base, &cadre(), Action::Resolve, Some(accepted), 9, |_| {});
    let result = submit(&mut server.clone(), &[without_note], &cadre());
    assert_eq!(code_field(result), Some((ErrorCode::MissingField, Some("note".into()))));
    let too_early = step_change(&base, &cadre(), Action::FollowUp, Some(accepted), 9, |_| {});
    assert_eq!(code(submit(&mut server.clone(), &[too_early], &cadre())), Some(ErrorCode::InvalidTransition));
}

#[test]
fn an_assistance_letter_concurrent_with_an_escalation_is_accepted_in_either_order() {
    let mut base = registered();
    let accepted = take(&mut base, &cadre(), Action::Accept, |_| {});
    let assist = step_change(&base, &cadre(), Action::Assist, Some(accepted), 10, |s| {
        s.unit = Some(JUSTICE.into());
        s.letter_number = Some("崆村协〔2026〕2号".into());
    });
    let escalate = step_change(&base, &township(), Action::Escalate, Some(accepted), 20, |s| {
        s.to = Some(TOWNSHIP.into());
    });
    let mut finals = Vec::new();
    for (order, authors) in
        [([&assist, &escalate], [cadre(), township()]), ([&escalate, &assist], [township(), cadre()])]
    {
        let mut server = base.clone();
        for (c, who) in order.into_iter().zip(&authors) {
            submit(&mut server, std::slice::from_ref(c), who)
                .unwrap_or_else(|e| panic!("{} by {} arriving in this order: {e}", c.dot, who.user));
        }
        finals.push(server);
    }
    assert_eq!(finals[0], finals[1]);
    let l = lifecycle(&finals[0]);
    assert_eq!(l.state.owner, TOWNSHIP);
    assert!(l.state.cooperating.contains(JUSTICE), "annotations never clash");
    assert!(!l.flagged());
}

#[test]
fn an_annotation_after_an_overridden_step_does_not_strand_the_dispute() {
    let mut base = registered();
    let accepted = take(&mut base, &cadre(), Action::Accept, |_| {});
    // Offline, the village resolves it and asks the justice bureau to help
    // draw up the agreement; meanwhile the township takes it over.
    let resolve = step_change(&base, &cadre(), Action::Resolve, Some(accepted), 10, |s| {
        s.note = Some("双方同意".into());
    });
    let assist = step_change(
        &applied(&base, std::slice::from_ref(&resolve)),
        &cadre(),
        Action::Assist,
        Some(resolve.dot),
        11,
        |s| {
            s.unit = Some(JUSTICE.into());
        },
    );
    let escalate = step_change(&base, &township(), Action::Escalate, Some(accepted), 20, |s| {
        s.to = Some(TOWNSHIP.into());
    });
    let mut server = base.clone();
    submit(&mut server, std::slice::from_ref(&escalate), &township()).expect("the escalation");
    submit(&mut server, std::slice::from_ref(&resolve), &cadre())
        .expect("the resolve, valid where it was made");
    submit(&mut server, std::slice::from_ref(&assist), &cadre())
        .expect("the assistance letter, valid where it was made");
    let l = lifecycle(&server);
    assert_eq!(l.step(resolve.dot).map(|s| s.status), Some(StepStatus::Overridden));
    assert_eq!(l.step(assist.dot).map(|s| s.status), Some(StepStatus::Applied));
    assert!(l.state.cooperating.contains(JUSTICE));
    assert_eq!((l.state.stage, l.state.owner.as_str()), (Stage::Accepted, TOWNSHIP));
    // The township, having seen everything, carries on from the head.
    take(&mut server, &township(), Action::Transfer, |s| s.unit = Some(POLICE.into()));
    let l = lifecycle(&server);
    assert_eq!((l.state.stage, l.state.handler.as_deref()), (Stage::Transferred, Some(POLICE)));
    take(&mut server, &police(), Action::AcceptTransfer, |_| {});
}

// ---------------------------------------------------------------------------
// (e) Every replica folds the same steps to the same lifecycle.

const PLACES: [&str; 5] = [GRID, VILLAGE, TOWNSHIP, COUNTY, CITY];
const UNITS: [&str; 3] = [POLICE, JUSTICE, HOUSING];
const REGISTRAR: ActorId = ActorId::from_bytes([0x01; 16]);
const MISSING: Dot = Dot { actor: ActorId::from_bytes([0xee; 16]), counter: 1 };

#[derive(Debug, Clone)]
enum Parent {
    Root,
    Earlier(Index),
    Missing,
}

/// One generated step, before it has a dot.
#[derive(Debug, Clone)]
struct Gen {
    device: u8,
    parent: Parent,
    rank: u8,
    action: Action,
    second: u64,
    to: usize,
    unit: usize,
    acks: Vec<Index>,
}

fn gen_step() -> impl Strategy<Value = Gen> {
    let parent = prop_oneof![
        2 => Just(Parent::Root),
        12 => any::<Index>().prop_map(Parent::Earlier),
        1 => Just(Parent::Missing),
    ];
    (
        0..4u8,
        parent,
        1..=6u8,
        prop::sample::select(Action::ALL.to_vec()),
        0..20u64,
        0..PLACES.len(),
        0..UNITS.len(),
        prop::collection::vec(any::<Index>(), 0..3),
    )
        .prop_map(|(device, parent, rank, action, second, to, unit, acks)| Gen {
            device,
            parent,
            rank,
            action,
            second,
            to,
            unit,
            acks,
        })
}

/// The registration and the steps, in the order they were made, and for
/// each step the index of its parent (`Err(())` when it never arrives).
fn materialize(gens: &[Gen]) -> (Vec<Change>, Vec<Option<Result<usize, ()>>>) {
    let mut changes = Vec::new();
    let mut registrar = RecordState::new(DISPUTE, RecordKind::Dispute);
    for op in
        [Op::Create, Op::Set { field: "registered_at".into(), value: VILLAGE.into(), supersedes: vec![] }]
    {
        let c = change(&registrar, REGISTRAR, "registrar", T0, op);
        registrar.apply(&c).expect("merge");
        changes.push(c);
    }
    let mut counters = [0u64; 4];
    let mut dots: Vec<Dot> = Vec::new();
    let mut parents = Vec::new();
    for (i, g) in gens.iter().enumerate() {
        let parent = match &g.parent {
            Parent::Root => None,
            Parent::Earlier(_) if i == 0 => None,
            Parent::Earlier(ix) => Some(Ok(ix.index(i))),
            Parent::Missing => Some(Err(())),
        };
        let parent_dot = parent.map(|p| p.map_or(MISSING, |j| dots[j]));
        let by =
            StepBy { role: Role::TownshipAdmin, place: Some(PLACES[g.to].into()), unit: None, rank: g.rank };
        let mut step = Step::new(g.action, parent_dot, by);
        step.to = Some(PLACES[g.to].into());
        step.unit = Some(UNITS[g.unit].into());
        step.note = Some(format!("第{i}步"));
        if i > 0 {
            step.acknowledges = g.acks.iter().map(|ix| dots[ix.index(i)]).collect();
        }
        let d = usize::from(g.device);
        counters[d] += 1;
        let dot = Dot { actor: ActorId::from_bytes([0x10 + g.device; 16]), counter: counters[d] };
        changes.push(Change {
            record: DISPUTE,
            kind: RecordKind::Dispute,
            dot,
            author: format!("u{}", g.device),
            time: Hlc::from_millis(T0 + g.second * 1000),
            op: Op::Append { entry: "step".into(), body: step.to_body() },
        });
        dots.push(dot);
        parents.push(parent);
    }
    (changes, parents)
}

/// A step scenario and, for each of three replicas, a delivery order of
/// every change with some duplicates.
fn scenario() -> impl Strategy<Value = (Vec<Gen>, Vec<Vec<usize>>, Vec<bool>)> {
    prop::collection::vec(gen_step(), 1..16).prop_flat_map(|gens| {
        let total = gens.len() + 2;
        let order = prop::collection::vec(0..total, 0..8).prop_flat_map(move |dups| {
            let mut all: Vec<usize> = (0..total).collect();
            all.extend(dups);
            Just(all).prop_shuffle()
        });
        let subset = prop::collection::vec(any::<bool>(), gens.len());
        (Just(gens), prop::collection::vec(order, 3), subset)
    })
}

/// Stage, owner, handler, cooperating, steps with their statuses, unacknowledged.
type Summary = (Stage, String, Option<String>, BTreeSet<String>, Vec<(Dot, StepStatus)>, Vec<Dot>);

fn summary(l: &Lifecycle) -> Summary {
    (
        l.state.stage,
        l.state.owner.clone(),
        l.state.handler.clone(),
        l.state.cooperating.clone(),
        l.steps.iter().map(|s| (s.dot, s.status)).collect(),
        l.unacknowledged.clone(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_replica_folds_the_same_lifecycle((gens, orders, _) in scenario()) {
        let (changes, _) = materialize(&gens);
        let reference = lifecycle(&RecordState::from_changes(DISPUTE, RecordKind::Dispute, &changes).expect("merge"));
        for order in &orders {
            let replica = RecordState::from_changes(DISPUTE, RecordKind::Dispute, order.iter().map(|&i| &changes[i]))
                .expect("merge");
            let l = lifecycle(&replica);
            prop_assert_eq!(summary(&l), summary(&reference));
            prop_assert_eq!(&l, &reference);
        }
        prop_assert_eq!(reference.steps.len(), gens.len(), "no step is lost");
        let mut dots: Vec<Dot> = reference.steps.iter().map(|s| s.dot).collect();
        dots.sort();
        dots.dedup();
        prop_assert_eq!(dots.len(), gens.len(), "each step once");
        // Flagged steps are exactly the overridden ones nobody acknowledged.
        let acknowledged: BTreeSet<Dot> = reference
            .steps
            .iter()
            .filter(|s| s.status == StepStatus::Applied && s.step.action == Action::Acknowledge)
            .flat_map(|s| s.step.acknowledges.iter().copied())
            .collect();
        let flagged: Vec<Dot> = reference
            .steps
            .iter()
            .filter(|s| s.status == StepStatus::Overridden && !acknowledged.contains(&s.dot))
            .map(|s| s.dot)
            .collect();
        prop_assert_eq!(&reference.unacknowledged, &flagged);
    }

    #[test]
    fn a_step_waits_exactly_while_an_ancestor_is_missing((gens, _, delivered) in scenario()) {
        let (changes, parents) = materialize(&gens);
        let mut waits: Vec<bool> = Vec::with_capacity(gens.len());
        for parent in &parents {
            let w = match parent {
                None => false,
                Some(Err(())) => true,
                Some(Ok(j)) => !delivered[*j] || waits[*j],
            };
            waits.push(w);
        }
        let subset = changes[..2].iter().chain(changes[2..].iter().zip(&delivered).filter(|(_, d)| **d).map(|(c, _)| c));
        let l = lifecycle(&RecordState::from_changes(DISPUTE, RecordKind::Dispute, subset).expect("merge"));
        for (i, c) in changes[2..].iter().enumerate() {
            let status = l.step(c.dot).map(|s| s.status);
            match (delivered[i], waits[i]) {
                (false, _) => prop_assert_eq!(status, None, "step {} was not delivered", i),
                (true, true) => prop_assert_eq!(status, Some(StepStatus::Waiting), "step {} waits", i),
                (true, false) => prop_assert!(
                    matches!(status, Some(StepStatus::Applied | StepStatus::Overridden)),
                    "step {} has all its ancestors: {:?}", i, status
                ),
            }
        }
        // Waiting steps come last, by dot.
        let first_waiting = l.steps.iter().position(|s| s.status == StepStatus::Waiting).unwrap_or(l.steps.len());
        prop_assert!(l.steps[first_waiting..].iter().all(|s| s.status == StepStatus::Waiting));
        prop_assert!(l.steps[first_waiting..].windows(2).all(|w| w[0].dot < w[1].dot));
    }

    #[test]
    fn a_step_following_the_head_of_a_complete_replica_applies((gens, _, _) in scenario()) {
        let (mut changes, _) = materialize(&gens);
        let state = RecordState::from_changes(DISPUTE, RecordKind::Dispute, &changes).expect("merge");
        let before = lifecycle(&state);
        prop_assume!(before.state.stage.is_open());
        // The lowest rank and the latest time: nothing can outrank it.
        let by = StepBy { role: Role::Worker, place: Some(GRID.into()), unit: None, rank: 1 };
        let elsewhere = if before.state.owner == CITY { COUNTY } else { CITY };
        let next = Action::ALL
            .into_iter()
            .filter(|a| a.changes_stage())
            .map(|a| {
                let mut s = Step::new(a, before.head, by.clone());
                s.to = Some(elsewhere.into());
                s.unit = Some(POLICE.into());
                s.note = Some("继续办理".into());
                s
            })
            .find(|s| before.state.after(s).is_ok())
            .expect("an open dispute has a next stage");
        let want = before.state.after(&next).expect("allowed");
        let dot = Dot { actor: ActorId::from_bytes([0xab; 16]), counter: 1 };
        changes.push(Change {
            record: DISPUTE,
            kind: RecordKind::Dispute,
            dot,
            author: "next".into(),
            time: Hlc::from_millis(T0 + 1_000_000),
            op: Op::Append { entry: "step".into(), body: next.to_body() },
        });
        let after = lifecycle(&RecordState::from_changes(DISPUTE, RecordKind::Dispute, &changes).expect("merge"));
        prop_assert_eq!(after.step(dot).map(|s| s.status), Some(StepStatus::Applied), "{:?} from {:?}", next.action, before.head);
        prop_assert_eq!((after.state.stage, &after.state.owner, &after.state.handler), (want.stage, &want.owner, &want.handler));
        prop_assert_eq!(after.head, Some(dot));
        // Adding a step after the head changes nothing that came before.
        let old: Vec<(Dot, StepStatus)> = before.steps.iter().map(|s| (s.dot, s.status)).collect();
        let kept: Vec<(Dot, StepStatus)> = after.steps.iter().filter(|s| s.dot != dot).map(|s| (s.dot, s.status)).collect();
        prop_assert_eq!(kept, old);
    }
}
