//! Sender verification for messenger webhooks, each the way the messenger documents it.
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

use crate::signing::{same_secret, verify_hex_hmac, Refused};

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

/// WhatsApp Cloud API (Meta): `X-Hub-Signature-256: sha256=<hex>`.
pub fn verify_hub_signature_256(
    header: Option<&[u8]>,
    body: &[u8],
    app_secret: &str,
) -> Result<(), SignatureError> {
    let got = header.ok_or(SignatureError::Missing)?;
    let hex_part = got
        .strip_prefix(b"sha256=")
        .ok_or(SignatureError::Malformed)?;
    Ok(verify_hex_hmac(hex_part, body, app_secret)?)
}

/// Viber: `X-Viber-Content-Signature: <hex>` (no prefix).
pub fn verify_viber_signature(
    header: Option<&[u8]>,
    body: &[u8],
    auth_token: &str,
) -> Result<(), SignatureError> {
    let got = header.ok_or(SignatureError::Missing)?;
    Ok(verify_hex_hmac(got, body, auth_token)?)
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
    use crate::signing::hmac_sha256_hex;

    #[test]
    fn hub_signature_valid_and_forged() {
        let body = br#"{"object":"whatsapp_business_account"}"#;
        let sig = format!("sha256={}", hmac_sha256_hex("app-secret", body));
        assert_eq!(
            verify_hub_signature_256(Some(sig.as_bytes()), body, "app-secret"),
            Ok(())
        );
        // Same signature, body changed by one byte.
        let forged = br#"{"object":"whatsapp_business_accounT"}"#;
        assert_eq!(
            verify_hub_signature_256(Some(sig.as_bytes()), forged, "app-secret"),
            Err(SignatureError::Mismatch)
        );
        // Signed with another secret.
        assert_eq!(
            verify_hub_signature_256(Some(sig.as_bytes()), body, "other"),
            Err(SignatureError::Mismatch)
        );
        // Without the documented prefix.
        let bare = hmac_sha256_hex("app-secret", body);
        assert_eq!(
            verify_hub_signature_256(Some(bare.as_bytes()), body, "app-secret"),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_hub_signature_256(None, body, "app-secret"),
            Err(SignatureError::Missing)
        );
        // Truncated signature.
        assert_eq!(
            verify_hub_signature_256(Some(&sig.as_bytes()[..21]), body, "app-secret"),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn viber_signature_valid_and_forged() {
        let body = br#"{"event":"webhook"}"#;
        let sig = hmac_sha256_hex("viber-token", body);
        assert_eq!(
            verify_viber_signature(Some(sig.as_bytes()), body, "viber-token"),
            Ok(())
        );
        assert_eq!(
            verify_viber_signature(
                Some(sig.as_bytes()),
                b"{\"event\":\"webhooK\"}",
                "viber-token"
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_viber_signature(Some(b"zz"), body, "viber-token"),
            Err(SignatureError::Malformed)
        );
    }

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
