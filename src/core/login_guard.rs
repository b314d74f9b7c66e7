//! [`LoginGuard`]: every password, digest and API-key check of the facades goes through here.
//!
//! - The [`Throttle`] decides first: a principal or address that is locked out is refused
//!   before anything is hashed.
//! - Argon2 runs on a bounded pool: a semaphore with one permit per core, the hashing itself on
//!   tokio's blocking threads. Argon2id with the default parameters takes 19 MiB per hash, so
//!   a flood of logins holds at most `permits × 19 MiB`, and the async threads that answer
//!   every other request never hash. At most [`MAX_WAITING_PER_PERMIT`] attempts per permit
//!   wait for one; more are refused at once (not counted as failures).
//! - An unknown principal (or one without a stored hash) is verified against a fixed dummy
//!   hash of the same parameters, so it costs the same work as a known one and timing does not
//!   tell which users exist.
//!
//! Secrets never leave this module except into the hasher; nothing here logs.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::Semaphore;

use super::directory::PasswordHash;
use super::secret::Secret;
use super::throttle::{Throttle, ThrottleSettings, Verdict};

/// How many attempts may wait for a hashing permit, per permit.
pub const MAX_WAITING_PER_PERMIT: usize = 32;

/// What became of an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// The secret matched the stored hash.
    Accepted,
    /// It did not (or there was no stored hash): counted as a failure.
    Refused,
    /// The principal or the address is locked out, or the pool is saturated: not verified.
    Locked,
}

impl Attempt {
    /// Whether the secret was accepted.
    pub fn accepted(self) -> bool {
        self == Self::Accepted
    }
}

/// The throttle and the bounded hashing pool.
pub struct LoginGuard {
    throttle: Mutex<Throttle>,
    permits: Arc<Semaphore>,
    capacity: usize,
    waiting: AtomicUsize,
    dummy: PasswordHash,
}

impl std::fmt::Debug for LoginGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginGuard")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// An attempt `begin` let through; ended uncounted when dropped before its outcome.
struct Pending<'a> {
    guard: &'a LoginGuard,
    principal: &'a str,
    address: Option<IpAddr>,
    done: bool,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.guard
                .throttle()
                .cancel(self.principal, self.address, Instant::now());
        }
    }
}

/// The number of hashing permits: the cores the process may use.
pub fn default_permits() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

impl LoginGuard {
    /// A guard with `settings` and `permits` concurrent hashes (at least 1). Computes the dummy
    /// hash once (one Argon2 run).
    pub fn new(settings: ThrottleSettings, permits: usize) -> Self {
        let permits = permits.max(1);
        let dummy = PasswordHash::hash(&Secret::new("centralita-dummy-password"))
            .expect("Argon2 with default parameters hashes");
        Self {
            throttle: Mutex::new(Throttle::new(settings)),
            permits: Arc::new(Semaphore::new(permits)),
            capacity: permits,
            waiting: AtomicUsize::new(0),
            dummy,
        }
    }

    /// How many hashes may run at once.
    pub fn permits(&self) -> usize {
        self.capacity
    }

    fn throttle(&self) -> std::sync::MutexGuard<'_, Throttle> {
        self.throttle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `principal` or `address` is locked out now (nothing is counted).
    pub fn locked(&self, principal: &str, address: Option<IpAddr>) -> bool {
        self.throttle()
            .locked_until(principal, address, Instant::now())
            .is_some()
    }

    /// Checks `presented` against `stored` for `principal` (a namespaced name, e.g.
    /// `ucontact:ana`) coming from `address`. `stored` is `None` for an unknown principal: the
    /// dummy hash is verified instead and the attempt is refused.
    pub async fn verify(
        &self,
        principal: &str,
        address: Option<IpAddr>,
        stored: Option<PasswordHash>,
        presented: Secret,
    ) -> Attempt {
        self.verify_with(principal, address, stored, move |h| h.verify(&presented))
            .await
    }

