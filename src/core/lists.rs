//! Key/value lists (eXpand's "listas simples"): named lists of unique keys, each with a value,
//! such as a VIP list of numbers or a portfolio (`cartera`) mapping a customer number to a code.
//!
//! Lists are created and removed by the administrator (`centralita admin list ...`); their
//! elements are read and written through the APIs. The rules are here, once: the alphabets and
//! bounds of names, keys and values ([`ListName`], [`ListKey`], [`ListValue`]), a key unique in
//! its list ([`ListError::DuplicateKey`]). [`ListStore`] is the port (`store::lists`), one
//! indexed query per lookup; [`ListsService`] is what the facades, the admin CLI and flows use
//! ([`ListsService::contains`]: is a key in a list, and its value).

use std::sync::Arc;

use super::{off_runtime, BoxFuture, PortError, UnixTime};

/// Longest list name, in bytes.
pub const MAX_NAME: usize = 64;
/// Longest key, in bytes.
pub const MAX_KEY: usize = 128;
/// Longest value, in bytes.
pub const MAX_VALUE: usize = 1024;
/// Most elements one page of a listing answers.
pub const MAX_PAGE: u32 = 10_000;

/// Why a list value is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ListValueError {
    /// A name outside `[A-Za-z0-9_.-]`, empty, starting with a digit-only form, or too long.
    #[error("a list name is 1 to 64 letters, digits, '_', '.', '-', not only digits")]
    Name,
    /// A key empty, too long, or with characters outside the key alphabet.
    #[error("a key is 1 to 128 letters, digits or '_ . - + * # @ :'")]
    Key,
    /// A value too long or with control characters.
    #[error("a value is at most 1024 bytes without control characters")]
    Value,
}

/// A list's name: `[A-Za-z0-9_.-]{1,64}`, not all digits (an all-digit segment of a path is a
/// list's id).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListName(String);

