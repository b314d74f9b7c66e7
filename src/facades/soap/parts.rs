//! How every SOAP facade reads an rpc call's parts: one rule, used by eXpand and USCall alike.
//!
//! The vendors' documents spell part names loosely (USCall's `Formato`, `Dataini`, `Datafin`;
//! eXpand's `autorizedKey`, `info`), and clients differ in what they send: PHP SoapClient and
//! zeep name the parts as the WSDL does, clients without the WSDL name them generically
//! (`param0`, `arg0`, `v1`...), some rename one part and leave the others positional. So a part
//! is found:
//!
//! 1. by name, wherever it is in the call, when its name is the documented one in any case or
//!    one of the facade's aliases (also in any case) — a part the client omitted is then absent,
//!    not taken from a neighbour's position;
//! 2. otherwise by position, in the documented order, when the part at that position has a
//!    name that is none of the operation's documented names (nor an alias of one).
//!
//! Values are trimmed; nil, empty and blank values are absent.

use super::envelope::SoapCall;

/// A facade's operations: each with its parts in the documented order (the WSDL's
/// `parameterOrder`).
pub type Operations = [(&'static str, &'static [&'static str])];

/// Other spellings of part names: `(alias, documented name)`, matched in any case.
pub type Aliases = [(&'static str, &'static str)];

/// The documented parts of `operation` (none for an operation not in `operations`).
pub fn documented(operations: &Operations, operation: &str) -> &'static [&'static str] {
    operations
        .iter()
        .find(|(op, _)| *op == operation)
        .map_or(&[][..], |(_, parts)| *parts)
}

/// The documented name a part name stands for: its alias's target, else itself.
fn canonical<'n>(aliases: &'n Aliases, name: &'n str) -> &'n str {
    aliases
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
        .map_or(name, |(_, documented)| documented)
}

/// The part `name` of `call`, documented at `index` of `parts` (see the module's rule).
pub fn part<'a>(
    call: &'a SoapCall,
    parts: &[&str],
    aliases: &Aliases,
    index: usize,
    name: &str,
) -> Option<&'a str> {
    let is_documented = |n: &str| {
        let n = canonical(aliases, n);
        parts.iter().any(|p| p.eq_ignore_ascii_case(n))
    };
    let value = match call
        .params
        .iter()
        .find(|(n, _)| canonical(aliases, n).eq_ignore_ascii_case(name))
    {
        Some((_, v)) => v.as_deref(),
        None => call
            .params
            .get(index)
            .filter(|(n, _)| !is_documented(n))
            .and_then(|(_, v)| v.as_deref()),
    };
    value.map(str::trim).filter(|s| !s.is_empty())
}

/// One call's parts, read by their documented names.
#[derive(Clone, Copy, Debug)]
pub struct Parts<'a> {
    call: &'a SoapCall,
    parts: &'static [&'static str],
    aliases: &'static Aliases,
}

impl<'a> Parts<'a> {
    /// The parts of `call`, an operation of `operations`.
    pub fn new(call: &'a SoapCall, operations: &Operations, aliases: &'static Aliases) -> Self {
        Self {
            call,
            parts: documented(operations, &call.operation),
            aliases,
        }
    }

    /// The documented part `name` (absent when the operation does not document it).
    pub fn get(&self, name: &str) -> Option<&'a str> {
        let index = self.parts.iter().position(|p| *p == name)?;
        part(self.call, self.parts, self.aliases, index, name)
    }

    /// The part `name`, documented at `index`.
    pub fn at(&self, index: usize, name: &str) -> Option<&'a str> {
        part(self.call, self.parts, self.aliases, index, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facades::soap::envelope::tests::call;

    const OPS: &Operations = &[
        ("cdrTariff", &["token", "dataini", "datafin"]),
        (
            "originateCall",
            &["authorizedKey", "src", "dst", "callinfo"],
        ),
    ];
    const ALIASES: &Aliases = &[("autorizedkey", "authorizedKey"), ("info", "callinfo")];

    #[test]
    fn names_match_in_any_case_as_the_seeds_spell_them() {
        // USCall's document writes `Dataini` and `Datafin` for cdrTariff.
        let c = call(
            "cdrTariff",
            &[
                ("Token", Some("t")),
                ("Datafin", Some("2026-01-02 00:00:00")),
                ("DATAINI", Some(" 2026-01-01 00:00:00 ")),
            ],
        );
        let p = Parts::new(&c, OPS, &[]);
        assert_eq!(p.get("token"), Some("t"));
        assert_eq!(p.get("dataini"), Some("2026-01-01 00:00:00"));
        assert_eq!(p.get("datafin"), Some("2026-01-02 00:00:00"));
        assert_eq!(p.get("other"), None);
    }

    #[test]
    fn foreign_names_are_read_by_position_documented_ones_never() {
        let generic = call(
            "cdrTariff",
            &[
                ("param0", Some("t")),
                ("v1", Some("a")),
                ("arg2", Some("b")),
            ],
        );
        let p = Parts::new(&generic, OPS, &[]);
        assert_eq!(
            (p.get("token"), p.get("dataini"), p.get("datafin")),
            (Some("t"), Some("a"), Some("b"))
        );
        // `datafin` sent in `dataini`'s place: it is datafin, and dataini is absent.
        let shifted = call("cdrTariff", &[("token", Some("t")), ("datafin", Some("b"))]);
        let p = Parts::new(&shifted, OPS, &[]);
        assert_eq!((p.get("dataini"), p.get("datafin")), (None, Some("b")));
    }

    #[test]
    fn aliases_name_parts_and_mixed_calls_work() {
        // eXpand's example: positional parts and a named `info`.
        let c = call(
            "originateCall",
            &[
                ("v1", Some("k")),
                ("v2", Some("1001")),
                ("v3", Some("5551000")),
                ("info", Some("01-43-1")),
            ],
        );
        let p = Parts::new(&c, OPS, ALIASES);
        assert_eq!(p.get("authorizedKey"), Some("k"));
        assert_eq!(p.get("callinfo"), Some("01-43-1"));
        let c = call(
            "originateCall",
            &[("AutorizedKey", Some("k2")), ("src", None)],
        );
        let p = Parts::new(&c, OPS, ALIASES);
        assert_eq!(p.at(0, "authorizedKey"), Some("k2"));
        assert_eq!(p.get("src"), None);
        let blank = call("cdrTariff", &[("token", Some("   "))]);
        assert_eq!(Parts::new(&blank, OPS, &[]).get("token"), None);
    }
}
