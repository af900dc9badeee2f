//! A service behind the gateway: one or more replicas, each with its own breaker, taken in
//! turn. A replica whose breaker is open is passed over; a request that could not connect is
//! tried on the next replica (it never reached the first, so even a `POST` is safe to resend).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::breaker::{Breaker, BreakerPolicy, Permit};

/// One replica of a service.
#[derive(Debug)]
pub struct Replica {
    /// Its base URL, without a trailing slash.
    pub base_url: String,
    /// Its breaker.
    pub breaker: Arc<Breaker>,
}

/// A service and its replicas.
#[derive(Debug)]
pub struct Upstream {
    /// The service.
    pub name: String,
    /// Its replicas (at least one).
    pub replicas: Vec<Replica>,
    next: AtomicUsize,
}

impl Upstream {
    /// `name` at `urls`, each replica with a breaker of `policy`.
    pub fn new(name: &str, urls: &[String], policy: BreakerPolicy) -> Self {
        Self {
            name: name.to_owned(),
            replicas: urls
                .iter()
                .map(|url| Replica {
                    base_url: url.trim_end_matches('/').to_owned(),
                    breaker: Breaker::new(policy),
                })
                .collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// The replicas in the order this request tries them: round robin from the next one.
    pub fn rotation(&self) -> impl Iterator<Item = &Replica> {
        let n = self.replicas.len().max(1);
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        self.replicas
            .iter()
            .cycle()
            .skip(start)
            .take(self.replicas.len())
    }
}

/// The first replica of `replicas` whose breaker lets a request through, with its permit; or
/// the shortest wait until one does.
///
/// # Errors
/// The wait, when every breaker refuses.
pub fn admit<'a>(
    replicas: &mut dyn Iterator<Item = &'a Replica>,
    now: Instant,
) -> Result<(&'a Replica, Permit), Duration> {
    let mut wait: Option<Duration> = None;
    for replica in replicas {
        match replica.breaker.admit(now) {
            Ok(permit) => return Ok((replica, permit)),
            Err(w) => wait = Some(wait.map_or(w, |shortest| shortest.min(w))),
        }
    }
    Err(wait.unwrap_or(Duration::from_secs(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("http://replica-{i}")).collect()
    }

    #[test]
    fn replicas_take_turns_and_an_open_one_is_passed_over() {
        let upstream = Upstream::new("order", &urls(3), BreakerPolicy::default());
        let now = Instant::now();
        let firsts: Vec<String> = (0..6)
            .map(|_| {
                let (replica, permit) = admit(&mut upstream.rotation(), now).expect("admitted");
                permit.succeeded(now);
                replica.base_url.clone()
            })
            .collect();
        assert_eq!(
            firsts,
            [0, 1, 2, 0, 1, 2].map(|i| format!("http://replica-{i}"))
        );
        for _ in 0..5 {
            upstream.replicas[1]
                .breaker
                .admit(now)
                .expect("closed")
                .failed(now);
        }
        let chosen: Vec<String> = (0..4)
            .map(|_| {
                admit(&mut upstream.rotation(), now)
                    .expect("admitted")
                    .0
                    .base_url
                    .clone()
            })
            .collect();
        assert!(
            !chosen.contains(&"http://replica-1".to_owned()),
            "{chosen:?}"
        );
    }

    #[test]
    fn every_replica_open_is_the_shortest_wait() {
        let upstream = Upstream::new("order", &urls(2), BreakerPolicy::default());
        let start = Instant::now();
        for (index, at) in [(0, start), (1, start + Duration::from_secs(20))] {
            for _ in 0..5 {
                upstream.replicas[index]
                    .breaker
                    .admit(at)
                    .expect("closed")
                    .failed(at);
            }
        }
        let later = start + Duration::from_secs(30);
        let wait = admit(&mut upstream.rotation(), later).expect_err("all open");
        assert_eq!(wait, Duration::from_secs(30));
    }
}
