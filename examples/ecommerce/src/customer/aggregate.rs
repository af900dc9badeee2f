//! The [`Customer`] aggregate.

use eventcore::{Aggregate, Command, CommandId, Event};
use serde::{Deserialize, Serialize};

use super::email::normalize_email;

/// A profile's optional fields; in an update, an absent field stays as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// Full name.
    pub full_name: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Postal address.
    pub address: Option<String>,
}

/// What happens to a customer.
#[allow(
    clippy::enum_variant_names,
    reason = "variant names are the stored event type names the shop's contract uses"
)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CustomerEvent {
    /// A customer registered.
    CustomerRegistered {
        /// The customer.
        customer_id: String,
        /// Their username.
        username: String,
        /// Their normalised e-mail address.
        email: String,
        /// The password's hash (never the password).
        password_hash: String,
    },
    /// The e-mail address changed.
    CustomerEmailChanged {
        /// The customer.
        customer_id: String,
        /// The old address.
        old_email: String,
        /// The new address.
        new_email: String,
    },
    /// Profile fields changed (absent ones did not).
    CustomerProfileUpdated {
        /// The customer.
        customer_id: String,
        /// The changed fields.
        changes: Profile,
    },
    /// The customer was deactivated.
    CustomerDeactivated {
        /// The customer.
        customer_id: String,
    },
    /// The customer was reactivated.
    CustomerReactivated {
        /// The customer.
        customer_id: String,
    },
}

impl Event for CustomerEvent {}

/// What can be asked of a customer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CustomerAction {
    /// Register (see [`register`](super::register) for the atomic e-mail claim).
    Register {
        /// 3–50 characters.
        username: String,
        /// A valid e-mail address.
        email: String,
        /// The password's hash.
        password_hash: String,
    },
    /// Change the e-mail address (active customers; it must differ).
    ChangeEmail {
        /// The new address.
        new_email: String,
    },
    /// Update the profile; absent fields stay unchanged.
    UpdateProfile(Profile),
    /// Deactivate.
    Deactivate,
    /// Reactivate.
    Reactivate,
}

/// A command for one customer.
#[derive(Clone, Debug)]
pub struct CustomerCommand {
    /// The customer.
    pub customer_id: String,
    /// The command id.
    pub id: CommandId,
    /// What to do.
    pub action: CustomerAction,
}

impl CustomerCommand {
    /// A command with a fresh id.
    pub fn new(customer_id: &str, action: CustomerAction) -> Self {
        Self {
            customer_id: customer_id.to_owned(),
            id: CommandId::new_random(),
            action,
        }
    }
}

impl Command for CustomerCommand {
    fn aggregate_id(&self) -> &str {
        &self.customer_id
    }
    fn command_id(&self) -> CommandId {
        self.id
    }
}

/// The rules a customer command can break.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CustomerError {
    /// Usernames are 3–50 characters.
    #[error("username must be 3 to 50 characters, got {0}")]
    InvalidUsername(usize),
    /// Not an e-mail address.
    #[error("invalid e-mail address {0:?}")]
    InvalidEmail(String),
    /// Another customer holds the address.
    #[error("e-mail address {0} is taken")]
    EmailTaken(String),
    /// The new address is the current one.
    #[error("the new e-mail address is the current one")]
    SameEmail,
    /// Passwords are at least 8 characters.
    #[error("password must be at least 8 characters")]
    WeakPassword,
    /// The customer exists already.
    #[error("customer is registered already")]
    AlreadyRegistered,
    /// No such customer.
    #[error("customer is not registered")]
    NotRegistered,
    /// The customer is deactivated.
    #[error("customer is deactivated")]
    Inactive,
    /// The customer is active already.
    #[error("customer is active already")]
    AlreadyActive,
}

/// A customer's state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Customer {
    /// Registered.
    pub registered: bool,
    /// Active (not deactivated).
    pub active: bool,
    /// Username.
    pub username: String,
    /// Normalised e-mail address.
    pub email: String,
    /// Password hash.
    pub password_hash: String,
    /// Profile.
    pub profile: Profile,
}

