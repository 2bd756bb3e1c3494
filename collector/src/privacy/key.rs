//! The server's privacy key: an HMAC key that turns an identifier into a hash which can be
//! recognised again (the audit of requests) but not reversed. Kept in a file next to the
//! database (`chattag.privacy-key` beside `chattag.db`), created on first use with mode 0600,
//! so that the server and the commands share it. Losing it only means that later audit
//! entries no longer match earlier ones.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::signing::hmac_sha256_hex;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("privacy key {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("privacy key {}: not 64 hex digits", .0.display())]
    Malformed(PathBuf),
    #[error("privacy key: the database keeps none")]
    Missing,
}

#[derive(Clone)]
pub struct PrivacyKey(String);

impl std::fmt::Debug for PrivacyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivacyKey(***)")
    }
}

impl PrivacyKey {
    pub fn path_for(db: &Path) -> PathBuf {
        db.with_extension("privacy-key")
    }

    /// Reads the key kept next to `db`, creating it when there is none.
    pub fn load_or_create(db: &Path) -> Result<PrivacyKey, KeyError> {
        let path = Self::path_for(db);
        let io = |source| KeyError::Io {
            path: path.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let key = text.trim();
                if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(KeyError::Malformed(path));
                }
                Ok(PrivacyKey(key.to_owned()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(io)?;
                }
                let mut bytes = [0u8; 32];
                std::fs::File::open("/dev/urandom")
                    .and_then(|mut f| f.read_exact(&mut bytes))
                    .map_err(io)?;
                let key = hex::encode(bytes);
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                match options.open(&path) {
                    Ok(mut file) => {
                        file.write_all(key.as_bytes())
                            .and_then(|()| file.sync_all())
                            .map_err(io)?;
                        Ok(PrivacyKey(key))
                    }
                    // Another process created it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::load_or_create(db)
                    }
                    Err(e) => Err(io(e)),
                }
            }
            Err(e) => Err(io(e)),
        }
    }

    /// The key of the database `db`: kept in the database itself when the backend does
    /// (PostgreSQL: every instance shares it), else in the file beside it.
    pub fn for_store(
        db: &crate::store::database::Database,
        store: &dyn crate::store::Storage,
    ) -> Result<PrivacyKey, KeyError> {
        match (store.stored_privacy_key(), db.sqlite_path()) {
            (Some(key), _) => Ok(PrivacyKey(key.to_owned())),
            (None, Some(path)) => Self::load_or_create(path),
            (None, None) => Err(KeyError::Missing),
        }
    }

    /// Keyed hash of one identifier; the kind is part of the input so that a phone and a user
    /// ID with the same digits do not hash alike.
    pub fn hash(&self, kind: &str, value: &str) -> String {
        hmac_sha256_hex(&self.0, format!("{kind}\n{value}").as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_created_once_and_hashes_are_stable_and_keyed() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x").join("chattag.db");
        let a = PrivacyKey::load_or_create(&db).unwrap();
        let b = PrivacyKey::load_or_create(&db).unwrap();
        assert_eq!(
            a.hash("phone", "79161234567"),
            b.hash("phone", "79161234567")
        );
        assert_ne!(
            a.hash("phone", "79161234567"),
            a.hash("user_id", "79161234567")
        );
        let other = PrivacyKey::load_or_create(&dir.path().join("other.db")).unwrap();
        assert_ne!(a.hash("phone", "1"), other.hash("phone", "1"));
        assert!(!a.hash("phone", "79161234567").contains("79161234567"));
    }
}
