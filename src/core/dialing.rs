//! Dialing rule sets (USCall's *categoria*): which numbers a client may dial, how each is
//! rewritten before it is dialed, and which trunk the set is meant for.
//!
//! A [`DialingCategory`] holds ordered [`DialRule`]s; the first rule whose [`DialPattern`]
//! matches the whole number decides: it strips `strip` leading digits and adds `prefix` in
//! front. A number no rule matches is refused. The result is a [`PhoneNumber`], so nothing that
//! leaves here can carry anything but digits (and a leading `+`). A [`DialingPlan`] is a
//! site's categories with its DDRs (the numbers a call may be connected to).
//!
//! Patterns use Asterisk's extension pattern letters, without the leading `_`:
//!
//! | in a pattern | matches |
//! |---|---|
//! | `0`-`9`, `+`, `*`, `#` | itself |
//! | `X` | any digit |
//! | `Z` | 1-9 |
//! | `N` | 2-9 |
//! | `[15-7]` | one digit of the set (ranges allowed) |
//! | `.` (last only) | one or more further characters |
//! | `!` (last only) | zero or more further characters |

use std::fmt;

use super::originate::PhoneNumber;

/// Why a pattern, a rule or a number was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DialingError {
    /// The pattern cannot be parsed.
    #[error("invalid dialing pattern {pattern:?}: {reason}")]
    BadPattern {
        /// The pattern.
        pattern: String,
        /// Why.
        reason: &'static str,
    },
    /// A rule's prefix is not digits (with an optional leading `+`).
    #[error("invalid prefix {0:?}: only digits and a leading + are allowed")]
    BadPrefix(String),
    /// The number has characters other than digits and a leading `+`.
    #[error("the number {0:?} may only have digits (and a leading +)")]
    NotANumber(String),
    /// No rule of the category matches the number.
    #[error("the number {number} does not match any rule of category {category}")]
    NoRule {
        /// The number.
        number: String,
        /// The category's id.
        category: String,
    },
    /// The rewritten number is not dialable (too short or too long).
    #[error("the number {0:?} is not dialable after the category's rewrite (2-32 digits)")]
    NotDialable(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Literal(char),
    Set(Vec<(char, char)>),
    OneOrMore,
    ZeroOrMore,
}

/// A parsed number pattern (see the module's table).
#[derive(Clone, PartialEq, Eq)]
pub struct DialPattern {
    text: String,
    tokens: Vec<Token>,
}

impl fmt::Debug for DialPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DialPattern({:?})", self.text)
    }
}

impl DialPattern {
    /// Parses a pattern.
    pub fn parse(text: &str) -> Result<Self, DialingError> {
        let bad = |reason| DialingError::BadPattern {
            pattern: text.to_owned(),
            reason,
        };
        let pattern = text.strip_prefix('_').unwrap_or(text);
        if pattern.is_empty() {
            return Err(bad("must not be empty"));
        }
        if pattern.len() > 64 {
            return Err(bad("too long"));
        }
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let last = i + 1 == chars.len();
            let token = match c {
                '0'..='9' | '+' | '*' | '#' => Token::Literal(c),
                'X' | 'x' => Token::Set(vec![('0', '9')]),
                'Z' | 'z' => Token::Set(vec![('1', '9')]),
                'N' | 'n' => Token::Set(vec![('2', '9')]),
                '.' if last => Token::OneOrMore,
                '!' if last => Token::ZeroOrMore,
                '.' | '!' => return Err(bad(". and ! may only end a pattern")),
                '[' => {
                    let close = chars[i..]
                        .iter()
                        .position(|&c| c == ']')
                        .ok_or_else(|| bad("[ without ]"))?;
                    let inner = &chars[i + 1..i + close];
                    let mut set = Vec::new();
                    let mut j = 0;
                    while j < inner.len() {
                        let lo = inner[j];
                        if !lo.is_ascii_digit() {
                            return Err(bad("sets hold digits and ranges only"));
                        }
                        if j + 2 < inner.len() && inner[j + 1] == '-' {
                            let hi = inner[j + 2];
                            if !hi.is_ascii_digit() || hi < lo {
                                return Err(bad("bad range in a set"));
                            }
                            set.push((lo, hi));
                            j += 3;
                        } else {
                            set.push((lo, lo));
                            j += 1;
                        }
                    }
                    if set.is_empty() {
                        return Err(bad("empty set"));
                    }
                    i += close;
                    Token::Set(set)
                }
                _ => {
                    return Err(bad(
                        "only digits, + * #, X Z N, [sets], . and ! are allowed",
                    ))
                }
            };
            tokens.push(token);
            i += 1;
        }
        Ok(Self {
            text: text.to_owned(),
            tokens,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the whole of `number` matches.
    pub fn matches(&self, number: &str) -> bool {
        let chars: Vec<char> = number.chars().collect();
        let mut i = 0;
        for token in &self.tokens {
            match token {
                Token::OneOrMore => return i < chars.len(),
                Token::ZeroOrMore => return true,
                Token::Literal(c) => {
                    if chars.get(i) != Some(c) {
                        return false;
                    }
                }
                Token::Set(ranges) => match chars.get(i) {
                    Some(&c) if ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) => {}
                    _ => return false,
                },
            }
            i += 1;
        }
        i == chars.len()
    }
}

/// One rule: a pattern and the rewrite of the numbers it matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DialRule {
    /// The numbers the rule accepts.
    pub pattern: DialPattern,
    /// Leading characters removed from a matching number.
    pub strip: usize,
    /// Digits added in front (after stripping).
    pub prefix: String,
}

