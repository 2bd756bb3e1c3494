//! Which database a process uses: a path is SQLite (the embedded default), a `postgres://` or
//! `postgresql://` URL is PostgreSQL. The URL comes from `--db` (or its twin `CHATTAG_DB`) or
//! from `CHATTAG_DATABASE_URL`; a password is accepted only from the latter (or from
//! `PGPASSWORD` / `PGPASSFILE`), never in `--db`, where the process list would show it.

use std::fmt;
use std::path::{Path, PathBuf};

/// The variable a URL with a password belongs in.
pub const DATABASE_URL_ENV: &str = "CHATTAG_DATABASE_URL";

#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    /// The connection URL as given (it may carry a password: never printed whole).
    Postgres(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatabaseError {
    #[error("--db (or CHATTAG_DB) names a PostgreSQL URL with a password, which the process list would show; put the URL in {DATABASE_URL_ENV}, or leave the password out and set PGPASSWORD or PGPASSFILE")]
    PasswordOnCommandLine,
}

impl Database {
    /// From `--db` (`flag`, also `CHATTAG_DB`) and `CHATTAG_DATABASE_URL` (`env_url`): the flag
    /// wins when given; without either, `default`.
    pub fn select(
        flag: Option<&str>,
        env_url: Option<&str>,
        default: &str,
    ) -> Result<Database, DatabaseError> {
        let env_url = env_url.map(str::trim).filter(|v| !v.is_empty());
        match (flag.filter(|v| !v.trim().is_empty()), env_url) {
            (Some(flag), _) => {
                let db = Database::parse(flag);
                if let Database::Postgres(url) = &db {
                    if url_has_password(url) {
                        return Err(DatabaseError::PasswordOnCommandLine);
                    }
                }
                Ok(db)
            }
            (None, Some(url)) => Ok(Database::parse(url)),
            (None, None) => Ok(Database::parse(default)),
        }
    }

    /// A URL is PostgreSQL, anything else a SQLite path.
    pub fn parse(value: &str) -> Database {
        let lower = value.trim().to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            Database::Postgres(value.trim().to_owned())
        } else {
            Database::Sqlite(PathBuf::from(value))
        }
    }

    /// The SQLite file, `None` for PostgreSQL (no local file: no inbox, no disk floor).
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Database::Sqlite(path) => Some(path),
            Database::Postgres(_) => None,
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Database::Postgres(_))
    }
}

/// Shown in logs and messages: a URL without its password.
impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "{}", path.display()),
            Database::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Database({self})")
    }
}

/// The `user:password@` part of a URL, if any.
fn userinfo(url: &str) -> Option<(usize, &str)> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let at = authority.rfind('@')?;
    Some((start, &authority[..at]))
}

fn url_has_password(url: &str) -> bool {
    userinfo(url).is_some_and(|(_, info)| info.contains(':'))
        || url
            .split_once('?')
            .is_some_and(|(_, q)| q.split('&').any(|kv| kv.starts_with("password=")))
}

/// The URL with its password replaced by `***`.
pub fn redact(url: &str) -> String {
    let mut out = match userinfo(url) {
        Some((start, info)) => match info.split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..start], &url[start + info.len()..]),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    };
    if let Some((base, query)) = out.clone().split_once('?') {
        let query: Vec<String> = query
            .split('&')
            .map(|kv| {
                if kv.starts_with("password=") {
                    "password=***".to_owned()
                } else {
                    kv.to_owned()
                }
            })
            .collect();
        out = format!("{base}?{}", query.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_sqlite_and_a_url_is_postgres() {
        assert_eq!(
            Database::parse("./data/chattag.db"),
            Database::Sqlite("./data/chattag.db".into())
        );
        assert!(Database::parse("postgres://u@h/db").is_postgres());
        assert!(Database::parse("PostgreSQL://u@h/db").is_postgres());
    }

    #[test]
    fn a_password_in_the_flag_is_refused_and_accepted_from_the_environment() {
        for url in [
            "postgres://u:secret@h/db",
            "postgresql://h/db?user=u&password=secret",
        ] {
            assert_eq!(
                Database::select(Some(url), None, "x.db"),
                Err(DatabaseError::PasswordOnCommandLine)
            );
            let db = Database::select(None, Some(url), "x.db").unwrap();
            assert!(db.is_postgres());
            assert!(!db.to_string().contains("secret"), "{db}");
        }
        assert!(
            Database::select(Some("postgres://u@h:5432/db"), None, "x.db")
                .unwrap()
                .is_postgres()
        );
    }

    #[test]
    fn the_flag_wins_over_the_environment_and_the_default_comes_last() {
        let db = Database::select(Some("a.db"), Some("postgres://u@h/db"), "x.db").unwrap();
        assert_eq!(db, Database::Sqlite("a.db".into()));
        let db = Database::select(None, None, "x.db").unwrap();
        assert_eq!(db, Database::Sqlite("x.db".into()));
    }
}
