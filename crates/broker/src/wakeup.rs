//! A connection task's wake-up: the session (new deliveries, takeover), a drained queue (back-pressure) and
//! shutdown set it from any thread; the driver waits on it beside the socket and its timer. A flag plus an
//! `AtomicWaker`, which waits with a borrowed poll function instead of `tokio::sync::Notify`'s 64-byte
//! `Notified` future kept in every idle connection's task.

use futures_util::task::AtomicWaker;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

/// Set by [`Wakeup::wake`], consumed by [`Wakeup::poll_woken`]; a wake with no waiter is kept for the next
/// wait (like `Notify::notify_one`'s permit), and several wakes before it count as one.
#[derive(Debug, Default)]
pub(crate) struct Wakeup {
    woken: AtomicBool,
    waker: AtomicWaker,
}

impl Wakeup {
    /// Wakes the waiting task, or the next wait if none waits now.
    pub(crate) fn wake(&self) {
        self.woken.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Ready once woken since the last ready poll (consuming the wake-up).
    pub(crate) fn poll_woken(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.woken.swap(false, Ordering::AcqRel) {
            return Poll::Ready(());
        }
        self.waker.register(cx.waker());
        // A wake between the first check and `register` found no waker: look again.
        if self.woken.swap(false, Ordering::AcqRel) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_wake_before_the_wait_is_kept_and_counts_once() {
        let w = Wakeup::default();
        w.wake();
        w.wake();
        std::future::poll_fn(|cx| w.poll_woken(cx)).await;
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(
            w.poll_woken(&mut cx).is_pending(),
            "two wakes before a wait are one"
        );
    }

    #[tokio::test]
    async fn a_wake_from_another_task_ends_the_wait() {
        let w = Arc::new(Wakeup::default());
        let waker = w.clone();
        let task = tokio::spawn(async move { std::future::poll_fn(|cx| w.poll_woken(cx)).await });
        tokio::task::yield_now().await;
        waker.wake();
        task.await.expect("waiter finished");
    }
}
