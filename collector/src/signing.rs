//! HMAC-SHA256 with constant-time checks: webhook signatures and the report page's session
//! cookie use this one definition.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Hex HMAC-SHA256 of `body` with `key`.
pub fn hmac_sha256_hex(key: &str, body: &[u8]) -> String {
    let mut mac = match HmacSha256::new_from_slice(key.as_bytes()) {
        Ok(m) => m,
        // HMAC accepts keys of any length; this arm is unreachable but must not panic.
        Err(_) => return String::new(),
    };
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Why a presented signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not hex.
    Malformed,
    /// Hex, but not the HMAC of the body (or truncated).
    Mismatch,
}

/// Checks a hex HMAC-SHA256 of `body` with `key` in constant time. An empty key never matches.
pub fn verify_hex_hmac(hex_sig: &[u8], body: &[u8], key: &str) -> Result<(), Refused> {
    if key.is_empty() {
        return Err(Refused::Mismatch);
    }
    let sig = hex::decode(hex_sig.trim_ascii()).map_err(|_| Refused::Malformed)?;
    let mut mac = HmacSha256::new_from_slice(key.as_bytes()).map_err(|_| Refused::Mismatch)?;
    mac.update(body);
    // `verify_slice` is constant-time and also rejects a truncated signature.
    mac.verify_slice(&sig).map_err(|_| Refused::Mismatch)
}

/// Constant-time equality of a presented secret and the configured one (an empty one never
/// matches), so that response timing does not leak how much of a forged value was right.
pub fn same_secret(presented: &[u8], configured: &str) -> bool {
    !configured.is_empty() && bool::from(presented.ct_eq(configured.as_bytes()))
}
