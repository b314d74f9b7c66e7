//! The JSON objects clients send: blacklist entries and keys, bounded JSON lists, call variables.

use super::*;

// ------------------------------------------------------------------ JSON inputs

/// A JSON scalar as text (`"12"`, `12` → `12`; null or absent → empty).
pub(super) fn scalar(v: Option<&Value>) -> Result<String, WireError> {
    match v {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.trim().to_owned()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(Value::Bool(b)) => Ok(b.to_string()),
        Some(_) => Err(WireError::Json),
    }
}

pub(super) fn object(v: &Value) -> Result<&Map<String, Value>, WireError> {
    v.as_object().ok_or(WireError::Json)
}

/// A blacklist object: `phone` and `campaign` required, `direction` (`I`, `O`, `I/O`),
/// `expire_date` (`YYYY-MM-DD`), `username`, `company`, `job_title`, `name` optional.
pub fn blacklist_entry(v: &Value) -> Result<BlacklistEntry, WireError> {
    let o = object(v)?;
    let phone = scalar(o.get("phone"))?;
    if phone.is_empty() {
        return Err(WireError::Missing("phone"));
    }
    let campaign = scalar(o.get("campaign"))?;
    if campaign.is_empty() {
        return Err(WireError::Missing("campaign"));
    }
    let mut e = BlacklistEntry::new(
        PhoneNumber::parse(&phone).map_err(|_| WireError::Invalid("phone"))?,
        CampaignScope::parse(&campaign).ok_or(WireError::Invalid("campaign"))?,
    );
    e.direction = DirectionScope::parse(&scalar(o.get("direction"))?)
        .ok_or(WireError::Invalid("direction"))?;
    let expire = scalar(o.get("expire_date"))?;
    if !expire.is_empty() {
        // `2025-01-01` or `2025-01-01 00:00:00`: the day counts.
        let day = expire.get(..10).unwrap_or(&expire);
        e.expire_date = Some(Day::parse(day).ok_or(WireError::Invalid("expire_date"))?);
    }
    e.username = scalar(o.get("username"))?;
    e.company = scalar(o.get("company"))?;
    e.job_title = scalar(o.get("job_title"))?;
    e.name = scalar(o.get("name"))?;
    if !e.text_ok() {
        return Err(WireError::Invalid("text field"));
    }
    Ok(e)
}

/// A blacklist object naming entries to delete: `phone`, `campaign`, and `direction` when
/// given (absent: every direction).
pub fn blacklist_key(v: &Value) -> Result<BlacklistKey, WireError> {
    let o = object(v)?;
    let phone = scalar(o.get("phone"))?;
    let campaign = scalar(o.get("campaign"))?;
    if phone.is_empty() {
        return Err(WireError::Missing("phone"));
    }
    if campaign.is_empty() {
        return Err(WireError::Missing("campaign"));
    }
    let direction = scalar(o.get("direction"))?;
    Ok(BlacklistKey {
        phone: PhoneNumber::parse(&phone).map_err(|_| WireError::Invalid("phone"))?,
        campaign: CampaignScope::parse(&campaign).ok_or(WireError::Invalid("campaign"))?,
        direction: if direction.is_empty() {
            None
        } else {
            Some(DirectionScope::parse(&direction).ok_or(WireError::Invalid("direction"))?)
        },
    })
}

/// Parses one JSON object, or an array of at most 10000 of them, with `item`.
pub fn json_list<T>(
    text: &str,
    array: bool,
    item: impl Fn(&Value) -> Result<T, WireError>,
) -> Result<Vec<T>, WireError> {
    json_list_max(text, array, 10_000, item)
}

/// [`json_list`] with at most `max` objects in the array: one more is refused
/// ([`WireError::TooMany`]) as soon as the decoder reaches it, before the rest is read.
pub fn json_list_max<T>(
    text: &str,
    array: bool,
    max: usize,
    item: impl Fn(&Value) -> Result<T, WireError>,
) -> Result<Vec<T>, WireError> {
    let v = bounded_json(text, max)?;
    match (&v, array) {
        (Value::Array(items), true) if !items.is_empty() => items.iter().map(item).collect(),
        (Value::Object(_), false) => Ok(vec![item(&v)?]),
        _ => Err(WireError::Json),
    }
}

