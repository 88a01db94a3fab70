//! Property tests of the merge rules in `RecordState`.
//!
//! Random scenarios of 2–4 devices editing one dispute record, each applying
//! its own edits at once and receiving others' changes in arbitrary subsets,
//! orders and with duplicates, check that:
//! delivery order and duplicates never matter; state merge is commutative,
//! associative, idempotent and agrees with applying changes; no edit is lost
//! unless a later edit replaced it; metadata stays one counter per device;
//! and an edit made after seeing every value resolves a conflict everywhere.

use std::collections::{BTreeMap, BTreeSet};

use gridsync_proto::{
    ActorId, Applied, Change, Dot, Hlc, HlcClock, Op, RecordId, RecordKind, RecordState, Value,
};
use proptest::prelude::*;
use proptest::sample::Index;

const RECORD: RecordId = RecordId::from_bytes([0x42; 16]);
const FIELDS: [&str; 3] = ["status", "risk", "place"];
const START_MS: u64 = 1_700_000_000_000;

/// A local edit, before it has a dot.
#[derive(Debug, Clone)]
enum Edit {
    Create,
    Set(usize, Value),
    Append(String),
}

impl Edit {
    /// The operation a device with `state` records for this edit.
    fn op(&self, state: &RecordState) -> Op {
        match self {
            Edit::Create => Op::Create,
            Edit::Set(field, value) => {
                let supersedes = state.live_dots(FIELDS[*field]);
                Op::Set { field: FIELDS[*field].into(), value: value.clone(), supersedes }
            }
            Edit::Append(text) => {
                let body = BTreeMap::from([("text".to_owned(), Value::from(text.as_str()))]);
                Op::Append { entry: "note".into(), body }
            }
        }
    }
}

/// One step: a replica edits its copy, or receives the changes at the
/// picked log positions (others' only, possibly repeated, in any order).
#[derive(Debug, Clone)]
enum Step {
    Edit(Index, Edit),
    Receive(Index, Vec<Index>),
}

#[derive(Debug, Clone)]
struct Scenario {
    replicas: usize,
    steps: Vec<Step>,
}

fn small_value() -> impl Strategy<Value = Value> {
    let text = prop::sample::select(vec!["found", "mediating", "已解决"]);
    prop_oneof![(0i64..3).prop_map(Value::Int), text.prop_map(Value::from), Just(Value::Null)]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        1 => Just(Edit::Create),
        6 => (0..FIELDS.len(), small_value()).prop_map(|(field, value)| Edit::Set(field, value)),
        2 => "[a-z一二三]{0,6}".prop_map(Edit::Append),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let receive = (any::<Index>(), prop::collection::vec(any::<Index>(), 0..6));
    let step = prop_oneof![
        (any::<Index>(), edit()).prop_map(|(replica, edit)| Step::Edit(replica, edit)),
        receive.prop_map(|(replica, picks)| Step::Receive(replica, picks)),
    ];
    (2usize..=4, prop::collection::vec(step, 0..40))
        .prop_map(|(replicas, steps)| Scenario { replicas, steps })
}

#[derive(Debug)]
struct Replica {
    actor: ActorId,
    state: RecordState,
    clock: HlcClock,
    /// Indices into the log of the changes this replica has applied.
    known: BTreeSet<usize>,
}

impl Replica {
    fn new(n: usize) -> Self {
        let actor = ActorId::from_bytes([u8::try_from(n + 1).expect("few replicas"); 16]);
        let state = RecordState::new(RECORD, RecordKind::Dispute);
        Self { actor, state, clock: HlcClock::default(), known: BTreeSet::new() }
    }

    /// Makes a change the way a device does and applies it at once.
    fn edit(&mut self, op: Op, now_ms: u64) -> Change {
        let dot = Dot { actor: self.actor, counter: self.state.next_counter(&self.actor) };
        let (record, kind, author) = (RECORD, RecordKind::Dispute, "worker".to_owned());
        let change = Change { record, kind, dot, author, time: self.clock.tick(now_ms), op };
        assert_eq!(change.validate(), Ok(()));
        assert_eq!(self.state.apply(&change), Ok(Applied::New));
        change
    }

    fn receive(&mut self, index: usize, change: &Change) {
        let before = self.state.clone();
        self.clock.observe(change.time);
        let applied = self.state.apply(change).expect("a remote change applies");
        if !self.known.insert(index) {
            assert_eq!(applied, Applied::Duplicate);
            assert_eq!(self.state, before, "a duplicate changed the state");
        }
    }
}

/// The replicas after the scenario, every change made, and every state any
/// replica went through with the log indices it had applied.
#[derive(Debug)]
struct Run {
    replicas: Vec<Replica>,
    log: Vec<Change>,
    snapshots: Vec<(RecordState, BTreeSet<usize>)>,
}

