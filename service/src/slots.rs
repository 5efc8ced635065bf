//! The connection limit, and room for new clients at it. Each open
//! connection holds a slot. When none is free and a client is waiting, the
//! connection idle the longest (kept alive between requests, or accepted and
//! not yet sent a byte) is asked to close, as nginx reuses its idle
//! connections; a connection with a request in flight is never asked. If
//! every connection is busy, the next one to finish its request closes
//! instead of staying kept alive.
//!
//! A connection marks itself idle with a number from a shared counter, so
//! the smallest mark is the one idle the longest: going idle costs an
//! atomic add and a store, going busy a swap, and only making room scans
//! the slots (as many as were ever open at once).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Waker;

use tokio::sync::Semaphore;

/// A slot's state: its connection is busy (or the slot is free).
const BUSY: u64 = 0;
/// A slot's state: its connection was asked to close to make room.
const SHED: u64 = u64::MAX;

/// The slots of every connection the service may hold open at once.
#[derive(Debug)]
pub struct Slots {
    pool: Mutex<Pool>,
    /// Counts the free slots, up to the limit.
    available: Semaphore,
    /// Source of idle marks, increasing: a smaller mark went idle earlier.
    clock: AtomicU64,
    /// Room asked for that no idle connection could give when it was asked:
    /// the next connection to go idle closes instead.
    owed: AtomicUsize,
}

/// Slot states, created as connections first need them (so memory follows
/// the most connections open at once, not the limit), and the free ones.
#[derive(Debug, Default)]
struct Pool {
    states: Vec<Arc<SlotState>>,
    free: Vec<usize>,
}

#[derive(Debug)]
struct SlotState {
    /// `BUSY`, `SHED`, or the mark taken when the connection went idle.
    state: AtomicU64,
    /// Wakes the connection's task so it sees that it was shed.
    waker: Mutex<Option<Waker>>,
}

impl Slots {
    pub fn new(limit: usize) -> Arc<Slots> {
        Arc::new(Slots {
            pool: Mutex::default(),
            available: Semaphore::new(limit),
            clock: AtomicU64::new(1),
            owed: AtomicUsize::new(0),
        })
    }

    /// A free slot, if there is one.
    pub fn try_take(self: &Arc<Self>) -> Option<Slot> {
        let permit = self.available.try_acquire().ok()?;
        permit.forget();
        Some(self.claim())
    }

    /// Waits for a slot to free. Cancel-safe: dropped before it completes,
    /// it has taken nothing.
    pub async fn take(self: &Arc<Self>) -> Slot {
        // The semaphore is never closed, so acquiring does not fail.
        if let Ok(permit) = self.available.acquire().await {
            permit.forget();
        }
        self.claim()
    }

    /// The slot a permit was just taken for.
    fn claim(self: &Arc<Self>) -> Slot {
        let mut pool = lock(&self.pool);
        let index = pool.free.pop().unwrap_or_else(|| {
            pool.states.push(Arc::new(SlotState {
                state: AtomicU64::new(BUSY),
                waker: Mutex::new(None),
            }));
            pool.states.len() - 1
        });
        Slot {
            slots: Arc::clone(self),
            state: Arc::clone(&pool.states[index]),
            index,
            waker: None,
            idle: false,
        }
    }

    /// Asks the connection idle the longest to close, for a client waiting
    /// for a slot; with none idle, the next to go idle closes instead.
    pub fn make_room(&self) {
        // Owed first, then the scan: a connection marks itself idle, then
        // reads `owed`, so one that goes idle during the scan is either
        // found by it or sees the debt (all four accesses are SeqCst).
        self.owed.fetch_add(1, SeqCst);
        let shed = {
            let pool = lock(&self.pool);
            loop {
                let oldest = pool
                    .states
                    .iter()
                    .filter_map(|slot| {
                        let mark = slot.state.load(SeqCst);
                        (mark != BUSY && mark != SHED).then_some((mark, slot))
                    })
                    .min_by_key(|&(mark, _)| mark);
                let Some((mark, slot)) = oldest else {
                    return;
                };
                // Fails if the connection went busy, or idle again, meanwhile.
                if slot
                    .state
                    .compare_exchange(mark, SHED, SeqCst, SeqCst)
                    .is_ok()
                {
                    break Arc::clone(slot);
                }
            }
        };
        let _ = self.owed.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1));
        let waker = lock(&shed.waker).clone();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The waiting client has its slot: nothing is owed any more.
    pub fn settle(&self) {
        self.owed.store(0, SeqCst);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One connection's slot, freed when dropped.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<Slots>,
    state: Arc<SlotState>,
    index: usize,
    /// The waker last handed to the slot, to skip handing the same again.
    waker: Option<Waker>,
    /// Whether the slot is marked idle.
    idle: bool,
}

