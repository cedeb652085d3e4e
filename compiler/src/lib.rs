//! The Forge compiler: front end (syntax, sema), the IR shared by every tier, and the
//! Cranelift code generator with its AOT driver.
//!
//! Layering: `syntax` → `sema` → `ir` → `codegen` → `aot`; each module imports only
//! from modules to its left. Nothing here performs I/O except the `aot` driver and the
//! `forgec` binary.

pub mod aot;
pub mod codegen;
pub mod diag;
pub mod driver;
pub mod ir;
pub mod sema;
pub mod syntax;
pub mod targets;
