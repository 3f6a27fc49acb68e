//! The builds one command needs: one job per image (services sharing an image
//! build it once), the services a `service:` context names before the service
//! that uses it, everything else in parallel.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use super::{request, service_contexts, Flags, ServiceError};
use crate::build::cancel::Cancel;
use crate::build::exec::Built;
use crate::build::front::{self, FrontError, Request};
use crate::build::progress::{Mode, Progress};
use crate::compose::Project;
use crate::image::Store;

/// One image to build.
#[derive(Debug, Clone)]
pub struct Job {
    /// The service whose `build:` section makes it.
    pub service: String,
    /// Every service that runs this image (the first is `service`).
    pub services: Vec<String>,
    /// The image name (`image:` or `<project>-<service>`).
    pub image: String,
    /// The request.
    pub request: Request,
    /// Services whose images must be built first (`service:` contexts, and
    /// `depends_on` among the services being built).
    pub after: Vec<String>,
}

/// Why a set of builds failed.
#[derive(Debug, thiserror::Error)]
pub enum SetError {
    /// A service's `build:` cannot be turned into a request.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// A `service:` context names a service that needs it in turn.
    #[error("services.{0}.build.additional_contexts: the service: contexts form a cycle")]
    Cycle(String),
    /// A build failed.
    #[error("failed to build service {service:?}: {source}")]
    Build {
        /// The service.
        service: String,
        /// Why (boxed: the builder's error is large).
        source: Box<FrontError>,
    },
}

/// The jobs that build `names` (services without `build:` are skipped); the
/// services their `service:` contexts name are added when `include(dep)` says so.
pub fn plan(
    project: &Project,
    names: &[String],
    flags: &Flags,
    include: &dyn Fn(&str) -> bool,
) -> Result<Vec<Job>, SetError> {
    // Services to build, closed over service: contexts.
    let mut wanted: Vec<String> = vec![];
    let mut stack: Vec<String> = names.iter().rev().cloned().collect();
    let mut seen = BTreeSet::new();
    while let Some(n) = stack.pop() {
        if !seen.insert(n.clone()) {
            continue;
        }
        let Some(svc) = project.services.get(&n) else {
            continue;
        };
        if svc.build.is_none() {
            continue;
        }
        for d in service_contexts(svc) {
            if include(&d) || names.contains(&d) {
                stack.push(d);
            }
        }
        wanted.push(n);
    }
    // One job per image, in the file's service order for a stable output.
    let mut jobs: Vec<Job> = vec![];
    for (n, svc) in &project.services {
        if !wanted.contains(n) {
            continue;
        }
        let image = project.image_name(svc);
        if let Some(j) = jobs.iter_mut().find(|j| j.image == image) {
            j.services.push(n.clone());
            continue;
        }
        let request = request(project, svc, flags)?;
        // service: contexts, and depends_on among the services built here: an
        // image used as a base by name (`FROM base`, classic compose) is built first.
        let after = service_contexts(svc)
            .into_iter()
            .chain(svc.depends_on.keys().cloned())
            .filter(|d| wanted.contains(d) && d != n)
            .collect();
        jobs.push(Job {
            service: n.clone(),
            services: vec![n.clone()],
            image,
            request,
            after,
        });
    }
    // Services that run a built image without building it themselves.
    for (n, svc) in &project.services {
        let image = project.image_name(svc);
        if svc.build.is_none() && names.contains(n) {
            if let Some(j) = jobs.iter_mut().find(|j| j.image == image) {
                j.services.push(n.clone());
            }
        }
    }
    order(&mut jobs)?;
    Ok(jobs)
}

/// Sorts `jobs` so that each comes after those it needs; a cycle is an error.
fn order(jobs: &mut Vec<Job>) -> Result<(), SetError> {
    let mut out: Vec<Job> = vec![];
    let mut done: BTreeSet<String> = BTreeSet::new();
    while !jobs.is_empty() {
        let ready = jobs.iter().position(|j| {
            j.after
                .iter()
                .all(|a| done.contains(a) || !jobs.iter().any(|o| o.services.contains(a)))
        });
        let Some(i) = ready else {
            return Err(SetError::Cycle(jobs[0].service.clone()));
        };
        let j = jobs.remove(i);
        done.extend(j.services.iter().cloned());
        out.push(j);
    }
    *jobs = out;
    Ok(())
}

/// What happened to each job.
#[derive(Debug)]
pub struct Outcome {
    /// The job's service.
    pub service: String,
    /// Its image name.
    pub image: String,
    /// The image built.
    pub built: Built,
}

/// Runs `jobs` (ordered by [`plan`]) in waves: every job whose prerequisites are
/// built runs at once, each on its own thread with its own progress. The first
/// failure stops later waves; every job of the failing wave still finishes.
/// `on_built` is told of each image as it is tagged.
pub fn run(
    store: &Store,
    jobs: &[Job],
    mode: Mode,
    cancel: &Cancel,
    on_built: &(dyn Fn(&Job, &Built) + Sync),
) -> Result<Vec<Outcome>, SetError> {
    let mut done: BTreeMap<String, Built> = BTreeMap::new();
    let mut remaining: Vec<&Job> = jobs.iter().collect();
    let mut outcomes = vec![];
    while !remaining.is_empty() {
        let (ready, wait): (Vec<&Job>, Vec<&Job>) = remaining.iter().partition(|j| {
            j.after
                .iter()
                .all(|a| done.contains_key(a) || !jobs.iter().any(|o| o.services.contains(a)))
        });
        if ready.is_empty() {
            return Err(SetError::Cycle(wait[0].service.clone()));
        }
        let results: Mutex<Vec<(&Job, Result<Built, FrontError>)>> = Mutex::new(vec![]);
        std::thread::scope(|s| {
            for j in &ready {
                let results = &results;
                s.spawn(move || {
                    let progress = Progress::new(mode, &j.service);
                    let r = front::build(store, store.root(), &j.request, &progress, cancel);
                    progress.finish();
                    if let Ok(b) = &r {
                        on_built(j, b);
                    }
                    results.lock().expect("results").push((j, r));
                });
            }
        });
        let mut failed = None;
        for (j, r) in results.into_inner().expect("results") {
            match r {
                Ok(b) => {
                    for s in &j.services {
                        done.insert(s.clone(), b.clone());
                    }
                    outcomes.push(Outcome {
                        service: j.service.clone(),
                        image: j.image.clone(),
                        built: b,
                    });
                }
                Err(e) => {
                    failed.get_or_insert(SetError::Build {
                        service: j.service.clone(),
                        source: Box::new(e),
                    });
                }
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
        remaining = wait;
    }
    // In the jobs' order, whatever order the threads finished in.
    outcomes.sort_by_key(|o| jobs.iter().position(|j| j.service == o.service));
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(s: &str, after: &[&str]) -> Job {
        Job {
            service: s.into(),
            services: vec![s.into()],
            image: s.into(),
            request: Request::default(),
            after: after.iter().map(|a| a.to_string()).collect(),
        }
    }

    #[test]
    fn dependencies_first_and_cycles_refused() {
        let mut jobs = vec![job("a", &["b"]), job("b", &["c"]), job("c", &[])];
        order(&mut jobs).unwrap();
        let names: Vec<&str> = jobs.iter().map(|j| j.service.as_str()).collect();
        assert_eq!(names, ["c", "b", "a"]);
        let mut jobs = vec![job("a", &["b"]), job("b", &["a"])];
        assert!(matches!(order(&mut jobs), Err(SetError::Cycle(_))));
    }
}
