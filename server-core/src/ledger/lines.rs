//! The lines of a place's table: one per child place, then the place's own
//! line for what is registered at the place itself, and where every place
//! of the subtree is counted.

use std::collections::HashMap;

use gridsync_proto::{Directory, Hierarchy};
use serde::{Deserialize, Serialize};

/// What a line counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// A child place and everything below it.
    Child,
    /// The place itself (本级): what is registered at it directly.
    Own,
}

/// A line's place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LineHead {
    pub(crate) code: String,
    pub(crate) name: String,
    pub(crate) kind: LineKind,
}

/// The lines of a place and the line each place of its subtree counts in.
#[derive(Debug, Clone)]
pub(crate) struct Lines {
    pub(crate) heads: Vec<LineHead>,
    index: HashMap<String, usize>,
}

impl Lines {
    /// The lines of `place`: its children by code, then its own line.
    /// `None` if the place is unknown.
    pub(crate) fn new(dir: &Directory, place: &str) -> Option<Self> {
        let top = dir.place(place)?;
        let mut heads = Vec::new();
        let mut index = HashMap::new();
        for child in dir.children(place) {
            let Some(p) = dir.place(child) else { continue };
            let at = heads.len();
            for code in dir.subtree(Some(child)) {
                index.insert(code, at);
            }
            heads.push(LineHead { code: p.code.clone(), name: p.name.clone(), kind: LineKind::Child });
        }
        index.insert(top.code.clone(), heads.len());
        heads.push(LineHead {
            code: top.code.clone(),
            name: format!("{}（本级）", top.name),
            kind: LineKind::Own,
        });
        Some(Self { heads, index })
    }

    /// The line `code` counts in; `None` outside the place.
    pub(crate) fn line_of(&self, code: &str) -> Option<usize> {
        self.index.get(code).copied()
    }
}

/// A place's name, or its code when the directory does not know it.
pub(crate) fn place_name(dir: &Directory, code: &str) -> String {
    dir.place(code).map_or_else(|| code.to_owned(), |p| p.name.clone())
}

/// A unit's name, or its code when the directory does not know it.
pub(crate) fn unit_name(dir: &Directory, code: &str) -> String {
    dir.unit(code).map_or_else(|| code.to_owned(), |u| u.name.clone())
}
