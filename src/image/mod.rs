//! Images: references, the content store, registries, archives and layer unpacking.

pub mod digest;
pub mod oci;
pub mod reference;
pub mod store;
pub mod unpack;

pub use digest::Digest;
pub use reference::Reference;
pub use store::Store;
