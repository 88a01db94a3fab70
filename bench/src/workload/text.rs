//! The words of the workload: names, places and phrase pools for the free
//! text a grid worker types (or dictates) on the handset.
//!
//! Text lengths are realistic; the text itself is drawn from small pools,
//! which flatters gzip (see the worst case in `wire_size`).

use super::Rng;

/// A Chinese personal name.
pub(super) fn person(rng: &mut Rng) -> String {
    let surname = *rng.pick(SURNAMES);
    let given: String = (0..rng.range(1, 2)).map(|_| *rng.pick(GIVEN)).collect();
    format!("{surname}{given}")
}

/// A masked mobile number, as the app shows and stores it.
pub(super) fn phone(rng: &mut Rng) -> String {
    format!("1{}****{:04}", rng.range(30, 99), rng.range(0, 9999))
}

/// A household address in `village`.
pub(super) fn address(rng: &mut Rng, village: &str) -> String {
    format!("{village}{}组{}号", rng.range(1, 9), rng.range(1, 120))
}

/// A landmark in `village`.
pub(super) fn landmark(rng: &mut Rng, village: &str) -> String {
    format!("{village}{}", rng.pick(LANDMARKS))
}

/// Phrases from `pool`, in random order and none twice before the pool is
/// used up, joined with `，` until the text has between `min` and about
/// `max` characters, ending with `。`.
pub(super) fn sentence(rng: &mut Rng, pool: &[&str], min: usize, max: usize) -> String {
    let target = rng.range(min as u64, max as u64) as usize;
    let mut order: Vec<&str> = pool.to_vec();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.range(0, i as u64) as usize);
    }
    let mut out = String::new();
    let mut chars = 0;
    let mut next = order.iter().cycle();
    while chars < target {
        if !out.is_empty() {
            out.push('，');
            chars += 1;
        }
        let Some(&phrase) = next.next() else { break };
        out.push_str(phrase);
        chars += phrase.chars().count();
    }
    out.push('。');
    out
}

const LANDMARKS: &[&str] = &[
    "村委会",
    "文化广场",
    "卫生室",
    "小学门口",
    "二组路口",
    "水库大坝",
    "农贸市场",
    "老年活动中心",
    "便民服务站",
    "三组晒场",
    "桥头",
    "加油站旁",
];

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭", "何",
    "罗", "高", "林",
];

const GIVEN: &[&str] = &[
    "建国", "丽", "华", "秀英", "桂英", "伟", "芳", "军", "强", "敏", "静", "磊", "燕", "勇", "艳", "杰",
    "涛", "明", "超", "霞", "平", "刚", "玉兰", "志强",
];

/// The special populations followed up in the platform (重点人群) among
/// `gridsync_proto::rules::PERSON_CATEGORIES`, weighted.
pub(super) const SPECIAL_POPULATIONS: &[&str] = &[
    "elderly_alone",
    "elderly_alone",
    "left_behind_child",
    "disabled",
    "low_income",
    "severe_mental_illness",
    "drug_rehabilitation",
    "community_correction",
    "released_prisoner",
    "petitioner",
    "other_special",
];

/// Why an ordinary household was visited (`VISIT_PURPOSES`, weighted).
pub(super) const PURPOSES: &[&str] = &[
    "routine",
    "routine",
    "routine",
    "information_update",
    "policy_publicity",
    "dispute_check",
    "assistance",
    "other",
];

/// Where a dispute came to the worker's notice (`DISPUTE_SOURCES`, weighted).
pub(super) const DISPUTE_SOURCES: &[&str] = &["visit", "visit", "patrol", "patrol", "walk_in", "hotline"];

/// What sort of dispute (free text of at most 64 characters).
pub(super) const DISPUTE_CATEGORIES: &[&str] =
    &["邻里纠纷", "土地纠纷", "婚姻家庭纠纷", "邻里纠纷", "宅基地纠纷", "山林水利纠纷", "劳务费纠纷"];

