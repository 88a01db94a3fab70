//! Who is acting: a user's role and assignment, and what their device knows
//! of the hierarchy.
//!
//! The server sends a device its [`Profile`] at enrollment and again on a
//! pull whenever the directory or the user's assignment has changed (the
//! device sends the [`Profile::version`] it holds). The device checks its
//! own edits against it with the same rules the server applies.

use serde::{Deserialize, Serialize};

use crate::auth::Role;
use crate::place::{Directory, Hierarchy, Level, Place, Unit};

/// A user as the rules see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Actor {
    /// The user name (the author of their changes).
    pub user: String,
    /// Their role.
    pub role: Role,
    /// The place they are assigned to; `None`: the whole deployment.
    pub place: Option<String>,
    /// The unit they belong to (department users).
    pub unit: Option<String>,
}

impl Actor {
    /// Whether the role may record field work and act on disputes as their
    /// owner (auditors read only; departments act through transfers).
    pub fn is_field_role(&self) -> bool {
        matches!(self.role, Role::Worker | Role::TownshipAdmin | Role::CountyAdmin | Role::Administrator)
    }

    /// Whether `code` lies within the actor's place (everything, for the
    /// whole deployment).
    pub fn covers(&self, dir: &dyn Hierarchy, code: &str) -> bool {
        dir.is_within(code, self.place.as_deref())
    }

    /// The level the actor works at: their place's, or their unit's place's
    /// for department users. `None` for the whole deployment, which outranks
    /// every level.
    pub fn level(&self, dir: &dyn Hierarchy) -> Option<Level> {
        match (&self.unit, &self.place) {
            (Some(unit), _) => dir.unit(unit).and_then(|u| dir.level(&u.place)),
            (None, Some(place)) => dir.level(place),
            (None, None) => None,
        }
    }

    /// Whether the actor stands for the whole deployment (no place, no unit).
    pub fn is_deployment_wide(&self) -> bool {
        self.place.is_none() && self.unit.is_none()
    }

    /// Rank used when concurrent dispute steps clash: the level's
    /// [`Level::rank`]; above every level for the whole deployment; the
    /// lowest for a place the directory does not know.
    pub fn rank(&self, dir: &dyn Hierarchy) -> u8 {
        match self.level(dir) {
            Some(level) => level.rank(),
            None if self.is_deployment_wide() => Level::City.rank() + 1,
            None => Level::Grid.rank(),
        }
    }

    /// Whether the actor works at a governance centre (township or above,
    /// or the whole deployment): centres confirm closures and assign
    /// departments.
    pub fn at_centre(&self, dir: &dyn Hierarchy) -> bool {
        match self.level(dir) {
            Some(level) => level.is_centre(),
            None => self.is_deployment_wide(),
        }
    }
}

/// A user's profile as their device holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Profile {
    /// Who.
    pub actor: Actor,
    /// The server's directory version this profile was made from.
    pub version: u64,
    /// The places the device needs: the user's chain upwards and subtree.
    pub places: Vec<Place>,
    /// The units at those places.
    pub units: Vec<Unit>,
}

impl Profile {
    /// The profile of `actor` cut from the server's whole `dir`.
    pub fn for_actor(actor: Actor, dir: &Directory, version: u64) -> Self {
        let anchor = match (&actor.unit, &actor.place) {
            (Some(unit), _) => dir.unit(unit).map(|u| u.place.clone()),
            (None, place) => place.clone(),
        };
        let (places, units) = dir.view_for(anchor.as_deref());
        Self { actor, version, places, units }
    }

    /// The directory the device checks its edits against.
    pub fn directory(&self) -> Directory {
        Directory::new(self.places.iter().cloned(), self.units.iter().cloned())
    }
}