fn run(scenario: &Scenario) -> Run {
    let mut replicas: Vec<Replica> = (0..scenario.replicas).map(Replica::new).collect();
    let mut log: Vec<Change> = Vec::new();
    let mut snapshots: Vec<_> = replicas.iter().map(|r| (r.state.clone(), BTreeSet::new())).collect();
    for (n, step) in scenario.steps.iter().enumerate() {
        let (Step::Edit(replica, _) | Step::Receive(replica, _)) = step;
        let i = replica.index(replicas.len());
        let r = &mut replicas[i];
        match step {
            Step::Edit(_, edit) => {
                // Device clocks disagree: each runs a different amount behind.
                let now_ms = START_MS + 1_000 * n as u64 - 1_500 * i as u64;
                log.push(r.edit(edit.op(&r.state), now_ms));
                r.known.insert(log.len() - 1);
            }
            Step::Receive(_, picks) => {
                for k in picks.iter().filter(|_| !log.is_empty()).map(|p| p.index(log.len())) {
                    if log[k].dot.actor != r.actor {
                        r.receive(k, &log[k]);
                    }
                }
            }
        }
        snapshots.push((r.state.clone(), r.known.clone()));
    }
    Run { replicas, log, snapshots }
}

/// Delivers every change to every replica (odd replicas newest first).
fn deliver_all(run: &mut Run) {
    for (i, r) in run.replicas.iter_mut().enumerate() {
        let mut order: Vec<usize> = (0..run.log.len()).collect();
        if i % 2 == 1 {
            order.reverse();
        }
        for k in order {
            r.receive(k, &run.log[k]);
        }
    }
}

fn from_changes<'a>(changes: impl IntoIterator<Item = &'a Change>) -> RecordState {
    RecordState::from_changes(RECORD, RecordKind::Dispute, changes).expect("changes apply")
}

fn merged(a: &RecordState, b: &RecordState) -> RecordState {
    let mut out = a.clone();
    out.merge(b).expect("same record");
    out
}

/// A random permutation of `log` (Fisher–Yates driven by `keys`) with copies
/// of random changes inserted at random places.
fn shuffled(log: &[Change], keys: &[Index], dups: &[(Index, Index)]) -> Vec<Change> {
    let mut out = log.to_vec();
    for i in (1..out.len()).rev() {
        out.swap(i, keys[i % keys.len()].index(i + 1));
    }
    for (what, at) in dups.iter().take_while(|_| !log.is_empty()) {
        let copy = out[what.index(out.len())].clone();
        out.insert(at.index(out.len() + 1), copy);
    }
    out
}

