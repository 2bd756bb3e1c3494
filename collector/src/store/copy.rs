//! Moving up: copies a SQLite database into an empty PostgreSQL database, then compares them.
//!
//! 1. The SQLite side is opened as the tools open it, which first applies what is still in
//!    its inbox (events acknowledged by a server that stopped before applying them); a server
//!    still running on the file holds the inbox, and the copy refuses to start.
//! 2. The PostgreSQL side is opened as a collector opens it (created and migrated to the same
//!    schema); every table to copy must be empty.
//! 3. Each table is streamed from a SQLite statement into `COPY … FROM STDIN BINARY`, all in one
//!    PostgreSQL transaction: memory stays bounded by one row at a time (plus the driver's
//!    buffer), and a copy that fails leaves the target as it was, so it can simply be run
//!    again. Columns are the target's; a column only SQLite has (its per-chat event list,
//!    which PostgreSQL replaces with an index) is left out and named.
//! 4. Identity sequences continue after the copied IDs, and the privacy key kept beside the
//!    SQLite file becomes the database's, so audit hashes stay comparable.
//! 5. Verification: per-table counts on both sides, and a random sample of each table's rows
//!    looked up on PostgreSQL column by column.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Client;

use super::database::redact;
use super::sqlite::{inbox, SqliteOptions, SqliteStore};
use super::StoreError;
use crate::metrics::StoreMetrics;

/// Tables each engine keeps for itself: the schema record, SQLite's inbox position, the
/// privacy key (copied from its file), and leases of running processes.
const NOT_COPIED: &[&str] = &["schema_migrations", "ingest_state", "privacy_key", "leases"];

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("{} does not exist", .0.display())]
    NoSource(PathBuf),
    #[error("a collector server is running on {} (it holds the inbox): stop it first, so that every event it acknowledged is in the tables when the copy starts", .0.display())]
    ServerRunning(PathBuf),
    #[error("the target database is not empty ({0}): copy into a new database (createdb), or drop and recreate this one")]
    TargetNotEmpty(String),
    #[error("the two schemas differ: {0} (run the same chattag-collector version on both)")]
    Schema(String),
    #[error("{table}.{column}: {why}")]
    Value {
        table: String,
        column: String,
        why: String,
    },
    #[error("verification failed: {0}")]
    Mismatch(String),
    #[error("cannot start the copy's runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot write the report: {0}")]
    Report(std::io::Error),
}

/// What one table's copy found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCopy {
    pub table: String,
    pub source_rows: i64,
    pub copied: u64,
    pub target_rows: i64,
    pub sampled: usize,
    /// Columns only SQLite has, not copied.
    pub left_out: Vec<String>,
}

/// The whole copy, for the report and the tests.
#[derive(Debug, Clone, Default)]
pub struct CopyReport {
    pub tables: Vec<TableCopy>,
    pub privacy_key_copied: bool,
}

pub struct CopyOptions {
    /// Rows between two progress lines.
    pub batch: u64,
    /// Rows per table compared after the copy.
    pub sample: usize,
}

/// Runs the whole copy on a runtime of its own, writing progress and the report to `out`.
pub fn copy(
    from: &Path,
    to_url: &str,
    options: &CopyOptions,
    out: &mut dyn Write,
) -> Result<CopyReport, CopyError> {
    if !from.exists() {
        return Err(CopyError::NoSource(from.to_owned()));
    }
    let say =
        |out: &mut dyn Write, line: String| writeln!(out, "{line}").map_err(CopyError::Report);
    apply_inbox_leftovers(from)?;
    say(
        out,
        format!(
            "{}: the inbox is applied; copying into {}",
            from.display(),
            redact(to_url)
        ),
    )?;
    // Creates and migrates the target as a collector would.
    drop(super::postgres::PgStore::open(
        to_url,
        Arc::new(StoreMetrics::default()),
    )?);
    let source = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CopyError::Runtime)?;
    rt.block_on(async {
        let target = super::postgres::connect::target(to_url)?;
        let (mut client, connection) = target.config.connect(target.tls).await?;
        let connection = tokio::spawn(connection);
        let report = copy_all(&source, &mut client, from, options, out).await;
        drop(client);
        let _ = connection.await;
        report
    })
}

