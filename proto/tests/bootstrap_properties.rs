//! Property tests of state-based bootstrap (ADR 0019): a device built from
//! the server's snapshot of a record and a device that replayed every change
//! hold identical records, at once and under further concurrent edits.
//!
//! Random scenarios: field devices edit one dispute concurrently (each sees
//! a random prefix of the log before it edits); the server's state is every
//! logged change applied. A replaying device applies the log; a
//! bootstrapping device takes the server's state through a real version 3
//! pull page (encoded and decoded), then applies its own unsent changes as
//! `client-core` does. Then every device (the two new ones too) goes on
//! editing concurrently, and once every change is delivered both new
//! devices hold exactly the record the whole log gives.

use std::collections::BTreeMap;

use gridsync_proto::wire::{self, Limits};
use gridsync_proto::{
    ActorId, Change, Dot, Hlc, Op, PullResponse, RecordId, RecordKind, RecordState, Snapshot, Value,
    receipt_runs,
};
use proptest::prelude::*;
use proptest::sample::Index;

const RECORD: RecordId = RecordId::from_bytes([0x42; 16]);
const FIELDS: [&str; 3] = ["status", "risk", "place"];
const FIELD_DEVICES: usize = 3;
/// The replaying device and the bootstrapping device.
const REPLAY: usize = FIELD_DEVICES;
const BOOT: usize = FIELD_DEVICES + 1;

#[derive(Debug, Clone)]
enum Edit {
    Create,
    Set(usize, i64),
    Append(String),
}

/// One step: device `who` first receives the log up to a random point
/// (or nothing), then makes `edit`.
#[derive(Debug, Clone)]
struct Step {
    who: Index,
    sees: Option<Index>,
    edit: Edit,
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        1 => Just(Edit::Create),
        6 => (0..FIELDS.len(), 0i64..4).prop_map(|(f, v)| Edit::Set(f, v)),
        2 => "[a-z一二]{0,4}".prop_map(Edit::Append),
    ]
}

fn steps(max: usize) -> impl Strategy<Value = Vec<Step>> {
    let step = (any::<Index>(), prop::option::of(any::<Index>()), edit())
        .prop_map(|(who, sees, edit)| Step { who, sees, edit });
    prop::collection::vec(step, 0..max)
}

struct Device {
    actor: ActorId,
    state: RecordState,
    /// How many log entries it has received (a prefix; its own are applied at once).
    seen: usize,
    millis: u64,
}

impl Device {
    fn new(n: usize) -> Self {
        let actor = ActorId::from_bytes([u8::try_from(n + 1).expect("few devices"); 16]);
        Self { actor, state: RecordState::new(RECORD, RecordKind::Dispute), seen: 0, millis: 0 }
    }

    fn catch_up(&mut self, log: &[Change], upto: usize) {
        for change in log.iter().take(upto).skip(self.seen) {
            self.state.apply(change).expect("a logged change applies");
        }
        self.seen = self.seen.max(upto);
    }

    fn edit(&mut self, edit: &Edit) -> Change {
        let op = match edit {
            Edit::Create => Op::Create,
            Edit::Set(f, v) => Op::Set {
                field: FIELDS[*f].into(),
                value: Value::Int(*v),
                supersedes: self.state.live_dots(FIELDS[*f]),
            },
            Edit::Append(text) => Op::Append {
                entry: "note".into(),
                body: BTreeMap::from([("text".to_owned(), Value::from(text.as_str()))]),
            },
        };
        self.millis += 1;
        let change = Change {
            record: RECORD,
            kind: RecordKind::Dispute,
            dot: Dot { actor: self.actor, counter: self.state.next_counter(&self.actor) },
            author: "worker".into(),
            time: Hlc::from_millis(1_700_000_000_000 + self.millis),
            op,
        };
        self.state.apply(&change).expect("an own change applies");
        change
    }
}

/// Runs `steps` over `devices`, appending each edit to `log`.
fn play(devices: &mut [Device], who_may: usize, steps: &[Step], log: &mut Vec<Change>) {
    for step in steps {
        let d = &mut devices[step.who.index(who_may)];
        if let Some(upto) = step.sees {
            let upto = upto.index(log.len() + 1);
            d.catch_up(log, upto);
        }
        let change = d.edit(&step.edit);
        log.push(change);
    }
}

/// The server's state sent in a pull page, as a handset decodes it.
fn through_the_wire(server: &RecordState, log: &[Change]) -> Snapshot {
    let mut dots: Vec<(Dot, u64, bool)> = log.iter().map(|c| (c.dot, 1_700_000_500_000, false)).collect();
    dots.sort_by_key(|(d, ..)| *d);
    let page = PullResponse {
        reset: false,
        removed: vec![],
        rebuild: vec![],
        snapshots: vec![Snapshot { state: server.clone(), receipts: receipt_runs(dots) }],
        changes: vec![],
        withheld: 0,
        profile: None,
        cursor: 1,
        more: false,
        epoch: 1,
    };
    let bytes = wire::encode(&page);
    let mut back: PullResponse = wire::decode(&bytes, &Limits::DEFAULT).expect("a page decodes");
    back.snapshots.pop().expect("one snapshot")
}

fn replayed<'a>(changes: impl IntoIterator<Item = &'a Change>) -> RecordState {
    RecordState::from_changes(RECORD, RecordKind::Dispute, changes).expect("changes apply")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn snapshot_and_replay_converge(
        before in steps(30),
        unsent in prop::collection::vec(edit(), 0..3),
        after in steps(30),
    ) {
        let mut devices: Vec<Device> = (0..=BOOT).map(Device::new).collect();
        let mut log = Vec::new();
        play(&mut devices, FIELD_DEVICES, &before, &mut log);
        let server = replayed(&log);

        // The bootstrapping device wrote while offline, on an empty copy: unsent.
        let pending: Vec<Change> = unsent.iter().map(|e| devices[BOOT].edit(e)).collect();
        let snapshot = through_the_wire(&server, &log);
        prop_assert_eq!(&snapshot.state, &server, "the snapshot is the server's state");
        for change in &log {
            // Every change's receipt travels with the state.
            prop_assert!(snapshot.receipt(&change.dot).is_some());
        }
        let mut boot = snapshot.state;
        for change in &pending {
            boot.apply(change).expect("an unsent change merges");
        }
        let replay = replayed(log.iter().chain(&pending));
        prop_assert_eq!(&boot, &replay, "snapshot plus unsent changes = every change replayed");

        devices[BOOT].state = boot;
        devices[BOOT].seen = log.len();
        devices[REPLAY].catch_up(&log, log.len());
        log.extend(pending);

        // Everyone edits on, concurrently, the two new devices too.
        play(&mut devices, BOOT + 1, &after, &mut log);
        for d in [REPLAY, BOOT] {
            let device = &mut devices[d];
            for change in &log {
                device.state.apply(change).expect("a change applies");
            }
        }
        let everything = replayed(&log);
        prop_assert_eq!(&devices[REPLAY].state, &everything);
        prop_assert_eq!(&devices[BOOT].state, &everything);
    }
}
