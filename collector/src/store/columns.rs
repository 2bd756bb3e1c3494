//! A result row read by column position, the same way on both engines, so that a row is
//! assembled into the features' types once ([`crate::store::read_sql`],
//! [`crate::store::report_sql`]). Each backend implements it for its own row type; the error
//! stays the engine's, so SQLite's row closures keep returning `rusqlite::Result`.

pub trait Columns {
    type Error;
    fn int(&self, i: usize) -> Result<i64, Self::Error>;
    fn text(&self, i: usize) -> Result<String, Self::Error>;
    fn opt_text(&self, i: usize) -> Result<Option<String>, Self::Error>;
    /// A boolean expression's value (SQLite gives 0/1, PostgreSQL a boolean).
    fn flag(&self, i: usize) -> Result<bool, Self::Error>;
}
