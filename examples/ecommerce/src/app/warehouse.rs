//! The inventory context as the HTTP API reaches it: the catalogue (the product read model),
//! the admin's changes to it and the warehouse's ledger, wherever they are kept (the embedded
//! [`Shop`], or the inventory service). A keeper provides the read model, the warehouse's
//! repository and a wait for the catalogue; the changes and the ledger are built on them once.

use eventcore::Repository;
use uuid::Uuid;

use super::facade::metadata;
use super::{Shop, ShopError, ShopStore, add_product_once, derived_id};
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

    /// The warehouse's repository (its stream may be a mirror: see [`writable`](Self::writable)).
    fn inventory(&self) -> &Repository<Inventory>;

    /// Whether the admin may change the warehouse here; the default: yes.
    ///
    /// # Errors
    /// Why not (its stream here mirrors another process's).
    fn writable(&self) -> Result<(), ShopError> {
        Ok(())
    }

    /// Waits until the product view shows every event appended so far (read-your-writes
    /// after an admin change).
    async fn catalogue_caught_up(&self) -> Result<(), ShopError>;

    /// Adds a product once (its command id derives from its id, so adding it again changes
    /// nothing); returns once the product view shows it.
    ///
    /// # Errors
    /// [`ShopError::Inventory`] (price not above zero), [`ShopError::Unavailable`].
    async fn add_product(
        &self,
        product_id: &str,
        name: &str,
        description: &str,
        price: Money,
        initial_stock: u32,
        correlation: Option<Uuid>,
    ) -> Result<(), ShopError> {
        self.writable()?;
        let action = InventoryAction::AddProduct {
            product_id: product_id.to_owned(),
            name: name.to_owned(),
            description: description.to_owned(),
            price,
            initial_stock,
        };
        let command = InventoryCommand::new(WAREHOUSE, action)
            .with_id(derived_id(&format!("product/{product_id}")));
        add_product_once(self.inventory(), command, metadata(correlation)).await?;
        self.catalogue_caught_up().await
    }

    /// Changes a product's price; returns once the product view shows it.
    ///
    /// # Errors
    /// [`ShopError::Inventory`] (unknown product, price not above zero).
    async fn change_price(
        &self,
        product_id: &str,
        price: Money,
        correlation: Option<Uuid>,
    ) -> Result<(), ShopError> {
        let product_id = product_id.to_owned();
        let action = InventoryAction::ChangePrice { product_id, price };
        self.change(action, correlation).await
    }

    /// Adds units of a product; returns once the product view shows them.
    ///
    /// # Errors
    /// [`ShopError::Inventory`] (unknown product, zero quantity, overflow).
    async fn add_stock(
        &self,
        product_id: &str,
        quantity: u32,
        correlation: Option<Uuid>,
    ) -> Result<(), ShopError> {
        let product_id = product_id.to_owned();
        let action = InventoryAction::AddStock {
            product_id,
            quantity,
        };
        self.change(action, correlation).await
    }

    /// Applies an admin's `action` to the warehouse; returns once the product view shows it.
    ///
    /// # Errors
    /// [`ShopError::Inventory`] for a refused action, [`ShopError::Unavailable`].
    async fn change(
        &self,
        action: InventoryAction,
        correlation: Option<Uuid>,
    ) -> Result<(), ShopError> {
        self.writable()?;
        let command = InventoryCommand::new(WAREHOUSE, action);
        self.inventory()
            .execute_with(command, metadata(correlation))
            .await
            .map_err(|e| ShopError::from_repo(e, ShopError::Inventory))?;
        self.catalogue_caught_up().await
    }

    /// The warehouse as its aggregate holds it now: every product's ledger and reservation.
    ///
    /// # Errors
    /// [`ShopError::Unavailable`].
    async fn ledger(&self) -> Result<Inventory, ShopError> {
        let loaded = self.inventory().load(WAREHOUSE).await;
        Ok(loaded
            .map_err(|e| ShopError::unavailable("loading the inventory", e))?
            .state)
    }
}

#[eventcore::async_trait]
impl<St: ShopStore> Warehouse for Shop<St> {
    async fn products(&self, limit: u32, offset: u32) -> Result<Vec<ProductRow>, ShopError> {
        Shop::products(self, limit, offset).await
    }

    async fn product(&self, product_id: &str) -> Result<ProductRow, ShopError> {
        Shop::product(self, product_id).await
    }

    fn inventory(&self) -> &Repository<Inventory> {
        &self.repositories().inventory
    }

    /// Refused while the inventory service keeps the warehouse: its stream here is a mirror,
    /// which nothing else may write.
    fn writable(&self) -> Result<(), ShopError> {
        if self.repositories().stock_elsewhere {
            let why = "the inventory service keeps the warehouse: change it there";
            return Err(ShopError::unavailable("the catalogue", why));
        }
        Ok(())
    }

    async fn catalogue_caught_up(&self) -> Result<(), ShopError> {
        Shop::catalogue_caught_up(self).await
    }
}
