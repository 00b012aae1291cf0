//! The ClickHouse server the loader writes to: the `clickhouse` crate's HTTP client, the
//! server's version and features, statements and small tab-separated queries.

use bytes::Bytes;
use clickhouse::insert_formatted::InsertFormatted;
use clickhouse::Compression;

use crate::error::Error;
use crate::schema::quote;
use crate::types::Features;

/// How to reach ClickHouse.
#[derive(Clone)]
pub struct ServerConfig {
    pub url: String,
    pub user: String,
    pub password: Option<String>,
    pub database: String,
    /// Compress inserted data with LZ4 (ClickHouse's block format).
    pub lz4: bool,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("url", &self.url)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("database", &self.database)
            .field("lz4", &self.lz4)
            .finish()
    }
}

/// A connected ClickHouse server.
#[derive(Clone)]
pub struct Server {
    client: clickhouse::Client,
    url: String,
    database: String,
    version: String,
    major: u32,
    minor: u32,
    features: Features,
}

impl Server {
    /// Connects and asks for the server's version.
    pub async fn connect(config: &ServerConfig) -> Result<Self, Error> {
        let mut client = clickhouse::Client::default()
            .with_url(&config.url)
            .with_user(&config.user)
            .with_validation(false)
            // Load log rows are read as JSON: 64-bit integers as numbers, not strings.
            .with_setting("output_format_json_quote_64bit_integers", "0")
            .with_compression(if config.lz4 {
                Compression::Lz4
            } else {
                Compression::None
            });
        if let Some(password) = &config.password {
            client = client.with_password(password);
        }
        let mut server = Self {
            client,
            url: config.url.clone(),
            database: config.database.clone(),
            version: String::new(),
            major: 0,
            minor: 0,
            features: Features::LEGACY,
        };
        let version = server.query_value("SELECT version()").await?;
        let (major, minor) = parse_version(&version).ok_or_else(|| Error::ServerVersion {
            url: config.url.clone(),
            version: version.clone(),
        })?;
        server.version = version;
        server.major = major;
        server.minor = minor;
        server.features = Features::of_version(major, minor);
        Ok(server)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn database(&self) -> &str {
        &self.database
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn features(&self) -> Features {
        self.features
    }

    /// Creates the database if missing and learns whether it allows `EXCHANGE TABLES`.
    pub async fn ensure_database(&mut self) -> Result<(), Error> {
        self.execute(&format!(
            "CREATE DATABASE IF NOT EXISTS {}",
            quote(&self.database)
        ))
        .await?;
        self.refresh_database_features().await
    }

    /// Reads the database's engine (when it exists) to decide on `EXCHANGE TABLES`.
    pub async fn refresh_database_features(&mut self) -> Result<(), Error> {
        let engine = self
            .query_rows(&format!(
                "SELECT engine FROM system.databases WHERE name = {}",
                string_literal(&self.database)
            ))
            .await?
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next())
            .unwrap_or_default();
        self.features = Features::of_version(self.major, self.minor)
            .with_exchange(self.major, self.minor, &engine);
        Ok(())
    }

    /// Whether the database exists.
    pub async fn database_exists(&self) -> Result<bool, Error> {
        let rows = self
            .query_rows(&format!(
                "SELECT 1 FROM system.databases WHERE name = {}",
                string_literal(&self.database)
            ))
            .await?;
        Ok(!rows.is_empty())
    }

    /// The tables of the database.
    pub async fn tables(&self) -> Result<Vec<String>, Error> {
        Ok(self
            .query_rows(&format!(
                "SELECT name FROM system.tables WHERE database = {}",
                string_literal(&self.database)
            ))
            .await?
            .into_iter()
            .filter_map(|row| row.into_iter().next())
            .collect())
    }

    /// Runs a statement.
    pub async fn execute(&self, sql: &str) -> Result<(), Error> {
        self.client
            .query_raw(sql)
            .execute()
            .await
            .map_err(|e| Error::clickhouse(&self.url, format!("running `{}`", shorten(sql)), e))
    }

    /// Runs a query and returns its first value.
    pub async fn query_value(&self, sql: &str) -> Result<String, Error> {
        self.query_text(sql)
            .await
            .map(|text| text.lines().next().unwrap_or_default().to_owned())
    }

    /// Runs a query and returns its rows, split on tabs (values unescaped).
    pub async fn query_rows(&self, sql: &str) -> Result<Vec<Vec<String>>, Error> {
        Ok(self
            .query_text(sql)
            .await?
            .lines()
            .map(|line| line.split('\t').map(unescape_tsv).collect())
            .collect())
    }

    /// Runs a query and returns its whole answer as text (tab-separated unless the query
    /// names another format).
    pub async fn query_text(&self, sql: &str) -> Result<String, Error> {
        let context = || format!("running `{}`", shorten(sql));
        let mut cursor = self
            .client
            .query_raw(sql)
            .fetch_bytes("TabSeparated")
            .map_err(|e| Error::clickhouse(&self.url, context(), e))?;
        let bytes = cursor
            .collect()
            .await
            .map_err(|e| Error::clickhouse(&self.url, context(), e))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Starts `INSERT INTO db.table FORMAT <format>`: send data with
    /// [`InsertFormatted::send`], finish with [`InsertFormatted::end`] (dropping it aborts).
    pub fn insert(&self, table: &str, format: &str) -> InsertFormatted {
        self.client.insert_formatted_with(format!(
            "INSERT INTO {}.{} FORMAT {format}",
            quote(&self.database),
            quote(table)
        ))
    }

    /// Inserts a small payload at once.
    pub async fn insert_all(&self, table: &str, format: &str, data: Bytes) -> Result<(), Error> {
        let context = || format!("inserting into {}.{table}", self.database);
        let mut insert = self.insert(table, format);
        insert
            .send(data)
            .await
            .map_err(|e| Error::clickhouse(&self.url, context(), e))?;
        insert
            .end()
            .await
            .map_err(|e| Error::clickhouse(&self.url, context(), e))
    }
}

/// `major.minor` of `18.16.1` or `24.8.4.13`.
pub fn parse_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.trim().split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// A ClickHouse string literal.
pub fn string_literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn unescape_tsv(value: &str) -> String {
    if !value.contains('\\') {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// The statement as shown in errors: its first 200 characters.
fn shorten(sql: &str) -> String {
    if sql.chars().count() <= 200 {
        sql.to_owned()
    } else {
        format!("{}…", sql.chars().take(200).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_literals() {
        assert_eq!(parse_version("18.16.1"), Some((18, 16)));
        assert_eq!(parse_version("24.8.4.13\n"), Some((24, 8)));
        assert_eq!(parse_version("x"), None);
        assert_eq!(string_literal("it's"), "'it\\'s'");
        assert_eq!(unescape_tsv("a\\tb\\\\c"), "a\tb\\c");
    }
}
