//! What the API answers with: JSON views of the shop's read models and aggregates, each with
//! its OpenAPI schema. Money is integer cents with a currency code; times are RFC 3339 UTC.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::time::{date, rfc3339, rfc3339_micros};
use crate::customer::Customer;
use crate::money::Money;
use crate::order::{Line, Order};
use crate::payment::Payment;
use crate::readmodels::analytics::AnalyticsReport;
use crate::readmodels::history::HistoryEntry;
use crate::readmodels::orders::OrderRow;
use crate::readmodels::products::ProductRow;

/// An amount of money.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MoneyView {
    /// Minor units (cents).
    pub cents: i64,
    /// ISO 4217 code, e.g. `USD`.
    #[schema(value_type = String, example = "USD")]
    pub currency: crate::money::Currency,
}

impl From<Money> for MoneyView {
    fn from(money: Money) -> Self {
        Self {
            cents: money.cents,
            currency: money.currency,
        }
    }
}

impl From<MoneyView> for Money {
    fn from(view: MoneyView) -> Self {
        Money {
            cents: view.cents,
            currency: view.currency,
        }
    }
}

/// A registered customer (never their password or its hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CustomerView {
    /// The customer id.
    pub id: String,
    /// Username.
    pub username: String,
    /// Normalised e-mail address.
    pub email: String,
    /// Not deactivated.
    pub active: bool,
    /// Full name, if given.
    pub full_name: Option<String>,
}

impl CustomerView {
    /// The view of `customer` with id `id`.
    pub fn new(id: &str, customer: &Customer) -> Self {
        Self {
            id: id.to_owned(),
            username: customer.username.clone(),
            email: customer.email.clone(),
            active: customer.active,
            full_name: customer.profile.full_name.clone(),
        }
    }
}

/// A product with its stock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProductView {
    /// Product id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Unit price.
    pub price: MoneyView,
    /// Units free to order.
    pub available: u32,
    /// Units held for orders.
    pub reserved: u32,
    /// Units sold.
    pub sold: u32,
}

impl From<ProductRow> for ProductView {
    fn from(row: ProductRow) -> Self {
        Self {
            id: row.product_id,
            name: row.name,
            description: row.description,
            price: row.price.into(),
            available: row.available,
            reserved: row.reserved,
            sold: row.sold,
        }
    }
}

/// One line of an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LineView {
    /// The product.
    pub product_id: String,
    /// How many.
    pub quantity: u32,
    /// The catalogue price per unit when the order was placed.
    pub unit_price: MoneyView,
}

impl From<&Line> for LineView {
    fn from(line: &Line) -> Self {
        Self {
            product_id: line.product_id.clone(),
            quantity: line.quantity,
            unit_price: line.unit_price.into(),
        }
    }
}

/// An order as the order view shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderView {
    /// The order id.
    pub id: String,
    /// Who ordered.
    pub customer_id: String,
    /// `pending`, `confirmed`, `shipped`, `delivered` or `cancelled`.
    pub status: String,
    /// What.
    pub items: Vec<LineView>,
    /// The total.
    pub total: MoneyView,
    /// `none`, `completed`, `failed` or `refunded`.
    pub payment_status: String,
    /// `none`, `reserved`, `rejected`, `released`, `confirmed`, `expired` or `returned`.
    pub inventory_status: String,
    /// Why it was cancelled.
    pub cancellation_reason: Option<String>,
    /// When it was placed.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}

impl OrderView {
    /// Whether the order is done with its saga: confirmed (or shipped, delivered) or
    /// cancelled. What a long poll (`GET /api/v1/orders/{id}?wait=`) waits for.
    pub fn is_settled(&self) -> bool {
        matches!(
            self.status.as_str(),
            "confirmed" | "shipped" | "delivered" | "cancelled"
        )
    }
}

impl From<OrderRow> for OrderView {
    fn from(row: OrderRow) -> Self {
        let currency =
            crate::money::Currency::try_from(row.currency).unwrap_or(crate::money::Currency::USD);
        Self {
            id: row.order_id,
            customer_id: row.customer_id,
            status: row.status,
            items: row.items.iter().map(LineView::from).collect(),
            total: MoneyView {
                cents: row.total_cents,
                currency,
            },
            payment_status: row.payment_status,
            inventory_status: row.inventory_status,
            cancellation_reason: row.cancellation_reason,
            created_at: rfc3339_micros(row.created_at),
            updated_at: rfc3339_micros(row.updated_at),
        }
    }
}

/// A page of orders, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderPage {
    /// The orders.
    pub orders: Vec<OrderView>,
    /// The page size asked for (1–100).
    pub limit: u32,
    /// How many were skipped.
    pub offset: u32,
}

/// An order accepted for processing (202): the saga takes it from here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderAccepted {
    /// The order id.
    pub order_id: String,
    /// Where to watch it.
    pub location: String,
}

