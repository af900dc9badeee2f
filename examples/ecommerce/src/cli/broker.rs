//! The broker options every process of the distributed mode shares.

use clap::{Args, ValueEnum};
use ecommerce::messaging::Broker;

/// Which broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BrokerKind {
    /// RabbitMQ (AMQP 0-9-1).
    Rabbitmq,
    /// A Kafka-protocol broker.
    Kafka,
}

/// Where services send each other messages.
#[derive(Clone, Debug, Args)]
pub struct BrokerArgs {
    /// The broker between services.
    #[arg(long, value_enum, env = "ECOMMERCE_BROKER", default_value = "rabbitmq")]
    pub broker: BrokerKind,
    /// Its address: an AMQP URI for RabbitMQ (default `amqp://guest:guest@127.0.0.1:5672/%2f`),
    /// bootstrap servers for Kafka (default `127.0.0.1:9092`).
    #[arg(long, env = "ECOMMERCE_BROKER_URL")]
    pub broker_url: Option<String>,
    /// The RabbitMQ exchange, or what every Kafka topic name starts with (`<it>.<category>`).
    #[arg(long, env = "ECOMMERCE_BROKER_NAMESPACE", default_value = "ecommerce")]
    pub broker_namespace: String,
    /// This replica's name among its service's replicas (`payment-0`); on Kafka its consumers
    /// are then static group members, which take their place back after a restart.
    #[arg(long, env = "ECOMMERCE_INSTANCE")]
    pub instance: Option<String>,
    /// librdkafka's debug contexts for the Kafka consumers (`cgrp`, `consumer`, ...; shown with
    /// `RUST_LOG=librdkafka=debug`).
    #[arg(long, env = "ECOMMERCE_KAFKA_DEBUG")]
    pub kafka_debug: Option<String>,
}

impl BrokerArgs {
    /// The broker these options name.
    pub fn broker(&self) -> Broker {
        match self.broker {
            BrokerKind::Rabbitmq => Broker::RabbitMq {
                uri: self
                    .broker_url
                    .clone()
                    .unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned()),
                exchange: self.broker_namespace.clone(),
            },
            BrokerKind::Kafka => Broker::Kafka {
                brokers: self
                    .broker_url
                    .clone()
                    .unwrap_or_else(|| "127.0.0.1:9092".to_owned()),
                prefix: format!("{}.", self.broker_namespace),
                instance: self.instance.clone(),
                debug: self.kafka_debug.clone(),
            },
        }
    }
}
