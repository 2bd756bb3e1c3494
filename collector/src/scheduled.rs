//! Scheduled work once across instances: each periodic loop (retention in the server,
//! `upload metrica --every`) keeps a named lease ([`crate::store::lease`]) and works only while
//! it holds it. A keeper task claims the lease at start and renews it every third of its TTL;
//! the other processes keep asking at the same pace, and one of them takes it over once the
//! holder has not renewed for a TTL (killed, frozen, or cut off from the database).
//!
//! The holder counts its lease as lost a tenth of the TTL before the database would let anyone
//! else take it, measured from before its claim was sent, so two processes never both count as
//! holders (as long as no process freezes between checking and starting a step of work).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::store::lease::{Claim, LeaseStore};
use crate::store::StoreError;

/// How long a lease outlives its holder's last renewal unless configured (`--lease-ttl`).
pub const DEFAULT_TTL: Duration = Duration::from_secs(30);

/// Shortest TTL accepted: renewals every third of it must not flood the database.
pub const MIN_TTL: Duration = Duration::from_millis(300);

/// Set once the process stops: no lease counts as held, and none is claimed again.
static STOPPING: AtomicBool = AtomicBool::new(false);

/// The leases this process keeps, so that a clean stop hands them over at once instead of
/// leaving the other instances to wait out the TTL.
static KEPT: Mutex<Vec<Kept>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

struct Kept {
    id: u64,
    name: String,
    holder: String,
    store: Arc<dyn LeaseStore>,
    keeper: tokio::task::AbortHandle,
}

fn kept() -> std::sync::MutexGuard<'static, Vec<Kept>> {
    // The list stays consistent whatever a panicking holder of the lock was doing.
    KEPT.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// On a clean stop (SIGTERM, Ctrl-C): stops every keeper of this process and gives its leases
/// up, so that another instance takes the scheduled work at its next claim. Work already
/// running finishes its current step; none starts after this.
pub async fn release_all() {
    STOPPING.store(true, Ordering::SeqCst);
    let leases: Vec<(String, String, Arc<dyn LeaseStore>)> = kept()
        .drain(..)
        .map(|k| {
            k.keeper.abort();
            (k.name, k.holder, k.store)
        })
        .collect();
    for (name, holder, store) in leases {
        match store.release(&name, &holder).await {
            Ok(()) => tracing::info!(lease = %name, "lease given up at shutdown"),
            Err(e) => {
                tracing::warn!(lease = %name, error = %e, "cannot give the lease up; another instance takes it after its TTL")
            }
        }
    }
}

/// This process as a lease holder: host, process ID and start time, so that logs and the
/// `leases` table say which instance holds what.
pub fn holder_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    format!("{host}:{}:{}", std::process::id(), crate::clock::now_ms())
}

/// What this process knows about a lease it keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// No answer from the database yet.
    Asking,
    Held,
    NotHeld {
        holder: String,
        until_ms: i64,
    },
    /// The database could not be asked (and no earlier claim is still valid).
    Unknown(String),
}

/// A lease kept alive by a background task until dropped or released.
pub struct Lease {
    id: u64,
    name: String,
    holder: String,
    store: Arc<dyn LeaseStore>,
    standing: watch::Receiver<Standing>,
    keeper: tokio::task::JoinHandle<()>,
}

impl Lease {
    /// Starts keeping the lease `name` (call inside a Tokio runtime whose tasks run while the
    /// caller blocks: a multi-thread one).
    pub fn keep(store: Arc<dyn LeaseStore>, name: impl Into<String>, ttl: Duration) -> Lease {
        Lease::keep_as(store, name.into(), holder_id(), ttl)
    }