impl DialRule {
    /// A rule; `prefix` must be digits with an optional leading `+`.
    pub fn new(pattern: &str, strip: usize, prefix: &str) -> Result<Self, DialingError> {
        let digits = prefix.strip_prefix('+').unwrap_or(prefix);
        if !digits.bytes().all(|b| b.is_ascii_digit())
            || (prefix.starts_with('+') && digits.is_empty())
        {
            return Err(DialingError::BadPrefix(prefix.to_owned()));
        }
        Ok(Self {
            pattern: DialPattern::parse(pattern)?,
            strip,
            prefix: prefix.to_owned(),
        })
    }
}

/// A dialing rule set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DialingCategory {
    /// The id clients name it by.
    pub id: String,
    /// A display name.
    pub name: String,
    /// The rules, first match wins.
    pub rules: Vec<DialRule>,
    /// The trunk the category's calls are meant for, if named.
    pub trunk: Option<String>,
}

/// A site's dialing rules: the categories clients dial by, and the DDRs (DIDs) a call may be
/// connected to, in the dialplan context where they are answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DialingPlan {
    /// The dialplan context where DDRs are answered.
    pub ddr_context: String,
    /// The DDRs calls may be connected to (none: no call may).
    pub ddrs: Vec<String>,
    /// The rule sets, by id.
    pub categories: Vec<DialingCategory>,
}

impl DialingPlan {
    /// The category clients name `id`.
    pub fn category(&self, id: &str) -> Option<&DialingCategory> {
        self.categories.iter().find(|c| c.id == id)
    }
}

impl DialingCategory {
    /// The number to dial for `number`, or why it may not be dialed.
    pub fn apply(&self, number: &str) -> Result<PhoneNumber, DialingError> {
        let digits = number.strip_prefix('+').unwrap_or(number);
        if digits.is_empty() || digits.len() > 64 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DialingError::NotANumber(number.chars().take(64).collect()));
        }
        let rule = self
            .rules
            .iter()
            .find(|r| r.pattern.matches(number))
            .ok_or_else(|| DialingError::NoRule {
                number: number.to_owned(),
                category: self.id.clone(),
            })?;
        let rest: String = number.chars().skip(rule.strip).collect();
        let dialed = format!("{}{}", rule.prefix, rest);
        PhoneNumber::parse(&dialed).map_err(|_| DialingError::NotDialable(dialed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_numbers() {
        let cases: &[(&str, &str, bool)] = &[
            ("5551XXX", "5551030", true),
            ("5551XXX", "555103", false),
            ("5551XXX", "55510300", false),
            ("_0ZXXXX", "012345", true),
            ("0ZXXXX", "002345", false),
            ("N", "1", false),
            ("N", "2", true),
            ("[13-5]X", "41", true),
            ("[13-5]X", "21", false),
            ("9.", "9", false),
            ("9.", "91", true),
            ("9!", "9", true),
            ("9!", "8", false),
            ("+598X.", "+59899123456", true),
            ("+598X.", "59899123456", false),
            ("x", "7", true),
        ];
        for (p, n, want) in cases {
            assert_eq!(DialPattern::parse(p).unwrap().matches(n), *want, "{p} {n}");
        }
    }

    #[test]
    fn bad_patterns_and_prefixes_are_refused() {
        for p in [
            "", "_", "9.1", "[", "[a]", "[5-1]", "[]", "A", "55 51", "5\n",
        ] {
            assert!(DialPattern::parse(p).is_err(), "{p:?}");
        }
        assert!(DialPattern::parse(&"X".repeat(65)).is_err());
        for prefix in ["a", "+", "1 2", "&", "1,2"] {
            assert_eq!(
                DialRule::new("X.", 0, prefix),
                Err(DialingError::BadPrefix(prefix.to_owned()))
            );
        }
        assert!(DialRule::new("X.", 0, "+598").is_ok());
    }

    fn category() -> DialingCategory {
        DialingCategory {
            id: "1".into(),
            name: "Nacional".into(),
            rules: vec![
                DialRule::new("0[5]551XXX", 1, "").unwrap(),
                DialRule::new("5551XXX", 0, "").unwrap(),
                DialRule::new("9XXXXXXX", 0, "55").unwrap(),
            ],
            trunk: Some("carrier".into()),
        }
    }

    #[test]
    fn the_first_matching_rule_rewrites_the_number() {
        let c = category();
        let ok = |n: &str| c.apply(n).map(|p| p.as_str().to_owned());
        assert_eq!(ok("05551030").as_deref(), Ok("5551030"));
        assert_eq!(ok("5551030").as_deref(), Ok("5551030"));
        assert_eq!(ok("91234567").as_deref(), Ok("5591234567"));
        assert_eq!(
            ok("5552030"),
            Err(DialingError::NoRule {
                number: "5552030".into(),
                category: "1".into()
            })
        );
        for bad in ["", "+", "555-1030", "5551030&x", "5551030\r\n", "abc"] {
            assert!(
                matches!(c.apply(bad), Err(DialingError::NotANumber(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_rewrite_that_leaves_no_dialable_number_is_refused() {
        let c = DialingCategory {
            id: "x".into(),
            name: String::new(),
            rules: vec![DialRule::new("12X", 3, "").unwrap()],
            trunk: None,
        };
        assert_eq!(
            c.apply("123"),
            Err(DialingError::NotDialable(String::new()))
        );
    }
}
