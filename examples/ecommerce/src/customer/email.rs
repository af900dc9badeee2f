//! E-mail addresses: validation, normalisation, and the [`EmailClaim`] aggregate that makes
//! them unique across customers (one stream per normalised address, `emailclaim-<address>`).

use eventcore::{Aggregate, Command, CommandId, Event};
use serde::{Deserialize, Serialize};

use super::aggregate::CustomerError;

/// `address` trimmed and lower-cased if it is a plausible e-mail address: one `@`, a
/// non-empty local part, a domain with a dot and no empty label, no spaces, at most 254 bytes.
pub fn normalize_email(address: &str) -> Option<String> {
    let address = address.trim().to_lowercase();
    let (local, domain) = address.split_once('@')?;
    let labels_ok = domain.split('.').all(|l| !l.is_empty());
    let ok = !local.is_empty()
        && domain.contains('.')
        && labels_ok
        && !domain.contains('@')
        && !address.chars().any(char::is_whitespace)
        && address.len() <= 254;
    ok.then_some(address)
}

/// What happens to an address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EmailClaimEvent {
    /// A customer holds the address.
    EmailClaimed {
        /// The normalised address.
        email: String,
        /// Who holds it.
        customer_id: String,
    },
    /// The customer let it go (changed address).
    EmailReleased {
        /// The normalised address.
        email: String,
        /// Who held it.
        customer_id: String,
    },
}

impl Event for EmailClaimEvent {}

/// Claim or release an address.
#[derive(Clone, Debug)]
pub struct EmailClaimCommand {
    /// The normalised address (the aggregate id).
    pub email: String,
    /// The command id.
    pub id: CommandId,
    /// Who claims or releases it.
    pub customer_id: String,
    /// Claim (`true`) or release (`false`).
    pub claim: bool,
}

impl Command for EmailClaimCommand {
    fn aggregate_id(&self) -> &str {
        &self.email
    }
    fn command_id(&self) -> CommandId {
        self.id
    }
}

/// Who holds an address, if anyone.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct EmailClaim {
    /// The holder.
    pub holder: Option<String>,
}

impl Aggregate for EmailClaim {
    const TYPE: &'static str = "emailclaim";
    type Event = EmailClaimEvent;
    type Command = EmailClaimCommand;
    type Error = CustomerError;

    fn apply(&mut self, event: &EmailClaimEvent) {
        self.holder = match event {
            EmailClaimEvent::EmailClaimed { customer_id, .. } => Some(customer_id.clone()),
            EmailClaimEvent::EmailReleased { .. } => None,
        };
    }

    fn handle(&self, command: &EmailClaimCommand) -> Result<Vec<EmailClaimEvent>, CustomerError> {
        let (email, customer_id) = (command.email.clone(), command.customer_id.clone());
        let mine = self.holder.as_deref() == Some(command.customer_id.as_str());
        match (command.claim, &self.holder) {
            (true, None) => Ok(vec![EmailClaimEvent::EmailClaimed { email, customer_id }]),
            (true, Some(_)) if mine => Ok(vec![]),
            (true, Some(_)) => Err(CustomerError::EmailTaken(email)),
            (false, _) if mine => Ok(vec![EmailClaimEvent::EmailReleased { email, customer_id }]),
            (false, _) => Ok(vec![]),
        }
    }
}
