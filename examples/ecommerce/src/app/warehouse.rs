//! The inventory context as the HTTP API reaches it: the catalogue (the product read model),
//! the admin's changes to it and the warehouse's ledger, wherever they are kept (the embedded
//! [`Shop`], or the inventory service).

use eventcore::Repository;
use uuid::Uuid;

use super::facade::metadata;
use super::{Shop, ShopError, add_product_once, derived_id};
use crate::inventory::{Inventory, InventoryAction, InventoryCommand, WAREHOUSE};
use crate::money::Money;
use crate::readmodels::rows::ProductRow;

/// The inventory context's operations behind `/api/v1/products` and `/api/v1/inventory`.
#[eventcore::async_trait]
pub trait Warehouse: Send + Sync + 'static {
    /// Every product from the product view, by id (`limit` at most, from `offset`).
    async fn products(&self, limit: u32, offset: u32) -> Result<Vec<ProductRow>, ShopError>;

    /// One product from the product view ([`ShopError::NotFound`] if unknown).
    async fn product(&self, product_id: &str) -> Result<ProductRow, ShopError>;

    /// Adds a product once (its command id derives from its id); returns once the product
    /// view shows it.
    async fn add_product(
        &self,
        product_id: &str,
        name: &str,
        description: &str,
        price: Money,
        initial_stock: u32,
        correlation: Option<Uuid>,
    ) -> Result<(), ShopError>;

    /// Changes a product's price; returns once the product view shows it.
    async fn change_price(
        &self,
        product_id: &str,
        price: Money,
        correlation: Option<Uuid>,
    ) -> Result<(), ShopError>;

    /// Adds units of a product; returns once the product view shows them.
    async fn add_stock(
        &self,
        product_id: &str,
        quantity: u32,
        correlation: Option<Uuid>,
    ) -> Result<(), ShopError>;

    /// The warehouse as its aggregate holds it now: every product's ledger and reservation.
    async fn ledger(&self) -> Result<Inventory, ShopError>;
}

#[eventcore::async_trait]
impl Warehouse for Shop {
    async fn products(&self, limit: u32, offset: u32) -> Result<Vec<ProductRow>, ShopError> {
        Shop::products(self, limit, offset).await
    }

    async fn product(&self, product_id: &str) -> Result<ProductRow, ShopError> {
        Shop::product(self, product_id).await
    }

    async fn add_product(
        &self,
        product_id: &str,
        name: &str,
        description: &str,
        price: Money,
        initial_stock: u32,
        correlation: Option<Uuid>,
    ) -> Result<(), ShopError> {
        let (id, stock) = (product_id, initial_stock);
        Shop::add_product(self, id, name, description, price, stock, correlation).await
    }

    async fn change_price(
        &self,
        product_id: &str,
        price: Money,
        correlation: Option<Uuid>,
    ) -> Result<(), ShopError> {
        Shop::change_price(self, product_id, price, correlation).await
    }

    async fn add_stock(
        &self,
        product_id: &str,
        quantity: u32,
        correlation: Option<Uuid>,
    ) -> Result<(), ShopError> {
        Shop::add_stock(self, product_id, quantity, correlation).await
    }

    async fn ledger(&self) -> Result<Inventory, ShopError> {
        let loaded = self.repositories().inventory.load(WAREHOUSE).await;
        Ok(loaded
            .map_err(|e| ShopError::unavailable("loading the inventory", e))?
            .state)
    }
}

/// Adds a product to the warehouse through `inventory`, once: its command id derives from
/// its id, so adding it again (a retry, a restart) changes nothing.
///
/// # Errors
/// [`ShopError::Inventory`] (price not above zero), [`ShopError::Unavailable`].
pub(crate) async fn add_product(
    inventory: &Repository<Inventory>,
    product: AddProduct<'_>,
    correlation: Option<Uuid>,
) -> Result<(), ShopError> {
    let action = InventoryAction::AddProduct {
        product_id: product.id.to_owned(),
        name: product.name.to_owned(),
        description: product.description.to_owned(),
        price: product.price,
        initial_stock: product.initial_stock,
    };
    let command = InventoryCommand::new(WAREHOUSE, action)
        .with_id(derived_id(&format!("product/{}", product.id)));
    add_product_once(inventory, command, metadata(correlation)).await
}

/// A product to add.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AddProduct<'a> {
    pub(crate) id: &'a str,
    pub(crate) name: &'a str,
    pub(crate) description: &'a str,
    pub(crate) price: Money,
    pub(crate) initial_stock: u32,
}

/// Applies an admin's `action` (a price or stock change) to the warehouse through `inventory`.
///
/// # Errors
/// [`ShopError::Inventory`] (unknown product, price not above zero, zero quantity, overflow),
/// [`ShopError::Unavailable`].
pub(crate) async fn change(
    inventory: &Repository<Inventory>,
    action: InventoryAction,
    correlation: Option<Uuid>,
) -> Result<(), ShopError> {
    let command = InventoryCommand::new(WAREHOUSE, action);
    inventory
        .execute_with(command, metadata(correlation))
        .await
        .map(drop)
        .map_err(|e| ShopError::from_repo(e, ShopError::Inventory))
}
