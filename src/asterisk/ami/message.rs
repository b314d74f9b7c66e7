//! `AmiMessage`: one AMI packet (action, response or event) as an ordered list of key/value
//! pairs.
//!
//! Order and repeated keys are kept (`Variable:` on an `Originate`, `Output:` lines of a command);
//! lookups ignore ASCII case, as Asterisk does.

use std::fmt;
use std::sync::{Arc, OnceLock};

/// Keys whose values are replaced by `***` in `Debug` output.
const REDACTED_KEYS: &[&str] = &["Secret", "Key"];

/// One AMI message: ordered `(key, value)` pairs.
///
/// Its text sits in a shared store with the spans of each field. A message built field by field
/// has a store of its own; messages decoded together from one read share one store (one
/// allocation for a hundred events, not three per event), so cloning a message, as every
/// subscriber's copy of an event is, only counts a reference. Changing a message that shares
/// its store first copies its own fields out.
///
/// An event decoded from a read may have only its framing and its name read by the codec: its
/// fields are then split out of its text on the first look at them, once for every clone (by
/// whichever subscriber looks first, off the connection's task).
#[derive(Clone)]
pub struct AmiMessage {
    store: Arc<Store>,
    part: Part,
}

/// Which message of its store a message is.
#[derive(Clone, Copy, Debug)]
enum Part {
    /// Fields `store.fields[first..end]`.
    Fields { first: u32, end: u32 },
    /// `store.lazy[index]`.
    Lazy(u32),
}

/// Text and field spans of one message, or of every message decoded from one read.
#[derive(Clone, Debug, Default)]
pub(super) struct Store {
    pub(super) text: String,
    pub(super) fields: Vec<Field>,
    pub(super) lazy: Vec<Lazy>,
}

/// An event of a store whose fields are split out of its text when first read.
#[derive(Clone, Debug)]
pub(super) struct Lazy {
    /// Its lines in the store's text, each ended by CRLF (the blank line excluded).
    pub(super) lines: (u32, u32),
    /// The value of its first line, `Event: …`.
    pub(super) name: (u32, u32),
    pub(super) parsed: OnceLock<Parsed>,
}

/// The fields of a [`Lazy`] event, once split.
#[derive(Clone, Debug)]
pub(super) enum Parsed {
    /// Spans of the store's text.
    Spans(Vec<Field>),
    /// A store of its own, when a line had no `:` (an `Output` key the text does not hold).
    Own(Store),
}

/// Where a field's key and value sit in the store's text (byte offsets, start and end).
#[derive(Clone, Copy, Debug)]
pub(super) struct Field {
    pub(super) key: (u32, u32),
    pub(super) value: (u32, u32),
}

impl Default for AmiMessage {
    fn default() -> Self {
        Self::new()
    }
}

impl AmiMessage {
    /// An empty message.
    pub fn new() -> Self {
        Self::with_capacity(0, 0)
    }

    /// An empty message with room for `fields` fields of `bytes` bytes of text in all.
    pub fn with_capacity(fields: usize, bytes: usize) -> Self {
        Self::whole(Store {
            text: String::with_capacity(bytes),
            fields: Vec::with_capacity(fields),
            lazy: Vec::new(),
        })
    }

    /// The one message of `store`.
    fn whole(store: Store) -> Self {
        // A message is bounded far below 4 GiB of fields by the codec's limit.
        let end = store.fields.len() as u32;
        Self {
            store: Arc::new(store),
            part: Part::Fields { first: 0, end },
        }
    }

    /// The message made of `store.fields[range]` (the codec's one-pass decode of several
    /// messages from one read: one copy of their bytes, no copy per field), or `None` when the
    /// range is not within the store. Every span lies within the text on character boundaries.
    pub(super) fn shared(store: Arc<Store>, range: std::ops::Range<u32>) -> Option<Self> {
        let end = range.end.min(store.fields.len() as u32);
        if range.start > end {
            return None;
        }
        Some(Self {
            store,
            part: Part::Fields {
                first: range.start,
                end,
            },
        })
    }

    /// The event `store.lazy[index]`, or `None` when there is no such event.
    pub(super) fn lazy(store: Arc<Store>, index: u32) -> Option<Self> {
        ((index as usize) < store.lazy.len()).then_some(Self {
            store,
            part: Part::Lazy(index),
        })
    }

