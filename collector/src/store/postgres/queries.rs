//! Read-side SQL on PostgreSQL.

use deadpool_postgres::Object;

use crate::store::model::{ChatRecord, MappingPage, MappingQuery};
use crate::store::StoreError;

pub async fn chat(
    _c: &Object,
    _site: Option<&str>,
    _chat_id: &str,
) -> Result<Vec<ChatRecord>, StoreError> {
    Err(StoreError::NotYetOnPostgres("chat"))
}

pub async fn mappings(_c: &Object, _q: &MappingQuery) -> Result<MappingPage, StoreError> {
    Err(StoreError::NotYetOnPostgres("mappings"))
}
