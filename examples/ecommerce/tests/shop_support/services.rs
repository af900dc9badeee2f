//! The services' test kit: the PostgreSQL they run on, and a RabbitMQ vhost of a test's own.

/// Where PostgreSQL is (`DATABASE_URL`, or the local one).
pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Runs `rabbitmqctl` with `args`; it must succeed.
pub fn rabbitmqctl(args: &[&str]) {
    let out = std::process::Command::new("rabbitmqctl")
        .args(args)
        .output()
        .expect("rabbitmqctl runs (RabbitMQ must be installed: bash .ci/services)");
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A RabbitMQ vhost of this test's own, deleted on drop.
pub struct Vhost(pub String);

impl Vhost {
    /// A fresh vhost the guest user may use.
    pub fn new() -> Self {
        let name = format!("ec_test_{}", uuid::Uuid::new_v4().simple());
        rabbitmqctl(&["add_vhost", &name]);
        rabbitmqctl(&["set_permissions", "-p", &name, "guest", ".*", ".*", ".*"]);
        Self(name)
    }
}

impl Vhost {
    /// The shop's broker on this vhost (exchange `ecommerce`).
    pub fn broker(&self) -> ecommerce::messaging::Broker {
        ecommerce::messaging::Broker::RabbitMq {
            uri: format!("amqp://guest:guest@127.0.0.1:5672/{}", self.0),
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

impl Drop for Vhost {
    fn drop(&mut self) {
        let _ = std::process::Command::new("rabbitmqctl")
            .args(["delete_vhost", &self.0])
            .output();
    }
}