/// Most members of a JSON object, and items of an array below the top level, in any input.
pub const MAX_JSON_MEMBERS: usize = 64;

const TOO_MANY: &str = "centralita: too many JSON items";

/// Decodes JSON with bounded containers: the top-level array may have `top_items` items,
/// every object and nested array at most [`MAX_JSON_MEMBERS`] (nesting stops at serde_json's
/// 128 levels). Decoding stops at the first item past a bound ([`WireError::TooMany`]): a body
/// full of items is never built into a structure.
pub fn bounded_json(text: &str, top_items: usize) -> Result<Value, WireError> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_str(text);
    let v = Bounded { items: top_items }
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| {
            if e.to_string().starts_with(TOO_MANY) {
                WireError::TooMany
            } else {
                WireError::Json
            }
        })?;
    Ok(v)
}

/// A JSON value whose arrays hold at most `items` (objects: [`MAX_JSON_MEMBERS`] members).
#[derive(Clone, Copy)]
struct Bounded {
    items: usize,
}

impl Bounded {
    const NESTED: Self = Self {
        items: MAX_JSON_MEMBERS,
    };
}

impl<'de> serde::de::DeserializeSeed<'de> for Bounded {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Bounded {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while out.len() < self.items {
            match seq.next_element_seed(Self::NESTED)? {
                Some(v) => out.push(v),
                None => return Ok(Value::Array(out)),
            }
        }
        match seq.next_element::<serde::de::IgnoredAny>()? {
            None => Ok(Value::Array(out)),
            Some(_) => Err(serde::de::Error::custom(TOO_MANY)),
        }
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        let mut n = 0;
        while let Some(k) = map.next_key::<String>()? {
            n += 1;
            if n > MAX_JSON_MEMBERS {
                return Err(serde::de::Error::custom(TOO_MANY));
            }
            let v = map.next_value_seed(Self::NESTED)?;
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

/// The variables `AgentCallwithData`'s `data` gives the call: a flat JSON object (scalars
/// become text), or uContact's `Par1=Val1:Par2=Val2`; anything else gives none (the data is
/// still kept with the call). Invalid names or values are refused.
pub fn call_variables(data: &str) -> Result<CallData, WireError> {
    let data = data.trim();
    if data.is_empty() {
        return Ok(CallData::default());
    }
    let pairs: Vec<(String, String)> = if data.starts_with('{') {
        let v = bounded_json(data, MAX_JSON_MEMBERS)?;
        let o = object(&v)?;
        let mut pairs = Vec::new();
        for (k, v) in o {
            pairs.push((
                k.clone(),
                scalar(Some(v)).map_err(|_| WireError::Invalid("data"))?,
            ));
        }
        pairs
    } else if data.contains('=') {
        if data.split(':').nth(CallData::MAX_PAIRS).is_some() {
            return Err(WireError::TooMany);
        }
        data.split(':')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.trim().to_owned(), v.trim().to_owned())
            })
            .collect()
    } else {
        Vec::new()
    };
    CallData::new(&pairs).map_err(|_| WireError::Invalid("data"))
}

/// `CallWorkflow`'s `jsonparams`: a JSON object (at most [`MAX_JSON_MEMBERS`] members), each
/// member a parameter; a scalar is its text, `null` empty, an object or array its JSON text.
pub fn workflow_params(text: &str) -> Result<Vec<(String, String)>, WireError> {
    let v = bounded_json(text.trim(), MAX_JSON_MEMBERS)?;
    Ok(object(&v)?
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Value::Object(_) | Value::Array(_) => v.to_string(),
                other => scalar(Some(other)).unwrap_or_default(),
            };
            (k.clone(), text)
        })
        .collect())
}

#[cfg(test)]
mod workflow_tests {
    use super::*;

    #[test]
    fn workflow_params_are_text() {
        let p = workflow_params(
            r#"{"cliente": "Ana Pérez", "deuda": 1520.5, "vip": true, "x": null, "o": {"a": [1]}}"#,
        )
        .unwrap();
        let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            p,
            [
                ("cliente", "Ana Pérez"),
                ("deuda", "1520.5"),
                ("o", r#"{"a":[1]}"#),
                ("vip", "true"),
                ("x", "")
            ]
        );
        assert!(workflow_params("[1]").is_err());
        assert!(workflow_params("").is_err());
    }
}
