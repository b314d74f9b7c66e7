//! Signed, expiring links to recordings: what lets a browser's `<audio src>` (which sends no
//! `Authorization` header) play a recording that an authenticated caller was given.
//!
//! A link names a recording by its [`Guid`] and carries `expires` (Unix seconds) and `sig`, a
//! keyed BLAKE2b-256 MAC of the guid and the expiry under the install's link key. The MAC covers
//! the recording, not the file name, so one signature serves each of the recording's files
//! (`.mp3`, `.gsm`, flat or in its day folder). Changing the guid, the expiry or the signature
//! makes the link [`LinkError::Invalid`]; a link past its expiry is [`LinkError::Expired`].
//!
//! The key ([`LinkKey`]) is 32 random bytes made once per install and kept in the engine's
//! store; its `Debug` is redacted and it is never logged. Rules only: issuing and checking
//! links; the facades put them in their answers and check them on the file routes.

use std::fmt;
use std::time::Duration;

use blake2::digest::consts::U32;
use blake2::digest::{KeyInit, Mac};
use blake2::Blake2bMac;

use super::recordings::Guid;
use super::UnixTime;

/// Bytes in a link key.
pub const KEY_BYTES: usize = 32;

/// The install's secret key for recording links.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkKey([u8; KEY_BYTES]);

impl LinkKey {
    /// The key from its stored bytes.
    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> Self {
        Self(bytes)
    }
}

impl fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkKey(***)")
    }
}

/// A link's query: `expires=<unix seconds>&sig=<64 hex digits>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkToken {
    /// When the link stops working.
    pub expires: UnixTime,
    /// The MAC, lower-case hex.
    pub sig: String,
}

impl LinkToken {
    /// The query string (without `?`).
    pub fn query(&self) -> String {
        format!("expires={}&sig={}", self.expires.seconds(), self.sig)
    }
}

/// Why a link does not open its recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The signature does not match the guid and expiry (tampered, or another install's), or
    /// the link's parts are malformed.
    #[error("invalid recording link")]
    Invalid,
    /// The link is past its expiry.
    #[error("expired recording link")]
    Expired,
}

/// Issues and checks recording links.
#[derive(Clone, Debug)]
pub struct RecordLinks {
    key: LinkKey,
    lifetime: Duration,
}

const DOMAIN: &[u8] = b"centralita record link v1\0";

impl RecordLinks {
    /// Links signed with `key`, each valid for `lifetime` from its issue.
    pub fn new(key: LinkKey, lifetime: Duration) -> Self {
        Self { key, lifetime }
    }

    /// How long an issued link stays valid.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    fn mac(&self, guid: &str, expires: i64) -> Blake2bMac<U32> {
        let mut mac = <Blake2bMac<U32> as KeyInit>::new_from_slice(&self.key.0)
            .expect("a 32-byte key suits BLAKE2b");
        mac.update(DOMAIN);
        mac.update(guid.as_bytes());
        mac.update(b"\0");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// A link to `guid`'s recording, issued at `now`.
    pub fn issue(&self, guid: &Guid, now: UnixTime) -> LinkToken {
        let secs = i64::try_from(self.lifetime.as_secs()).unwrap_or(i64::MAX);
        let expires = now.seconds().saturating_add(secs);
        let tag = self.mac(guid.as_str(), expires).finalize().into_bytes();
        let sig = tag.iter().map(|b| format!("{b:02x}")).collect();
        LinkToken {
            expires: UnixTime(expires),
            sig,
        }
    }

    /// Whether `expires` and `sig` (as the link's query gave them) open `guid`'s recording at
    /// `now`. The signature is checked first and in constant time; only a genuine link is told
    /// it expired.
    pub fn verify(
        &self,
        guid: &Guid,
        expires: &str,
        sig: &str,
        now: UnixTime,
    ) -> Result<(), LinkError> {
        let expires: i64 = expires
            .parse()
            .ok()
            .filter(|_| !expires.starts_with('+') && !expires.is_empty())
            .ok_or(LinkError::Invalid)?;
        let tag = decode_hex(sig).ok_or(LinkError::Invalid)?;
        self.mac(guid.as_str(), expires)
            .verify_slice(&tag)
            .map_err(|_| LinkError::Invalid)?;
        if now.seconds() >= expires {
            return Err(LinkError::Expired);
        }
        Ok(())
    }
}

fn decode_hex(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(seed: u8) -> RecordLinks {
        RecordLinks::new(LinkKey::from_bytes([seed; 32]), Duration::from_secs(3600))
    }

    fn guid(s: &str) -> Guid {
        Guid::derive(s)
    }

    #[test]
    fn an_issued_link_opens_its_recording_until_it_expires() {
        let l = links(7);
        let g = guid("pbx1-1.1");
        let t = l.issue(&g, UnixTime(1_000));
        assert_eq!(t.expires, UnixTime(4_600));
        assert_eq!(t.sig.len(), 64);
        let exp = t.expires.seconds().to_string();
        assert_eq!(l.verify(&g, &exp, &t.sig, UnixTime(1_000)), Ok(()));
        assert_eq!(l.verify(&g, &exp, &t.sig, UnixTime(4_599)), Ok(()));
        assert_eq!(
            l.verify(&g, &exp, &t.sig.to_uppercase(), UnixTime(4_599)),
            Ok(())
        );
        assert_eq!(
            l.verify(&g, &exp, &t.sig, UnixTime(4_600)),
            Err(LinkError::Expired)
        );
        assert_eq!(
            t.query(),
            format!("expires=4600&sig={}", t.sig),
            "the query the facades append"
        );
    }

    #[test]
    fn tampering_or_another_key_is_invalid() {
        let l = links(7);
        let g = guid("pbx1-1.1");
        let t = l.issue(&g, UnixTime(1_000));
        let exp = t.expires.seconds().to_string();
        let mut flipped = t.sig.clone().into_bytes();
        flipped[10] = if flipped[10] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        let now = UnixTime(1_000);
        for (g2, e, s) in [
            (guid("pbx1-1.2"), exp.as_str(), t.sig.as_str()),
            (g.clone(), "99999999", t.sig.as_str()),
            (g.clone(), "+4600", t.sig.as_str()),
            (g.clone(), "", t.sig.as_str()),
            (g.clone(), exp.as_str(), flipped.as_str()),
            (g.clone(), exp.as_str(), &t.sig[..62]),
            (g.clone(), exp.as_str(), "zz"),
        ] {
            assert_eq!(l.verify(&g2, e, s, now), Err(LinkError::Invalid), "{e} {s}");
        }
        // An expired but tampered link is invalid, not expired.
        assert_eq!(
            l.verify(&g, &exp, &flipped, UnixTime(10_000)),
            Err(LinkError::Invalid)
        );
        assert_eq!(
            links(8).verify(&g, &exp, &t.sig, now),
            Err(LinkError::Invalid)
        );
        assert_eq!(
            format!("{:?}", LinkKey::from_bytes([7; 32])),
            "LinkKey(***)"
        );
    }
}
