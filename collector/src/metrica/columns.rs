//! The chat-import CSV columns: the ONE place their names live.
//!
//! Metrica's chat-import pages name the data but not every header. Where a name is not stated in
//! the documentation we could read it is marked `confirmed: false` (see
//! `docs/reference/metrica.md`); change it here and nowhere else once confirmed.
//! Optional columns are written only when at least one row of the file has a value, so that an
//! unconfirmed header never reaches Metrica for data the site does not send.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Field {
    DateTime,
    ChatPlatform,
    ChatUsername,
    ChatUserId,
    PhoneNumber,
    ClientId,
    UserId,
    Yclid,
    PurchaseId,
    Answered,
    Tag,
    Revenue,
    Currency,
    PageUrl,
    ChatUrl,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Requirement {
    /// Every row has a value.
    Always,
    /// At least one of the chat-partner columns per row.
    OneOfChatPartner,
    /// Visitor IDs: at least one for attribution; rows with none are "unattributed".
    OneOfVisitor,
    Optional,
}

#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub field: Field,
    pub name: &'static str,
    pub requirement: Requirement,
    /// The header spelling is stated in Metrica's documentation.
    pub confirmed: bool,
    pub note: &'static str,
}

use Requirement::*;

pub const COLUMNS: &[Column] = &[
    Column {
        field: Field::DateTime,
        name: "DateTime",
        requirement: Always,
        confirmed: true,
        note: "Unix seconds, UTC, in the past; distinct per visitor",
    },
    Column {
        field: Field::ChatPlatform,
        name: "ChatPlatform",
        requirement: Always,
        confirmed: true,
        note: "whatsapp | telegram | viber (lowercase; the only documented values)",
    },
    Column {
        field: Field::ChatUsername,
        name: "ChatUsername",
        requirement: OneOfChatPartner,
        confirmed: true,
        note: "chat partner's username",
    },
    Column {
        field: Field::ChatUserId,
        name: "ChatUserID",
        requirement: OneOfChatPartner,
        confirmed: true,
        note: "chat partner's platform user ID",
    },
    Column {
        field: Field::PhoneNumber,
        name: "PhoneNumber",
        requirement: OneOfChatPartner,
        confirmed: true,
        note: "chat partner's phone, international digits",
    },
    // The chat pages write ClientID/UserID/PurchaseID; older offline-conversion CSVs use
    // ClientId/UserId/PurchaseId. We follow the chat pages.
    Column {
        field: Field::ClientId,
        name: "ClientID",
        requirement: OneOfVisitor,
        confirmed: false,
        note: "Metrica ClientID (_ym_uid), opaque digits",
    },
    Column {
        field: Field::UserId,
        name: "UserID",
        requirement: OneOfVisitor,
        confirmed: false,
        note: "the site's own user ID",
    },
    Column {
        field: Field::Yclid,
        name: "Yclid",
        requirement: OneOfVisitor,
        confirmed: true,
        note: "Yandex Direct click ID",
    },
    Column {
        field: Field::PurchaseId,
        name: "PurchaseID",
        requirement: OneOfVisitor,
        confirmed: false,
        note: "order ID",
    },
    Column {
        field: Field::Answered,
        name: "Answered",
        requirement: Optional,
        confirmed: false,
        note: "1 or 0",
    },
    Column {
        field: Field::Tag,
        name: "Tag",
        requirement: Optional,
        confirmed: false,
        note: "≤ 100 characters",
    },
    // The calls CSV uses Price/Currency; assumed the same for chats.
    Column {
        field: Field::Revenue,
        name: "Price",
        requirement: Optional,
        confirmed: false,
        note: "number with '.' as the decimal point",
    },
    Column {
        field: Field::Currency,
        name: "Currency",
        requirement: Optional,
        confirmed: false,
        note: "ISO 4217 code",
    },
    Column {
        field: Field::PageUrl,
        name: "PageURL",
        requirement: Optional,
        confirmed: false,
        note: "page where the chat began",
    },
    Column {
        field: Field::ChatUrl,
        name: "ChatURL",
        requirement: Optional,
        confirmed: false,
        note: "link to the conversation in the tracking service",
    },
];

pub fn column(field: Field) -> &'static Column {
    // COLUMNS lists every Field exactly once (checked by a test).
    COLUMNS
        .iter()
        .find(|c| c.field == field)
        .unwrap_or(&COLUMNS[0])
}

/// Platform values Metrica documents for `ChatPlatform`.
pub const DOCUMENTED_PLATFORMS: &[&str] = &["whatsapp", "telegram", "viber"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_once_and_names_unique() {
        let fields = [
            Field::DateTime,
            Field::ChatPlatform,
            Field::ChatUsername,
            Field::ChatUserId,
            Field::PhoneNumber,
            Field::ClientId,
            Field::UserId,
            Field::Yclid,
            Field::PurchaseId,
            Field::Answered,
            Field::Tag,
            Field::Revenue,
            Field::Currency,
            Field::PageUrl,
            Field::ChatUrl,
        ];
        for f in fields {
            assert_eq!(COLUMNS.iter().filter(|c| c.field == f).count(), 1, "{f:?}");
            assert_eq!(column(f).field, f);
        }
        let mut names: Vec<_> = COLUMNS
            .iter()
            .map(|c| c.name.to_ascii_lowercase())
            .collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), COLUMNS.len());
    }
}
