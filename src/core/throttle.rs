//! The rule that throttles authentication: failed attempts are counted per principal (a user
//! name, an agent, an API key's id) and per source address in a sliding window; reaching the
//! limit locks that principal or address out for a while, and every further lock-out of the same
//! one within the window doubles (exponential backoff) up to a cap. While locked out an attempt
//! is refused before any password is hashed.
//!
//! Pure: the clock is passed in (`now`), nothing here sleeps, hashes or does I/O. The caller
//! ([`super::login_guard::LoginGuard`]) asks [`Throttle::begin`] before hashing and reports the
//! outcome with [`Throttle::finish`]. Attempts in flight count against the limit, so a burst of
//! concurrent guesses cannot get past it before the first failures are recorded.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The limits (`[auth]` in the configuration).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThrottleSettings {
    /// Failures of one principal within `window` that lock it out.
    pub max_failures_per_principal: u32,
    /// Failures from one address within `window` that lock it out.
    pub max_failures_per_address: u32,
    /// The sliding window failures are counted in.
    pub window: Duration,
    /// The first lock-out; each further one within the window doubles it.
    pub lockout: Duration,
    /// The longest lock-out.
    pub max_lockout: Duration,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            max_failures_per_principal: 5,
            max_failures_per_address: 50,
            window: Duration::from_secs(300),
            lockout: Duration::from_secs(60),
            max_lockout: Duration::from_secs(3600),
        }
    }
}

/// The most principals and the most addresses remembered at once; past it, the ones neither
/// locked out nor with a failure in the window are forgotten first, then the oldest.
pub const MAX_TRACKED: usize = 100_000;

/// What [`Throttle::begin`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Go on and verify; report the outcome with [`Throttle::finish`].
    Proceed,
    /// Locked out until this instant: refuse without verifying (and do not call `finish`).
    Locked {
        /// When the lock-out ends.
        until: Instant,
    },
}

#[derive(Debug, Default)]
struct Record {
    /// Failures in the window, oldest first.
    failures: VecDeque<Instant>,
    /// Attempts that passed `begin` and have not finished.
    in_flight: u32,
    /// The current lock-out's end.
    locked_until: Option<Instant>,
    /// How many lock-outs in a row (the next one lasts `lockout * 2^level`).
    level: u32,
    /// The last failure or lock-out (for expiry of the record and of `level`).
    last: Option<Instant>,
}

impl Record {
    fn forget_old(&mut self, now: Instant, window: Duration) {
        while self
            .failures
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= window)
        {
            self.failures.pop_front();
        }
        if self.locked_until.is_some_and(|u| now >= u) {
            self.locked_until = None;
        }
        // A quiet window after the last lock-out or failure forgives the earlier lock-outs.
        if self.locked_until.is_none()
            && self
                .last
                .is_some_and(|l| now.saturating_duration_since(l) >= window)
        {
            self.level = 0;
        }
    }

    fn locked(&self, now: Instant) -> Option<Instant> {
        self.locked_until.filter(|u| now < *u)
    }

    /// Nothing worth remembering: no attempt in flight, no failure in the window, no lock-out,
    /// no lock-out history still within the window.
    fn idle(&self, now: Instant, window: Duration) -> bool {
        self.in_flight == 0
            && self.failures.is_empty()
            && self.locked(now).is_none()
            && (self.level == 0
                || self
                    .last
                    .is_none_or(|l| now.saturating_duration_since(l) >= window))
    }

    fn fail(&mut self, now: Instant, max: u32, s: &ThrottleSettings) {
        self.failures.push_back(now);
        self.last = Some(now);
        if self.failures.len() >= max as usize {
            let factor = 1u32.checked_shl(self.level).unwrap_or(u32::MAX);
            let lock = s.lockout.saturating_mul(factor).min(s.max_lockout);
            self.locked_until = Some(now + lock);
            self.level = self.level.saturating_add(1);
            self.failures.clear();
        }
    }
}

/// Failure counts per principal and per address.
#[derive(Debug)]
pub struct Throttle {
    settings: ThrottleSettings,
    principals: HashMap<String, Record>,
    addresses: HashMap<IpAddr, Record>,
}

fn bound<K: Clone + Eq + std::hash::Hash>(
    map: &mut HashMap<K, Record>,
    now: Instant,
    window: Duration,
) {
    if map.len() < MAX_TRACKED {
        return;
    }
    map.retain(|_, r| !r.idle(now, window));
    if map.len() >= MAX_TRACKED {
        // Still full of live records: drop the half least recently failed (never one in flight).
        let mut by_age: Vec<(Option<Instant>, K)> = map
            .iter()
            .filter(|(_, r)| r.in_flight == 0)
            .map(|(k, r)| (r.last, k.clone()))
            .collect();
        by_age.sort_by_key(|(t, _)| *t);
        for (_, k) in by_age.into_iter().take(MAX_TRACKED / 2) {
            map.remove(&k);
        }
    }
}

impl Throttle {
    /// No failures yet.
    pub fn new(settings: ThrottleSettings) -> Self {
        Self {
            settings,
            principals: HashMap::new(),
            addresses: HashMap::new(),
        }
    }

