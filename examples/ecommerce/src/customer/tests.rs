//! Given/when/then tests of customers, and of the atomic e-mail claim.

use eventcore::testing::AggregateFixture;
use eventcore::{CommandId, InMemoryEventStore, Repository};

use super::*;

fn registered() -> CustomerEvent {
    CustomerEvent::CustomerRegistered {
        customer_id: "c1".into(),
        username: "ada".into(),
        email: "ada@example.com".into(),
        password_hash: "h".into(),
    }
}

fn act(action: CustomerAction) -> CustomerCommand {
    CustomerCommand::new("c1", action)
}

fn register_action(username: &str, email: &str) -> CustomerAction {
    CustomerAction::Register {
        username: username.into(),
        email: email.into(),
        password_hash: "h".into(),
    }
}

#[test]
fn registering_normalises_the_address_and_keeps_only_the_hash() {
    AggregateFixture::<Customer>::new()
        .when(act(register_action("ada", " Ada@Example.COM ")))
        .then_expect_events([registered()]);
}

#[test]
fn usernames_are_three_to_fifty_characters_and_addresses_must_be_valid() {
    for (name, ok) in [
        ("ab", false),
        ("abc", true),
        (&"x".repeat(50)[..], true),
        (&"x".repeat(51)[..], false),
    ] {
        let result = AggregateFixture::<Customer>::new().when(act(register_action(name, "a@b.co")));
        if ok {
            result.then_expect_events([CustomerEvent::CustomerRegistered {
                customer_id: "c1".into(),
                username: name.into(),
                email: "a@b.co".into(),
                password_hash: "h".into(),
            }]);
        } else {
            let error = result.then_expect_error();
            assert_eq!(error, CustomerError::InvalidUsername(name.len()));
        }
    }
    for bad in [
        "no-at", "a@nodot", "@b.co", "a b@c.de", "a@b..co", "a@@b.co",
    ] {
        let error = AggregateFixture::<Customer>::new()
            .when(act(register_action("ada", bad)))
            .then_expect_error();
        assert_eq!(error, CustomerError::InvalidEmail(bad.into()));
    }
}

#[test]
fn an_active_customer_changes_to_a_different_address() {
    AggregateFixture::<Customer>::given([registered()])
        .when(act(CustomerAction::ChangeEmail {
            new_email: "ADA@new.org".into(),
        }))
        .then_expect_events([CustomerEvent::CustomerEmailChanged {
            customer_id: "c1".into(),
            old_email: "ada@example.com".into(),
            new_email: "ada@new.org".into(),
        }]);
    let error = AggregateFixture::<Customer>::given([registered()])
        .when(act(CustomerAction::ChangeEmail {
            new_email: "Ada@Example.com".into(),
        }))
        .then_expect_error();
    assert_eq!(error, CustomerError::SameEmail);
    let deactivated = CustomerEvent::CustomerDeactivated {
        customer_id: "c1".into(),
    };
    let error = AggregateFixture::<Customer>::given([registered(), deactivated])
        .when(act(CustomerAction::ChangeEmail {
            new_email: "x@y.org".into(),
        }))
        .then_expect_error();
    assert_eq!(error, CustomerError::Inactive);
}

#[test]
fn a_profile_update_records_only_given_fields_that_change() {
    let first = Profile {
        full_name: Some("Ada L".into()),
        phone: Some("1".into()),
        address: None,
    };
    let state = AggregateFixture::<Customer>::given([registered()])
        .when(act(CustomerAction::UpdateProfile(first.clone())))
        .then_expect_events([CustomerEvent::CustomerProfileUpdated {
            customer_id: "c1".into(),
            changes: first.clone(),
        }]);
    assert_eq!(state.profile.phone.as_deref(), Some("1"));
    let updated = CustomerEvent::CustomerProfileUpdated {
        customer_id: "c1".into(),
        changes: first,
    };
    let only_phone = Profile {
        phone: Some("2".into()),
        full_name: Some("Ada L".into()),
        address: None,
    };
    let state = AggregateFixture::<Customer>::given([registered(), updated.clone()])
        .when(act(CustomerAction::UpdateProfile(only_phone)))
        .then_expect_events([CustomerEvent::CustomerProfileUpdated {
            customer_id: "c1".into(),
            changes: Profile {
                phone: Some("2".into()),
                ..Profile::default()
            },
        }]);
    assert_eq!(
        state.profile.full_name.as_deref(),
        Some("Ada L"),
        "absent fields unchanged"
    );
    AggregateFixture::<Customer>::given([registered(), updated])
        .when(act(CustomerAction::UpdateProfile(Profile::default())))
        .then_expect_no_events();
}

