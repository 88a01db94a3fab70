//! A city's directory: one grid (and one grid worker) per simulated
//! handset, under as many villages, townships and counties as a city of
//! that size has, built the way [`crate::deployment`] builds its county.
//!
//! ```text
//! 620800 平凉市 (city)
//! ├─ 620802 崆峒区 (county) ── 17 townships
//! │  ├─ 620802101 崆峒第1乡镇 ── 17 villages
//! │  │  ├─ 620802101001 大寨村 ── grids 620802101001-01 … -05
//! │  │  └─ …
//! │  └─ …
//! ├─ 620821 泾川县
//! └─ …
//! ```
//!
//! Five grids a village, 17 villages a township and 17 townships a county
//! give 1,445 grids a county, Kongtong's size (355 urban and 1,260 rural
//! grids, `/work/shared/DOMAIN.md`), and seven counties for 10,000 grids:
//! Pingliang's seven, then generic ones past them.

use gridsync_proto::{Level, Place};

use crate::deployment::{self, Deployment, Seat};

/// The city's code (平凉市).
pub(crate) const CITY: &str = "620800";
/// Grids of one village or community.
const GRIDS_PER_VILLAGE: usize = 5;
/// Villages of one township.
const VILLAGES_PER_TOWNSHIP: usize = 17;
/// Townships of one county.
const TOWNSHIPS_PER_COUNTY: usize = 17;
/// Pingliang's counties and districts: code suffix and name.
const COUNTIES: [(u32, &str); 7] = [
    (2, "崆峒区"),
    (21, "泾川县"),
    (22, "灵台县"),
    (23, "崇信县"),
    (25, "庄浪县"),
    (26, "静宁县"),
    (81, "华亭市"),
];
/// Village names, reused from township to township as real ones are.
const VILLAGES: [&str; 17] = [
    "大寨村",
    "柳湖村",
    "新民村",
    "太平村",
    "东关社区",
    "西郊村",
    "杨庄村",
    "白水村",
    "安国村",
    "草峰村",
    "花所村",
    "麻武村",
    "峡门村",
    "香莲村",
    "寨河村",
    "上杨村",
    "南门社区",
];

/// A city of `grids` grids, one worker (and one handset) each.
pub(crate) fn city(grids: usize) -> Deployment {
    let place = |code: String, name: String, level, parent: &str| Place {
        code,
        name,
        level,
        parent: (!parent.is_empty()).then(|| parent.to_owned()),
    };
    let mut places = vec![place(CITY.to_owned(), "平凉市".to_owned(), Level::City, "")];
    let mut seats = Vec::with_capacity(grids);
    let villages = grids.div_ceil(GRIDS_PER_VILLAGE);
    let townships = villages.div_ceil(VILLAGES_PER_TOWNSHIP);
    let counties = townships.div_ceil(TOWNSHIPS_PER_COUNTY);
    for c in 0..counties {
        let (county, county_name) = match COUNTIES.get(c) {
            Some(&(suffix, name)) => (format!("6208{suffix:02}"), name.to_owned()),
            None => (format!("6208{:02}", 90 + c - COUNTIES.len()), format!("平凉第{}县", c + 1)),
        };
        let short: String = county_name.chars().take(2).collect();
        places.push(place(county.clone(), county_name, Level::County, CITY));
        for t in 0..TOWNSHIPS_PER_COUNTY.min(townships - c * TOWNSHIPS_PER_COUNTY) {
            let township = format!("{county}{:03}", 101 + t);
            places.push(place(township.clone(), format!("{short}第{}乡镇", t + 1), Level::Township, &county));
            let first_village = (c * TOWNSHIPS_PER_COUNTY + t) * VILLAGES_PER_TOWNSHIP;
            for v in 0..VILLAGES_PER_TOWNSHIP.min(villages - first_village) {
                let village = format!("{township}{:03}", v + 1);
                let village_name = VILLAGES[v % VILLAGES.len()];
                places.push(place(village.clone(), village_name.to_owned(), Level::Village, &township));
                let first_grid = (first_village + v) * GRIDS_PER_VILLAGE;
                for g in 0..GRIDS_PER_VILLAGE.min(grids - first_grid) {
                    let grid = format!("{village}-{:02}", g + 1);
                    let name = format!("{village_name}第{}网格", g + 1);
                    places.push(place(grid.clone(), name, Level::Grid, &village));
                    let user = deployment::user_name(first_grid + g);
                    seats.push(Seat { user, grid, village: village_name });
                }
            }
        }
    }
    Deployment::from_parts(places, seats)
}

/// The places as a places CSV (`code,name,level,parent`), for the
/// operator's `place import`.
pub(crate) fn csv(deployment: &Deployment) -> String {
    let mut out = String::from("code,name,level,parent\n");
    for p in &deployment.places {
        let level = match p.level {
            Level::City => "city",
            Level::County => "county",
            Level::Township => "township",
            Level::Village => "village",
            Level::Grid => "grid",
        };
        out.push_str(&format!("{},{},{level},{}\n", p.code, p.name, p.parent.as_deref().unwrap_or("")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridsync_proto::Hierarchy;

    #[test]
    fn ten_thousand_grids_under_seven_counties() {
        let d = city(10_000);
        assert_eq!(d.seats.len(), 10_000);
        let count = |level| d.places.iter().filter(|p| p.level == level).count();
        assert_eq!(count(Level::Grid), 10_000);
        assert_eq!(count(Level::Village), 2_000);
        assert_eq!(count(Level::Township), 118);
        assert_eq!(count(Level::County), 7);
        assert!(d.directory().check().is_ok());
        let users: std::collections::HashSet<&str> = d.seats.iter().map(|s| s.user.as_str()).collect();
        assert_eq!(users.len(), 10_000);
        let dir = d.device_directory(&d.seats[9_999]);
        assert!(dir.is_within(&d.seats[9_999].grid, Some(CITY)));
        assert!(dir.place(&d.seats[0].grid).is_none());
    }

    #[test]
    fn a_small_city_and_its_csv() {
        let d = city(7);
        assert_eq!(d.places.len(), 1 + 1 + 1 + 2 + 7);
        let csv = csv(&d);
        assert_eq!(csv.lines().count(), 1 + d.places.len());
        assert!(csv.contains("620802101002-02,柳湖村第2网格,grid,620802101002\n"));
    }
}
