//! Building images from Dockerfiles: the language (`dockerfile`) and the
//! context filter (`ignore`). The executor lives beside them.

pub mod dockerfile;
pub mod ignore;
