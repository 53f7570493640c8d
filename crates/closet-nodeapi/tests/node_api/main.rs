//! The node API over real TLS and real WebSockets, with fakes below its seams.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

mod harness;

mod exec;
mod logs;
mod portforward;
mod proxy;
mod stats;
mod tls;
