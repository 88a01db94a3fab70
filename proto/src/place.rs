//! The hierarchy: places (city → county → township → village → grid) and
//! the units (departments) that receive transferred disputes.
//!
//! Places and units have stable codes chosen by the deployment (usually the
//! national administrative division codes, with a suffix for grids). A code
//! is opaque: nothing is read from its shape. Records name one place by its
//! code and never copy the chain of ancestors, so a grid moved to another
//! village keeps every record it has; what moves is the grid's `parent`.
//!
//! A [`Directory`] is a consistent snapshot of places and units. The server
//! holds the whole deployment's; a device holds the part it needs (its own
//! chain of ancestors, its subtree and the units in them), sent with its
//! [`crate::Profile`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Longest place or unit code, in bytes.
pub const MAX_CODE_LEN: usize = 32;
/// Longest place or unit name, in bytes.
pub const MAX_PLACE_NAME_LEN: usize = 128;
/// Deepest chain of places followed before a cycle is assumed.
const MAX_DEPTH: usize = 16;

/// A level of the hierarchy, from the top.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// A prefecture-level city (市), with its command centre.
    #[serde(alias = "市")]
    City,
    /// A county or district (县/区) and its comprehensive-governance centre.
    #[serde(alias = "县", alias = "区", alias = "县区")]
    County,
    /// A township or street (乡镇/街道) and its centre.
    #[serde(alias = "乡", alias = "镇", alias = "乡镇", alias = "街道")]
    Township,
    /// A village or community (村/社区).
    #[serde(alias = "村", alias = "社区")]
    Village,
    /// A grid (网格): about 300 urban households, or one villagers' group.
    #[serde(alias = "网格")]
    Grid,
}

impl Level {
    /// Every level, from the top.
    pub const ALL: [Level; 5] = [Level::City, Level::County, Level::Township, Level::Village, Level::Grid];

    /// The name used in JSON, CSV and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Level::City => "city",
            Level::County => "county",
            Level::Township => "township",
            Level::Village => "village",
            Level::Grid => "grid",
        }
    }

    /// Height in the hierarchy: a grid is 1, a city 5. Higher levels
    /// outrank lower ones when concurrent dispute steps clash.
    pub fn rank(self) -> u8 {
        match self {
            Level::City => 5,
            Level::County => 4,
            Level::Township => 3,
            Level::Village => 2,
            Level::Grid => 1,
        }
    }

    /// Whether a place of this level may have a parent of level `parent`:
    /// any higher level (a grid may sit directly under a township's street
    /// office; a county may have no city above it in a deployment).
    pub fn may_sit_under(self, parent: Level) -> bool {
        parent.rank() > self.rank()
    }

    /// Whether this level runs a comprehensive-governance centre (township
    /// and above): the centre confirms closures and assigns departments.
    pub fn is_centre(self) -> bool {
        self.rank() >= Level::Township.rank()
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Level {
    type Err = String;

    /// The English name (any case) or a Chinese one: 市; 县, 区, 县区; 乡,
    /// 镇, 乡镇, 街道; 村, 社区; 网格 (the same names JSON takes).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let level = match s {
            "市" => Some(Level::City),
            "县" | "区" | "县区" => Some(Level::County),
            "乡" | "镇" | "乡镇" | "街道" => Some(Level::Township),
            "村" | "社区" => Some(Level::Village),
            "网格" => Some(Level::Grid),
            other => Level::ALL.into_iter().find(|l| l.name().eq_ignore_ascii_case(other)),
        };
        level.ok_or_else(|| {
            "unknown level; expected city, county, township, village or grid (or 市, 县, 区, 乡, 镇, 街道, 村, 社区, 网格)"
                .to_owned()
        })
    }
}

/// Checks a place or unit code: 1–32 bytes of ASCII letters, digits, `.`,
/// `-` or `_`.
pub fn check_code(code: &str) -> Result<(), String> {
    let ok = !code.is_empty()
        && code.len() <= MAX_CODE_LEN
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(format!("a code is 1 to {MAX_CODE_LEN} ASCII letters, digits, '.', '-' or '_'"))
    }
}

/// Checks a place or unit name: 1–128 bytes, no control characters.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() || name.len() > MAX_PLACE_NAME_LEN || name.chars().any(char::is_control) {
        Err(format!("a name is 1 to {MAX_PLACE_NAME_LEN} bytes without control characters"))
    } else {
        Ok(())
    }
}

/// One place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Place {
    /// Its stable code.
    pub code: String,
    /// Its name, e.g. 崆峒区 or 第三网格.
    pub name: String,
    /// Its level.
    pub level: Level,
    /// The code of the place above it (none at the top of the deployment).
    pub parent: Option<String>,
}

/// One unit (职能部门): a police station, a justice office, a housing bureau…
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Unit {
    /// Its stable code.
    pub code: String,
    /// Its name, e.g. 城关派出所.
    pub name: String,
    /// What sort of department, e.g. `police`, `justice`, `housing`.
    pub kind: String,
    /// The place whose level it works at (a township's police station, a
    /// county's justice bureau).
    pub place: String,
}

