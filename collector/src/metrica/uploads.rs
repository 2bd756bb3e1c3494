//! What was sent to which counter: uploads (each file, its attempts and Metrica's status) and
//! the chats in them, so that a chat goes to a counter once unless forced, and a failed upload is
//! retried with the same file rather than rebuilt. Stored through [`crate::store::MetricaStore`].

/// After this many failed attempts an upload is abandoned and its chats become eligible for a
/// new file (the file itself may be what Metrica refuses).
pub const MAX_ATTEMPTS: i64 = 5;

/// What a file carries, and so where it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadKind {
    /// Chat rows, `type=CHATS`.
    Chats,
    /// Offline conversions on the counter's revenue goal, `type=BASIC`.
    Conversions,
}

impl UploadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UploadKind::Chats => "chats",
            UploadKind::Conversions => "conversions",
        }
    }

    pub fn parse(s: &str) -> UploadKind {
        if s == "conversions" {
            UploadKind::Conversions
        } else {
            UploadKind::Chats
        }
    }
}

/// An upload to (re)send: its file as first built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingUpload {
    pub id: i64,
    pub counter: u64,
    pub kind: UploadKind,
    pub csv: String,
    pub rows: i64,
    pub attempts: i64,
    /// When the file was recorded: with `id`, its key in the comment it is sent with.
    pub created_ms: i64,
}

impl PendingUpload {
    /// The key Metrica's list of uploads shows it by ([`super::upload::file_key`]).
    pub fn key(&self) -> String {
        super::upload::file_key(self.id, self.created_ms)
    }
}

/// Our state of an upload after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadState {
    /// Tried again by the next run.
    Failed,
    /// Given up after [`MAX_ATTEMPTS`]; its chats go into the next file.
    Abandoned,
}

/// Per counter: chats sent (in uploads not abandoned), uploads, last status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterSummary {
    pub counter: u64,
    pub chats_sent: i64,
    pub uploads: i64,
    pub failed: i64,
    pub last_status: Option<String>,
    pub last_at: Option<i64>,
    /// Offline conversions (late revenue) sent.
    pub conversions_sent: i64,
    /// Columns Metrica refused for this counter (left out of its later files).
    pub refused_columns: Vec<String>,
}

/// Files by (counter, our state, Metrica's last status or ""), and chats sent per counter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadTotals {
    pub uploads: Vec<((u64, String, String), i64)>,
    pub chats_sent: Vec<(u64, i64)>,
}
