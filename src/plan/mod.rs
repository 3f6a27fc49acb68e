//! What `up` will do to each container, and why: the desired project compared
//! with the containers on disk.

mod desired;
pub mod diff;
pub mod reconcile;
mod show;

pub use reconcile::{plan, Action, ContainerPlan, Desired, Plan, PlanOptions, Reason};
