//! Settings older files keep in a vendor's section: the core features' keys that lived in
//! `[expand]`, `[uscall]` and `[ucontact]` before they got sections of their own (`[sms]`,
//! `[dialing]`, `[campaigns]`).
//!
//! Before the file is read into [`super::Config`], [`migrate`] moves each such key to its new
//! place, so a site's file works exactly as before; each key moved is reported (the loader
//! logs a warning naming the new place). A file that holds a setting in both places is an
//! error naming both: the engine does not guess which one is meant.

use super::ConfigError;

/// Every key that moved: (old section, old key, new section, new key), and the dotted names
/// the warnings and errors use.
const MOVES: &[Move] = &[
    Move::new("expand", "sms_uri_template", "sms", "uri_template"),
    Move::new("expand", "sms_from", "sms", "from"),
    Move::new("expand", "sms_max_per_second", "sms", "max_per_second"),
    Move::new("expand", "sms_gateway_url", "sms", "gateway_url"),
    Move::new("expand", "sms_gateway_token", "sms", "gateway_token"),
    Move::new("uscall", "ddr_context", "dialing", "ddr_context"),
    Move::new("uscall", "ddrs", "dialing", "ddrs"),
    Move::new("uscall", "category", "dialing", "category"),
    Move::new("ucontact", "campaign", "campaigns", "campaign"),
];

/// One key that moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Move {
    old_section: &'static str,
    old_key: &'static str,
    new_section: &'static str,
    new_key: &'static str,
}

impl Move {
    const fn new(
        old_section: &'static str,
        old_key: &'static str,
        new_section: &'static str,
        new_key: &'static str,
    ) -> Self {
        Self {
            old_section,
            old_key,
            new_section,
            new_key,
        }
    }

    /// The old place, dotted (`expand.sms_from`).
    pub fn old(&self) -> String {
        format!("{}.{}", self.old_section, self.old_key)
    }

    /// The new place, dotted (`sms.from`).
    pub fn new_place(&self) -> String {
        format!("{}.{}", self.new_section, self.new_key)
    }
}

/// Every key that moved (for the documentation's table and its test).
pub fn moves() -> &'static [Move] {
    MOVES
}

/// Moves every old key of `file` to its new place; the keys moved, in [`MOVES`] order, or
/// [`ConfigError::Duplicate`] when a setting is in both places. A key whose old or new section
/// is not a table is left alone (reading the file then refuses it).
pub fn migrate(file: &mut toml::Table) -> Result<Vec<Move>, ConfigError> {
    let mut moved = Vec::new();
    for m in MOVES {
        let Some(toml::Value::Table(old)) = file.get_mut(m.old_section) else {
            continue;
        };
        let Some(value) = old.remove(m.old_key) else {
            continue;
        };
        let new = file
            .entry(m.new_section)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(new) = new else {
            // Put it back: the section's wrong type is what the reader reports.
            if let Some(toml::Value::Table(old)) = file.get_mut(m.old_section) {
                old.insert(m.old_key.to_owned(), value);
            }
            continue;
        };
        if new.contains_key(m.new_key) {
            return Err(ConfigError::Duplicate {
                old: m.old(),
                new: m.new_place(),
            });
        }
        new.insert(m.new_key.to_owned(), value);
        moved.push(*m);
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    #[test]
    fn old_keys_move_and_others_stay() {
        let mut t = table(
            "[expand]\nsms_from = \"C\"\nmax_report_days = 5\n\
             [uscall]\nddrs = [\"1\"]\n[[uscall.category]]\nid = \"1\"\n\
             [[ucontact.campaign]]\nname = \"a\"\n",
        );
        let moved = migrate(&mut t).unwrap();
        let names: Vec<_> = moved.iter().map(|m| (m.old(), m.new_place())).collect();
        assert_eq!(
            names,
            [
                ("expand.sms_from".to_owned(), "sms.from".to_owned()),
                ("uscall.ddrs".into(), "dialing.ddrs".into()),
                ("uscall.category".into(), "dialing.category".into()),
                ("ucontact.campaign".into(), "campaigns.campaign".into()),
            ]
        );
        assert_eq!(
            t,
            table(
                "[expand]\nmax_report_days = 5\n[uscall]\n[ucontact]\n\
                 [sms]\nfrom = \"C\"\n[dialing]\nddrs = [\"1\"]\n[[dialing.category]]\nid = \"1\"\n\
                 [[campaigns.campaign]]\nname = \"a\"\n"
            )
        );
        let mut current = table("[sms]\nfrom = \"C\"\n[expand]\nmax_report_days = 5\n");
        let before = current.clone();
        assert_eq!(migrate(&mut current).unwrap(), []);
        assert_eq!(current, before);
    }

    #[test]
    fn both_places_is_an_error_naming_both() {
        let mut t = table("[expand]\nsms_from = \"A\"\n[sms]\nfrom = \"B\"\n");
        match migrate(&mut t) {
            Err(ConfigError::Duplicate { old, new }) => {
                assert_eq!(
                    (old.as_str(), new.as_str()),
                    ("expand.sms_from", "sms.from")
                );
            }
            other => panic!("{other:?}"),
        }
        // Different settings of one section may come from both places.
        let mut t = table("[uscall]\nddrs = [\"1\"]\n[dialing]\nddr_context = \"x\"\n");
        assert_eq!(migrate(&mut t).unwrap().len(), 1);
    }

    #[test]
    fn a_section_of_the_wrong_type_is_left_to_the_reader() {
        let mut t = table("sms = 3\n[expand]\nsms_from = \"A\"\n");
        let before = t.clone();
        assert_eq!(migrate(&mut t).unwrap(), []);
        assert_eq!(t, before);
    }
}
