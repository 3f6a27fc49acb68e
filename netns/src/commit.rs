//! Group commit of network-record changes made by many threads of one process.
//!
//! `up` and `down` change a network's record once per container (an address
//! reserved or released), from many threads at once. One by one, each change
//! takes the state lock, reads the whole record (which lists every member) and
//! writes it back: quadratic in the containers of a network, all of it under
//! the one lock every container of the host waits on, and every write wakes
//! the DNS responder. Here a thread queues its change instead; a thread that
//! finds no commit under way becomes the leader: it takes the state lock,
//! applies every queued change to the records (each read once), deletes the
//! ports tables they dropped (one `nft` transaction), writes each changed
//! record once, and hands each thread its own result. A lone change costs what
//! it did before; other processes are still serialized by the state lock.
//!
//! Crash safety is that of the single change: a record is replaced whole
//! (temp file + rename), after the tables it stops naming are gone, and a
//! thread hears "done" only once its change is on disk.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{Error, ErrorList, Result};
use crate::network::{NetworkRecord, StateDir};
use crate::nft;

/// The records one commit works on: each read at most once, written once at
/// the end when some change touched it.
pub(crate) struct Records<'a> {
    state: &'a StateDir,
    /// Why the state lock could not be taken: every change then fails.
    unlocked: Option<String>,
    read: HashMap<String, NetworkRecord>,
    changed: BTreeSet<String>,
    /// Ports tables to delete before the records are written.
    drop_tables: Vec<String>,
}

impl Records<'_> {
    /// The record of `network`, to change (it is written at the end of the commit).
    pub(crate) fn get_mut(&mut self, network: &str) -> Result<&mut NetworkRecord> {
        if let Some(why) = &self.unlocked {
            return Err(Error::Invalid(why.clone()));
        }
        if !self.read.contains_key(network) {
            let rec = self.state.read(network)?;
            self.read.insert(network.to_string(), rec);
        }
        self.changed.insert(network.to_string());
        Ok(self.read.get_mut(network).expect("just read"))
    }

    /// Deletes the ports table `table` before any record is written.
    pub(crate) fn drop_table(&mut self, table: String) {
        self.drop_tables.push(table);
    }

    /// Deletes the tables, then writes every changed record; a failure is every
    /// change's (all of them were to be made durable by this commit).
    fn finish(self) -> Result<()> {
        let mut errs = ErrorList::default();
        if !self.drop_tables.is_empty() {
            let batch: String = self
                .drop_tables
                .iter()
                .map(|t| nft::delete_table_ruleset(t))
                .collect();
            if nft::apply(&batch).is_err() {
                // One transaction is all or nothing: table by table, to name
                // the one that fails and still delete the others.
                for t in &self.drop_tables {
                    errs.push(nft::apply(&nft::delete_table_ruleset(t)));
                }
            }
        }
        for name in &self.changed {
            if let Some(rec) = self.read.get(name) {
                errs.push(self.state.write(rec));
            }
        }
        errs.into_result()
    }
}

/// What a queued change hands back once its commit is over.
type Finish = Box<dyn FnOnce(&Result<()>) + Send>;
/// A queued change.
type Job = Box<dyn FnOnce(&mut Records<'_>) -> Finish + Send>;

#[derive(Default)]
struct Queue {
    jobs: Vec<Job>,
    /// A leader is committing: queued jobs are its to take.
    committing: bool,
}

/// One queue per state dir this process uses.
fn queue_for(state: &StateDir) -> Arc<Mutex<Queue>> {
    static QUEUES: OnceLock<Mutex<HashMap<PathBuf, Arc<Mutex<Queue>>>>> = OnceLock::new();
    let mut all = QUEUES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    all.entry(state.path().to_path_buf()).or_default().clone()
}

fn lock(q: &Mutex<Queue>) -> std::sync::MutexGuard<'_, Queue> {
    q.lock().unwrap_or_else(|e| e.into_inner())
}

/// Ends a leader's turn if it panics: the queued jobs are dropped, so their
/// threads hear an error instead of waiting forever.
struct Leader<'a>(&'a Mutex<Queue>);

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut q = lock(self.0);
            q.committing = false;
            q.jobs.clear();
        }
    }
}