    fn keep_as(store: Arc<dyn LeaseStore>, name: String, holder: String, ttl: Duration) -> Lease {
        let ttl = ttl.max(MIN_TTL);
        let (tx, standing) = watch::channel(Standing::Asking);
        let keeper = tokio::spawn(keep(
            Arc::clone(&store),
            name.clone(),
            holder.clone(),
            ttl,
            tx,
        ));
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        kept().push(Kept {
            id,
            name: name.clone(),
            holder: holder.clone(),
            store: Arc::clone(&store),
            keeper: keeper.abort_handle(),
        });
        Lease {
            id,
            name,
            holder,
            store,
            standing,
            keeper,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    pub fn is_held(&self) -> bool {
        !STOPPING.load(Ordering::SeqCst) && *self.standing.borrow() == Standing::Held
    }

    /// The first answer of the database (or of a failed claim).
    pub async fn first_answer(&self) -> Standing {
        let mut rx = self.standing.clone();
        let answer = match rx.wait_for(|s| *s != Standing::Asking).await {
            Ok(s) => s.clone(),
            Err(_) => Standing::Unknown("the lease keeper stopped".into()),
        };
        answer
    }

    /// Waits until this process holds the lease.
    pub async fn held(&self) {
        let mut rx = self.standing.clone();
        let _ = rx.wait_for(|s| *s == Standing::Held).await;
    }

    /// Stops renewing and gives the lease up, so that another process takes it at once.
    pub async fn release(self) -> Result<(), StoreError> {
        self.keeper.abort();
        self.store.release(&self.name, &self.holder).await
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.keeper.abort();
        kept().retain(|k| k.id != self.id);
    }
}

async fn keep(
    store: Arc<dyn LeaseStore>,
    name: String,
    holder: String,
    ttl: Duration,
    tx: watch::Sender<Standing>,
) {
    let renew = ttl / 3;
    // Until when this process may count itself the holder.
    let mut valid_until: Option<Instant> = None;
    loop {
        if STOPPING.load(Ordering::SeqCst) {
            return;
        }
        let asked = Instant::now();
        // A claim that outlasts the current lease cannot keep it: give up waiting then.
        let answer = match valid_until {
            Some(until) => tokio::time::timeout_at(until, store.try_hold(&name, &holder, ttl))
                .await
                .unwrap_or_else(|_| {
                    Err(StoreError::CommitFailed("lease renewal timed out".into()))
                }),
            None => store.try_hold(&name, &holder, ttl).await,
        };
        let next = match answer {
            Ok(Claim::Held) => {
                valid_until = Some(asked + ttl - ttl / 10);
                Standing::Held
            }
            Ok(Claim::NotHeld { holder, until_ms }) => {
                valid_until = None;
                Standing::NotHeld { holder, until_ms }
            }
            Err(e) => {
                tracing::warn!(lease = %name, error = %e, "cannot claim or renew a lease");
                match valid_until {
                    Some(until) if Instant::now() < until => Standing::Held,
                    _ => {
                        valid_until = None;
                        Standing::Unknown(e.to_string())
                    }
                }
            }
        };
        announce(&name, &tx, next);
        let wake = match valid_until {
            Some(until) => (asked + renew).min(until),
            None => asked + renew,
        };
        tokio::time::sleep_until(wake).await;
        if valid_until.is_some_and(|until| Instant::now() >= until) {
            valid_until = None;
            announce(
                &name,
                &tx,
                Standing::Unknown("the lease was not renewed in time".into()),
            );
        }
    }
}

/// Publishes a change, logging the moments that matter to an operator: taking and losing.
fn announce(name: &str, tx: &watch::Sender<Standing>, next: Standing) {
    let was_held = *tx.borrow() == Standing::Held;
    let now_held = next == Standing::Held;
    if now_held && !was_held {
        tracing::info!(lease = %name, "this instance now runs the scheduled work");
    } else if was_held && !now_held {
        tracing::warn!(lease = %name, standing = ?next, "this instance no longer runs the scheduled work");
    }
    tx.send_if_modified(|s| {
        if *s == next {
            false
        } else {
            *s = next;
            true
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;

    /// A lease row in memory whose clock stands still (so only release frees it), and which
    /// fails every claim while `down`.
    #[derive(Default)]
    struct Table {
        row: Mutex<Option<String>>,
        down: AtomicBool,
    }

    #[async_trait::async_trait]
    impl LeaseStore for Table {
        async fn try_hold(
            &self,
            _name: &str,
            holder: &str,
            _ttl: Duration,
        ) -> Result<Claim, StoreError> {
            if self.down.load(Ordering::SeqCst) {
                return Err(StoreError::WriterGone);
            }
            let mut row = self.row.lock().unwrap();
            match &*row {
                Some(h) if h != holder => Ok(Claim::NotHeld {
                    holder: h.clone(),
                    until_ms: 0,
                }),
                _ => {
                    *row = Some(holder.to_owned());
                    Ok(Claim::Held)
                }
            }
        }

        async fn release(&self, _name: &str, holder: &str) -> Result<(), StoreError> {
            let mut row = self.row.lock().unwrap();
            if row.as_deref() == Some(holder) {
                *row = None;
            }
            Ok(())
        }
    }

    fn keep(table: &Arc<Table>, holder: &str) -> Lease {
        Lease::keep_as(
            table.clone(),
            "job".into(),
            holder.into(),
            Duration::from_secs(3),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn the_second_keeper_waits_and_takes_over_on_release() {
        let table = Arc::new(Table::default());
        let a = keep(&table, "a");
        assert_eq!(a.first_answer().await, Standing::Held);
        let b = keep(&table, "b");
        assert_eq!(
            b.first_answer().await,
            Standing::NotHeld {
                holder: "a".into(),
                until_ms: 0
            }
        );
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(a.is_held() && !b.is_held());
        a.release().await.unwrap();
        tokio::time::timeout(Duration::from_secs(2), b.held())
            .await
            .expect("b takes the released lease within a renewal period");
    }

    #[tokio::test(start_paused = true)]
    async fn a_holder_that_cannot_renew_stops_counting_itself_the_holder_before_expiry() {
        let table = Arc::new(Table::default());
        let a = keep(&table, "a");
        assert_eq!(a.first_answer().await, Standing::Held);
        table.down.store(true, Ordering::SeqCst);
        // The last successful renewal was at most 1 s ago; it is valid 2.7 s from then.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(
            a.is_held(),
            "one failed renewal does not drop a valid lease"
        );
        tokio::time::sleep(Duration::from_millis(1300)).await;
        assert!(!a.is_held(), "a lease not renewed for 0.9 TTL is given up");
        table.down.store(false, Ordering::SeqCst);
        tokio::time::timeout(Duration::from_secs(2), a.held())
            .await
            .expect("held again once the database answers");
    }
}