fn superseded(log: &[Change]) -> BTreeSet<Dot> {
    log.iter()
        .filter_map(|c| match &c.op {
            Op::Set { supersedes, .. } => Some(supersedes.iter().copied()),
            _ => None,
        })
        .flatten()
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn delivery_order_and_duplicates_do_not_matter(
        scenario in scenario(),
        keys in prop::collection::vec(any::<Index>(), 1..64),
        dups in prop::collection::vec((any::<Index>(), any::<Index>()), 0..12),
    ) {
        let mut run = run(&scenario);
        let in_order = from_changes(&run.log);
        let mut backwards = run.log.clone();
        backwards.reverse();
        let shuffled = shuffled(&run.log, &keys, &dups);
        prop_assert_eq!(&from_changes(&shuffled), &in_order);
        prop_assert_eq!(&from_changes(&backwards), &in_order);
        deliver_all(&mut run);
        for r in &run.replicas {
            prop_assert_eq!(&r.state, &in_order);
        }
        // Stored and reloaded, the state is still the same.
        prop_assert_eq!(RecordState::from_bytes(&in_order.to_bytes()), Ok(in_order));
    }

    #[test]
    fn state_merge_is_a_join_that_agrees_with_apply(
        scenario in scenario(),
        picks in (any::<Index>(), any::<Index>(), any::<Index>()),
    ) {
        let run = run(&scenario);
        // Every state a replica passes through is a function of what it has seen.
        for (state, known) in &run.snapshots {
            prop_assert_eq!(state, &from_changes(known.iter().map(|&k| &run.log[k])));
        }
        let pick = |i: &Index| &run.snapshots[i.index(run.snapshots.len())];
        let ((a, ka), (b, kb), (c, _)) = (pick(&picks.0), pick(&picks.1), pick(&picks.2));
        prop_assert_eq!(merged(a, b), merged(b, a));
        prop_assert_eq!(merged(&merged(a, b), c), merged(a, &merged(b, c)));
        prop_assert_eq!(&merged(a, a), a);
        prop_assert_eq!(merged(a, b), from_changes(ka.union(kb).map(|&k| &run.log[k])));
        let mut all = RecordState::new(RECORD, RecordKind::Dispute);
        for (state, _) in run.snapshots.iter().rev() {
            all.merge(state).expect("same record");
        }
        prop_assert_eq!(all, from_changes(&run.log));
    }

    #[test]
    fn no_edit_is_silently_lost(scenario in scenario()) {
        let mut run = run(&scenario);
        deliver_all(&mut run);
        let state = &run.replicas[0].state;
        let replaced = superseded(&run.log);
        let mut live_sets = 0;
        for c in &run.log {
            match &c.op {
                Op::Set { field, value, .. } => {
                    let live = state.values(field).iter().any(|fv| {
                        fv.stamp.dot == c.dot && fv.value == *value && fv.stamp.time == c.time
                    });
                    prop_assert_eq!(live, !replaced.contains(&c.dot), "{:?} on {}", c.dot, field);
                    live_sets += usize::from(live);
                }
                Op::Append { entry, body } => {
                    let found = state.entries().into_iter().any(|e| {
                        e.stamp.dot == c.dot && e.entry == *entry && e.body == *body
                    });
                    prop_assert!(found, "entry {:?} missing", c.dot);
                }
                Op::Create => {}
            }
        }
        // And nothing is live that should not be.
        let live_values: usize = FIELDS.iter().map(|f| state.values(f).len()).sum();
        prop_assert_eq!(live_values, live_sets);
        let appends = run.log.iter().filter(|c| matches!(c.op, Op::Append { .. })).count();
        prop_assert_eq!(state.entries().len(), appends);
        let times: Vec<(Hlc, Dot)> = state.entries().iter().map(|e| (e.stamp.time, e.stamp.dot)).collect();
        prop_assert!(times.is_sorted());
        let first_create = run.log.iter().filter(|c| c.op == Op::Create).map(|c| (c.time, c.dot)).min();
        prop_assert_eq!(state.created().map(|s| (s.time, s.dot)), first_create);
    }

    #[test]
    fn metadata_is_one_counter_per_device(scenario in scenario()) {
        let mut run = run(&scenario);
        deliver_all(&mut run);
        let devices: BTreeSet<ActorId> = run.log.iter().map(|c| c.dot.actor).collect();
        for r in &run.replicas {
            let context = r.state.context();
            prop_assert!(context.size() <= run.replicas.len());
            prop_assert_eq!(context.size(), devices.len());
            for other in &run.replicas {
                let made = run.log.iter().filter(|c| c.dot.actor == other.actor).count() as u64;
                prop_assert_eq!(context.contiguous(&other.actor), made);
                prop_assert_eq!(r.state.next_counter(&other.actor), made + 1);
            }
        }
    }

    #[test]
    fn an_edit_that_saw_every_value_resolves_the_conflict(
        scenario in scenario(),
        resolver in any::<Index>(),
        field in 0..FIELDS.len(),
    ) {
        let mut run = run(&scenario);
        deliver_all(&mut run);
        let i = resolver.index(run.replicas.len());
        // Resolve the chosen field and every field in conflict.
        let mut fields: BTreeSet<String> =
            run.replicas[i].state.conflicts().map(|(f, _)| f.to_owned()).collect();
        fields.insert(FIELDS[field].to_owned());
        let resolution = |f: &str| Value::from(format!("resolved {f}"));
        let fixes: Vec<Change> = fields
            .iter()
            .map(|f| {
                let r = &mut run.replicas[i];
                let supersedes = r.state.live_dots(f);
                r.edit(Op::Set { field: f.clone(), value: resolution(f), supersedes }, START_MS)
            })
            .collect();
        let late = fixes.iter().chain(run.log.iter().rev());
        let everything_backwards = from_changes(late);
        for (n, r) in run.replicas.iter_mut().enumerate() {
            if n != i {
                for fix in &fixes {
                    r.state.apply(fix).expect("fix applies");
                }
            }
            prop_assert!(!r.state.has_conflicts(), "{:?}", r.state.conflicts().collect::<Vec<_>>());
            for f in &fields {
                let values = r.state.values(f);
                prop_assert_eq!(values.len(), 1);
                prop_assert_eq!(&values[0].value, &resolution(f));
            }
            prop_assert_eq!(&r.state, &everything_backwards);
        }
    }
}

/// The generator must produce real conflicts, or the properties above are weak.
#[test]
fn scenarios_include_concurrent_edits_of_one_field() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let conflicted = (0..200)
        .filter(|_| {
            let scenario = scenario().new_tree(&mut runner).expect("generate").current();
            let mut run = run(&scenario);
            deliver_all(&mut run);
            run.replicas[0].state.has_conflicts()
        })
        .count();
    assert!(conflicted >= 50, "only {conflicted} of 200 scenarios ended in a conflict");
}
