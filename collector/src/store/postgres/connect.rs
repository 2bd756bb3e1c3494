//! From a `postgres://` URL to a connection pool: the URL's settings, TLS as its `sslmode`
//! says, and the password from the URL, `PGPASSWORD` or the password file, as libpq finds them
//! (tokio-postgres reads no environment of its own).
//!
//! `sslmode` as libpq: `disable` (plain), `prefer` (TLS when the server offers it, certificate
//! not checked; the default), `require` (TLS, certificate not checked), `verify-ca` /
//! `verify-full` (TLS, the certificate checked against `sslrootcert` or the public web roots,
//! and the host name: both are checked for either, the stricter reading).

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::database::redact;
use crate::store::StoreError;

/// How the server's certificate is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Encrypted, not authenticated (`prefer`, `require`, as libpq).
    No,
    /// Checked against the roots and the host name.
    Full,
}

/// Settings read from the URL.
pub struct Target {
    pub config: tokio_postgres::Config,
    pub tls: MakeRustlsConnect,
}

fn bad(url: &str, why: impl std::fmt::Display) -> StoreError {
    StoreError::PgConfig(format!("{}: {why}", redact(url)))
}

/// Parses the URL (taking out what tokio-postgres does not know) and completes it from the
/// environment.
pub fn target(url: &str) -> Result<Target, StoreError> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, q),
        None => (url, ""),
    };
    let mut mode = "prefer".to_owned();
    let mut root_cert: Option<PathBuf> = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslmode", v)) => mode = v.to_owned(),
            Some(("sslrootcert", v)) => root_cert = Some(PathBuf::from(v)),
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let mut config = tokio_postgres::Config::from_str(&rest).map_err(|e| bad(url, e))?;
    let (ssl, verify) = match mode.as_str() {
        "disable" => (SslMode::Disable, Verify::No),
        "prefer" => (SslMode::Prefer, Verify::No),
        "require" => (SslMode::Require, Verify::No),
        "verify-ca" | "verify-full" => (SslMode::Require, Verify::Full),
        other => {
            return Err(bad(
                url,
                format!(
                    "sslmode {other:?}: use disable, prefer, require, verify-ca or verify-full"
                ),
            ))
        }
    };
    config.ssl_mode(ssl);
    if config.get_user().is_none() {
        if let Some(user) = env_nonempty("PGUSER").or_else(|| env_nonempty("USER")) {
            config.user(user);
        }
    }
    if config.get_hosts().is_empty() {
        config.host("localhost");
    }
    if config.get_password().is_none() {
        if let Some(password) = env_nonempty("PGPASSWORD").or_else(|| password_file(&config)) {
            config.password(password);
        }
    }
    if config.get_application_name().is_none() {
        config.application_name("chattag-collector");
    }
    Ok(Target {
        config,
        tls: MakeRustlsConnect::new(tls_config(verify, root_cert.as_deref(), url)?),
    })
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn tls_config(
    verify: Verify,
    root_cert: Option<&std::path::Path>,
    url: &str,
) -> Result<ClientConfig, StoreError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(url, e))?;
    Ok(match verify {
        Verify::No => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified(provider)))
            .with_no_client_auth(),
        Verify::Full => {
            let mut roots = RootCertStore::empty();
            match root_cert {
                Some(path) => {
                    use rustls::pki_types::pem::PemObject;
                    for cert in CertificateDer::pem_file_iter(path)
                        .map_err(|e| bad(url, format!("sslrootcert {}: {e}", path.display())))?
                    {
                        let cert = cert.map_err(|e| {
                            bad(url, format!("sslrootcert {}: {e}", path.display()))
                        })?;
                        roots.add(cert).map_err(|e| bad(url, e))?;
                    }
                }
                None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    })
}

/// libpq's `require`: the channel is encrypted, the certificate is not checked (signatures of
/// the handshake still are).
#[derive(Debug)]
struct Unverified(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The password for this host, port, database and user in `PGPASSFILE` (or `~/.pgpass`):
/// `host:port:database:user:password` lines, `*` matching anything, `\` escaping `:` and `\`.
fn password_file(config: &tokio_postgres::Config) -> Option<String> {
    let path = env_nonempty("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| env_nonempty("HOME").map(|h| PathBuf::from(h).join(".pgpass")))?;
    let text = std::fs::read_to_string(path).ok()?;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(Host::Unix(_)) => "localhost".to_owned(),
        None => "localhost".to_owned(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let user = config.get_user().unwrap_or_default().to_owned();
    let db = config.get_dbname().unwrap_or(&user).to_owned();
    lookup_password(&text, [&host, &port, &db, &user])
}

fn lookup_password(text: &str, wanted: [&str; 4]) -> Option<String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(|line| {
            let fields = split_escaped(line);
            if fields.len() != 5 {
                return None;
            }
            let matches = fields[..4]
                .iter()
                .zip(wanted)
                .all(|(f, w)| f == "*" || f == w);
            matches.then(|| fields[4].clone())
        })
}

fn split_escaped(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(last)) = (chars.next(), fields.last_mut()) {
                    last.push(next);
                }
            }
            ':' => fields.push(String::new()),
            c => {
                if let Some(last) = fields.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_file_matches_with_wildcards_and_escapes() {
        let text = "# comment\nother:5432:db:u:no\n127.0.0.1:*:db:u:pa\\:ss\n";
        assert_eq!(
            lookup_password(text, ["127.0.0.1", "5433", "db", "u"]).as_deref(),
            Some("pa:ss")
        );
        assert_eq!(lookup_password(text, ["127.0.0.1", "5433", "x", "u"]), None);
    }

    #[test]
    fn sslmode_is_read_and_an_unknown_one_refused() {
        let t = target("postgres://u@127.0.0.1:5/db?sslmode=disable").unwrap();
        assert_eq!(t.config.get_ssl_mode(), SslMode::Disable);
        let t = target("postgres://u@127.0.0.1:5/db?sslmode=verify-full").unwrap();
        assert_eq!(t.config.get_ssl_mode(), SslMode::Require);
        assert!(target("postgres://u@127.0.0.1:5/db?sslmode=sometimes").is_err());
    }
}
