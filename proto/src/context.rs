//! The causal context of a record: every change (dot) it has seen.
//!
//! A [`crdts::VClock`] holds the gap-free prefix of each actor's changes; a
//! small "cloud" set holds dots that arrived ahead of a gap. When the gap
//! fills, the cloud folds into the clock, so in the steady state a record's
//! metadata is one counter per device that touched it.

use std::collections::BTreeSet;

use crdts::{CmRDT, VClock};
use serde::{Deserialize, Serialize};

use crate::change::Dot;
use crate::ids::ActorId;

/// The set of dots a replica has seen for one record, kept compact.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CausalContext {
    clock: VClock<ActorId>,
    cloud: BTreeSet<Dot>,
}

impl CausalContext {
    /// Whether `dot` has been seen.
    pub fn contains(&self, dot: &Dot) -> bool {
        dot.counter <= self.clock.get(&dot.actor) || self.cloud.contains(dot)
    }

    /// Records `dot` as seen.
    pub fn insert(&mut self, dot: Dot) {
        let have = self.clock.get(&dot.actor);
        if dot.counter <= have {
            return;
        }
        if Some(dot.counter) == have.checked_add(1) {
            self.clock.apply(crdts::Dot::new(dot.actor, dot.counter));
            self.absorb(dot.actor);
        } else {
            self.cloud.insert(dot);
        }
    }

    /// Adds everything `other` has seen.
    pub fn merge(&mut self, other: &CausalContext) {
        for (actor, counter) in &other.clock.dots {
            if *counter > self.clock.get(actor) {
                self.clock.apply(crdts::Dot::new(*actor, *counter));
            }
        }
        self.cloud.extend(other.cloud.iter().copied());
        let actors: BTreeSet<ActorId> = self.cloud.iter().map(|d| d.actor).collect();
        for actor in actors {
            self.absorb(actor);
        }
    }

    /// The highest counter seen from `actor` with no gap before it.
    pub fn contiguous(&self, actor: &ActorId) -> u64 {
        self.clock.get(actor)
    }

    /// The highest counter seen from `actor`, gaps or not.
    pub fn max_counter(&self, actor: &ActorId) -> u64 {
        let in_cloud =
            self.cloud.range(Dot { actor: *actor, counter: 0 }..).take_while(|d| d.actor == *actor);
        in_cloud.map(|d| d.counter).max().unwrap_or(0).max(self.clock.get(actor))
    }

    /// Number of actors in the compact clock plus dots waiting in the cloud:
    /// the size of this record's metadata.
    pub fn size(&self) -> usize {
        self.clock.dots.len() + self.cloud.len()
    }

    /// Every device with a dot in the context, in id order, each once.
    pub(crate) fn actors(&self) -> impl Iterator<Item = ActorId> + '_ {
        let mut actors: Vec<ActorId> = self.clock.dots.keys().copied().collect();
        actors.extend(self.cloud.iter().map(|d| d.actor));
        actors.sort_unstable();
        actors.dedup();
        actors.into_iter()
    }

    /// The gap-free prefix of each device, in id order.
    pub(crate) fn clock_counters(&self) -> impl Iterator<Item = (ActorId, u64)> + '_ {
        self.clock.dots.iter().map(|(actor, counter)| (*actor, *counter))
    }

    /// The dots seen ahead of a gap, in order.
    pub(crate) fn cloud_dots(&self) -> impl Iterator<Item = Dot> + '_ {
        self.cloud.iter().copied()
    }

    /// The context that has seen each device's prefix in `clock` and the
    /// dots in `cloud`, in normal form.
    pub(crate) fn from_parts(
        clock: impl IntoIterator<Item = (ActorId, u64)>,
        cloud: impl IntoIterator<Item = Dot>,
    ) -> Self {
        let mut context = Self::default();
        for (actor, counter) in clock {
            if counter > context.clock.get(&actor) {
                context.clock.apply(crdts::Dot::new(actor, counter));
            }
        }
        for dot in cloud {
            context.insert(dot);
        }
        context
    }

    /// Folds cloud dots that continue `actor`'s gap-free prefix into the clock.
    fn absorb(&mut self, actor: ActorId) {
        loop {
            let have = self.clock.get(&actor);
            // Drop dots the clock already covers.
            while let Some(first) =
                self.cloud.range(Dot { actor, counter: 0 }..).next().copied().filter(|d| d.actor == actor)
            {
                if first.counter <= have {
                    self.cloud.remove(&first);
                } else {
                    break;
                }
            }
            let Some(counter) = have.checked_add(1) else { return };
            let next = Dot { actor, counter };
            if self.cloud.remove(&next) {
                self.clock.apply(crdts::Dot::new(actor, next.counter));
            } else {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dot(actor: ActorId, counter: u64) -> Dot {
        Dot { actor, counter }
    }

    #[test]
    fn out_of_order_dots_fold_into_the_clock() {
        let a = ActorId::random();
        let mut cc = CausalContext::default();
        cc.insert(dot(a, 3));
        cc.insert(dot(a, 2));
        assert!(cc.contains(&dot(a, 3)) && !cc.contains(&dot(a, 1)));
        assert_eq!(cc.contiguous(&a), 0);
        assert_eq!(cc.max_counter(&a), 3);
        cc.insert(dot(a, 1));
        assert_eq!(cc.contiguous(&a), 3);
        assert_eq!(cc.size(), 1);
    }

    #[test]
    fn merge_is_a_union_in_normal_form() {
        let (a, b) = (ActorId::random(), ActorId::random());
        let mut x = CausalContext::default();
        x.insert(dot(a, 1));
        x.insert(dot(b, 2));
        let mut y = CausalContext::default();
        y.insert(dot(b, 1));
        y.insert(dot(a, 2));
        let mut xy = x.clone();
        xy.merge(&y);
        let mut yx = y.clone();
        yx.merge(&x);
        assert_eq!(xy, yx);
        assert_eq!(xy.size(), 2);
        assert_eq!((xy.contiguous(&a), xy.contiguous(&b)), (2, 2));
    }
}
