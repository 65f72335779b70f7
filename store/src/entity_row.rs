//! The `entities` table's columns, declared once (the `entity_columns!` list at the
//! bottom). From that list follow: the row the projector writes ([`EntityRow`]), the part of
//! it the log gives ([`LoggedEntity`]) and the part read from the descriptor
//! ([`DescriptorColumns`]), the row the catalog reads ([`EntityRecord`]: its stored columns
//! and the [`DescriptorFields`] no column stores, derived from its descriptor when read),
//! their column lists, and the projector's bulk upsert with its binds. Adding a column is one
//! line in the list (and, for a value read from the descriptor, its value in
//! `projection::rows::descriptor_columns` or `descriptor_fields`, which the compiler asks for).
//!
//! It does not create the table (the migrations do), and it holds no statement but the upsert:
//! the projector decides when to write, the catalog what to read.

use crate::projection::fingerprint::escaped;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::Postgres;
use uuid::Uuid;

/// How a column's values travel in a bulk statement: one array parameter per column,
/// unnested into rows on the server.
pub(crate) trait ColumnValue {
    /// One value as it is bound inside the array.
    type Bound;
    /// The SQL type of the array parameter.
    const ARRAY: &'static str;
    fn bound(&self) -> Self::Bound;
    /// The column's value from the unnested array element `unnested`.
    fn select(unnested: &str) -> String {
        unnested.to_string()
    }
    /// The value as one field of a `COPY ... (FORMAT csv)` row (nothing for NULL).
    fn csv(&self, out: &mut String);
    /// The SQL expression of the column's text as a row fingerprint reads it (NULL stays
    /// NULL); equal texts mean equal values (see `projection::fingerprint`).
    fn text_sql(column: &str) -> String {
        format!("{column}::text")
    }
    /// The SQL expression the server compares the column by (`EXCEPT`, `IS DISTINCT FROM`):
    /// the column itself, for a type with an equality operator.
    fn compared_sql(column: &str) -> String {
        column.to_string()
    }
    /// What [`ColumnValue::text_sql`] gives for this value; false (nothing written) for NULL.
    /// Where it cannot match the server's text, rows differ and are rewritten: never the
    /// other way round.
    fn text(&self, out: &mut String) -> bool;
}

/// `text` quoted for CSV: inside double quotes, a quote doubled. A quoted empty string is
/// `''`, never NULL.
fn csv_quoted(out: &mut String, text: &str) {
    out.push('"');
    escaped(text, out, |b| b == b'"', |_, out| out.push_str("\"\""));
    out.push('"');
}

impl ColumnValue for String {
    type Bound = String;
    const ARRAY: &'static str = "text[]";
    fn bound(&self) -> String {
        self.clone()
    }
    fn csv(&self, out: &mut String) {
        csv_quoted(out, self);
    }
    fn text_sql(column: &str) -> String {
        column.to_string()
    }
    fn text(&self, out: &mut String) -> bool {
        out.push_str(self);
        true
    }
}

impl ColumnValue for Option<String> {
    type Bound = Option<String>;
    const ARRAY: &'static str = "text[]";
    fn bound(&self) -> Option<String> {
        self.clone()
    }
    fn csv(&self, out: &mut String) {
        if let Some(text) = self {
            csv_quoted(out, text);
        }
    }
    fn text_sql(column: &str) -> String {
        column.to_string()
    }
    fn text(&self, out: &mut String) -> bool {
        if let Some(text) = self {
            out.push_str(text);
        }
        self.is_some()
    }
}

impl ColumnValue for Uuid {
    type Bound = Uuid;
    const ARRAY: &'static str = "uuid[]";
    fn bound(&self) -> Uuid {
        *self
    }
    fn csv(&self, out: &mut String) {
        out.push_str(&self.hyphenated().to_string());
    }
    fn text(&self, out: &mut String) -> bool {
        self.csv(out);
        true
    }
}

impl ColumnValue for i64 {
    type Bound = i64;
    const ARRAY: &'static str = "int8[]";
    fn bound(&self) -> i64 {
        *self
    }
    fn csv(&self, out: &mut String) {
        out.push_str(&self.to_string());
    }
    fn text(&self, out: &mut String) -> bool {
        self.csv(out);
        true
    }
}