    /// [`LoginGuard::verify`] with the comparison given (`check` runs on the pool against the
    /// stored hash, or the dummy one).
    pub async fn verify_with(
        &self,
        principal: &str,
        address: Option<IpAddr>,
        stored: Option<PasswordHash>,
        check: impl FnOnce(&PasswordHash) -> bool + Send + 'static,
    ) -> Attempt {
        if let Verdict::Locked { .. } = self.throttle().begin(principal, address, Instant::now()) {
            return Attempt::Locked;
        }
        // From here the attempt is in flight; if this future is dropped (the client went away)
        // it is ended uncounted, so nothing stays in flight for ever.
        let mut pending = Pending {
            guard: self,
            principal,
            address,
            done: false,
        };
        let Some(ok) = self.hash_on_pool(stored, check).await else {
            return Attempt::Locked;
        };
        pending.done = true;
        self.throttle()
            .finish(principal, address, ok, Instant::now());
        if ok {
            Attempt::Accepted
        } else {
            Attempt::Refused
        }
    }

    /// Checks a presented secret against several stored candidates (`(what, hash, the secret
    /// to check against that hash)`), all in one turn on the pool; the first that matches is
    /// returned. No candidate at all costs the dummy verification of `presented`.
    pub async fn verify_candidates<T: Send + 'static>(
        &self,
        principal: &str,
        address: Option<IpAddr>,
        candidates: Vec<(T, PasswordHash, Secret)>,
        presented: Secret,
    ) -> (Attempt, Option<T>) {
        if candidates.is_empty() {
            return (self.verify(principal, address, None, presented).await, None);
        }
        let found: Arc<Mutex<Option<T>>> = Arc::new(Mutex::new(None));
        let slot = found.clone();
        let first = candidates[0].1.clone();
        let attempt = self
            .verify_with(principal, address, Some(first), move |_| {
                for (what, hash, secret) in candidates {
                    if hash.verify(&secret) {
                        *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(what);
                        return true;
                    }
                }
                false
            })
            .await;
        let found = found.lock().unwrap_or_else(PoisonError::into_inner).take();
        (attempt, found.filter(|_| attempt.accepted()))
    }

    /// Records a failure that needed no hashing (a malformed key) for `principal` and
    /// `address`; `false` if they were locked out already.
    pub fn fail_unhashed(&self, principal: &str, address: Option<IpAddr>) -> bool {
        let now = Instant::now();
        let mut t = self.throttle();
        match t.begin(principal, address, now) {
            Verdict::Proceed => {
                t.finish(principal, address, false, now);
                true
            }
            Verdict::Locked { .. } => false,
        }
    }

    /// Runs `check` against `stored` (or the dummy hash) with a permit; `None` when too many
    /// attempts are waiting already or the pool is gone.
    async fn hash_on_pool(
        &self,
        stored: Option<PasswordHash>,
        check: impl FnOnce(&PasswordHash) -> bool + Send + 'static,
    ) -> Option<bool> {
        let limit = self.capacity.saturating_mul(MAX_WAITING_PER_PERMIT);
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= limit {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        let permit = self.permits.clone().acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        let permit = permit.ok()?;
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.dummy.clone());
        let ok = tokio::task::spawn_blocking(move || {
            let ok = check(&hash);
            drop(permit);
            ok
        })
        .await
        .ok()?;
        Some(ok && known)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn guard(max: u32) -> LoginGuard {
        LoginGuard::new(
            ThrottleSettings {
                max_failures_per_principal: max,
                max_failures_per_address: 1000,
                window: Duration::from_secs(60),
                lockout: Duration::from_millis(300),
                max_lockout: Duration::from_millis(300),
            },
            2,
        )
    }

    #[tokio::test]
    async fn known_unknown_and_locked_out() {
        let g = guard(3);
        let hash = PasswordHash::hash(&Secret::new("right")).unwrap();
        let ip = Some(IpAddr::from([192, 0, 2, 1]));
        let v = |pw: &str| Secret::new(pw);
        assert_eq!(
            g.verify("u:ana", ip, Some(hash.clone()), v("right")).await,
            Attempt::Accepted
        );
        // The dummy hash accepts nothing, not even its own password.
        assert_eq!(
            g.verify("u:nobody", ip, None, v("centralita-dummy-password"))
                .await,
            Attempt::Refused
        );
        for _ in 0..3 {
            assert_eq!(
                g.verify("u:ana", ip, Some(hash.clone()), v("wrong")).await,
                Attempt::Refused
            );
        }
        assert!(g.locked("u:ana", ip));
        // While locked out nothing is hashed.
        assert_eq!(
            g.verify_with("u:ana", ip, Some(hash.clone()), |_| panic!(
                "hashed while locked"
            ))
            .await,
            Attempt::Locked
        );
        assert_eq!(
            g.verify("u:ana", ip, Some(hash.clone()), v("right")).await,
            Attempt::Locked
        );
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert!(!g.locked("u:ana", ip));
        assert_eq!(
            g.verify("u:ana", ip, Some(hash), v("right")).await,
            Attempt::Accepted
        );
    }

    #[tokio::test]
    async fn an_unknown_user_costs_what_a_known_one_costs() {
        // Equal work, shown without a clock: an unknown user's attempt runs the same check on
        // the pool, against a hash of the same algorithm and cost parameters as a stored one.
        let g = guard(1_000_000);
        let stored = PasswordHash::hash(&Secret::new("right")).unwrap();
        let checked = |known: Option<PasswordHash>| {
            let g = &g;
            async move {
                let seen = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
                let into = seen.clone();
                let attempt = g
                    .verify_with("u:x", None, known, move |h| {
                        *into.lock().unwrap() = Some(h.as_phc().to_owned());
                        h.verify(&Secret::new("wrong"))
                    })
                    .await;
                assert_eq!(attempt, Attempt::Refused);
                let phc = seen
                    .lock()
                    .unwrap()
                    .clone()
                    .expect("the check ran on the pool");
                phc
            }
        };
        // `$argon2id$v=19$m=…,t=…,p=…$salt$hash`: algorithm, version and cost parameters.
        let cost = |phc: &str| phc.split('$').take(4).collect::<Vec<_>>().join("$");
        let known = checked(Some(stored.clone())).await;
        let unknown = checked(None).await;
        assert_eq!(known, stored.as_phc());
        assert_ne!(
            unknown, known,
            "an unknown user is checked against the dummy hash"
        );
        assert_eq!(cost(&unknown), cost(&known));
        assert!(cost(&known).starts_with("$argon2id$"), "{known}");
    }

    #[tokio::test]
    async fn the_first_matching_candidate_is_found() {
        let g = guard(10);
        let h = |pw: &str| PasswordHash::hash(&Secret::new(pw)).unwrap();
        let candidates = || {
            vec![
                ("a", h("one"), Secret::new("nope")),
                ("b", h("two"), Secret::new("two")),
            ]
        };
        assert_eq!(
            g.verify_candidates("k:x", None, candidates(), Secret::new("two"))
                .await,
            (Attempt::Accepted, Some("b"))
        );
        let none: Vec<(&str, PasswordHash, Secret)> = Vec::new();
        assert_eq!(
            g.verify_candidates("k:x", None, none, Secret::new("two"))
                .await,
            (Attempt::Refused, None)
        );
    }

    #[tokio::test]
    async fn an_attempt_abandoned_mid_hash_does_not_stay_in_flight() {
        let g = guard(2);
        for _ in 0..5 {
            let attempt = g.verify_with("u:ana", None, None, |_| {
                std::thread::sleep(Duration::from_millis(50));
                false
            });
            // The client goes away before the answer.
            let _ = tokio::time::timeout(Duration::from_millis(1), attempt).await;
        }
        assert!(!g.locked("u:ana", None));
        assert_eq!(g.throttle().tracked(), (0, 0));
        let hash = PasswordHash::hash(&Secret::new("right")).unwrap();
        assert_eq!(
            g.verify("u:ana", None, Some(hash), Secret::new("right"))
                .await,
            Attempt::Accepted
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hashing_never_runs_more_than_the_permits_at_once() {
        let g = Arc::new(guard(1_000_000));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..20 {
            let (g, running, most) = (g.clone(), running.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                g.verify_with(&format!("u:{i}"), None, None, move |_| {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                    false
                })
                .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), Attempt::Refused);
        }
        assert!(most.load(Ordering::SeqCst) <= 2, "{most:?}");
    }
}
