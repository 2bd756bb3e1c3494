//! One bounded step of expiry on PostgreSQL.