    /// The limits in force.
    pub fn settings(&self) -> &ThrottleSettings {
        &self.settings
    }

    /// Whether an attempt for `principal` from `address` may be verified now. `Proceed` counts
    /// the attempt as in flight until [`Throttle::finish`].
    pub fn begin(&mut self, principal: &str, address: Option<IpAddr>, now: Instant) -> Verdict {
        let s = &self.settings;
        let p = self.principals.get_mut(principal);
        let mut until = None;
        if let Some(p) = p {
            p.forget_old(now, s.window);
            until = p.locked(now).or_else(|| {
                // In-flight attempts count: the burst cannot overshoot the limit.
                (p.failures.len() as u64 + u64::from(p.in_flight)
                    >= u64::from(s.max_failures_per_principal))
                .then_some(now)
            });
        }
        if let Some(a) = address.and_then(|a| self.addresses.get_mut(&a)) {
            a.forget_old(now, s.window);
            let a_until = a.locked(now).or_else(|| {
                (a.failures.len() as u64 + u64::from(a.in_flight)
                    >= u64::from(s.max_failures_per_address))
                .then_some(now)
            });
            until = until.max(a_until);
        }
        if let Some(until) = until {
            return Verdict::Locked { until };
        }
        bound(&mut self.principals, now, s.window);
        self.principals
            .entry(principal.to_owned())
            .or_default()
            .in_flight += 1;
        if let Some(a) = address {
            bound(&mut self.addresses, now, s.window);
            self.addresses.entry(a).or_default().in_flight += 1;
        }
        Verdict::Proceed
    }

    /// The outcome of an attempt `begin` let through: a success clears the principal's
    /// failures and lock-out history (not the address's: one good account must not launder an
    /// address's guesses at others); a failure counts for both and may lock them out.
    pub fn finish(&mut self, principal: &str, address: Option<IpAddr>, ok: bool, now: Instant) {
        let s = self.settings.clone();
        if let Some(p) = self.principals.get_mut(principal) {
            p.in_flight = p.in_flight.saturating_sub(1);
            if ok {
                p.failures.clear();
                p.level = 0;
                p.locked_until = None;
            } else {
                p.forget_old(now, s.window);
                p.fail(now, s.max_failures_per_principal, &s);
            }
            if p.idle(now, s.window) {
                self.principals.remove(principal);
            }
        }
        if let Some(a) = address.and_then(|a| self.addresses.get_mut(&a).map(|r| (a, r))) {
            let (addr, a) = a;
            a.in_flight = a.in_flight.saturating_sub(1);
            if !ok {
                a.forget_old(now, s.window);
                a.fail(now, s.max_failures_per_address, &s);
            }
            if a.idle(now, s.window) {
                self.addresses.remove(&addr);
            }
        }
    }

    /// Ends an attempt `begin` let through without counting it either way (it could not be
    /// verified).
    pub fn cancel(&mut self, principal: &str, address: Option<IpAddr>, now: Instant) {
        let window = self.settings.window;
        if let Some(p) = self.principals.get_mut(principal) {
            p.in_flight = p.in_flight.saturating_sub(1);
            if p.idle(now, window) {
                self.principals.remove(principal);
            }
        }
        if let Some(a) = address {
            if let Some(r) = self.addresses.get_mut(&a) {
                r.in_flight = r.in_flight.saturating_sub(1);
                if r.idle(now, window) {
                    self.addresses.remove(&a);
                }
            }
        }
    }

    /// When the lock-out of `principal` or `address` ends, if one of them is locked out at
    /// `now` (nothing is counted).
    pub fn locked_until(
        &self,
        principal: &str,
        address: Option<IpAddr>,
        now: Instant,
    ) -> Option<Instant> {
        let p = self.principals.get(principal).and_then(|r| r.locked(now));
        let a = address
            .and_then(|a| self.addresses.get(&a))
            .and_then(|r| r.locked(now));
        p.max(a)
    }

