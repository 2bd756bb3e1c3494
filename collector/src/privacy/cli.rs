//! `chattag-collector forget --phone …` and `chattag-collector export-person --phone …`: the
//! same as the API routes, for the operator on the server (works while the server runs).

use std::sync::Arc;

use clap::{ArgGroup, Args};

use super::subject::Subject;
use crate::cli::{CommandError, DbArgs};
use crate::metrics::StoreMetrics;

#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("who").required(true).multiple(false)))]
pub struct PersonArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Phone number, any formatting (+7 916 123-45-67).
    #[arg(long, group = "who")]
    pub phone: Option<String>,
    /// Messenger user ID (Telegram, WhatsApp, Viber, MAX).
    #[arg(long, group = "who")]
    pub user_id: Option<String>,
    /// Messenger username (with or without @).
    #[arg(long, group = "who")]
    pub username: Option<String>,
    /// chattag chat ID.
    #[arg(long, group = "who")]
    pub chat_id: Option<String>,
    /// Yandex Metrica ClientID.
    #[arg(long, group = "who")]
    pub client_id: Option<String>,
}

impl PersonArgs {
    fn subject(&self) -> Result<Subject, CommandError> {
        let (kind, value) = [
            ("phone", &self.phone),
            ("user_id", &self.user_id),
            ("username", &self.username),
            ("chat_id", &self.chat_id),
            ("client_id", &self.client_id),
        ]
        .into_iter()
        .find_map(|(k, v)| v.as_ref().map(|v| (k, v)))
        .ok_or_else(|| {
            CommandError::Refused(
                "name the person: --phone, --user-id, --username, --chat-id or --client-id".into(),
            )
        })?;
        Subject::parse(kind, value)
            .map_err(|e| CommandError::Refused(format!("--{}: {e}", kind.replace('_', "-"))))
    }
}

fn run<T>(
    args: &PersonArgs,
    work: impl FnOnce(Arc<dyn crate::store::Storage>, Subject) -> T,
) -> Result<(tokio::runtime::Runtime, T), CommandError> {
    let subject = args.subject()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let store = crate::store::open(
        &args.db.database()?,
        false,
        Arc::new(StoreMetrics::default()),
    )?;
    let fut = work(store, subject);
    Ok((rt, fut))
}

fn print(value: &serde_json::Value) -> Result<(), CommandError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CommandError::Refused(format!("cannot print the result: {e}")))?;
    println!("{text}");
    Ok(())
}

/// Deletes the person's data and prints what was removed, as JSON.
pub fn forget(args: PersonArgs) -> Result<(), CommandError> {
    let db = args.db.database()?;
    let (rt, done) = run(&args, |store, subject| async move {
        super::forget(store.as_ref(), &db, subject, "cli").await
    })?;
    let done = rt.block_on(done).map_err(request_error)?;
    print(
        &serde_json::json!({"removed": done.removed, "wal_truncated": done.wal_truncated, "inbox_rotated": done.inbox_rotated}),
    )
}

/// Prints everything kept about the person, as JSON.
pub fn export(args: PersonArgs) -> Result<(), CommandError> {
    let db = args.db.database()?;
    let (rt, data) = run(&args, |store, subject| async move {
        super::export(store.as_ref(), &db, subject, "cli").await
    })?;
    let data = rt.block_on(data).map_err(request_error)?;
    print(&serde_json::json!({"data": data}))
}

fn request_error(e: super::RequestError) -> CommandError {
    match e {
        super::RequestError::Store(e) => CommandError::Store(e),
        super::RequestError::Key(e) => CommandError::Refused(e.to_string()),
    }
}
