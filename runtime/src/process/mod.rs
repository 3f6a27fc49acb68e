//! The processes of a container and the protocol between them: the caller spawns a
//! re-executed helper (`stage0`), which clones the container's `init`; `setup` is the
//! last mile to execve, `pid1` the optional init that stays pid 1.

pub mod channel;
pub mod init;
pub mod message;
pub mod pid1;
pub mod sched;
pub mod setup;
pub mod spawn;
pub mod stage0;
