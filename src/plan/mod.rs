//! What `up` will do to each container, and why: the desired project compared
//! with the containers on disk.

pub mod diff;
pub mod reconcile;

pub use reconcile::{plan, Action, ContainerPlan, Desired, Plan, PlanOptions, Reason};
