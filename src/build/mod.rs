//! Building images from Dockerfiles: the language (`dockerfile`) and the
//! context filter (`ignore`, to come). The executor lives beside them.

pub mod dockerfile;
