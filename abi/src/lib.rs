//! The contract shared by the compiler and the runtime.
//!
//! Architecture invariant: this crate depends on nothing and holds no behaviour that
//! differs between tiers. The VM, the JIT and native executables all render errors with
//! [`report`], so the text is byte-for-byte the same everywhere.

#![deny(unsafe_code)]

pub mod abi;
pub mod json;
pub mod layout;
pub mod lines;
pub mod report;
