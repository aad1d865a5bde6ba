//! Statements written out in SQL that the connection keeps prepared.
//!
//! diesel marks every `UPDATE` it builds, and every `ON CONFLICT DO
//! UPDATE`, as unsafe to cache (a changeset with `None` fields could
//! change the SQL), so PostgreSQL parsed and planned each of them again at
//! every payment (bench/results.md, sixth round). The few on the payment's
//! path are written here instead: fixed SQL with bound values, which
//! diesel's statement cache keeps per connection like any other query.
//!
//! ```ignore
//! kept_statement! {
//!     /// Marks the event processed.
//!     struct Claim<'a> {
//!         "UPDATE webhook_events SET processed_at = " {now: sql::Timestamp = NaiveDateTime}
//!         " WHERE id = " {id: sql::Text = &'a str}
//!         " AND processed_at IS NULL"
//!     }
//! }
//! Claim { now, id }.execute(conn)?;
//! ```
//!
//! Each `{field: SqlType = RustType}` is a bind, written as the engine's
//! placeholder (`?`, `$1`); the text between them is SQL as is. With
//! `-> SqlType` after the name the statement returns rows of that type
//! (`RETURNING`), read with `get_result`.

/// Defines a statement kept prepared: see the module's documentation.
macro_rules! kept_statement {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident $(<$lt:lifetime>)? $(-> $returns:ty)? {
            $first:literal
            $( { $field:ident : $sql_type:ty = $rust_type:ty } $($sql:literal)? )*
        }
    ) => {
        $(#[$meta])*
        $vis struct $name $(<$lt>)? {
            $( pub $field: $rust_type, )*
        }

        impl<$($lt,)? DB> diesel::query_builder::QueryFragment<DB> for $name $(<$lt>)?
        where
            DB: diesel::backend::Backend,
            $( DB: diesel::sql_types::HasSqlType<$sql_type>,
               $rust_type: diesel::serialize::ToSql<$sql_type, DB>, )*
        {
            fn walk_ast<'b>(
                &'b self,
                mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
            ) -> diesel::QueryResult<()> {
                out.push_sql($first);
                $(
                    out.push_bind_param::<$sql_type, $rust_type>(&self.$field)?;
                    $( out.push_sql($sql); )?
                )*
                Ok(())
            }
        }

        // No static id: the statement cache keys it by its SQL and bind
        // types, as it does any query built at run time.
        impl $(<$lt>)? diesel::query_builder::QueryId for $name $(<$lt>)? {
            type QueryId = ();
            const HAS_STATIC_QUERY_ID: bool = false;
        }

        impl<$($lt,)? Conn> diesel::RunQueryDsl<Conn> for $name $(<$lt>)? {}

        $crate::db::kept_statement!(@returns [$($lt)?] $name $($returns)?);
    };
    (@returns [$($lt:lifetime)?] $name:ident) => {};
    (@returns [$($lt:lifetime)?] $name:ident $returns:ty) => {
        impl $(<$lt>)? diesel::query_builder::Query for $name $(<$lt>)? {
            type SqlType = $returns;
        }
    };
}
pub(crate) use kept_statement;
