//! Running independent cases concurrently (`run --jobs N`).
//!
//! Every case builds its own harness (its own tester endpoint and, against a
//! live stack, its own UDP sockets), so cases share nothing but the read-only
//! options and identities and can run on a pool of worker threads. Results come
//! back in the order of the input whatever the order they finish in; the
//! longest cases (by an estimate) start first so that one long wait does not
//! end up alone at the tail of the run.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use crate::scenario::{Scenario, Step};

/// How many cases run at once against a live stack unless `--jobs` says
/// otherwise: each mostly waits on the network, so more than the cores; few
/// enough that a stack (and a 2-core machine running it too) keeps its timing.
pub const DEFAULT_LIVE_JOBS: usize = 4;

/// The default job count for a target: the simulated reference target is
/// CPU-bound (one job per core); a live stack mostly waits.
pub fn default_jobs(live: bool) -> usize {
    if live {
        DEFAULT_LIVE_JOBS
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// A rough idea of how long a case takes: its explicit waits plus the longest
/// time bound it may have to wait out. Only used to order the queue.
pub fn estimate(s: &Scenario) -> Duration {
    let mut waits = Duration::ZERO;
    let mut longest = Duration::ZERO;
    for step in &s.steps {
        match step {
            Step::Wait(w) => waits += w.duration,
            Step::Expect(e) | Step::ExpectNone(e) => longest = longest.max(e.within),
            Step::Connect(c) => longest = longest.max(c.within),
            Step::Accept(a) => longest = longest.max(a.within),
            _ => {}
        }
    }
    waits + longest
}

/// Runs `f` on every item with at most `jobs` at a time (1: in order on this
/// thread) and calls `progress` on this thread as each finishes. `cost` orders
/// the queue (largest first). Stops at the first error (the cases already
/// running finish first).
pub fn run_all<I, T, F>(
    items: &[I],
    jobs: usize,
    cost: impl Fn(&I) -> Duration,
    f: F,
    mut progress: impl FnMut(&T),
) -> Result<Vec<T>, String>
where
    I: Sync,
    T: Send,
    F: Fn(&I) -> Result<T, String> + Sync,
{
    let jobs = jobs.max(1).min(items.len().max(1));
    if jobs == 1 {
        let mut out = Vec::with_capacity(items.len());
        for i in items {
            let t = f(i)?;
            progress(&t);
            out.push(t);
        }
        return Ok(out);
    }
    let mut order: Vec<usize> = (0..items.len()).collect();
    // Stable: equal estimates keep the input order.
    order.sort_by_key(|&i| std::cmp::Reverse(cost(&items[i])));
    let next = AtomicUsize::new(0);
    let failed = Mutex::new(None::<String>);
    let (tx, rx) = mpsc::channel::<(usize, T)>();
    let mut slots: Vec<Option<T>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (order, next, failed, f) = (&order, &next, &failed, &f);
            scope.spawn(move || {
                loop {
                    if failed.lock().map_or(true, |g| g.is_some()) {
                        return;
                    }
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&i) = order.get(k) else { return };
                    match f(&items[i]) {
                        Ok(t) => {
                            if tx.send((i, t)).is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            if let Ok(mut g) = failed.lock() {
                                g.get_or_insert(e);
                            }
                            return;
                        }
                    }
                }
            });
        }
        drop(tx);
        for (i, t) in rx {
            progress(&t);
            slots[i] = Some(t);
        }
    });
    if let Some(e) = failed.into_inner().ok().flatten() {
        return Err(e);
    }
    Ok(slots.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn results_keep_the_input_order_and_jobs_bound_the_concurrency() {
        let items: Vec<u64> = (0..12).collect();
        let running = AtomicUsize::new(0);
        // The three largest start together (or this never returns).
        let together = Barrier::new(3);
        let peak = AtomicUsize::new(0);
        let started = Mutex::new(Vec::new());
        let mut seen = Vec::new();
        let out = run_all(
            &items,
            3,
            |&i| Duration::from_millis(i),
            |&i| {
                started.lock().unwrap().push(i);
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                if i >= 9 {
                    together.wait();
                }
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(i * 10)
            },
            |t| seen.push(*t),
        )
        .unwrap();
        assert_eq!(out, items.iter().map(|i| i * 10).collect::<Vec<_>>());
        assert_eq!(peak.load(Ordering::SeqCst), 3);
        assert_eq!(seen.len(), 12);
        // The largest estimates start first.
        let mut first: Vec<u64> = started.lock().unwrap()[..3].to_vec();
        first.sort();
        assert_eq!(first, vec![9, 10, 11]);
    }

    #[test]
    fn the_first_error_is_returned() {
        let items: Vec<u32> = (0..20).collect();
        for jobs in [4, 1] {
            let r = run_all(
                &items,
                jobs,
                |_| Duration::ZERO,
                |&i| {
                    if i == 5 {
                        Err(format!("case {i}"))
                    } else {
                        Ok(i)
                    }
                },
                |_| {},
            );
            assert_eq!(r.unwrap_err(), "case 5", "jobs {jobs}");
        }
    }
}