/// A `json` column (`descriptor`: migration 0016). Both ways of writing it store
/// serde_json's compact text as it is: a CSV field, or a `text` element cast to `json` in
/// the upsert (a `jsonb` element would store `jsonb`'s output text, `{"a": 1}`, so the same
/// value would read back as another text by each path). The
/// column's text is then exactly [`ColumnValue::text`]'s, whatever wrote the row.
impl ColumnValue for Value {
    type Bound = String;
    const ARRAY: &'static str = "text[]";
    fn bound(&self) -> String {
        self.to_string()
    }
    fn select(unnested: &str) -> String {
        format!("{unnested}::json")
    }
    fn csv(&self, out: &mut String) {
        csv_quoted(out, &self.to_string());
    }
    /// `json` has no equality operator; as `jsonb` two texts of one value compare equal
    /// (rows converted by migration 0016 hold `jsonb`'s text, the projector's serde_json's).
    fn compared_sql(column: &str) -> String {
        format!("{column}::jsonb")
    }
    fn text(&self, out: &mut String) -> bool {
        use std::fmt::Write;
        // `Value`'s `Display` is serde_json's compact text: what `csv` and `bound` write.
        let _ = write!(out, "{self}");
        true
    }
}

impl ColumnValue for DateTime<Utc> {
    type Bound = DateTime<Utc>;
    const ARRAY: &'static str = "timestamptz[]";
    fn bound(&self) -> DateTime<Utc> {
        *self
    }
    fn csv(&self, out: &mut String) {
        // Every digit the value has (PostgreSQL keeps microseconds), in UTC.
        out.push_str(&self.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
    }
    /// Microseconds always, in UTC, whatever the session's time zone and date style.
    fn text_sql(column: &str) -> String {
        format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')")
    }
    fn text(&self, out: &mut String) -> bool {
        // As `format("%Y-%m-%d %H:%M:%S%.6f")`, without parsing the format for every row.
        use chrono::{Datelike, Timelike};
        use std::fmt::Write;
        let nanos = self.nanosecond();
        let _ = write!(
            out,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
            self.year(),
            self.month(),
            self.day(),
            self.hour(),
            self.minute(),
            self.second() + nanos / 1_000_000_000,
            nanos % 1_000_000_000 / 1_000
        );
        true
    }
}

/// Declares the table's columns in four groups (given by the log or read from the
/// descriptor, each either read by the catalog or written only), and a fifth: what the
/// catalog's row reads from the descriptor that no column stores (migration 0017).
macro_rules! entity_columns {
    (
        logged_read { $( $(#[$d1:meta])* $f1:ident: $t1:ty = $c1:literal, )* }
        logged_written { $( $(#[$d2:meta])* $f2:ident: $t2:ty = $c2:literal, )* }
        derived_read { $( $(#[$d3:meta])* $f3:ident: $t3:ty = $c3:literal, )* }
        derived_written { $( $(#[$d4:meta])* $f4:ident: $t4:ty = $c4:literal, )* }
        derived_unstored { $( $(#[$d5:meta])* $f5:ident: $t5:ty, )* }
    ) => {
        /// One row of `entities` as the projector writes it: every column.
        #[derive(Clone, Debug, PartialEq)]
        pub struct EntityRow {
            $( $(#[$d1])* pub $f1: $t1, )*
            $( $(#[$d2])* pub $f2: $t2, )*
            $( $(#[$d3])* pub $f3: $t3, )*
            $( $(#[$d4])* pub $f4: $t4, )*
        }

        /// An entity as the log states it: its descriptor and what its events say of it.
        /// The rest of its row is read from the descriptor.
        #[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
        pub struct LoggedEntity {
            $( $(#[$d1])* #[sqlx(rename = $c1)] pub $f1: $t1, )*
            $( $(#[$d2])* #[sqlx(rename = $c2)] pub $f2: $t2, )*
        }

        /// The columns of a row read from its descriptor.
        #[derive(Clone, Debug, PartialEq)]
        pub struct DescriptorColumns {
            $( $(#[$d3])* pub $f3: $t3, )*
            $( $(#[$d4])* pub $f4: $t4, )*
        }

        /// What the catalog's row reads from the descriptor that no column stores: it
        /// repeated the descriptor in every row (migration 0017).
        #[derive(Clone, Debug, PartialEq)]
        pub struct DescriptorFields {
            $( $(#[$d5])* pub $f5: $t5, )*
        }

        /// An entity as the catalog reads it: its stored columns, and the fields derived
        /// from its descriptor when read ([`DescriptorFields`]), the projector's values.
        #[derive(Clone, Debug, PartialEq)]
        pub struct EntityRecord {
            $( $(#[$d1])* pub $f1: $t1, )*
            $( $(#[$d3])* pub $f3: $t3, )*
            $( $(#[$d5])* pub $f5: $t5, )*
        }

        /// The columns of `entities` the catalog reads ([`EntityRecord::COLUMNS`]).
        #[derive(sqlx::FromRow)]
        struct StoredRecord {
            $( #[sqlx(rename = $c1)] $f1: $t1, )*
            $( #[sqlx(rename = $c3)] $f3: $t3, )*
        }

        impl EntityRow {
            /// Every column the projector writes; the first, `ref`, is the key.
            pub const COLUMNS: &'static [&'static str] = &[$($c1,)* $($c2,)* $($c3,)* $($c4,)*];

            /// The row of an entity: what the log gives and what its descriptor holds.
            pub fn assemble(logged: LoggedEntity, derived: DescriptorColumns) -> EntityRow {
                EntityRow {
                    $( $f1: logged.$f1, )*
                    $( $f2: logged.$f2, )*
                    $( $f3: derived.$f3, )*
                    $( $f4: derived.$f4, )*
                }
            }

            /// `(column, array parameter type, value from the unnested element)`, in
            /// [`EntityRow::COLUMNS`] order.
            fn bulk_columns() -> Vec<(&'static str, &'static str, String)> {
                vec![
                    $( ($c1, <$t1 as ColumnValue>::ARRAY, <$t1 as ColumnValue>::select(concat!("x.", $c1))), )*
                    $( ($c2, <$t2 as ColumnValue>::ARRAY, <$t2 as ColumnValue>::select(concat!("x.", $c2))), )*
                    $( ($c3, <$t3 as ColumnValue>::ARRAY, <$t3 as ColumnValue>::select(concat!("x.", $c3))), )*
                    $( ($c4, <$t4 as ColumnValue>::ARRAY, <$t4 as ColumnValue>::select(concat!("x.", $c4))), )*
                ]
            }

            /// Binds one array per column, in [`EntityRow::COLUMNS`] order (the order of
            /// [`EntityRow::upsert_statement`]'s parameters).
            pub(crate) fn bind_all<'q>(
                mut query: Query<'q, Postgres, PgArguments>,
                rows: &[EntityRow],
            ) -> Query<'q, Postgres, PgArguments> {
                $( query = query.bind(rows.iter().map(|r| ColumnValue::bound(&r.$f1)).collect::<Vec<_>>()); )*
                $( query = query.bind(rows.iter().map(|r| ColumnValue::bound(&r.$f2)).collect::<Vec<_>>()); )*
                $( query = query.bind(rows.iter().map(|r| ColumnValue::bound(&r.$f3)).collect::<Vec<_>>()); )*
                $( query = query.bind(rows.iter().map(|r| ColumnValue::bound(&r.$f4)).collect::<Vec<_>>()); )*
                query
            }

            /// Appends the row to `out` as one line of `COPY ... (FORMAT csv)` in
            /// [`EntityRow::COLUMNS`] order (see [`EntityRow::copy_statement`]).
            pub(crate) fn write_csv(&self, out: &mut String) {
                let mut first = true;
                let mut separate = |out: &mut String| {
                    if !std::mem::replace(&mut first, false) {
                        out.push(',');
                    }
                };
                $( separate(out); ColumnValue::csv(&self.$f1, out); )*
                $( separate(out); ColumnValue::csv(&self.$f2, out); )*
                $( separate(out); ColumnValue::csv(&self.$f3, out); )*
                $( separate(out); ColumnValue::csv(&self.$f4, out); )*
                out.push('\n');
            }

            /// Every column's text in [`EntityRow::COLUMNS`] order, as the server gives
            /// [`EntityRow::text_sql`] to `quote_nullable`, joined by commas (`scratch` is
            /// working space): what `projection::fingerprint` hashes.
            pub(crate) fn quoted_texts(&self, scratch: &mut String, out: &mut String) {
                use crate::projection::fingerprint::quote_nullable;
                let mut first = true;
                let mut separate = |out: &mut String| {
                    if !std::mem::replace(&mut first, false) {
                        out.push(',');
                    }
                };
                $( separate(out); scratch.clear(); quote_nullable(ColumnValue::text(&self.$f1, scratch).then_some(scratch.as_str()), out); )*
                $( separate(out); scratch.clear(); quote_nullable(ColumnValue::text(&self.$f2, scratch).then_some(scratch.as_str()), out); )*
                $( separate(out); scratch.clear(); quote_nullable(ColumnValue::text(&self.$f3, scratch).then_some(scratch.as_str()), out); )*
                $( separate(out); scratch.clear(); quote_nullable(ColumnValue::text(&self.$f4, scratch).then_some(scratch.as_str()), out); )*
            }

            /// The SQL expressions the server compares every column by, in
            /// [`EntityRow::COLUMNS`] order, each column named `{qualifier}{column}`.
            pub(crate) fn compared_sql(qualifier: &str) -> Vec<String> {
                vec![
                    $( <$t1 as ColumnValue>::compared_sql(&format!("{qualifier}{}", $c1)), )*
                    $( <$t2 as ColumnValue>::compared_sql(&format!("{qualifier}{}", $c2)), )*
                    $( <$t3 as ColumnValue>::compared_sql(&format!("{qualifier}{}", $c3)), )*
                    $( <$t4 as ColumnValue>::compared_sql(&format!("{qualifier}{}", $c4)), )*
                ]
            }

            /// The SQL expressions of every column's text, in [`EntityRow::COLUMNS`] order.
            pub(crate) fn text_sql() -> Vec<String> {
                vec![
                    $( <$t1 as ColumnValue>::text_sql($c1), )*
                    $( <$t2 as ColumnValue>::text_sql($c2), )*
                    $( <$t3 as ColumnValue>::text_sql($c3), )*
                    $( <$t4 as ColumnValue>::text_sql($c4), )*
                ]
            }
        }

        impl LoggedEntity {
            pub const COLUMNS: &'static [&'static str] = &[$($c1,)* $($c2,)*];
        }

        impl EntityRecord {
            /// The columns of `entities` the catalog reads; the rest of the record is
            /// derived from `descriptor` ([`DescriptorFields`]).
            pub const COLUMNS: &'static [&'static str] = &[$($c1,)* $($c3,)*];

            /// The record of stored columns, its descriptor's fields added.
            fn of_stored(stored: StoredRecord) -> EntityRecord {
                let fields = crate::projection::rows::descriptor_fields(&stored.descriptor);
                EntityRecord {
                    $( $f1: stored.$f1, )*
                    $( $f3: stored.$f3, )*
                    $( $f5: fields.$f5, )*
                }
            }
        }

        impl From<EntityRow> for EntityRecord {
            fn from(row: EntityRow) -> EntityRecord {
                EntityRecord::of_stored(StoredRecord {
                    $( $f1: row.$f1, )*
                    $( $f3: row.$f3, )*
                })
            }
        }
    };
}

/// Reads [`EntityRecord::COLUMNS`] and derives the rest from the descriptor.
impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for EntityRecord {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
        StoredRecord::from_row(row).map(EntityRecord::of_stored)
    }
}

entity_columns! {
    logged_read {
        /// Canonical, lower-case `kind:namespace/name`.
        entity_ref: String = "ref",
        /// Derived from the ref and the position of the registration, so a replay agrees.
        uid: Uuid = "uid",
        descriptor: Value = "descriptor",
        /// How many events the entity's stream holds.
        version: i64 = "version",
        /// `recorded_at` of the registration that started this life of the entity.
        created_at: DateTime<Utc> = "created_at",
        /// `recorded_at` of its newest event.
        updated_at: DateTime<Utc> = "updated_at",
    }
    logged_written {
        /// Log position of its newest event.
        last_position: i64 = "last_position",
    }
    derived_read {
        /// As written (`Component`, `API`, a custom kind).
        kind: String = "kind",
        namespace: String = "namespace",
        name: String = "name",
        /// `spec.type`.
        spec_type: Option<String> = "spec_type",
        lifecycle: Option<String> = "lifecycle",
        /// The canonical ref of `spec.owner`.
        owner_ref: Option<String> = "owner_ref",
        /// `backstage.io/managed-by-location`.
        source: Option<String> = "source",
        /// `backstage.io/managed-by-origin-location`.
        origin: Option<String> = "origin",
    }
    derived_written {}
    derived_unstored {
        title: Option<String>,
        description: Option<String>,
        tags: Vec<String>,
        /// `metadata.labels`; `{}` when it is not an object.
        labels: Value,
        /// `metadata.annotations`; `{}` when it is not an object.
        annotations: Value,
    }
}

impl EntityRow {
    /// `COPY` of every column into `table` from CSV lines written by
    /// [`EntityRow::write_csv`].
    pub(crate) fn copy_statement(table: &str) -> String {
        format!(
            "COPY {table} ({}) FROM STDIN (FORMAT csv)",
            Self::COLUMNS.join(", ")
        )
    }

    /// `INSERT ... ON CONFLICT (ref) DO UPDATE` of every column into `table`, from one
    /// array parameter per column (bind them with [`EntityRow::bind_all`]).
    pub(crate) fn upsert_statement(table: &str) -> String {
        let columns = Self::bulk_columns();
        let names: Vec<&str> = columns.iter().map(|(name, _, _)| *name).collect();
        let values: Vec<&str> = columns.iter().map(|(_, _, value)| value.as_str()).collect();
        let parameters: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, (_, array, _))| format!("${}::{array}", i + 1))
            .collect();
        let updates: Vec<String> = names
            .iter()
            .skip(1)
            .map(|name| format!("{name} = EXCLUDED.{name}"))
            .collect();
        format!(
            "INSERT INTO {table} ({names}) SELECT {values} FROM unnest({parameters}) AS x({names}) \
             ON CONFLICT ({key}) DO UPDATE SET {updates}",
            names = names.join(", "),
            values = values.join(", "),
            parameters = parameters.join(", "),
            key = names[0],
            updates = updates.join(", "),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upsert_names_every_column_once_with_one_parameter_each() {
        let sql = EntityRow::upsert_statement("entities");
        let columns = EntityRow::COLUMNS;
        assert_eq!(columns[0], "ref");
        assert!(sql.contains(&format!("${}::", columns.len())));
        assert!(!sql.contains(&format!("${}::", columns.len() + 1)));
        // The `json` column travels as serde_json's text, stored as it is.
        assert!(sql.contains(" x.descriptor::json,"));
        let position = EntityRow::COLUMNS.iter().position(|c| *c == "descriptor");
        let parameter = position.map(|i| format!("${}::text[]", i + 1));
        assert!(sql.contains(&parameter.unwrap_or_default()));
        let compared = EntityRow::compared_sql("l.");
        assert_eq!(compared[0], "l.ref");
        assert!(compared.contains(&"l.descriptor::jsonb".to_string()));
        // What repeated the descriptor is stored in no column (migration 0017).
        for copy in ["title", "description", "tags", "labels", "annotations"] {
            assert!(!EntityRow::COLUMNS.contains(&copy), "{copy}");
            assert!(!EntityRecord::COLUMNS.contains(&copy), "{copy}");
        }
        for column in &columns[1..] {
            assert!(
                sql.contains(&format!("{column} = EXCLUDED.{column}")),
                "{column}"
            );
        }
    }

    #[test]
    fn the_catalog_reads_every_column_but_the_written_only_ones() {
        let read: Vec<&str> = EntityRecord::COLUMNS.to_vec();
        let written_only: Vec<&str> = EntityRow::COLUMNS
            .iter()
            .copied()
            .filter(|c| !read.contains(c))
            .collect();
        assert_eq!(written_only, ["last_position"]);
        assert!(LoggedEntity::COLUMNS
            .iter()
            .all(|c| EntityRow::COLUMNS.contains(c)));
    }

    #[test]
    fn texts_and_csv_fields_are_written_as_the_server_reads_them() {
        use chrono::TimeZone;
        let mut out = String::new();
        for (instant, text) in [
            (Utc.timestamp_opt(0, 0), "1970-01-01 00:00:00.000000"),
            (
                Utc.timestamp_opt(1_764_633_600, 123_456_789),
                "2025-12-02 00:00:00.123456",
            ),
            (
                Utc.timestamp_opt(253_402_300_799, 999_999_000),
                "9999-12-31 23:59:59.999999",
            ),
        ] {
            let instant = instant.single().expect("a valid instant");
            out.clear();
            assert!(ColumnValue::text(&instant, &mut out));
            assert_eq!(out, text);
            assert_eq!(out, instant.format("%Y-%m-%d %H:%M:%S%.6f").to_string());
        }
        out.clear();
        ColumnValue::csv(&"say \"hi\", \u{e9}t\u{e9}".to_string(), &mut out);
        assert_eq!(out, "\"say \"\"hi\"\", \u{e9}t\u{e9}\"");
    }
}
