//! The HTTP server of `@server` programs (spec 11 §11.20) and Response values.

pub mod response;
