//! The wire of eXpand's simple lists (`/expandweb3/api/external/lists/simple...`): the list
//! and element JSON, the element bodies of `POST` and `PUT`, the listing's `start`/`limit`.
//!
//! - a list: `{"id": 3, "name": "cartera", "type": "simple", "elements": 2}`;
//! - an element: `{"key": "27126666", "value": "112"}` (`key` and `value` as the seed names
//!   them; a JSON number is taken as its digits);
//! - `GET .../elements`: a JSON array of elements by key, `start` (default 0) and `limit`
//!   (default and at most [`MAX_PAGE`]) from the query string.

use serde_json::{json, Map, Value};

use crate::core::lists::{
    KeyList, ListElement, ListKey, ListRef, ListValue, ListValueError, MAX_PAGE,
};

use super::super::errors::Failure;
use super::Filters;

/// The filters `GET .../elements` reads.
pub const ELEMENT_FILTERS: &[&str] = &["start", "limit"];

/// A list.
pub fn list_json(l: &KeyList) -> Value {
    json!({
        "id": l.id.0,
        "name": l.name.as_str(),
        "type": "simple",
        "elements": l.elements,
    })
}

/// An element.
pub fn element_json(e: &ListElement) -> Value {
    json!({ "key": e.key.as_str(), "value": e.value.as_str() })
}

/// The list a path segment names (its name, or its id in digits).
pub fn list_ref(s: &str) -> Result<ListRef, Failure> {
    ListRef::parse(s).map_err(|_| Failure::UnknownList)
}

/// The key in a path.
pub fn path_key(s: &str) -> Result<ListKey, Failure> {
    ListKey::parse(s).map_err(|_| Failure::UnknownElement)
}

fn invalid(e: ListValueError) -> Failure {
    Failure::BadInput(match e {
        ListValueError::Name => "list",
        ListValueError::Key => "key",
        ListValueError::Value => "value",
    })
}

fn text(o: &Map<String, Value>, name: &'static str) -> Result<Option<String>, Failure> {
    match o.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => Ok(Some(n.to_string())),
        Some(_) => Err(Failure::BadInput(name)),
    }
}

fn object(body: &[u8]) -> Result<Map<String, Value>, Failure> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(o)) => Ok(o),
        _ => Err(Failure::BadInput("body")),
    }
}

/// `POST .../elements`' body: `{"key": ..., "value": ...}` (both required; other members
/// ignored).
pub fn new_element(body: &[u8]) -> Result<ListElement, Failure> {
    let o = object(body)?;
    let key = text(&o, "key")?.ok_or(Failure::BadInput("key"))?;
    let value = text(&o, "value")?.ok_or(Failure::BadInput("value"))?;
    Ok(ListElement {
        key: ListKey::parse(key.trim()).map_err(invalid)?,
        value: ListValue::parse(&value).map_err(invalid)?,
    })
}

/// `PUT .../elements/<key>`' body: `{"value": ...}`; a `key` member, if given, must be the
/// path's.
pub fn changed_element(key: ListKey, body: &[u8]) -> Result<ListElement, Failure> {
    let o = object(body)?;
    if let Some(k) = text(&o, "key")? {
        if k.trim() != key.as_str() {
            return Err(Failure::BadInput("key"));
        }
    }
    let value = text(&o, "value")?.ok_or(Failure::BadInput("value"))?;
    Ok(ListElement {
        key,
        value: ListValue::parse(&value).map_err(invalid)?,
    })
}

/// The page `GET .../elements` asks for: `(start, limit)`.
pub fn page(f: &Filters) -> Result<(u64, u32), Failure> {
    let start = f
        .get("start")
        .map(|s| s.parse::<u64>().map_err(|_| Failure::BadInput("start")))
        .transpose()?
        .unwrap_or(0);
    let limit = f
        .get("limit")
        .map(|s| s.parse::<u32>().map_err(|_| Failure::BadInput("limit")))
        .transpose()?
        .unwrap_or(MAX_PAGE)
        .min(MAX_PAGE);
    Ok((start, limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies() {
        let e = new_element(br#"{ "key": "5679", "value": "Un elemento" }"#).unwrap();
        assert_eq!(
            element_json(&e),
            json!({"key": "5679", "value": "Un elemento"})
        );
        let e = new_element(br#"{"key": 27126666, "value": 112}"#).unwrap();
        assert_eq!(element_json(&e), json!({"key": "27126666", "value": "112"}));
        for bad in [
            &br#"{"value": "x"}"#[..],
            br#"{"key": "a b", "value": "x"}"#,
            br#"{"key": "1", "value": "a\nb"}"#,
            br#"{"key": "1", "value": {"x": 1}}"#,
            br#"["key"]"#,
            b"not json",
        ] {
            assert!(
                new_element(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let k = ListKey::parse("27126666").unwrap();
        let e = changed_element(k.clone(), br#"{"value": "valor nuevo"}"#).unwrap();
        assert_eq!(e.value.as_str(), "valor nuevo");
        assert!(changed_element(k, br#"{"key": "1", "value": "x"}"#).is_err());
    }
}