fn merge(into: &mut Option<String>, change: &Option<String>) {
    if change.is_some() {
        into.clone_from(change);
    }
}

/// The fields of `update` that are given and differ from `current`.
fn changes(current: &Profile, update: &Profile) -> Profile {
    let differs = |now: &Option<String>, new: &Option<String>| new.clone().filter(|_| new != now);
    Profile {
        full_name: differs(&current.full_name, &update.full_name),
        phone: differs(&current.phone, &update.phone),
        address: differs(&current.address, &update.address),
    }
}

impl Aggregate for Customer {
    const TYPE: &'static str = "customer";
    type Event = CustomerEvent;
    type Command = CustomerCommand;
    type Error = CustomerError;

    fn apply(&mut self, event: &CustomerEvent) {
        match event {
            CustomerEvent::CustomerRegistered {
                username,
                email,
                password_hash,
                ..
            } => {
                (self.registered, self.active) = (true, true);
                self.username.clone_from(username);
                self.email.clone_from(email);
                self.password_hash.clone_from(password_hash);
            }
            CustomerEvent::CustomerEmailChanged { new_email, .. } => {
                self.email.clone_from(new_email);
            }
            CustomerEvent::CustomerProfileUpdated { changes, .. } => {
                merge(&mut self.profile.full_name, &changes.full_name);
                merge(&mut self.profile.phone, &changes.phone);
                merge(&mut self.profile.address, &changes.address);
            }
            CustomerEvent::CustomerDeactivated { .. } => self.active = false,
            CustomerEvent::CustomerReactivated { .. } => self.active = true,
        }
    }

    fn handle(&self, command: &CustomerCommand) -> Result<Vec<CustomerEvent>, CustomerError> {
        use CustomerAction as A;
        let customer_id = command.customer_id.clone();
        match (&command.action, self.registered) {
            (A::Register { .. }, true) => Err(CustomerError::AlreadyRegistered),
            (
                A::Register {
                    username,
                    email,
                    password_hash,
                },
                false,
            ) => {
                let length = username.trim().chars().count();
                if !(3..=50).contains(&length) {
                    return Err(CustomerError::InvalidUsername(length));
                }
                let email = normalize_email(email)
                    .ok_or_else(|| CustomerError::InvalidEmail(email.clone()))?;
                Ok(vec![CustomerEvent::CustomerRegistered {
                    customer_id,
                    username: username.trim().to_owned(),
                    email,
                    password_hash: password_hash.clone(),
                }])
            }
            (_, false) => Err(CustomerError::NotRegistered),
            (A::ChangeEmail { new_email }, true) => {
                if !self.active {
                    return Err(CustomerError::Inactive);
                }
                let new_email = normalize_email(new_email)
                    .ok_or_else(|| CustomerError::InvalidEmail(new_email.clone()))?;
                if new_email == self.email {
                    return Err(CustomerError::SameEmail);
                }
                Ok(vec![CustomerEvent::CustomerEmailChanged {
                    customer_id,
                    old_email: self.email.clone(),
                    new_email,
                }])
            }
            (A::UpdateProfile(update), true) => {
                let changes = changes(&self.profile, update);
                if changes == Profile::default() {
                    return Ok(vec![]);
                }
                Ok(vec![CustomerEvent::CustomerProfileUpdated {
                    customer_id,
                    changes,
                }])
            }
            (A::Deactivate, true) if !self.active => Err(CustomerError::Inactive),
            (A::Deactivate, true) => Ok(vec![CustomerEvent::CustomerDeactivated { customer_id }]),
            (A::Reactivate, true) if self.active => Err(CustomerError::AlreadyActive),
            (A::Reactivate, true) => Ok(vec![CustomerEvent::CustomerReactivated { customer_id }]),
        }
    }
}
