//! The services' test kit: the PostgreSQL they run on, and a RabbitMQ vhost of a test's own.

use eventcore_rabbitmq::testing::TestVhost;

/// Where PostgreSQL is (`DATABASE_URL`, or the local one).
pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A RabbitMQ vhost of the test's own, deleted on drop.
pub struct Vhost(pub TestVhost);

impl Vhost {
    /// A fresh vhost the guest user may use.
    pub fn new() -> Self {
        let vhost = TestVhost::new();
        Self(vhost.expect("a vhost of the test's own (RabbitMQ must run: bash .ci/services)"))
    }

    /// The shop's broker on this vhost (exchange `ecommerce`).
    pub fn broker(&self) -> ecommerce::messaging::Broker {
        ecommerce::messaging::Broker::RabbitMq {
            uri: self.0.uri(),
            exchange: "ecommerce".into(),
        }
    }
}

/// Drops each test schema (with everything in it) through its store's pool.
pub async fn drop_schemas(schemas: &[(&eventcore_postgres::PgEventStore, &String)]) {
    for (store, schema) in schemas {
        eventcore_postgres::sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .execute(store.pool())
            .await
            .expect("drops the test's schema");
    }
}
