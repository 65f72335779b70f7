//! Relation types at the SQL boundary. The `relations` table spells a type as Backstage
//! does (`ownedBy`); the store's rows hold a [`RelationType`]. This is the one place the
//! two meet: [`StoredRelation`] binds and decodes the `type` column, [`literal`] writes a
//! fixed type into a statement's text.
//!
//! It does not say which relations exist or how they pair up (`almanac_domain::relations`
//! does).

use almanac_domain::RelationType;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgHasArrayType, PgTypeInfo, PgValueRef};
use sqlx::{Decode, Encode, Postgres, Type};

/// A [`RelationType`] as the `type` column of `relations` holds it (text).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StoredRelation(pub RelationType);

impl Type<Postgres> for StoredRelation {
    fn type_info() -> PgTypeInfo {
        <&str as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <&str as Type<Postgres>>::compatible(ty)
    }
}

impl PgHasArrayType for StoredRelation {
    fn array_type_info() -> PgTypeInfo {
        <&str as PgHasArrayType>::array_type_info()
    }

    fn array_compatible(ty: &PgTypeInfo) -> bool {
        <&str as PgHasArrayType>::array_compatible(ty)
    }
}

impl Encode<'_, Postgres> for StoredRelation {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <&str as Encode<'_, Postgres>>::encode_by_ref(&self.0.as_str(), buf)
    }
}

impl<'r> Decode<'r, Postgres> for StoredRelation {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<'r, Postgres>>::decode(value)?;
        RelationType::parse(text)
            .map(StoredRelation)
            .ok_or_else(|| format!("relations holds an unknown relation type {text:?}").into())
    }
}