impl ListName {
    /// A valid name.
    pub fn parse(s: &str) -> Result<Self, ListValueError> {
        let ok = !s.is_empty()
            && s.len() <= MAX_NAME
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
            && !s.bytes().all(|b| b.is_ascii_digit())
            && s != "."
            && s != "..";
        ok.then(|| Self(s.to_owned())).ok_or(ListValueError::Name)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ListName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A list's id, assigned by the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListId(pub i64);

/// A key: 1 to 128 bytes of `[A-Za-z0-9_.+*#@:-]` (numbers, codes, e-mail-like ids). No spaces,
/// no `/`, no controls: a key is a path segment and may be compared with call data.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListKey(String);

impl ListKey {
    /// A valid key.
    pub fn parse(s: &str) -> Result<Self, ListValueError> {
        let ok = !s.is_empty()
            && s.len() <= MAX_KEY
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.+*#@:-".contains(&b));
        ok.then(|| Self(s.to_owned())).ok_or(ListValueError::Key)
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A value: any text of at most 1024 bytes without control characters (tabs included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListValue(String);

impl ListValue {
    /// A valid value.
    pub fn parse(s: &str) -> Result<Self, ListValueError> {
        let ok = s.len() <= MAX_VALUE && !s.chars().any(char::is_control);
        ok.then(|| Self(s.to_owned())).ok_or(ListValueError::Value)
    }

    /// The value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A list and how many elements it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyList {
    /// Its id.
    pub id: ListId,
    /// Its name.
    pub name: ListName,
    /// Its number of elements.
    pub elements: u64,
    /// When it was created.
    pub created_at: UnixTime,
}

/// One element of a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListElement {
    /// The key, unique in its list.
    pub key: ListKey,
    /// Its value.
    pub value: ListValue,
}

/// How a path names a list: by name, or by id (an all-digit segment).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListRef {
    /// By id.
    Id(ListId),
    /// By name.
    Name(ListName),
}

impl ListRef {
    /// The list a path segment names: digits are an id, else a name.
    pub fn parse(s: &str) -> Result<Self, ListValueError> {
        if !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit()) {
            return s
                .parse()
                .map(|n| Self::Id(ListId(n)))
                .map_err(|_| ListValueError::Name);
        }
        ListName::parse(s).map(Self::Name)
    }
}

/// What a write to the store found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// Done.
    Done,
    /// No such list.
    NoList,
    /// No such key (update, delete).
    NoKey,
    /// The key exists already (insert) or the list's name is taken (create).
    Exists,
}

/// The store port of lists. Every lookup of a key is one indexed query.
pub trait ListStore: Send + Sync {
    /// Every list, by name.
    fn lists(&self) -> Result<Vec<KeyList>, PortError>;
    /// One list.
    fn list(&self, which: &ListRef) -> Result<Option<KeyList>, PortError>;
    /// Creates an empty list ([`Written::Exists`] when the name is taken).
    fn create_list(&self, name: &ListName, now: UnixTime) -> Result<Written, PortError>;
    /// Removes a list and its elements.
    fn remove_list(&self, name: &ListName) -> Result<Written, PortError>;
    /// A page of a list's elements, by key.
    fn elements(&self, list: ListId, start: u64, limit: u32)
        -> Result<Vec<ListElement>, PortError>;
    /// The element of `key`.
    fn element(&self, list: ListId, key: &ListKey) -> Result<Option<ListElement>, PortError>;
    /// Adds an element ([`Written::Exists`] when its key is there).
    fn insert(&self, list: ListId, e: &ListElement) -> Result<Written, PortError>;
    /// Changes the value of `key` ([`Written::NoKey`] when absent).
    fn update(&self, list: ListId, e: &ListElement) -> Result<Written, PortError>;
    /// Removes the element of `key` ([`Written::NoKey`] when absent).
    fn delete(&self, list: ListId, key: &ListKey) -> Result<Written, PortError>;
    /// Inserts or replaces a batch of elements in one transaction; answers how many were new.
    fn upsert_batch(&self, list: ListId, batch: &[ListElement]) -> Result<u64, PortError>;
    /// The value of `key` in the list named `name` (one indexed query).
    fn lookup(&self, name: &ListName, key: &ListKey) -> Result<Option<ListValue>, PortError>;
}

/// Why a list operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// A name, key or value outside its rules.
    #[error(transparent)]
    Invalid(#[from] ListValueError),
    /// No such list.
    #[error("no such list")]
    UnknownList,
    /// No such key in the list.
    #[error("no such key")]
    UnknownKey,
    /// The key is in the list already.
    #[error("the key exists")]
    DuplicateKey,
    /// A list with that name exists.
    #[error("the list exists")]
    DuplicateList,
    /// The store failed.
    #[error("list store")]
    Store(#[source] PortError),
}

/// The lists, for every facade, the admin CLI and flows.
#[derive(Clone)]
pub struct ListsService {
    store: Arc<dyn ListStore>,
}

fn written(w: Written) -> Result<(), ListError> {
    match w {
        Written::Done => Ok(()),
        Written::NoList => Err(ListError::UnknownList),
        Written::NoKey => Err(ListError::UnknownKey),
        Written::Exists => Err(ListError::DuplicateKey),
    }
}

impl ListsService {
    /// Lists kept in `store`.
    pub fn new(store: Arc<dyn ListStore>) -> Self {
        Self { store }
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn ListStore) -> Result<T, PortError> + Send + 'static,
    ) -> Result<T, ListError> {
        let store = self.store.clone();
        off_runtime(move || f(&*store))
            .await
            .map_err(ListError::Store)
    }

    /// Every list.
    pub async fn lists(&self) -> Result<Vec<KeyList>, ListError> {
        self.run(|s| s.lists()).await
    }

    /// One list.
    pub async fn list(&self, which: ListRef) -> Result<KeyList, ListError> {
        self.run(move |s| s.list(&which))
            .await?
            .ok_or(ListError::UnknownList)
    }

    /// Creates an empty list.
    pub async fn create_list(&self, name: ListName) -> Result<(), ListError> {
        match self
            .run(move |s| s.create_list(&name, UnixTime::now()))
            .await?
        {
            Written::Exists => Err(ListError::DuplicateList),
            w => written(w),
        }
    }

    /// Removes a list and its elements.
    pub async fn remove_list(&self, name: ListName) -> Result<(), ListError> {
        written(self.run(move |s| s.remove_list(&name)).await?)
    }

    /// A page of the elements of a list.
    pub async fn elements(
        &self,
        which: ListRef,
        start: u64,
        limit: u32,
    ) -> Result<(KeyList, Vec<ListElement>), ListError> {
        let list = self.list(which).await?;
        let id = list.id;
        let limit = limit.min(MAX_PAGE);
        let elements = self.run(move |s| s.elements(id, start, limit)).await?;
        Ok((list, elements))
    }

    /// The element of `key`.
    pub async fn element(&self, which: ListRef, key: ListKey) -> Result<ListElement, ListError> {
        let id = self.list(which).await?.id;
        self.run(move |s| s.element(id, &key))
            .await?
            .ok_or(ListError::UnknownKey)
    }

    /// Adds an element; [`ListError::DuplicateKey`] when its key is in the list.
    pub async fn insert(&self, which: ListRef, e: ListElement) -> Result<(), ListError> {
        let id = self.list(which).await?.id;
        written(self.run(move |s| s.insert(id, &e)).await?)
    }

    /// Changes an element's value.
    pub async fn update(&self, which: ListRef, e: ListElement) -> Result<(), ListError> {
        let id = self.list(which).await?.id;
        written(self.run(move |s| s.update(id, &e)).await?)
    }

    /// Removes an element; answers what it was.
    pub async fn delete(&self, which: ListRef, key: ListKey) -> Result<ListElement, ListError> {
        let id = self.list(which).await?.id;
        self.run(move |s| {
            let found = s.element(id, &key)?;
            if found.is_some() {
                s.delete(id, &key)?;
            }
            Ok(found)
        })
        .await?
        .ok_or(ListError::UnknownKey)
    }

    /// Inserts or replaces a batch (an import); answers how many keys were new.
    pub async fn upsert_batch(
        &self,
        name: ListName,
        batch: Vec<ListElement>,
    ) -> Result<u64, ListError> {
        let id = self.list(ListRef::Name(name)).await?.id;
        self.run(move |s| s.upsert_batch(id, &batch)).await
    }

    /// Whether `key` is in the list `list`, and its value: what a flow's branch asks. A key or
    /// list name outside its alphabet is in no list.
    pub async fn contains(&self, list: &str, key: &str) -> Result<Option<String>, ListError> {
        let (Ok(name), Ok(key)) = (ListName::parse(list), ListKey::parse(key)) else {
            return Ok(None);
        };
        Ok(self.run(move |s| s.lookup(&name, &key)).await?.map(|v| v.0))
    }
}

/// IVR branches on a list: a list or key outside the rules, an unknown list or a key not in
/// it is "not in the list"; only a store failure is a failed check.
impl crate::core::ivr::ListLookup for ListsService {
    fn contains(
        &self,
        list: &crate::core::ivr::ListName,
        key: &str,
    ) -> BoxFuture<'_, Result<bool, PortError>> {
        let (list, key) = (list.as_str().to_owned(), key.to_owned());
        Box::pin(async move {
            match ListsService::contains(self, &list, &key).await {
                Ok(found) => Ok(found.is_some()),
                Err(ListError::Store(e)) => Err(e),
                Err(_) => Ok(false),
            }
        })
    }
}

