//! Pure Redis knowledge, no I/O: how lines split into arguments, how replies print, which
//! arguments are secrets, and how a cluster spreads keys over slots.

pub mod cluster;
pub mod commands;
pub mod escape;
pub mod format;
pub mod redact;
pub mod reply;
pub mod resp;
pub mod split;