/// How a mediation session ended (`MEDIATION_OUTCOMES`, weighted).
pub(super) const SESSION_OUTCOMES: &[&str] =
    &["adjourned", "adjourned", "partly_agreed", "failed", "agreed", "agreed", "agreed"];

pub(super) const ROUTE: &[&str] = &[
    "沿村主干道步行巡查",
    "重点查看老旧房屋和危房情况",
    "检查沿街商铺燃气使用情况",
    "查看在建工地围挡及扬尘措施",
    "到小区门岗了解近期人员进出情况",
    "巡查河道沿岸护栏是否完好",
    "查看背街小巷垃圾清运情况",
    "发现一处井盖松动已拍照上报",
    "提醒商户规范停放电动车",
    "查看独居老人住所周边环境",
    "对村道两侧违规堆放柴草进行劝导",
    "检查村委会活动室消防器材",
    "查看水库周边警示标志",
    "巡查学校周边交通秩序",
    "未发现明显安全隐患",
    "与村民小组长交流近期情况",
    "了解外出务工人员返乡情况",
    "查看农贸市场秩序",
    "劝导占道经营摊贩",
    "核对出租屋登记信息",
];

pub(super) const VISIT_RESULTS: &[&str] = &[
    "户主在家",
    "家中无人，已电话联系",
    "老人身体状况良好",
    "反映自来水压力不足",
    "已告知医保缴费时间",
    "家庭关系和睦",
    "子女在外务工，每月回家一次",
    "近期服药情况稳定",
    "提醒注意用电用火安全",
    "反映邻居装修噪音扰民",
    "已更新家庭成员信息",
    "门牌号码已核实",
    "需协调村委会解决道路照明问题",
    "宣传防范电信网络诈骗知识",
    "孩子按时上学，学习情况正常",
    "生活困难，建议申请临时救助",
    "无新增情况",
];

pub(super) const DISPUTE_FACTS: &[&str] = &[
    "双方因宅基地边界问题发生争执",
    "一方在交界处砌墙，另一方认为占用其土地",
    "争执中有推搡行为，未造成人员受伤",
    "双方各执一词，情绪较为激动",
    "涉及承包地流转费用未按约定支付",
    "因排水沟堵塞导致雨水流入邻居院内",
    "夫妻因赡养老人问题长期不和",
    "一方提出离婚，另一方不同意",
    "子女对老人财产分配存在分歧",
    "双方曾于去年经村委会调解，现再次发生矛盾",
    "邻居饲养家禽气味影响生活",
    "因树木遮挡采光产生矛盾",
    "现场已初步劝解，双方暂时平息",
    "需进一步核实土地确权登记资料",
    "当事人要求村委会出面协调",
];

pub(super) const MEDIATION: &[&str] = &[
    "组织双方当事人在村委会调解室面对面沟通",
    "邀请村民小组长和老党员参与调解",
    "向双方讲解民法典相邻关系相关规定",
    "查阅了土地确权登记档案",
    "现场测量了争议地块的边界",
    "双方同意各让一步",
    "申请人情绪已趋于平稳",
    "被申请人表示愿意赔偿部分损失",
    "双方签订了人民调解协议书",
    "约定下周再次回访",
    "建议当事人通过法律途径解决",
    "司法所工作人员到场指导",
    "双方对调解结果表示满意",
    "当事人提出新的诉求，需进一步核实",
    "已对双方进行普法教育",
];

pub(super) const FOLLOW_UPS: &[&str] = &[
    "回访双方当事人",
    "协议已履行",
    "赔偿款已当面交付",
    "双方关系已缓和",
    "未再发生争执",
    "当事人对处理结果满意",
    "界墙已按协议拆除重砌",
];

pub(super) const REPORT_ITEMS: &[&str] = &[
    "发现矛盾纠纷一起已现场调处",
    "走访中发现一户需跟进帮扶",
    "上报安全隐患一处",
    "一户需要回访",
    "调解进展已录入",
    "协助派出所核查流动人口信息",
    "其余情况正常",
];
