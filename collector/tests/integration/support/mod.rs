//! Stand-ins for what the collector talks to (Metrica's API) and helpers that run its upload
//! command beside a test's server.

pub mod held_upload;
pub mod metrica_standin;
pub mod upload_process;
