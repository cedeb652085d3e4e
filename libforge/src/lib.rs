//! The Forge runtime: values, memory, builtins, the standard library and the server.
//!
//! Architecture invariant: libforge depends on no crate of ours except `forge-abi`, and
//! knows nothing of the IR. The VM (`interp/`) and native executables reach the same
//! builtins through [`builtins`] and the same operators through [`ops`].

pub mod abi;
pub mod builtins;
pub mod display;
pub mod error;
pub mod host;
pub mod isolate;
pub mod lang;
pub mod ops;
pub mod output;
pub mod server;
pub mod stdlib;
pub mod value;

pub use error::{Error, Result};
pub use value::{Kind, Value};
