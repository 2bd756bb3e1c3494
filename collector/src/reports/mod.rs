//! The report page for the site owner: chats per day, per messenger, answered share, attribution
//! with reasons, traffic sources, revenue and Metrica uploads; server-side SVG charts, no scripts,
//! each table downloadable as CSV.

pub mod data;
pub mod page;
pub mod routes;
pub mod svg;
pub mod tables;

pub use routes::routes;
