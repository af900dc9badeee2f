//! Money as integer minor units (cents) with a currency code: never floats, and every
//! arithmetic operation is checked (overflow and mixed currencies are errors, not wraps).

use serde::{Deserialize, Serialize};

/// An ISO 4217 currency code: three upper-case ASCII letters, stored as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// US dollars.
    pub const USD: Currency = Currency(*b"USD");

    /// The code as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl TryFrom<String> for Currency {
    type Error = String;
    fn try_from(code: String) -> Result<Self, String> {
        match *code.as_bytes() {
            [a, b, c] if code.bytes().all(|x| x.is_ascii_uppercase()) => Ok(Self([a, b, c])),
            _ => Err(format!(
                "currency must be three upper-case letters, got {code:?}"
            )),
        }
    }
}

impl From<Currency> for String {
    fn from(currency: Currency) -> String {
        currency.as_str().to_owned()
    }
}

/// Why a money operation has no result.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MoneyError {
    /// The amounts are in different currencies.
    #[error("cannot combine {left} with {right}")]
    CurrencyMismatch {
        /// The left operand's currency.
        left: Currency,
        /// The right operand's currency.
        right: Currency,
    },
    /// The result does not fit in 64 bits of minor units.
    #[error("amount overflow")]
    Overflow,
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Money in minor units (cents) with a currency code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Amount in minor units.
    pub cents: i64,
    /// The currency.
    pub currency: Currency,
}

impl Money {
    /// An amount in US dollars, in cents.
    pub const fn usd(cents: i64) -> Self {
        Self {
            cents,
            currency: Currency::USD,
        }
    }

    /// Nothing, in `currency`.
    pub const fn zero(currency: Currency) -> Self {
        Self { cents: 0, currency }
    }

    /// Whether the amount is above zero.
    pub fn is_positive(&self) -> bool {
        self.cents > 0
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }

    /// `self + other`.
    ///
    /// # Errors
    /// [`MoneyError::CurrencyMismatch`], [`MoneyError::Overflow`].
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let cents = self
            .cents
            .checked_add(other.cents)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { cents, ..self })
    }

    /// `self - other`.
    ///
    /// # Errors
    /// [`MoneyError::CurrencyMismatch`], [`MoneyError::Overflow`].
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let cents = self
            .cents
            .checked_sub(other.cents)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { cents, ..self })
    }

    /// `self × quantity`.
    ///
    /// # Errors
    /// [`MoneyError::Overflow`].
    pub fn checked_mul(self, quantity: u32) -> Result<Money, MoneyError> {
        let cents = self
            .cents
            .checked_mul(i64::from(quantity))
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { cents, ..self })
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.cents < 0 { "-" } else { "" };
        let abs = self.cents.unsigned_abs();
        write!(f, "{sign}{}.{:02} {}", abs / 100, abs % 100, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_print_with_two_decimals_and_the_currency() {
        assert_eq!(Money::usd(99_999).to_string(), "999.99 USD");
        assert_eq!(Money::usd(-5).to_string(), "-0.05 USD");
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(Money::usd(2_999).checked_mul(3), Ok(Money::usd(8_997)));
        assert_eq!(
            Money::usd(i64::MAX).checked_mul(2),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Money::usd(i64::MAX).checked_add(Money::usd(1)),
            Err(MoneyError::Overflow)
        );
        let eur = Money {
            cents: 1,
            currency: Currency::try_from("EUR".to_owned()).unwrap(),
        };
        assert!(matches!(
            Money::usd(1).checked_add(eur),
            Err(MoneyError::CurrencyMismatch { .. })
        ));
        assert_eq!(Money::usd(10).checked_sub(Money::usd(4)), Ok(Money::usd(6)));
    }

    #[test]
    fn currency_codes_are_three_upper_case_letters() {
        assert!(Currency::try_from("usd".to_owned()).is_err());
        assert!(Currency::try_from("USDX".to_owned()).is_err());
        assert_eq!(serde_json::to_string(&Currency::USD).unwrap(), "\"USD\"");
    }
}