impl Slot {
    /// The next idle mark: connections marked idle with a smaller one have
    /// been idle longer.
    #[inline]
    pub fn tick(&self) -> u64 {
        self.slots.clock.fetch_add(1, Relaxed)
    }

    /// Marks the connection idle since `mark` (from [`Slot::tick`]), between
    /// requests or before its first. Returns true when it is shed at once,
    /// to pay room owed to a waiting client. `waker` must wake the
    /// connection's task.
    #[inline]
    pub fn idle(&mut self, waker: &Waker, mark: u64) -> bool {
        if self.idle {
            // Still idle (no request since): the first mark stands.
            return self.is_shed();
        }
        // The same task always polls the connection: its waker is stored
        // once, and a cheap comparison confirms it on every later idle.
        if !self.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            self.store_waker(waker);
        }
        self.state.state.store(mark, SeqCst);
        self.idle = true;
        self.slots.owed.load(SeqCst) > 0 && self.pay_owed()
    }

    #[cold]
    fn store_waker(&mut self, waker: &Waker) {
        *lock(&self.state.waker) = Some(waker.clone());
        self.waker = Some(waker.clone());
    }

    /// Sheds this idle connection at once if room is still owed.
    #[cold]
    fn pay_owed(&mut self) -> bool {
        let paid = self
            .slots
            .owed
            .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if paid {
            self.state.state.store(SHED, SeqCst);
        }
        paid
    }

    /// Whether the slot is marked idle.
    #[inline]
    pub fn is_idle(&self) -> bool {
        self.idle
    }

    /// Whether the idle connection was asked to close to make room.
    #[inline]
    pub fn is_shed(&self) -> bool {
        self.state.state.load(SeqCst) == SHED
    }

    /// Marks the connection busy: bytes of a request arrived. If it had
    /// been asked to close at that instant, the request is served and the
    /// room is made by the next connection idle the longest instead.
    #[inline]
    pub fn busy(&mut self) {
        if std::mem::take(&mut self.idle) && self.state.state.swap(BUSY, SeqCst) == SHED {
            self.slots.make_room();
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.state.state.store(BUSY, SeqCst);
        lock(&self.state.waker).take();
        // The index is free before its permit is, so the table of states
        // never grows past the limit.
        lock(&self.slots.pool).free.push(self.index);
        self.slots.available.add_permits(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Wake;

    /// Counts its wakes.
    #[derive(Default)]
    struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    fn waker() -> (Arc<Counter>, Waker) {
        let counter = Arc::new(Counter::default());
        (Arc::clone(&counter), Waker::from(counter))
    }

    #[test]
    fn room_is_made_by_the_connection_idle_the_longest_and_it_is_woken() {
        let slots = Slots::new(3);
        let mut taken: Vec<Slot> = (0..3).map(|_| slots.try_take().expect("free")).collect();
        assert!(slots.try_take().is_none());
        let wakers: Vec<_> = (0..3).map(|_| waker()).collect();
        for n in [1, 0, 2] {
            let mark = taken[n].tick();
            assert!(!taken[n].idle(&wakers[n].1, mark));
        }
        slots.make_room();
        assert!(taken[1].is_shed());
        assert!(!taken[0].is_shed() && !taken[2].is_shed());
        assert_eq!(wakers[1].0 .0.load(SeqCst), 1);
        assert_eq!(wakers[0].0 .0.load(SeqCst), 0);

        drop(taken.remove(1));
        assert!(slots.try_take().is_some(), "the shed slot is free again");
    }

    #[test]
    fn a_busy_connection_is_never_asked_and_the_next_to_go_idle_pays() {
        let slots = Slots::new(2);
        let mut a = slots.try_take().expect("free");
        let mut b = slots.try_take().expect("free");
        let (_, wake) = waker();
        slots.make_room();
        assert!(!a.is_shed() && !b.is_shed());
        assert!(a.idle(&wake, a.tick()), "the room owed is not paid");
        assert!(a.is_shed());
        assert!(!b.idle(&wake, b.tick()), "paid twice");
        assert!(!b.is_shed());
    }

    #[test]
    fn a_connection_asked_as_its_request_arrives_passes_the_request_on() {
        let slots = Slots::new(3);
        let mut a = slots.try_take().expect("free");
        let mut b = slots.try_take().expect("free");
        let _c = slots.try_take().expect("free");
        let (_, wake) = waker();
        assert!(!a.idle(&wake, a.tick()));
        assert!(!b.idle(&wake, b.tick()));
        slots.make_room();
        assert!(a.is_shed());
        // a's next request arrived: it stays, and b makes the room.
        a.busy();
        assert!(!a.is_shed());
        assert!(b.is_shed());
    }

    #[test]
    fn settling_forgets_room_no_longer_needed() {
        let slots = Slots::new(1);
        let mut a = slots.try_take().expect("free");
        let (_, wake) = waker();
        slots.make_room();
        slots.settle();
        assert!(!a.idle(&wake, a.tick()));
    }
}