    /// Whether `self` and `other` sit in one store (tests of the codec's batches).
    #[cfg(test)]
    pub(super) fn shares_store_with(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.store, &other.store)
    }

    /// Whether this message's fields are yet to be split out of its text.
    #[cfg(test)]
    pub(super) fn is_unread(&self) -> bool {
        match self.part {
            Part::Lazy(i) => self.store.lazy[i as usize].parsed.get().is_none(),
            Part::Fields { .. } => false,
        }
    }

    /// The text the spans point into, and this message's fields.
    fn view(&self) -> (&str, &[Field]) {
        let store = &*self.store;
        match self.part {
            Part::Fields { first, end } => {
                (&store.text, &store.fields[first as usize..end as usize])
            }
            Part::Lazy(i) => {
                let lazy = &store.lazy[i as usize];
                match lazy
                    .parsed
                    .get_or_init(|| super::codec::split_lines(&store.text, lazy.lines))
                {
                    Parsed::Spans(fields) => (&store.text, fields),
                    Parsed::Own(own) => (&own.text, &own.fields),
                }
            }
        }
    }

    /// The store, alone and holding only this message, to change it: a message that shares
    /// its store (or a store of several) gets a copy of its own fields first.
    fn store_mut(&mut self) -> &mut Store {
        let alone = matches!(self.part, Part::Fields { first: 0, end }
            if end as usize == self.store.fields.len())
            && self.store.lazy.is_empty();
        if !alone || Arc::get_mut(&mut self.store).is_none() {
            let mut own = Store {
                text: String::with_capacity(self.text_len()),
                fields: Vec::with_capacity(self.len() + 1),
                lazy: Vec::new(),
            };
            for (k, v) in self.fields() {
                let key = own.append(k);
                let value = own.append(v);
                own.fields.push(Field { key, value });
            }
            *self = Self::whole(own);
        }
        // Alone now: `make_mut` has nothing to copy.
        Arc::make_mut(&mut self.store)
    }

    /// After a change through [`AmiMessage::store_mut`]: the message is the whole store.
    fn whole_again(&mut self) {
        self.part = Part::Fields {
            first: 0,
            end: self.store.fields.len() as u32,
        };
    }

    /// Appends a field, keeping any earlier field with the same key.
    pub fn push(&mut self, key: impl AsRef<str>, value: impl AsRef<str>) {
        let store = self.store_mut();
        let key = store.append(key.as_ref());
        let value = store.append(value.as_ref());
        store.fields.push(Field { key, value });
        self.whole_again();
    }

    /// An event named `name` with these fields after its `Event` line (for tests of the
    /// code that reads events).
    #[cfg(test)]
    pub(crate) fn event(name: &str, fields: &[(&str, &str)]) -> Self {
        let mut m = Self::new().with("Event", name);
        for (k, v) in fields {
            m.push(*k, *v);
        }
        m
    }

    /// Builder form of [`AmiMessage::push`].
    pub fn with(mut self, key: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        self.push(key, value);
        self
    }

    /// Inserts a field at `index` (clamped to the end).
    pub fn insert(&mut self, index: usize, key: impl AsRef<str>, value: impl AsRef<str>) {
        let index = index.min(self.len());
        let store = self.store_mut();
        let key = store.append(key.as_ref());
        let value = store.append(value.as_ref());
        store.fields.insert(index, Field { key, value });
        self.whole_again();
    }

    /// Removes every field with this key (ASCII case-insensitive).
    pub fn remove(&mut self, key: &str) {
        let store = self.store_mut();
        let Store { text, fields, .. } = store;
        fields.retain(|f| !text[f.key.0 as usize..f.key.1 as usize].eq_ignore_ascii_case(key));
        self.whole_again();
    }

    /// The first value for `key` (ASCII case-insensitive).
    pub fn get(&self, key: &str) -> Option<&str> {
        let (text, fields) = self.view();
        fields
            .iter()
            .find(|f| key_is(text, f, key.as_bytes()))
            .map(|f| span(text, f.value))
    }

    /// Every value for `key`, in order (ASCII case-insensitive).
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let (text, fields) = self.view();
        fields
            .iter()
            .filter(move |f| key_is(text, f, key.as_bytes()))
            .map(move |f| span(text, f.value))
    }

    /// All fields, in order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        let (text, fields) = self.view();
        fields
            .iter()
            .map(move |f| (span(text, f.key), span(text, f.value)))
    }

    /// Bytes of text of every key and value.
    pub fn text_len(&self) -> usize {
        self.view()
            .1
            .iter()
            .map(|f| (f.key.1 - f.key.0 + f.value.1 - f.value.0) as usize)
            .sum()
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.view().1.len()
    }

    /// Whether the message has no field.
    pub fn is_empty(&self) -> bool {
        self.view().1.is_empty()
    }

    /// Whether this is an event (has an `Event` key).
    pub fn is_event(&self) -> bool {
        self.event_name().is_some()
    }

    /// The event name, if this is an event. Read without splitting a decoded event's fields:
    /// the codec noted it.
    pub fn event_name(&self) -> Option<&str> {
        if let Part::Lazy(i) = self.part {
            let name = self.store.lazy[i as usize].name;
            return Some(span(&self.store.text, name));
        }
        self.get("Event")
    }

    /// Whether this is a response to an action (has a `Response` key and no `Event` key).
    pub fn is_response(&self) -> bool {
        !self.is_event() && self.get("Response").is_some()
    }

    /// The `Response` value (`Success`, `Error`, `Follows`, `Goodbye`).
    pub fn response(&self) -> Option<&str> {
        self.get("Response")
    }

    /// Whether this response reports success (`Success`, `Follows` or `Goodbye`).
    pub fn is_success(&self) -> bool {
        matches!(self.response(), Some(r) if ["Success", "Follows", "Goodbye"]
            .iter()
            .any(|ok| r.eq_ignore_ascii_case(ok)))
    }

    /// The `ActionID` value.
    pub fn action_id(&self) -> Option<&str> {
        self.get("ActionID")
    }

    /// The `Action` value, for an action.
    pub fn action_name(&self) -> Option<&str> {
        self.get("Action")
    }

    /// The `Message` value (human-readable text of a response).
    pub fn message(&self) -> Option<&str> {
        self.get("Message")
    }
}

