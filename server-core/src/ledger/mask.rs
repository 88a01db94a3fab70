//! What a reader may see of the people in a dispute.
//!
//! The ledgers print the parties to each dispute. Readers whose role
//! handles disputes as their owners see names; everyone else sees each name
//! cut to its first character and one `*` (张三丰 → 张*), which hides the
//! length too. Identity-card numbers, phone numbers and addresses are
//! never printed, whoever reads. The free-text summary often names the
//! parties, so it is left out for readers who see masked names. Which role
//! sees what is [`crate::policy::sees_party_names`].

use gridsync_proto::{Role, Value};

use super::labels;
use crate::policy;

/// How much of the parties a reader sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disclosure {
    /// Names and summaries as recorded.
    Names,
    /// Names masked (张*), no summaries.
    Masked,
}

impl Disclosure {
    /// What a reader with `role` sees.
    pub fn for_role(role: Role) -> Self {
        if policy::sees_party_names(role) { Disclosure::Names } else { Disclosure::Masked }
    }
}

/// A name cut to its first character and one `*`; a one-character name is
/// `*`; an empty one stays empty.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    match (chars.next(), chars.next()) {
        (None, _) => String::new(),
        (Some(_), None) => "*".to_owned(),
        (Some(first), Some(_)) => format!("{first}*"),
    }
}

/// The parties of a dispute's `parties` field as one line: `张三（申请人）、李四（被申请人）`,
/// names masked unless `disclosure` shows them. Nothing else of a party is printed.
pub fn parties(value: Option<&Value>, disclosure: Disclosure) -> String {
    let Some(Value::List(items)) = value else { return String::new() };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Value::Map(party) = item else { continue };
        let Some(Value::Text(name)) = party.get("name") else { continue };
        let shown = match disclosure {
            Disclosure::Names => name.trim().to_owned(),
            Disclosure::Masked => mask_name(name),
        };
        match party.get("role") {
            Some(Value::Text(role)) => out.push(format!("{shown}（{}）", labels::party_role(role))),
            _ => out.push(shown),
        }
    }
    out.join("、")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn party(name: &str, role: &str) -> Value {
        Value::Map(BTreeMap::from([
            ("name".to_owned(), Value::from(name)),
            ("role".to_owned(), Value::from(role)),
            ("id_number".to_owned(), Value::from("620802199001011234")),
            ("phone".to_owned(), Value::from("13900000000")),
        ]))
    }

    #[test]
    fn names_are_masked_and_numbers_never_shown() {
        assert_eq!(mask_name("张三丰"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧*");
        assert_eq!(mask_name("王"), "*");
        assert_eq!(mask_name(" "), "");
        let list = Value::List(vec![party("张三", "applicant"), party("李四", "respondent")]);
        assert_eq!(parties(Some(&list), Disclosure::Names), "张三（申请人）、李四（被申请人）");
        assert_eq!(parties(Some(&list), Disclosure::Masked), "张*（申请人）、李*（被申请人）");
        for d in [Disclosure::Names, Disclosure::Masked] {
            let shown = parties(Some(&list), d);
            assert!(!shown.contains("1234") && !shown.contains("139"), "{shown}");
        }
        assert_eq!(parties(None, Disclosure::Names), "");
    }

    #[test]
    fn only_the_roles_that_own_disputes_see_names() {
        for role in Role::ALL {
            let sees = matches!(role, Role::Administrator | Role::CountyAdmin | Role::TownshipAdmin);
            assert_eq!(Disclosure::for_role(role) == Disclosure::Names, sees, "{role:?}");
        }
    }
}
