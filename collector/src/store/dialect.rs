//! The SQL differences between the two backends, so that a statement both run is written once.
//!
//! A shared statement is a template written with PostgreSQL's placeholders (`$N`, with a cast
//! `$N::type` where PostgreSQL cannot infer the type). [`Dialect::render`] keeps it as written
//! for PostgreSQL and turns every placeholder into `?N` for SQLite, dropping the cast (SQLite
//! binds any type and has no casts on parameters). The few functions that differ by name or
//! form (case-insensitive comparison, `greatest`/`max`, a boolean as 0/1) are methods here; a
//! difference that is not SQL text (PostgreSQL's advisory lock, array binds) stays in its
//! backend.

/// The SQL engine a statement is rendered for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The template with this engine's placeholders.
    pub fn render(self, template: &str) -> String {
        match self {
            Dialect::Postgres => template.to_string(),
            Dialect::Sqlite => sqlite_placeholders(template),
        }
    }

    /// The larger of two values (a scalar function; `max` is SQLite's name for it).
    pub fn greatest(self) -> &'static str {
        match self {
            Dialect::Sqlite => "max",
            Dialect::Postgres => "greatest",
        }
    }

    /// The smaller of two values.
    pub fn least(self) -> &'static str {
        match self {
            Dialect::Sqlite => "min",
            Dialect::Postgres => "least",
        }
    }

    /// `column = value` without regard to (ASCII) case. SQLite's `COLLATE NOCASE` is what the
    /// index `username COLLATE NOCASE` serves; PostgreSQL's index is on `lower(username)`.
    pub fn eq_nocase(self, column: &str, value: &str) -> String {
        match self {
            Dialect::Sqlite => format!("{column} = {value} COLLATE NOCASE"),
            Dialect::Postgres => format!("lower({column}) = lower({value})"),
        }
    }

    /// A boolean expression as the integer 0 or 1 (SQLite's booleans already are).
    pub fn int_of_bool(self, expr: &str) -> String {
        match self {
            Dialect::Sqlite => expr.to_string(),
            Dialect::Postgres => format!("({expr})::int"),
        }
    }
}

/// `$N` → `?N`, and a `::type` right after a placeholder is dropped.
fn sqlite_placeholders(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            out.push('$');
            rest = after;
            continue;
        }
        out.push('?');
        out.push_str(&after[..digits]);
        rest = &after[digits..];
        if let Some(cast) = rest.strip_prefix("::") {
            let name = cast.len()
                - cast
                    .trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '_')
                    .len();
            rest = &cast[name..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::Dialect;

    #[test]
    fn placeholders_and_casts() {
        let t = "a = $1 AND b = $12::bigint AND c = coalesce($3::text, c) AND d = '$'";
        assert_eq!(Dialect::Postgres.render(t), t);
        assert_eq!(
            Dialect::Sqlite.render(t),
            "a = ?1 AND b = ?12 AND c = coalesce(?3, c) AND d = '$'"
        );
    }

    #[test]
    fn functions_by_engine() {
        assert_eq!(
            Dialect::Sqlite.eq_nocase("username", "$6::text"),
            "username = $6::text COLLATE NOCASE"
        );
        assert_eq!(
            Dialect::Postgres.eq_nocase("username", "$6::text"),
            "lower(username) = lower($6::text)"
        );
        assert_eq!(
            Dialect::Postgres.int_of_bool("count(*) > 0"),
            "(count(*) > 0)::int"
        );
        assert_eq!(Dialect::Sqlite.int_of_bool("count(*) > 0"), "count(*) > 0");
        assert_eq!(
            (Dialect::Sqlite.greatest(), Dialect::Sqlite.least()),
            ("max", "min")
        );
        assert_eq!(
            (Dialect::Postgres.greatest(), Dialect::Postgres.least()),
            ("greatest", "least")
        );
    }
}
