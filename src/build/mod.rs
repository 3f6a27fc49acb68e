//! Building images from Dockerfiles: the language (`dockerfile`), the context
//! filter (`ignore`), and the executor beside them.
//!
//! The executor ([`exec`]) runs the stages a target needs; RUN on berth's runtime
//! ([`run`]), COPY/ADD by descriptor into the step's root ([`copy`]), each step's
//! overlay upper dir stored as a layer ([`layer`]), every step keyed in the
//! [`cache`] by what it depends on, context files hashed in place ([`context`]).

pub mod cache;
pub mod cancel;
pub mod compose;
pub mod context;
pub mod copy;
pub mod dockerfile;
pub mod exec;
pub mod front;
pub mod ignore;
pub mod layer;
pub mod lower;
pub mod platform;
pub mod progress;
pub mod progress_tty;
pub mod run;
pub mod runmount;
pub mod sandbox;
pub mod secrets;
pub mod ssh;
pub mod steps;
pub mod vars;
