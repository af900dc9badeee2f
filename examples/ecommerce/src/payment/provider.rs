//! The payment provider seam and its simulation.

use std::time::Duration;

use super::aggregate::ChargeOutcome;
use crate::money::Money;

/// Something that charges money: a card processor, or the simulation.
///
/// # Contract
/// Returns the provider's decision. A decline is an outcome, not an error: it is recorded as
/// `PaymentFailed`.
#[eventcore::async_trait]
pub trait PaymentProvider: Send + Sync {
    /// Charges `amount` for `order_id`.
    async fn charge(&self, order_id: &str, amount: Money) -> ChargeOutcome;
}

/// A simulated provider: approves a share of charges, declines every charge above a limit,
/// waits a configurable latency, and decides the same way for the same seed and order.
#[derive(Clone, Debug, PartialEq)]
pub struct SimulatedProvider {
    /// Share of charges approved, 0.0–1.0 (default 0.9).
    pub success_rate: f64,
    /// How long each charge takes (default none).
    pub latency: Duration,
    /// Charges above this amount are declined (default 10,000.00).
    pub decline_above: Money,
    /// The seed that, with the order id, decides each charge.
    pub seed: u64,
}

impl Default for SimulatedProvider {
    fn default() -> Self {
        Self {
            success_rate: 0.9,
            latency: Duration::ZERO,
            decline_above: Money::usd(1_000_000),
            seed: 0,
        }
    }
}

impl SimulatedProvider {
    /// The default provider with `seed`.
    pub fn seeded(seed: u64) -> Self {
        Self {
            seed,
            ..Self::default()
        }
    }

    /// The decision for `order_id` and `amount`, without waiting.
    pub fn decide(&self, order_id: &str, amount: Money) -> ChargeOutcome {
        if amount.currency == self.decline_above.currency && amount.cents > self.decline_above.cents
        {
            return ChargeOutcome::Declined {
                reason: format!(
                    "amount {amount} is above the limit of {}",
                    self.decline_above
                ),
            };
        }
        let roll = mix(self.seed, order_id);
        // The top 53 bits as a fraction in [0, 1).
        let fraction = (roll >> 11) as f64 / (1u64 << 53) as f64;
        if fraction < self.success_rate {
            let name = format!("simulated-payment/{}/{order_id}", self.seed);
            ChargeOutcome::Approved {
                payment_id: uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes())
                    .to_string(),
            }
        } else {
            ChargeOutcome::Declined {
                reason: "card declined".into(),
            }
        }
    }
}

/// FNV-1a over the seed and the order id, finished with splitmix64.
fn mix(seed: u64, order_id: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in seed.to_le_bytes().iter().chain(order_id.as_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = hash.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[eventcore::async_trait]
impl PaymentProvider for SimulatedProvider {
    async fn charge(&self, order_id: &str, amount: Money) -> ChargeOutcome {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        self.decide(order_id, amount)
    }
}
