//! Resolved configuration: flags/env ([`crate::cli::ServeArgs`]) plus an optional TOML file.
//!
//! ```toml
//! [[sites]]
//! id = "shop"
//! origins = ["https://shop.example", "https://www.shop.example"]
//!
//! [telegram]          # any other table is kept for the module that owns it
//! secret_token_file = "/etc/chattag/telegram-secret"
//! ```
//!
//! Extension point: a module reads its own table with [`Config::section`]; unknown tables are
//! not an error here.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::chats::config::{ChatsConfig, ChatsFile};
use crate::chats::settings::ChatsConfigError;
use crate::cli::serve::ServeArgs;
use crate::ratelimit::RateLimit;
use crate::secret::{Secret, SecretError};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path}: {source}")]
    Parse {
        path: String,
        source: toml::de::Error,
    },
    #[error("config section [{section}]: {source}")]
    Section {
        section: String,
        source: toml::de::Error,
    },
    #[error("allowed origin {origin:?}: {reason}")]
    Origin {
        origin: String,
        reason: &'static str,
    },
    #[error("origin {origin} is listed for two sites ({first} and {second})")]
    OriginTwice {
        origin: String,
        first: String,
        second: String,
    },
    #[error("site id {0:?} must be 1-64 characters of a-z 0-9 . _ : -")]
    SiteId(String),
    #[error("read token: {0}")]
    Token(#[from] SecretError),
    #[error("metrics token: {0}")]
    MetricsToken(SecretError),
    #[error("public URL {0:?} must start with https:// or http://")]
    PublicUrl(String),
    #[error(transparent)]
    Chats(#[from] ChatsConfigError),
    #[error(transparent)]
    Database(#[from] crate::store::database::DatabaseError),
}

#[derive(Debug, Clone)]
pub struct Site {
    pub id: String,
    pub origins: Vec<String>,
}

/// Sites and the origin → site lookup used by CORS and ingest.
#[derive(Debug, Clone, Default)]
pub struct Sites {
    pub sites: Vec<Site>,
    by_origin: HashMap<String, usize>,
}

impl Sites {
    pub fn new(sites: Vec<Site>) -> Result<Sites, ConfigError> {
        let mut by_origin = HashMap::new();
        for (i, site) in sites.iter().enumerate() {
            if !valid_site_id(&site.id) {
                return Err(ConfigError::SiteId(site.id.clone()));
            }
            for origin in &site.origins {
                if let Some(&j) = by_origin.get(origin) {
                    let first: &Site = &sites[j];
                    if j != i {
                        return Err(ConfigError::OriginTwice {
                            origin: origin.clone(),
                            first: first.id.clone(),
                            second: site.id.clone(),
                        });
                    }
                }
                by_origin.insert(origin.clone(), i);
            }
        }
        Ok(Sites { sites, by_origin })
    }

    /// The site whose origins include the request's `Origin` header value, exactly as browsers
    /// serialise it (scheme://host[:port], lowercase, no default port).
    pub fn by_origin(&self, origin: &str) -> Option<&Site> {
        self.by_origin.get(origin).map(|&i| &self.sites[i])
    }

    pub fn is_empty(&self) -> bool {
        self.sites.is_empty()
    }
}

fn valid_site_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b".-_:".contains(&b))
}

/// Canonical origin: `scheme://host[:port]` as a browser sends it in `Origin`.
pub fn normalize_origin(raw: &str) -> Result<String, ConfigError> {
    let err = |reason| ConfigError::Origin {
        origin: raw.to_owned(),
        reason,
    };
    let s = raw.trim().trim_end_matches('/').to_ascii_lowercase();
    let (scheme, rest) = s
        .split_once("://")
        .ok_or_else(|| err("must start with http:// or https://"))?;
    let default_port = match scheme {
        "http" => ":80",
        "https" => ":443",
        _ => return Err(err("must start with http:// or https://")),
    };
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err(err(
            "must be scheme://host[:port] with no path, query or credentials",
        ));
    }
    let host_port = rest.strip_suffix(default_port).unwrap_or(rest);
    Ok(format!("{scheme}://{host_port}"))
}

/// Site ID for an origin given by flag: the host (and non-default port) without "www.".
fn site_id_for(origin: &str) -> String {
    let host = origin.split_once("://").map_or(origin, |(_, h)| h);
    host.strip_prefix("www.").unwrap_or(host).to_owned()
}

#[derive(Debug, Default, Deserialize)]
struct FileConfig {
    #[serde(default)]
    sites: Vec<FileSite>,
}

#[derive(Debug, Deserialize)]
struct FileSite {
    id: String,
    origins: Vec<String>,
}

/// What one visitor, one connection and one site may use (see README "Running on the internet").
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_timeout: Duration,
    pub request_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    /// Ingest refuses (503) while the database's volume has fewer free bytes.
    pub min_free_bytes: u64,
    /// Events stored per site per UTC day from the browser; 0: none.
    pub site_daily_events: u64,
    /// Events stored per UTC day from the browser, all sites; 0: none.
    pub daily_events: u64,
}

/// Where the client address comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAddr {
    /// The TCP peer.
    Peer,
    /// `X-Forwarded-For`, appended to by this many proxies of ours (the peer is the nearest).
    Forwarded { proxies: u8 },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub metrics_listen: Option<SocketAddr>,
    pub metrics_token: Option<Secret>,
    /// `https://…` given: session cookies are always `Secure`.
    pub public_https: Option<bool>,
    pub limits: Limits,
    pub client_addr: ClientAddr,
    pub db: crate::store::database::Database,
    pub sites: Sites,
    pub read_token: Option<Secret>,
    pub rate_limit: RateLimit,
    pub bench_bare: bool,
    /// How long scheduled work's lease outlives a holder that stopped renewing it.
    pub lease_ttl: std::time::Duration,
    /// The chat side: `[chats]` plus its secrets.
    pub chats: ChatsConfig,
    /// The whole TOML file, for modules that keep their settings in their own table.
    pub file: toml::Table,
}

