//! The demo township: its places, departments and people, and the words
//! its records are written in.

use gridsync_proto::{Level, Place, Unit};

/// The city, county and township codes (national division codes).
pub(super) const CITY: &str = "620800";
pub(super) const COUNTY: &str = "620802";
pub(super) const TOWNSHIP: &str = "620802100";

/// The township's police station, justice office, and the county housing bureau.
pub(super) const POLICE: &str = "620802100-PS";
pub(super) const JUSTICE: &str = "620802100-SF";
pub(super) const HOUSING: &str = "620802-ZJ";

const VILLAGES: [&str; 8] = ["东关村", "西关村", "南关村", "北关村", "太统村", "柳湖村", "麻武村", "崆峒村"];

/// The code of village `v` (from 0).
pub(super) fn village(v: usize) -> String {
    format!("{TOWNSHIP}{:03}", v + 1)
}

/// The code of grid `g` (from 0) of village `v`.
pub(super) fn grid(v: usize, g: usize) -> String {
    format!("{}-{:02}", village(v), g + 1)
}

/// Every place of a township with `villages` villages of `grids` grids.
pub(super) fn places(villages: usize, grids: usize) -> Vec<Place> {
    let place = |code: &str, name: String, level, parent: Option<&str>| Place {
        code: code.to_owned(),
        name,
        level,
        parent: parent.map(str::to_owned),
    };
    let mut out = vec![
        place(CITY, "平凉市".into(), Level::City, None),
        place(COUNTY, "崆峒区".into(), Level::County, Some(CITY)),
        place(TOWNSHIP, "城关镇".into(), Level::Township, Some(COUNTY)),
    ];
    for v in 0..villages {
        let name = village_name(v);
        out.push(place(&village(v), name.clone(), Level::Village, Some(TOWNSHIP)));
        for g in 0..grids {
            out.push(place(&grid(v, g), format!("{name}第{}网格", g + 1), Level::Grid, Some(&village(v))));
        }
    }
    out
}

/// The name of village `v`.
pub(super) fn village_name(v: usize) -> String {
    match VILLAGES.get(v) {
        Some(name) => (*name).to_owned(),
        None => format!("第{}村", v + 1),
    }
}

/// The departments.
pub(super) fn units() -> Vec<Unit> {
    let unit = |code: &str, name: &str, kind: &str, place: &str| Unit {
        code: code.into(),
        name: name.into(),
        kind: kind.into(),
        place: place.into(),
    };
    vec![
        unit(POLICE, "城关派出所", "police", TOWNSHIP),
        unit(JUSTICE, "城关司法所", "justice", TOWNSHIP),
        unit(HOUSING, "崆峒区住房和城乡建设局", "housing", COUNTY),
    ]
}

const SURNAMES: [&str; 20] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭", "何",
    "高", "林", "罗",
];
const GIVEN: [&str; 16] = [
    "建国", "秀英", "志强", "桂兰", "海燕", "德明", "玉梅", "建华", "春花", "国庆", "丽娟", "文斌", "淑珍",
    "永红", "晓东", "红霞",
];

/// A person's name from two numbers.
pub(super) fn person(a: u64, b: u64) -> String {
    format!("{}{}", SURNAMES[(a % 20) as usize], GIVEN[(b % 16) as usize])
}

/// What disputes are about, with the department that handles each kind
/// when a township transfers it.
pub(super) const DISPUTES: [(&str, &str, &str); 6] = [
    ("邻里纠纷", "两户因排水沟堵塞发生争执，互不相让", JUSTICE),
    ("土地纠纷", "承包地边界不清，两户各执一词", JUSTICE),
    ("婚姻家庭", "夫妻因赡养老人问题发生矛盾", JUSTICE),
    ("物业纠纷", "小区住户与物业公司因收费发生纠纷", HOUSING),
    ("治安纠纷", "酒后口角引发推搡，一方受轻伤", POLICE),
    ("劳资纠纷", "务工人员反映工程款被拖欠", JUSTICE),
];

/// What a patrol saw.
pub(super) const PATROL_NOTES: [&str; 6] = [
    "巡查辖区主干道及背街小巷，未发现异常",
    "发现路灯两处损坏，已拍照上报",
    "检查出租屋消防设施，提醒住户清理楼道杂物",
    "走访沿街商铺，宣传防诈骗知识",
    "巡查河道周边，劝离垂钓人员",
    "查看独居老人住所周边环境，情况正常",
];

/// What a visit found.
pub(super) const VISIT_RESULTS: [&str; 6] = [
    "家中情况正常，生活稳定",
    "老人身体状况良好，子女按时探望",
    "反映自来水压力不足，已记录转交",
    "服药情况良好，情绪稳定，监护人在家",
    "询问低保办理进度，已解释政策",
    "家庭关系和睦，无矛盾隐患",
];