/// Answers questions about the hierarchy. The merge rules and record rules
/// ask only these, so the server (whole deployment) and a device (its part)
/// answer them from their own [`Directory`].
pub trait Hierarchy {
    /// A place by code.
    fn place(&self, code: &str) -> Option<&Place>;
    /// A unit by code.
    fn unit(&self, code: &str) -> Option<&Unit>;

    /// The place's level, if it is known.
    fn level(&self, code: &str) -> Option<Level> {
        self.place(code).map(|p| p.level)
    }

    /// The place above `code`.
    fn parent(&self, code: &str) -> Option<&str> {
        self.place(code).and_then(|p| p.parent.as_deref())
    }

    /// Whether `code` is `ancestor` or lies below it. `None` as the
    /// ancestor is the whole deployment, which contains every known place.
    fn is_within(&self, code: &str, ancestor: Option<&str>) -> bool {
        let Some(ancestor) = ancestor else { return self.place(code).is_some() };
        let mut current = Some(code);
        for _ in 0..MAX_DEPTH {
            match current {
                Some(c) if c == ancestor => return true,
                Some(c) => current = self.parent(c),
                None => return false,
            }
        }
        false
    }
}

/// A snapshot of places and units.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directory {
    places: HashMap<String, Place>,
    units: HashMap<String, Unit>,
    children: HashMap<String, Vec<String>>,
}

impl Directory {
    /// Builds a directory from places and units (unchecked: see [`Directory::check`]).
    pub fn new(places: impl IntoIterator<Item = Place>, units: impl IntoIterator<Item = Unit>) -> Self {
        let places: HashMap<String, Place> = places.into_iter().map(|p| (p.code.clone(), p)).collect();
        let mut children: HashMap<String, Vec<String>> = HashMap::new();
        for place in places.values() {
            if let Some(parent) = &place.parent {
                children.entry(parent.clone()).or_default().push(place.code.clone());
            }
        }
        for list in children.values_mut() {
            list.sort();
        }
        let units = units.into_iter().map(|u| (u.code.clone(), u)).collect();
        Self { places, units, children }
    }

    /// Every place, by code.
    pub fn places(&self) -> impl Iterator<Item = &Place> {
        let mut all: Vec<&Place> = self.places.values().collect();
        all.sort_by(|a, b| a.code.cmp(&b.code));
        all.into_iter()
    }

    /// Every unit, by code.
    pub fn units(&self) -> impl Iterator<Item = &Unit> {
        let mut all: Vec<&Unit> = self.units.values().collect();
        all.sort_by(|a, b| a.code.cmp(&b.code));
        all.into_iter()
    }

    /// Number of places.
    pub fn place_count(&self) -> usize {
        self.places.len()
    }

    /// The places directly below `code`, by code.
    pub fn children(&self, code: &str) -> &[String] {
        self.children.get(code).map_or(&[], Vec::as_slice)
    }

    /// `code` and every place below it, by code. `None` is every place.
    pub fn subtree(&self, code: Option<&str>) -> BTreeSet<String> {
        let Some(code) = code else { return self.places.keys().cloned().collect() };
        let mut out = BTreeSet::new();
        let mut todo = vec![code.to_owned()];
        while let Some(next) = todo.pop() {
            if self.places.contains_key(&next) && out.insert(next.clone()) {
                todo.extend(self.children(&next).iter().cloned());
            }
        }
        out
    }

    /// `code` and its ancestors, from `code` upwards.
    pub fn chain(&self, code: &str) -> Vec<&Place> {
        let mut out = Vec::new();
        let mut current = self.places.get(code);
        while let Some(place) = current {
            if out.len() >= MAX_DEPTH {
                break;
            }
            out.push(place);
            current = place.parent.as_deref().and_then(|p| self.places.get(p));
        }
        out
    }

    /// The part of the directory a user at `place` needs on their device:
    /// the chain above, the subtree below, and the units in either.
    pub fn view_for(&self, place: Option<&str>) -> (Vec<Place>, Vec<Unit>) {
        let mut codes: BTreeSet<String> = self.subtree(place);
        if let Some(place) = place {
            codes.extend(self.chain(place).into_iter().map(|p| p.code.clone()));
        }
        let places: Vec<Place> = codes.iter().filter_map(|c| self.places.get(c).cloned()).collect();
        let units: Vec<Unit> = self.units().filter(|u| codes.contains(&u.place)).cloned().collect();
        (places, units)
    }

