//! Refusals counted, not logged one by one: a client sending 10,000 bad
//! objects makes one log line, then one per [`EVERY`] while it goes on,
//! each with how many were refused since the last.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::lock;

/// At most one line per key this often.
pub const EVERY: Duration = Duration::from_secs(10);
/// Keys remembered at most (then all are forgotten; the next refusal of
/// each logs at once).
const KEYS: usize = 4096;

#[derive(Debug, Default)]
pub struct Bursts(Mutex<HashMap<String, (Instant, u64)>>);

impl Bursts {
    /// Counts `n` refusals under `key`; `Some(count)` when a line is due
    /// now, with the refusals it covers.
    pub fn note(&self, key: &str, n: u64) -> Option<u64> {
        self.note_at(key, n, Instant::now())
    }

    fn note_at(&self, key: &str, n: u64, now: Instant) -> Option<u64> {
        let mut m = lock(&self.0);
        if m.len() >= KEYS && !m.contains_key(key) {
            m.clear();
        }
        match m.get_mut(key) {
            None => {
                m.insert(key.to_owned(), (now, 0));
                Some(n)
            }
            Some((logged, pending)) => {
                *pending += n;
                if now.duration_since(*logged) >= EVERY {
                    let due = *pending;
                    *logged = now;
                    *pending = 0;
                    Some(due)
                } else {
                    None
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_one_line_then_one_per_interval() {
        let b = Bursts::default();
        let t = Instant::now();
        assert_eq!(b.note_at("x", 1, t), Some(1));
        let lines = (0..10_000)
            .filter(|i| b.note_at("x", 1, t + Duration::from_millis(*i)).is_some())
            .count();
        assert_eq!(lines, 0);
        assert_eq!(
            b.note_at("x", 1, t + EVERY + Duration::from_millis(1)),
            Some(10_001)
        );
        assert_eq!(b.note_at("y", 5, t), Some(5));
    }
}