/// One line of a list import (`key,value`, or `key;value`; the value may be quoted with `"`,
/// a doubled `""` inside it a quote); `None` for a blank line.
pub fn import_line(line: &str) -> Option<Result<ListElement, ListValueError>> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return None;
    }
    let (key, value) = match line.find([',', ';']) {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, ""),
    };
    let key = key.trim().trim_matches('"');
    let value = value.trim();
    let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => value.to_owned(),
    };
    Some(ListKey::parse(key).and_then(|key| {
        Ok(ListElement {
            key,
            value: ListValue::parse(&value)?,
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keys_and_values_follow_their_rules() {
        for ok in ["cartera", "vip-2024", "A.b_c"] {
            assert!(ListName::parse(ok).is_ok(), "{ok}");
        }
        let long = "x".repeat(65);
        for bad in ["", "123", "a b", "a/b", "..", "ñ", long.as_str()] {
            assert!(ListName::parse(bad).is_err(), "{bad:?}");
        }
        for ok in ["27126666", "5679", "+598-99#1", "a@b.c"] {
            assert!(ListKey::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a/b", "x\r\n", "${SHELL(id)}", "a,b"] {
            assert!(ListKey::parse(bad).is_err(), "{bad:?}");
        }
        assert!(ListValue::parse("Un elemento, ñandú").is_ok());
        assert!(ListValue::parse("").is_ok());
        assert!(ListValue::parse("a\nb").is_err());
        assert!(ListValue::parse(&"v".repeat(1025)).is_err());
    }

    #[test]
    fn a_path_segment_of_digits_is_an_id() {
        assert_eq!(ListRef::parse("12").unwrap(), ListRef::Id(ListId(12)));
        assert_eq!(
            ListRef::parse("cartera").unwrap(),
            ListRef::Name(ListName::parse("cartera").unwrap())
        );
        assert!(ListRef::parse("99999999999999999999").is_err());
    }

    #[test]
    fn import_lines() {
        let e = import_line("27126666,112\r\n").unwrap().unwrap();
        assert_eq!((e.key.as_str(), e.value.as_str()), ("27126666", "112"));
        let e = import_line("5679;\"Un, \"\"elemento\"\"\"")
            .unwrap()
            .unwrap();
        assert_eq!(e.value.as_str(), "Un, \"elemento\"");
        assert!(import_line("   ").is_none());
        assert!(import_line("a b,1").unwrap().is_err());
    }
}
