//! Conversations on PostgreSQL (ported below).

use async_trait::async_trait;

use super::PgStore;
use crate::chats::inbound::Inbound;
use crate::chats::intake::ValidIntake;
use crate::chats::matching::MatchSettings;
use crate::chats::model::{Delivery, IntakeSource, Written};
use crate::store::{ChatStore, StoreError};

#[async_trait]
impl ChatStore for PgStore {
    async fn record_delivery(
        &self,
        _items: Vec<Inbound>,
        _settings: MatchSettings,
    ) -> Result<Delivery, StoreError> {
        Err(StoreError::NotYetOnPostgres("record_delivery"))
    }

    async fn record_intake(
        &self,
        _valid: Vec<ValidIntake>,
        _settings: MatchSettings,
        _source: IntakeSource,
    ) -> Result<Vec<Written>, StoreError> {
        Err(StoreError::NotYetOnPostgres("record_intake"))
    }
}