/// Opens the SQLite database as a tool does, which applies what a stopped server left in its
/// inbox; refuses while a server holds the inbox.
fn apply_inbox_leftovers(from: &Path) -> Result<(), CopyError> {
    let dir = inbox::dir_for(from);
    if dir.exists() && inbox::lock(&dir)?.is_none() {
        return Err(CopyError::ServerRunning(from.to_owned()));
    }
    // The lock taken above is released here; the store takes it again to apply the log.
    let store = SqliteStore::open(&SqliteOptions::new(from), Arc::new(StoreMetrics::default()))?;
    drop(store);
    if dir.exists() && inbox::lock(&dir)?.is_none() {
        return Err(CopyError::ServerRunning(from.to_owned()));
    }
    Ok(())
}

struct Column {
    name: String,
    ty: Type,
}

struct Table {
    name: String,
    /// The target's columns that the source has, in the target's order.
    columns: Vec<Column>,
    left_out: Vec<String>,
    identity: Vec<String>,
}

async fn copy_all(
    source: &Connection,
    client: &mut Client,
    from: &Path,
    options: &CopyOptions,
    out: &mut dyn Write,
) -> Result<CopyReport, CopyError> {
    let tables = plan(source, client).await?;
    let mut busy = Vec::new();
    for t in &tables {
        let n: i64 = client
            .query_one(&format!("SELECT count(*) FROM {}", quote(&t.name)), &[])
            .await?
            .get(0);
        if n > 0 {
            busy.push(format!("{n} rows in {}", t.name));
        }
    }
    if !busy.is_empty() {
        return Err(CopyError::TargetNotEmpty(busy.join(", ")));
    }

    let mut report = CopyReport::default();
    let tx = client.transaction().await?;
    for t in &tables {
        let copied = copy_table(source, &tx, t, options.batch, out).await?;
        for column in &t.identity {
            tx.execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence($1, $2), coalesce((SELECT max({c}) FROM {t}), 0) + 1, false)",
                    c = quote(column),
                    t = quote(&t.name)
                ),
                &[&t.name, column],
            )
            .await?;
        }
        report.tables.push(TableCopy {
            table: t.name.clone(),
            source_rows: 0,
            copied,
            target_rows: 0,
            sampled: 0,
            left_out: t.left_out.clone(),
        });
    }
    let key_file = crate::privacy::key::PrivacyKey::path_for(from);
    if let Ok(key) = std::fs::read_to_string(&key_file) {
        tx.execute(
            "UPDATE privacy_key SET key = $1 WHERE id = 1",
            &[&key.trim()],
        )
        .await?;
        report.privacy_key_copied = true;
    }
    tx.commit().await?;

    for (t, done) in tables.iter().zip(report.tables.iter_mut()) {
        verify(source, client, t, options.sample, done).await?;
        let left_out = if done.left_out.is_empty() {
            String::new()
        } else {
            format!(
                " (SQLite-only column(s) not copied: {})",
                done.left_out.join(", ")
            )
        };
        writeln!(
            out,
            "{}: {} rows in SQLite, {} copied, {} in PostgreSQL; {} sampled rows identical{left_out}",
            done.table, done.source_rows, done.copied, done.target_rows, done.sampled
        )
        .map_err(CopyError::Report)?;
    }
    writeln!(
        out,
        "privacy key: {}",
        if report.privacy_key_copied {
            format!("copied from {}", key_file.display())
        } else {
            "none beside the SQLite file; PostgreSQL keeps its own".to_owned()
        }
    )
    .map_err(CopyError::Report)?;
    let rows: u64 = report.tables.iter().map(|t| t.copied).sum();
    writeln!(
        out,
        "copied {rows} rows in {} tables; counts and samples match",
        report.tables.len()
    )
    .map_err(CopyError::Report)?;
    Ok(report)
}

