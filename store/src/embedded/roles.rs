//! The roles and database inside the embedded cluster, created idempotently by
//! the superuser: an owner that runs migrations, and a server role that is a
//! member of `almanac_app` (read and append on the log, nothing more).

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

pub const OWNER_ROLE: &str = "almanac_owner";
pub const APP_ROLE: &str = "almanac_app";
pub const SERVER_ROLE: &str = "almanac_server";
pub const DATABASE: &str = "almanac";

/// Creates what is missing; harmless when a concurrent process races us.
pub async fn ensure(superuser: &PgConnectOptions) -> Result<(), sqlx::Error> {
    let mut conn = superuser.connect().await?;
    ensure_roles(&mut conn, None).await?;
    let exists: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(DATABASE)
        .fetch_optional(&mut conn)
        .await?;
    if exists.is_none() {
        let create = format!("CREATE DATABASE {DATABASE} OWNER {OWNER_ROLE}");
        ignore_duplicate(sqlx::query(&create).execute(&mut conn).await)?;
    }
    conn.close().await
}

/// The three roles, with a password when the cluster is reached over TCP.
pub async fn ensure_roles(
    conn: &mut sqlx::PgConnection,
    password: Option<&str>,
) -> Result<(), sqlx::Error> {
    let login = match password {
        Some(password) => format!("LOGIN PASSWORD '{}'", password.replace('\'', "''")),
        None => "LOGIN".to_string(),
    };
    let statements = [
        (APP_ROLE, format!("CREATE ROLE {APP_ROLE} NOLOGIN")),
        (OWNER_ROLE, format!("CREATE ROLE {OWNER_ROLE} {login}")),
        (
            SERVER_ROLE,
            format!("CREATE ROLE {SERVER_ROLE} {login} IN ROLE {APP_ROLE}"),
        ),
    ];
    for (role, create) in statements {
        let exists: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_roles WHERE rolname = $1")
            .bind(role)
            .fetch_optional(&mut *conn)
            .await?;
        if exists.is_none() {
            ignore_duplicate(sqlx::query(&create).execute(&mut *conn).await)?;
        }
    }
    Ok(())
}

/// 42710 duplicate_object, 42P04 duplicate_database, 23505 (pg_authid race):
/// another process created it first, which is what we wanted.
fn ignore_duplicate<T>(result: Result<T, sqlx::Error>) -> Result<(), sqlx::Error> {
    match result {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(db))
            if matches!(db.code().as_deref(), Some("42710" | "42P04" | "23505")) =>
        {
            Ok(())
        }
        Err(err) => Err(err),
    }
}