    /// Checks the whole directory: valid codes and names, known parents,
    /// each parent of a higher level, no cycles, units at known places.
    /// Returns the first problem found, naming the code.
    pub fn check(&self) -> Result<(), String> {
        let mut codes: BTreeMap<&str, &Place> = BTreeMap::new();
        for place in self.places.values() {
            codes.insert(&place.code, place);
        }
        for (code, place) in &codes {
            check_code(code).map_err(|e| format!("place {code}: {e}"))?;
            check_name(&place.name).map_err(|e| format!("place {code}: {e}"))?;
            if let Some(parent) = &place.parent {
                let Some(above) = self.places.get(parent) else {
                    return Err(format!("place {code}: its parent {parent} is not a known place"));
                };
                if !place.level.may_sit_under(above.level) {
                    return Err(format!(
                        "place {code}: a {} cannot sit under a {} ({parent})",
                        place.level, above.level
                    ));
                }
            }
        }
        // Levels strictly rise along every chain, so a chain cannot cycle;
        // `may_sit_under` above guarantees it.
        for unit in self.units.values() {
            check_code(&unit.code).map_err(|e| format!("unit {}: {e}", unit.code))?;
            check_name(&unit.name).map_err(|e| format!("unit {}: {e}", unit.code))?;
            if unit.kind.is_empty() || unit.kind.len() > 32 {
                return Err(format!("unit {}: its kind is 1 to 32 bytes", unit.code));
            }
            if !self.places.contains_key(&unit.place) {
                return Err(format!("unit {}: its place {} is not a known place", unit.code, unit.place));
            }
            if self.places.contains_key(&unit.code) {
                return Err(format!("unit {}: the code is already a place's", unit.code));
            }
        }
        Ok(())
    }
}

impl Hierarchy for Directory {
    fn place(&self, code: &str) -> Option<&Place> {
        self.places.get(code)
    }

    fn unit(&self, code: &str) -> Option<&Unit> {
        self.units.get(code)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn levels_read_their_english_and_chinese_names_as_text_and_as_json() {
        for (text, level) in [("村", Level::Village), ("社区", Level::Village), ("街道", Level::Township)]
        {
            assert_eq!(text.parse::<Level>(), Ok(level));
            let json: Level = serde_json::from_str(&format!("{text:?}")).expect(text);
            assert_eq!(json, level);
        }
        assert_eq!(" County ".parse::<Level>(), Ok(Level::County));
        assert_eq!(serde_json::to_string(&Level::Village).expect("json"), "\"village\"");
        assert!("hamlet".parse::<Level>().is_err());
    }

    pub(crate) fn place(code: &str, level: Level, parent: Option<&str>) -> Place {
        Place { code: code.into(), name: format!("{code} 名"), level, parent: parent.map(Into::into) }
    }

    /// City 53, county 5301, township 530102, villages …01/…02, grids in each.
    pub(crate) fn sample() -> Directory {
        Directory::new(
            [
                place("53", Level::City, None),
                place("5301", Level::County, Some("53")),
                place("530102", Level::Township, Some("5301")),
                place("530102001", Level::Village, Some("530102")),
                place("530102001-1", Level::Grid, Some("530102001")),
                place("530102001-2", Level::Grid, Some("530102001")),
                place("530102002", Level::Village, Some("530102")),
                place("530102002-1", Level::Grid, Some("530102002")),
                place("530103", Level::Township, Some("5301")),
                place("530103001", Level::Village, Some("530103")),
            ],
            [Unit {
                code: "U-JUSTICE".into(),
                name: "司法局".into(),
                kind: "justice".into(),
                place: "5301".into(),
            }],
        )
    }

    #[test]
    fn within_follows_parents_not_code_prefixes() {
        let dir = sample();
        assert!(dir.is_within("530102001-1", Some("530102")));
        assert!(dir.is_within("530102", Some("530102")));
        assert!(!dir.is_within("530103001", Some("530102")));
        assert!(dir.is_within("530103001", None));
        assert!(!dir.is_within("nowhere", None));
        // Moving a grid changes only its parent.
        let mut places: Vec<Place> = dir.places().cloned().collect();
        places.iter_mut().find(|p| p.code == "530102001-2").expect("grid").parent = Some("530102002".into());
        let moved = Directory::new(places, dir.units().cloned());
        assert!(moved.is_within("530102001-2", Some("530102002")));
        assert!(!moved.is_within("530102001-2", Some("530102001")));
        assert_eq!(moved.check(), Ok(()));
    }

    #[test]
    fn subtree_chain_and_view() {
        let dir = sample();
        assert_eq!(dir.subtree(Some("530102001")).len(), 3);
        let chain: Vec<&str> = dir.chain("530102001-1").iter().map(|p| p.code.as_str()).collect();
        assert_eq!(chain, ["530102001-1", "530102001", "530102", "5301", "53"]);
        let (places, units) = dir.view_for(Some("530102"));
        assert_eq!(places.len(), 1 + 5 + 2, "the township, its 5 places below and 2 above");
        assert_eq!(units.len(), 1, "the county's unit is in the township's chain");
    }

    #[test]
    fn check_names_the_first_problem() {
        let bad = Directory::new([place("5301", Level::County, Some("missing"))], []);
        assert!(bad.check().expect_err("unknown parent").contains("missing"));
        let upside_down =
            Directory::new([place("g", Level::Grid, None), place("t", Level::Township, Some("g"))], []);
        assert!(upside_down.check().expect_err("level").contains("cannot sit under"));
        assert!(check_code("5301 02").is_err() && check_code("").is_err() && check_code("A.b-c_1").is_ok());
        assert_eq!(sample().check(), Ok(()));
    }
}