impl Config {
    /// `env_token` is the value of `CHATTAG_READ_TOKEN`, passed in so tests need not mutate
    /// the process environment.
    pub fn resolve(args: &ServeArgs, env_token: Option<String>) -> Result<Config, ConfigError> {
        Config::resolve_with_env(args, env_token, &|k| std::env::var(k).ok())
    }

    /// [`Config::resolve`] with the `CHATTAG_*` secrets of the chat side read through `env`.
    pub fn resolve_with_env(
        args: &ServeArgs,
        env_token: Option<String>,
        env: crate::chats::settings::Env,
    ) -> Result<Config, ConfigError> {
        let file: toml::Table = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.display().to_string(),
                    source,
                })?
            }
            None => toml::Table::new(),
        };
        let parsed: FileConfig = toml::Value::Table(file.clone())
            .try_into()
            .map_err(|source| ConfigError::Section {
                section: "sites".into(),
                source,
            })?;

        let mut sites = Vec::new();
        for s in parsed.sites {
            let origins = s
                .origins
                .iter()
                .map(|o| normalize_origin(o))
                .collect::<Result<Vec<_>, _>>()?;
            sites.push(Site { id: s.id, origins });
        }
        for raw in args.allowed_origins.iter().filter(|o| !o.trim().is_empty()) {
            let origin = normalize_origin(raw)?;
            if sites.iter().any(|s| s.origins.contains(&origin)) {
                continue;
            }
            let id = site_id_for(&origin);
            match sites.iter_mut().find(|s| s.id == id) {
                Some(site) => site.origins.push(origin),
                None => sites.push(Site {
                    id,
                    origins: vec![origin],
                }),
            }
        }

        let read_token = match (
            env_token.filter(|t| !t.trim().is_empty()),
            &args.read_token_file,
        ) {
            (Some(token), _) => Some(Secret::new(&token)?),
            (None, Some(path)) => Some(Secret::from_file(path)?),
            (None, None) => None,
        };

        let chats_file: Option<ChatsFile> = match file.get("chats") {
            None => None,
            Some(v) => Some(
                v.clone()
                    .try_into()
                    .map_err(|source| ConfigError::Section {
                        section: "chats".into(),
                        source,
                    })?,
            ),
        };
        let chats = ChatsConfig::resolve(chats_file, env)?;

        let metrics_token = match (
            env("CHATTAG_METRICS_TOKEN").filter(|t| !t.trim().is_empty()),
            &args.metrics_token_file,
        ) {
            (Some(token), _) => Some(Secret::new(&token).map_err(ConfigError::MetricsToken)?),
            (None, Some(path)) => Some(Secret::from_file(path).map_err(ConfigError::MetricsToken)?),
            (None, None) => None,
        };
        let public_https = match args.public_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(url) if url.to_ascii_lowercase().starts_with("https://") => Some(true),
            Some(url) if url.to_ascii_lowercase().starts_with("http://") => Some(false),
            Some(url) => return Err(ConfigError::PublicUrl(url.to_owned())),
        };

        let per_second = args.rate_limit;
        Ok(Config {
            listen: args.listen,
            metrics_listen: args.metrics_listen,
            metrics_token,
            public_https,
            limits: Limits {
                header_timeout: args.header_timeout,
                request_timeout: args.request_timeout,
                idle_timeout: args.idle_timeout,
                max_connections: args.max_connections.max(1),
                min_free_bytes: args.min_free_mb.saturating_mul(1 << 20),
                site_daily_events: args.site_daily_events,
                daily_events: args.daily_events,
            },
            client_addr: if args.trust_forwarded_for {
                ClientAddr::Forwarded {
                    proxies: args.trusted_proxies.max(1),
                }
            } else {
                ClientAddr::Peer
            },
            db: args.db.database()?,
            sites: Sites::new(sites)?,
            read_token,
            rate_limit: RateLimit {
                per_second,
                burst: args.rate_burst.unwrap_or(per_second.saturating_mul(3)),
                ipv6_prefix: args.rate_limit_ipv6_prefix,
            },
            bench_bare: args.bench_bare,
            lease_ttl: args.lease_ttl,
            chats,
            file,
        })
    }

    /// A module's own table from the config file, e.g. `config.section::<TelegramConfig>("telegram")`.
    /// Missing table → `Ok(None)`.
    pub fn section<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, ConfigError> {
        match self.file.get(name) {
            None => Ok(None),
            Some(v) => v
                .clone()
                .try_into()
                .map(Some)
                .map_err(|source| ConfigError::Section {
                    section: name.to_owned(),
                    source,
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_normalised_like_browsers_send_them() {
        assert_eq!(
            normalize_origin("https://Shop.Example/").unwrap(),
            "https://shop.example"
        );
        assert_eq!(
            normalize_origin("https://shop.example:443").unwrap(),
            "https://shop.example"
        );
        assert_eq!(
            normalize_origin("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert!(normalize_origin("shop.example").is_err());
        assert!(normalize_origin("https://shop.example/path").is_err());
        assert!(normalize_origin("ftp://shop.example").is_err());
    }

    #[test]
    fn www_and_bare_host_are_one_site() {
        assert_eq!(site_id_for("https://www.shop.example"), "shop.example");
        assert_eq!(site_id_for("http://127.0.0.1:8080"), "127.0.0.1:8080");
    }
}