/// Whether field `f`'s key in `text` is `key` (ASCII case-insensitive), comparing lengths first.
fn key_is(text: &str, f: &Field, key: &[u8]) -> bool {
    let (start, end) = (f.key.0 as usize, f.key.1 as usize);
    end - start == key.len() && text.as_bytes()[start..end].eq_ignore_ascii_case(key)
}

fn span(text: &str, (start, end): (u32, u32)) -> &str {
    &text[start as usize..end as usize]
}

impl Store {
    pub(super) fn append(&mut self, s: &str) -> (u32, u32) {
        let start = self.text.len();
        self.text.push_str(s);
        // A message is bounded far below 4 GiB by the codec's limit.
        (start as u32, self.text.len() as u32)
    }
}

impl PartialEq for AmiMessage {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.fields().eq(other.fields())
    }
}

impl Eq for AmiMessage {}

impl fmt::Debug for AmiMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for (k, v) in self.fields() {
            if REDACTED_KEYS.iter().any(|r| k.eq_ignore_ascii_case(r)) {
                list.entry(&(k, "***"));
            } else {
                list.entry(&(k, v));
            }
        }
        list.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> AmiMessage {
        AmiMessage::new()
            .with("Event", "VarSet")
            .with("ActionID", "7")
            .with("Variable", "A=1")
            .with("variable", "B=2")
    }

    #[test]
    fn lookup_is_case_insensitive_and_keeps_repeats() {
        let m = sample();
        assert_eq!(m.get("EVENT"), Some("VarSet"));
        assert_eq!(m.get_all("Variable").collect::<Vec<_>>(), ["A=1", "B=2"]);
        assert_eq!(m.get("Missing"), None);
        assert_eq!(m.len(), 4);
    }

    #[test]
    fn kind_helpers() {
        let ev = sample();
        assert!(ev.is_event());
        assert!(!ev.is_response());
        assert_eq!(ev.event_name(), Some("VarSet"));
        assert_eq!(ev.action_id(), Some("7"));

        let ok = AmiMessage::new().with("Response", "Success");
        assert!(ok.is_response() && ok.is_success());
        let err = AmiMessage::new().with("Response", "Error");
        assert!(err.is_response() && !err.is_success());
    }

    #[test]
    fn debug_redacts_secret() {
        let m = AmiMessage::new()
            .with("Action", "Login")
            .with("Secret", "hunter2");
        let dbg = format!("{m:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("Login"));
    }

    #[test]
    fn insert_and_remove() {
        let mut m = AmiMessage::new().with("Action", "Ping");
        m.insert(1, "ActionID", "9");
        m.insert(99, "X", "y");
        assert_eq!(
            m.fields().collect::<Vec<_>>(),
            [("Action", "Ping"), ("ActionID", "9"), ("X", "y")]
        );
        m.remove("actionid");
        assert_eq!(m.action_id(), None);
    }
}