    /// How many principals and addresses are remembered (for bounds checks).
    pub fn tracked(&self) -> (usize, usize) {
        (self.principals.len(), self.addresses.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ThrottleSettings {
        ThrottleSettings {
            max_failures_per_principal: 3,
            max_failures_per_address: 5,
            window: Duration::from_secs(60),
            lockout: Duration::from_secs(10),
            max_lockout: Duration::from_secs(25),
        }
    }

    fn ip(n: u8) -> Option<IpAddr> {
        Some(IpAddr::from([192, 0, 2, n]))
    }

    /// One attempt: `Some(ok)` if it was verified with outcome `ok`, `None` if locked out.
    fn attempt(t: &mut Throttle, who: &str, addr: Option<IpAddr>, ok: bool, at: Instant) -> bool {
        match t.begin(who, addr, at) {
            Verdict::Proceed => {
                t.finish(who, addr, ok, at);
                true
            }
            Verdict::Locked { .. } => false,
        }
    }

    #[test]
    fn a_principal_is_locked_out_after_its_limit_and_released_after_the_lockout() {
        let t0 = Instant::now();
        let mut t = Throttle::new(settings());
        for i in 0..3 {
            assert!(attempt(
                &mut t,
                "ana",
                ip(1),
                false,
                t0 + Duration::from_secs(i)
            ));
        }
        // Locked: even the right password is not verified, from any address.
        let at = t0 + Duration::from_secs(3);
        assert_eq!(
            t.begin("ana", ip(2), at),
            Verdict::Locked {
                until: t0 + Duration::from_secs(12)
            }
        );
        assert!(!attempt(
            &mut t,
            "ana",
            ip(2),
            true,
            t0 + Duration::from_secs(11)
        ));
        // Another principal is not affected.
        assert!(attempt(&mut t, "beto", ip(2), true, at));
        // After the lock-out the right password is verified and clears the history.
        assert!(attempt(
            &mut t,
            "ana",
            ip(2),
            true,
            t0 + Duration::from_secs(12)
        ));
        for i in 0..2 {
            assert!(attempt(
                &mut t,
                "ana",
                ip(3),
                false,
                t0 + Duration::from_secs(13 + i)
            ));
        }
        assert!(attempt(
            &mut t,
            "ana",
            ip(3),
            true,
            t0 + Duration::from_secs(15)
        ));
    }

    #[test]
    fn repeated_lockouts_double_up_to_the_cap_and_a_quiet_window_forgives() {
        let t0 = Instant::now();
        let mut t = Throttle::new(settings());
        let mut now = t0;
        let mut lockouts = Vec::new();
        for _ in 0..4 {
            for _ in 0..3 {
                assert!(attempt(&mut t, "ana", None, false, now));
            }
            let Verdict::Locked { until } = t.begin("ana", None, now) else {
                panic!("not locked");
            };
            lockouts.push(until - now);
            now = until;
        }
        let secs: Vec<u64> = lockouts.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [10, 20, 25, 25]);
        // A window without failures: the next lock-out is the first one again.
        now += Duration::from_secs(60);
        for _ in 0..3 {
            assert!(attempt(&mut t, "ana", None, false, now));
        }
        assert_eq!(
            t.begin("ana", None, now),
            Verdict::Locked {
                until: now + Duration::from_secs(10)
            }
        );
    }

    #[test]
    fn failures_slide_out_of_the_window() {
        let t0 = Instant::now();
        let mut t = Throttle::new(settings());
        assert!(attempt(&mut t, "ana", None, false, t0));
        assert!(attempt(
            &mut t,
            "ana",
            None,
            false,
            t0 + Duration::from_secs(30)
        ));
        // The first failure is 60 s old: two in the window, not three.
        assert!(attempt(
            &mut t,
            "ana",
            None,
            false,
            t0 + Duration::from_secs(60)
        ));
        assert_eq!(
            t.begin("ana", None, t0 + Duration::from_secs(61)),
            Verdict::Proceed
        );
    }

    #[test]
    fn an_address_guessing_many_users_is_locked_out_and_success_does_not_clear_it() {
        let t0 = Instant::now();
        let mut t = Throttle::new(settings());
        for i in 0..4 {
            assert!(attempt(&mut t, &format!("user{i}"), ip(9), false, t0));
        }
        // A good login from the address does not reset the address's count.
        assert!(attempt(&mut t, "ana", ip(9), true, t0));
        assert!(attempt(&mut t, "user9", ip(9), false, t0));
        assert!(matches!(
            t.begin("someone", ip(9), t0),
            Verdict::Locked { .. }
        ));
        // Another address still gets through; no address at all counts per principal only.
        assert!(attempt(&mut t, "someone", ip(10), true, t0));
        assert!(attempt(&mut t, "other", None, true, t0));
    }

    #[test]
    fn attempts_in_flight_count_against_the_limit() {
        let t0 = Instant::now();
        let mut t = Throttle::new(settings());
        // A burst of concurrent attempts: only as many as the limit are let through.
        let through = (0..50)
            .filter(|_| t.begin("ana", ip(1), t0) == Verdict::Proceed)
            .count();
        assert_eq!(through, 3);
        for _ in 0..3 {
            t.finish("ana", ip(1), false, t0);
        }
        assert!(matches!(t.begin("ana", ip(1), t0), Verdict::Locked { .. }));
    }

    #[test]
    fn memory_is_bounded_by_the_tracked_limit() {
        let t0 = Instant::now();
        let mut t = Throttle::new(ThrottleSettings {
            max_failures_per_principal: 1000,
            max_failures_per_address: 1_000_000,
            ..settings()
        });
        // Successes leave nothing behind.
        for i in 0..1000 {
            assert!(attempt(&mut t, &format!("u{i}"), ip(1), true, t0));
        }
        assert_eq!(t.tracked(), (0, 0));
        // Failures of more principals than the bound keep the map under it.
        for i in 0..(MAX_TRACKED + 10) {
            let _ = attempt(&mut t, &format!("u{i}"), ip(1), false, t0);
        }
        assert!(t.tracked().0 <= MAX_TRACKED, "{:?}", t.tracked());
    }
}