/// The tables to copy: the target's, each of which the source must have (and nothing more).
async fn plan(source: &Connection, client: &Client) -> Result<Vec<Table>, CopyError> {
    let target: BTreeSet<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables
              WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get::<_, String>(0))
        .filter(|t| !NOT_COPIED.contains(&t.as_str()))
        .collect();
    let in_source: BTreeSet<String> = {
        let mut st = source.prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )?;
        let names = st.query_map([], |r| r.get::<_, String>(0))?;
        names
            .collect::<Result<BTreeSet<_>, _>>()?
            .into_iter()
            .filter(|t| !NOT_COPIED.contains(&t.as_str()))
            .collect()
    };
    let only_source: Vec<&String> = in_source.difference(&target).collect();
    let only_target: Vec<&String> = target.difference(&in_source).collect();
    if !only_source.is_empty() || !only_target.is_empty() {
        return Err(CopyError::Schema(format!(
            "tables only in SQLite: {only_source:?}, only in PostgreSQL: {only_target:?}"
        )));
    }
    let mut tables = Vec::new();
    for name in target {
        let source_columns: BTreeSet<String> = {
            let mut st = source.prepare("SELECT name FROM pragma_table_info(?1)")?;
            let names = st.query_map([&name], |r| r.get::<_, String>(0))?;
            names.collect::<Result<_, _>>()?
        };
        let mut columns = Vec::new();
        let mut identity = Vec::new();
        for row in client
            .query(
                "SELECT column_name::text, data_type::text, is_identity::text = 'YES',
                        is_nullable::text = 'YES' OR column_default IS NOT NULL
                   FROM information_schema.columns
                  WHERE table_schema = current_schema() AND table_name = $1
                  ORDER BY ordinal_position",
                &[&name],
            )
            .await?
        {
            let (column, data_type, is_identity, optional): (String, String, bool, bool) =
                (row.get(0), row.get(1), row.get(2), row.get(3));
            if is_identity {
                identity.push(column.clone());
            }
            if !source_columns.contains(&column) {
                if optional || is_identity {
                    continue;
                }
                return Err(CopyError::Schema(format!(
                    "{name}.{column} is required in PostgreSQL and missing in SQLite"
                )));
            }
            let ty = match data_type.as_str() {
                "bigint" => Type::INT8,
                "integer" => Type::INT4,
                "boolean" => Type::BOOL,
                "double precision" => Type::FLOAT8,
                "text" => Type::TEXT,
                other => {
                    return Err(CopyError::Schema(format!(
                        "{name}.{column} has type {other}, which the copy does not convert"
                    )))
                }
            };
            columns.push(Column { name: column, ty });
        }
        let left_out = source_columns
            .iter()
            .filter(|c| !columns.iter().any(|k| &k.name == *c))
            .cloned()
            .collect();
        tables.push(Table {
            name,
            columns,
            left_out,
            identity,
        });
    }
    Ok(tables)
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn column_list(t: &Table) -> String {
    t.columns
        .iter()
        .map(|c| quote(&c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One SQLite value as the target column's type.
fn cell(
    value: ValueRef<'_>,
    ty: &Type,
    table: &str,
    column: &str,
) -> Result<Box<dyn ToSql + Sync + Send>, CopyError> {
    let bad = |why: String| CopyError::Value {
        table: table.to_owned(),
        column: column.to_owned(),
        why,
    };
    let int = |v: ValueRef<'_>| -> Result<Option<i64>, CopyError> {
        match v {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(i) => Ok(Some(i)),
            ValueRef::Real(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
            ValueRef::Text(t) => std::str::from_utf8(t)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .map(Some)
                .ok_or_else(|| {
                    bad(format!(
                        "{:?} is not an integer",
                        String::from_utf8_lossy(t)
                    ))
                }),
            other => Err(bad(format!("{other:?} is not an integer"))),
        }
    };
    Ok(match *ty {
        Type::INT8 => Box::new(int(value)?),
        Type::INT4 => Box::new(
            int(value)?
                .map(i32::try_from)
                .transpose()
                .map_err(|_| bad("does not fit a 32-bit integer".into()))?,
        ),
        Type::BOOL => Box::new(int(value)?.map(|i| i != 0)),
        Type::FLOAT8 => Box::new(match value {
            ValueRef::Null => None,
            ValueRef::Integer(i) => Some(i as f64),
            ValueRef::Real(f) => Some(f),
            other => return Err(bad(format!("{other:?} is not a number"))),
        }),
        _ => Box::new(match value {
            ValueRef::Null => None,
            ValueRef::Text(t) => Some(
                String::from_utf8(t.to_vec()).map_err(|_| bad("text that is not UTF-8".into()))?,
            ),
            ValueRef::Integer(i) => Some(i.to_string()),
            ValueRef::Real(f) => Some(f.to_string()),
            ValueRef::Blob(_) => return Err(bad("a blob where text is expected".into())),
        }),
    })
}

async fn copy_table(
    source: &Connection,
    tx: &tokio_postgres::Transaction<'_>,
    t: &Table,
    batch: u64,
    out: &mut dyn Write,
) -> Result<u64, CopyError> {
    let sink = tx
        .copy_in(&format!(
            "COPY {} ({}) FROM STDIN BINARY",
            quote(&t.name),
            column_list(t)
        ))
        .await?;
    let types: Vec<Type> = t.columns.iter().map(|c| c.ty.clone()).collect();
    let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &types));
    let mut st = source.prepare(&format!(
        "SELECT {} FROM {}",
        column_list(t),
        quote(&t.name)
    ))?;
    let mut rows = st.query([])?;
    let mut n: u64 = 0;
    while let Some(row) = rows.next()? {
        let mut cells = Vec::with_capacity(t.columns.len());
        for (i, c) in t.columns.iter().enumerate() {
            cells.push(cell(row.get_ref(i)?, &c.ty, &t.name, &c.name)?);
        }
        let refs: Vec<&(dyn ToSql + Sync)> = cells
            .iter()
            .map(|c| c.as_ref() as &(dyn ToSql + Sync))
            .collect();
        writer.as_mut().write(&refs).await?;
        n += 1;
        if n.is_multiple_of(batch.max(1)) {
            writeln!(out, "{}: {n} rows…", t.name).map_err(CopyError::Report)?;
        }
    }
    let written = writer.finish().await?;
    if written != n {
        return Err(CopyError::Mismatch(format!(
            "{}: {n} rows read, PostgreSQL took {written}",
            t.name
        )));
    }
    Ok(n)
}

/// Counts on both sides, and `sample` random source rows found on the target with every copied
/// column equal.
async fn verify(
    source: &Connection,
    client: &Client,
    t: &Table,
    sample: usize,
    done: &mut TableCopy,
) -> Result<(), CopyError> {
    done.source_rows = source.query_row(
        &format!("SELECT count(*) FROM {}", quote(&t.name)),
        [],
        |r| r.get(0),
    )?;
    done.target_rows = client
        .query_one(&format!("SELECT count(*) FROM {}", quote(&t.name)), &[])
        .await?
        .get(0);
    if done.source_rows != done.target_rows
        || u64::try_from(done.source_rows).ok() != Some(done.copied)
    {
        return Err(CopyError::Mismatch(format!(
            "{}: {} rows in SQLite, {} copied, {} in PostgreSQL",
            t.name, done.source_rows, done.copied, done.target_rows
        )));
    }
    let condition = t
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            format!(
                "{} IS NOT DISTINCT FROM ${}::{}",
                quote(&c.name),
                i + 1,
                match c.ty {
                    Type::INT8 => "bigint",
                    Type::INT4 => "integer",
                    Type::BOOL => "boolean",
                    Type::FLOAT8 => "double precision",
                    _ => "text",
                }
            )
        })
        .collect::<Vec<_>>()
        .join(" AND ");
    let lookup = client
        .prepare(&format!(
            "SELECT count(*) FROM {} WHERE {condition}",
            quote(&t.name)
        ))
        .await?;
    let mut st = source.prepare(&format!(
        "SELECT {} FROM {} ORDER BY random() LIMIT ?1",
        column_list(t),
        quote(&t.name)
    ))?;
    let mut rows = st.query([i64::try_from(sample).unwrap_or(i64::MAX)])?;
    while let Some(row) = rows.next()? {
        let mut cells = Vec::with_capacity(t.columns.len());
        for (i, c) in t.columns.iter().enumerate() {
            cells.push(cell(row.get_ref(i)?, &c.ty, &t.name, &c.name)?);
        }
        let refs: Vec<&(dyn ToSql + Sync)> = cells
            .iter()
            .map(|c| c.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let found: i64 = client.query_one(&lookup, &refs).await?.get(0);
        if found == 0 {
            return Err(CopyError::Mismatch(format!(
                "{}: a sampled row is not in PostgreSQL with the same values",
                t.name
            )));
        }
        done.sampled += 1;
    }
    Ok(())
}