#[test]
fn deactivation_and_reactivation_alternate() {
    let deactivated = CustomerEvent::CustomerDeactivated {
        customer_id: "c1".into(),
    };
    AggregateFixture::<Customer>::given([registered()])
        .when(act(CustomerAction::Deactivate))
        .then_expect_events([deactivated.clone()]);
    let error = AggregateFixture::<Customer>::given([registered(), deactivated.clone()])
        .when(act(CustomerAction::Deactivate))
        .then_expect_error();
    assert_eq!(error, CustomerError::Inactive);
    AggregateFixture::<Customer>::given([registered(), deactivated])
        .when(act(CustomerAction::Reactivate))
        .then_expect_events([CustomerEvent::CustomerReactivated {
            customer_id: "c1".into(),
        }]);
    let error = AggregateFixture::<Customer>::given([registered()])
        .when(act(CustomerAction::Reactivate))
        .then_expect_error();
    assert_eq!(error, CustomerError::AlreadyActive);
    let error = AggregateFixture::<Customer>::new()
        .when(act(CustomerAction::Deactivate))
        .then_expect_error();
    assert_eq!(error, CustomerError::NotRegistered);
}

/// A fast stand-in for argon2.
struct Plain;

impl PasswordHasher for Plain {
    fn hash(&self, password: &str) -> Result<String, HashError> {
        Ok(format!("plain:{password}"))
    }
    fn verify(&self, password: &str, hash: &str) -> bool {
        hash == format!("plain:{password}")
    }
}

fn request(customer_id: &str, email: &str) -> RegisterCustomer {
    RegisterCustomer {
        customer_id: customer_id.into(),
        username: format!("user-{customer_id}"),
        email: email.into(),
        password: "correct horse".into(),
        id: CommandId::new_random(),
    }
}

fn repos(store: &InMemoryEventStore) -> CustomerRepositories {
    CustomerRepositories {
        customers: Repository::new(store.clone()),
        claims: Repository::new(store.clone()),
    }
}

#[tokio::test]
async fn an_address_is_held_by_one_customer_and_a_refused_registration_writes_nothing() {
    let store = InMemoryEventStore::new();
    let repos = repos(&store);
    let ada = register(&store, &repos, &Plain, request("c1", "ada@example.com"))
        .await
        .unwrap();
    assert_eq!(ada.password_hash, "plain:correct horse");
    let taken = register(&store, &repos, &Plain, request("c2", "ADA@example.com")).await;
    assert!(matches!(
        taken,
        Err(CustomerServiceError::Rejected(CustomerError::EmailTaken(_)))
    ));
    assert!(
        !repos.customers.load("c2").await.unwrap().state.registered,
        "rolled back"
    );
    let weak = RegisterCustomer {
        password: "short".into(),
        ..request("c3", "c3@example.com")
    };
    let weak = register(&store, &repos, &Plain, weak).await;
    assert!(matches!(
        weak,
        Err(CustomerServiceError::Rejected(CustomerError::WeakPassword))
    ));
}

#[tokio::test]
async fn changing_address_moves_the_claim() {
    let store = InMemoryEventStore::new();
    let repos = repos(&store);
    register(&store, &repos, &Plain, request("c1", "ada@example.com"))
        .await
        .unwrap();
    register(&store, &repos, &Plain, request("c2", "bob@example.com"))
        .await
        .unwrap();
    let taken = change_email(
        &store,
        &repos,
        "c1",
        "bob@example.com",
        CommandId::new_random(),
    )
    .await;
    assert!(matches!(
        taken,
        Err(CustomerServiceError::Rejected(CustomerError::EmailTaken(_)))
    ));
    assert_eq!(
        repos.customers.load("c1").await.unwrap().state.email,
        "ada@example.com"
    );
    change_email(&store, &repos, "c1", "ada@new.org", CommandId::new_random())
        .await
        .unwrap();
    // The old address is free again.
    register(&store, &repos, &Plain, request("c3", "ada@example.com"))
        .await
        .unwrap();
}

#[test]
fn argon2_hashes_verify_only_the_right_password() {
    let hash = Argon2Hasher.hash("correct horse").unwrap();
    assert!(hash.starts_with("$argon2"));
    assert!(Argon2Hasher.verify("correct horse", &hash));
    assert!(!Argon2Hasher.verify("wrong horse", &hash));
}
