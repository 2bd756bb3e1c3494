//! Sender verification for messenger webhooks, each the way the messenger documents it (each
//! messenger's module checks its own; the shared-secret header and the error type are here).
//!
//! | messenger | header | scheme |
//! |---|---|---|
//! | Telegram Bot API | `X-Telegram-Bot-Api-Secret-Token` | the `secret_token` given to `setWebhook`, sent verbatim |
//! | WhatsApp Cloud API | `X-Hub-Signature-256` | `sha256=<hex HMAC-SHA256 of the raw body, key = app secret>` |
//! | Viber bot API | `X-Viber-Content-Signature` | `<hex HMAC-SHA256 of the raw body, key = auth token>` |
//! | MAX bot API | `X-Max-Bot-Api-Secret` | the `secret` given to `POST /subscriptions`, sent verbatim |
//!
//! Every comparison is constant-time so that response timing does not leak how much of a forged
//! value was right. HMACs are computed over the raw body bytes exactly as received: re-serialising
//! parsed JSON would change whitespace and key order and break the signature.

use crate::signing::{same_secret, Refused};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// The header that carries the proof is absent.
    Missing,
    /// The header is present but not in the documented shape (prefix, hex).
    Malformed,
    /// The header is well-formed but does not match.
    Mismatch,
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SignatureError::Missing => "signature header missing",
            SignatureError::Malformed => "signature header malformed",
            SignatureError::Mismatch => "signature does not match",
        })
    }
}

impl std::error::Error for SignatureError {}

/// Shared-secret header (Telegram, MAX): the header must equal the configured secret.
pub fn verify_shared_secret(header: Option<&[u8]>, secret: &str) -> Result<(), SignatureError> {
    let got = header.ok_or(SignatureError::Missing)?;
    // An empty configured secret would accept an empty header: it never matches.
    if same_secret(got, secret) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

impl From<Refused> for SignatureError {
    fn from(r: Refused) -> SignatureError {
        match r {
            Refused::Malformed => SignatureError::Malformed,
            Refused::Mismatch => SignatureError::Mismatch,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_secret() {
        assert_eq!(verify_shared_secret(Some(b"s3cret"), "s3cret"), Ok(()));
        assert_eq!(
            verify_shared_secret(Some(b"s3cre"), "s3cret"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_shared_secret(Some(b""), ""),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_shared_secret(None, "s3cret"),
            Err(SignatureError::Missing)
        );
    }
}