/// An order's state from its own events (as of a version, for time travel).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderStateView {
    /// Lifecycle status at that version.
    pub status: String,
    /// Who ordered.
    pub customer_id: String,
    /// What.
    pub items: Vec<LineView>,
    /// The total.
    pub total: Option<MoneyView>,
    /// Why it was cancelled.
    pub cancellation_reason: Option<String>,
    /// The carrier's tracking number.
    pub tracking_number: Option<String>,
}

impl From<&Order> for OrderStateView {
    fn from(order: &Order) -> Self {
        Self {
            status: order.status.to_string(),
            customer_id: order.customer_id.clone(),
            items: order.lines.iter().map(LineView::from).collect(),
            total: order.total.map(MoneyView::from),
            cancellation_reason: order.cancellation_reason.clone(),
            tracking_number: order.tracking_number.clone(),
        }
    }
}

/// One event of an order's history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HistoryEventView {
    /// Its version in the order's stream (from 1).
    pub version: u64,
    /// Its type, e.g. `OrderPlaced`.
    pub event_type: String,
    /// When it was recorded.
    pub recorded_at: String,
    /// The request it belongs to.
    pub correlation_id: Option<String>,
    /// The event's content.
    #[schema(value_type = Object)]
    pub data: Value,
}

impl From<&HistoryEntry> for HistoryEventView {
    fn from(entry: &HistoryEntry) -> Self {
        Self {
            version: entry.version,
            event_type: entry.event_type.clone(),
            recorded_at: rfc3339(entry.recorded_at),
            correlation_id: entry.correlation_id.map(|id| id.to_string()),
            data: serde_json::to_value(&entry.event).unwrap_or(Value::Null),
        }
    }
}

/// An order's events up to a version, and its state as of that version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OrderHistoryView {
    /// The order id.
    pub order_id: String,
    /// The version shown (the latest unless `as_of` asked for an earlier one).
    pub version: u64,
    /// The events up to that version, oldest first.
    pub events: Vec<HistoryEventView>,
    /// The state as of that version.
    pub state: OrderStateView,
}

/// An order's payment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PaymentView {
    /// The order.
    pub order_id: String,
    /// `completed`, `failed` or `refunded`.
    pub status: String,
    /// The provider's payment id, once completed.
    pub payment_id: Option<String>,
    /// What was charged.
    pub paid: Option<MoneyView>,
    /// What was refunded so far, in cents.
    pub refunded_cents: i64,
}

impl PaymentView {
    /// The view of `order_id`'s `payment`.
    pub fn new(order_id: &str, payment: &Payment) -> Self {
        Self {
            order_id: order_id.to_owned(),
            status: payment.status.to_string(),
            payment_id: payment.payment_id.clone(),
            paid: payment.paid.map(MoneyView::from),
            refunded_cents: payment.refunded_cents,
        }
    }
}

/// A count by status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StatusCount {
    /// The status.
    pub status: String,
    /// How many.
    pub count: i64,
}

/// Confirmed revenue on one day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DayRevenue {
    /// The day, `YYYY-MM-DD` (UTC).
    pub day: String,
    /// Revenue in cents.
    pub cents: i64,
}

/// Units of a product sold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProductUnits {
    /// The product.
    pub product_id: String,
    /// Units in confirmed orders.
    pub units: i64,
}

/// One customer's totals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CustomerTotals {
    /// The customer.
    pub customer_id: String,
    /// Orders placed.
    pub orders: i64,
    /// Confirmed revenue in cents.
    pub revenue_cents: i64,
}

/// The analytics report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AnalyticsView {
    /// Orders per current status.
    pub orders_per_status: Vec<StatusCount>,
    /// Confirmed revenue per day, oldest first.
    pub revenue_per_day: Vec<DayRevenue>,
    /// Best-selling products, most first.
    pub top_products: Vec<ProductUnits>,
    /// Per-customer totals.
    pub customers: Vec<CustomerTotals>,
}

impl From<AnalyticsReport> for AnalyticsView {
    fn from(report: AnalyticsReport) -> Self {
        Self {
            orders_per_status: report
                .orders_per_status
                .into_iter()
                .map(|(status, count)| StatusCount { status, count })
                .collect(),
            revenue_per_day: report
                .revenue_per_day
                .into_iter()
                .map(|(day, cents)| DayRevenue {
                    day: date(day),
                    cents,
                })
                .collect(),
            top_products: report
                .top_products
                .into_iter()
                .map(|(product_id, units)| ProductUnits { product_id, units })
                .collect(),
            customers: report
                .customers
                .into_iter()
                .map(|(customer_id, orders, revenue_cents)| CustomerTotals {
                    customer_id,
                    orders,
                    revenue_cents,
                })
                .collect(),
        }
    }
}
