//! A ClickHouse database that exists for one test.

use url::Url;

use crate::cleanup::run_blocking;
use crate::endpoints::{clickhouse_client, StackEndpoints};
use crate::error::TestkitError;
use crate::names::unique_name;

/// A database `test_<prefix>_<pid>_<millis>_<n>`, dropped by [`TestClickHouseDb::cleanup`] —
/// or, as a fallback, when dropped.
pub struct TestClickHouseDb {
    name: String,
    url: Url,
    client: clickhouse::Client,
    cleaned_up: bool,
}

impl TestClickHouseDb {
    /// Creates the database.
    pub async fn create(endpoints: &StackEndpoints, prefix: &str) -> Result<Self, TestkitError> {
        let name = unique_name(&format!("test_{prefix}"));
        endpoints
            .clickhouse_client()
            .query(&format!("CREATE DATABASE {name}"))
            .execute()
            .await
            .map_err(|err| TestkitError::clickhouse(format!("creating database {name}"), err))?;
        let client = endpoints.clickhouse_client().with_database(&name);
        Ok(Self {
            name,
            url: endpoints.clickhouse_url.clone(),
            client,
            cleaned_up: false,
        })
    }

    /// The database's name (a plain identifier: no quoting needed).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A client whose default database is this one, with row validation off (the local
    /// ClickHouse 18.16 lacks `RowBinaryWithNamesAndTypes`).
    pub fn client(&self) -> &clickhouse::Client {
        &self.client
    }

    /// Drops the database with all its tables.
    pub async fn cleanup(mut self) -> Result<(), TestkitError> {
        self.cleaned_up = true;
        drop_database(&clickhouse_client(&self.url), &self.name).await
    }
}

impl Drop for TestClickHouseDb {
    fn drop(&mut self) {
        if self.cleaned_up {
            return;
        }
        let url = self.url.clone();
        let name = self.name.clone();
        run_blocking(format!("ClickHouse database {name}"), move || async move {
            drop_database(&clickhouse_client(&url), &name).await
        });
    }
}

async fn drop_database(client: &clickhouse::Client, name: &str) -> Result<(), TestkitError> {
    client
        .query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute()
        .await
        .map_err(|err| TestkitError::clickhouse(format!("dropping database {name}"), err))
}