/// Applies `change` to the network records of `state` in a group commit:
/// returns its result once the records it changed are written. A change that
/// fails must undo what it did to the records (they may hold others' changes).
pub(crate) fn change<T, F>(state: &StateDir, change: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut Records<'_>) -> Result<T> + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Result<T>>();
    let job: Job = Box::new(move |records| {
        let out = change(records);
        Box::new(move |written: &Result<()>| {
            let out = match (out, written) {
                (Ok(v), Ok(())) => Ok(v),
                (Ok(_), Err(e)) => Err(Error::Invalid(format!("saving network records: {e}"))),
                (Err(e), _) => Err(e),
            };
            let _ = tx.send(out);
        })
    });
    let queue = queue_for(state);
    let mut q = lock(&queue);
    q.jobs.push(job);
    if !q.committing {
        q.committing = true;
        let _leader = Leader(&queue);
        loop {
            let jobs = std::mem::take(&mut q.jobs);
            if jobs.is_empty() {
                // Given up under the queue's lock: a job queued after this
                // finds no leader and leads itself.
                q.committing = false;
                break;
            }
            drop(q);
            commit(state, jobs);
            q = lock(&queue);
        }
        drop(q);
    } else {
        drop(q);
    }
    rx.recv().unwrap_or_else(|_| {
        Err(Error::Invalid(
            "a network record commit was abandoned".into(),
        ))
    })
}

/// One commit: the state lock, every job's change, the tables, the writes.
fn commit(state: &StateDir, jobs: Vec<Job>) {
    let lock = state.lock();
    let mut records = Records {
        state,
        unlocked: lock.as_ref().err().map(|e| e.to_string()),
        read: HashMap::new(),
        changed: BTreeSet::new(),
        drop_tables: vec![],
    };
    let finishes: Vec<Finish> = jobs.into_iter().map(|job| job(&mut records)).collect();
    let written = if records.unlocked.is_some() {
        Ok(())
    } else {
        records.finish()
    };
    drop(lock);
    for finish in finishes {
        finish(&written);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{Member, NetworkInfo, SubnetInfo};

    fn record(name: &str) -> NetworkRecord {
        let subnet: crate::Subnet = "10.251.0.0/24".parse().unwrap();
        NetworkRecord {
            info: NetworkInfo {
                name: name.into(),
                bridge: "bthtest".into(),
                mac: String::new(),
                mtu: 1500,
                internal: false,
                v4: SubnetInfo {
                    subnet,
                    gateway: "10.251.0.1".parse().unwrap(),
                    ip_range: subnet,
                },
                v6: None,
                dns_port: 53,
            },
            alloc4: Default::default(),
            alloc6: Default::default(),
            members: Default::default(),
        }
    }

    #[test]
    fn concurrent_changes_all_land_and_each_hears_its_own_result() {
        let dir = std::env::temp_dir().join(format!("berth-netns-commit-{}", std::process::id()));
        let state = StateDir::new(&dir).unwrap();
        state.write(&record("n")).unwrap();
        let results: Vec<Result<usize>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..32)
                .map(|i| {
                    let state = state.clone();
                    s.spawn(move || {
                        change(&state, move |records| {
                            if i == 7 {
                                // A failing change leaves the record as it found it.
                                records.get_mut("missing")?;
                            }
                            let rec = records.get_mut("n")?;
                            rec.members.insert(format!("c{i}"), Member::default());
                            Ok(i)
                        })
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (i, r) in results.iter().enumerate() {
            match r {
                Ok(v) => assert_eq!(*v, i),
                Err(e) => {
                    assert_eq!(i, 7);
                    assert!(e.to_string().contains("missing"), "{e}");
                }
            }
        }
        let members = state.read("n").unwrap().members;
        assert_eq!(members.len(), 31);
        assert!(!members.contains_key("c7"));
        // The queue is idle again: a lone change still commits.
        change(&state, |records| {
            records.get_mut("n")?.members.clear();
            Ok(())
        })
        .unwrap();
        assert!(state.read("n").unwrap().members.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
