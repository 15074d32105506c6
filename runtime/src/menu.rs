//! The realtime menu tools (`get_menu`, `add_to_order`) and the menu cache.
//!
//! Fix for *unbounded-cache*: menus live in a `moka::future::Cache` with both
//! a `max_capacity` and a `time_to_live`. Each entry also carries its load
//! time on tokio's clock, so expiry is exact and testable with a paused clock
//! (moka's own clock cannot be paused); moka's TTL still bounds memory in
//! real time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moka::future::Cache;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::time::Instant;

/// One dish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MenuItem {
    pub id: &'static str,
    pub name: &'static str,
    pub category: &'static str,
    pub price_cents: u32,
}

/// A restaurant's menu as loaded at `version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Menu {
    pub restaurant: String,
    pub version: u64,
    pub items: Vec<MenuItem>,
}

const CATALOGUE: [MenuItem; 6] = [
    MenuItem {
        id: "burger",
        name: "Classic Burger",
        category: "mains",
        price_cents: 1150,
    },
    MenuItem {
        id: "veggie",
        name: "Veggie Burger",
        category: "mains",
        price_cents: 1095,
    },
    MenuItem {
        id: "fries",
        name: "Fries",
        category: "sides",
        price_cents: 450,
    },
    MenuItem {
        id: "salad",
        name: "Side Salad",
        category: "sides",
        price_cents: 500,
    },
    MenuItem {
        id: "cola",
        name: "Cola",
        category: "drinks",
        price_cents: 300,
    },
    MenuItem {
        id: "shake",
        name: "Vanilla Shake",
        category: "drinks",
        price_cents: 550,
    },
];

/// The menu source (a built-in catalogue standing in for the menu service).
fn load_menu(restaurant: &str, version: u64) -> Menu {
    Menu {
        restaurant: restaurant.to_owned(),
        version,
        items: CATALOGUE.to_vec(),
    }
}

#[derive(Debug, Clone)]
struct Cached {
    menu: Arc<Menu>,
    loaded_at: Instant,
}

/// Size- and time-bounded cache of menus.
#[derive(Debug)]
pub struct MenuCache {
    cache: Cache<String, Cached>,
    ttl: Duration,
    loads: AtomicU64,
}

impl MenuCache {
    pub fn new(max_entries: u64, ttl: Duration) -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(max_entries)
                .time_to_live(ttl)
                .build(),
            ttl,
            loads: AtomicU64::new(0),
        }
    }

    /// The menu of `restaurant`, loaded if absent or older than the TTL.
    pub async fn get(&self, restaurant: &str) -> Arc<Menu> {
        if let Some(hit) = self.cache.get(restaurant).await
            && hit.loaded_at.elapsed() < self.ttl
        {
            return hit.menu;
        }
        self.refresh(restaurant).await
    }

    /// Reloads the menu of `restaurant` now (used by the refresh job).
    pub async fn refresh(&self, restaurant: &str) -> Arc<Menu> {
        let version = self.loads.fetch_add(1, Ordering::Relaxed) + 1;
        let menu = Arc::new(load_menu(restaurant, version));
        self.cache
            .insert(
                restaurant.to_owned(),
                Cached {
                    menu: Arc::clone(&menu),
                    loaded_at: Instant::now(),
                },
            )
            .await;
        menu
    }

    /// How many times a menu was loaded from the source.
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }

    /// Current number of entries (after applying pending evictions).
    pub async fn entry_count(&self) -> u64 {
        self.cache.run_pending_tasks().await;
        self.cache.entry_count()
    }
}

/// Most lines one order may hold.
pub const MAX_ORDER_LINES: usize = 50;
/// Largest quantity of one line.
pub const MAX_QUANTITY: u32 = 20;

/// One session's order, bounded in lines.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Order {
    pub lines: Vec<OrderLine>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OrderLine {
    pub item_id: String,
    pub quantity: u32,
    pub price_cents: u32,
}

impl Order {
    pub fn total_cents(&self) -> u64 {
        self.lines
            .iter()
            .map(|l| u64::from(l.quantity) * u64::from(l.price_cents))
            .sum()
    }
}

/// A tool call the agent made could not be served.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ToolError {
    #[error("unknown tool {0:?}")]
    UnknownTool(String),
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    #[error("no menu item {0:?}")]
    UnknownItem(String),
    #[error("order is full ({MAX_ORDER_LINES} lines)")]
    OrderFull,
}

#[derive(Debug, Deserialize)]
struct GetMenuArgs {
    category: Option<String>,
}

#[derive(Debug, Deserialize)]
struct AddToOrderArgs {
    item_id: String,
    #[serde(default = "one")]
    quantity: u32,
}

fn one() -> u32 {
    1
}

/// JSON-schema declarations of the tools, sent in `session.update`.
pub fn tool_definitions() -> Value {
    json!([
        {
            "type": "function",
            "name": "get_menu",
            "description": "List the menu, optionally one category (mains, sides, drinks).",
            "parameters": {"type": "object", "properties": {"category": {"type": "string"}}}
        },
        {
            "type": "function",
            "name": "add_to_order",
            "description": "Add an item of the menu to the caller's order.",
            "parameters": {
                "type": "object",
                "properties": {"item_id": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1}},
                "required": ["item_id"]
            }
        }
    ])
}

/// Runs one tool call of the voice agent.
pub async fn call_tool(
    name: &str,
    arguments: &str,
    restaurant: &str,
    menus: &MenuCache,
    order: &mut Order,
) -> Result<Value, ToolError> {
    let arguments = if arguments.trim().is_empty() {
        "{}"
    } else {
        arguments
    };
    match name {
        "get_menu" => {
            let args: GetMenuArgs = serde_json::from_str(arguments)
                .map_err(|e| ToolError::InvalidArguments(e.to_string()))?;
            let menu = menus.get(restaurant).await;
            let items: Vec<&MenuItem> = menu
                .items
                .iter()
                .filter(|i| args.category.as_deref().is_none_or(|c| c == i.category))
                .collect();
            Ok(json!({"restaurant": menu.restaurant, "version": menu.version, "items": items}))
        }
        "add_to_order" => {
            let args: AddToOrderArgs = serde_json::from_str(arguments)
                .map_err(|e| ToolError::InvalidArguments(e.to_string()))?;
            if args.quantity == 0 || args.quantity > MAX_QUANTITY {
                return Err(ToolError::InvalidArguments(format!(
                    "quantity must be 1..={MAX_QUANTITY}, got {}",
                    args.quantity
                )));
            }
            let menu = menus.get(restaurant).await;
            let item = menu
                .items
                .iter()
                .find(|i| i.id == args.item_id)
                .ok_or_else(|| ToolError::UnknownItem(args.item_id.clone()))?;
            if let Some(line) = order.lines.iter_mut().find(|l| l.item_id == item.id) {
                line.quantity = (line.quantity + args.quantity).min(MAX_QUANTITY);
            } else if order.lines.len() >= MAX_ORDER_LINES {
                return Err(ToolError::OrderFull);
            } else {
                order.lines.push(OrderLine {
                    item_id: item.id.to_owned(),
                    quantity: args.quantity,
                    price_cents: item.price_cents,
                });
            }
            Ok(json!({"order": order, "total_cents": order.total_cents()}))
        }
        other => Err(ToolError::UnknownTool(other.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tools_read_menu_and_build_bounded_order() {
        let menus = MenuCache::new(4, Duration::from_secs(60));
        let mut order = Order::default();
        let menu = call_tool(
            "get_menu",
            r#"{"category":"drinks"}"#,
            "r1",
            &menus,
            &mut order,
        )
        .await
        .unwrap();
        assert_eq!(menu["items"].as_array().unwrap().len(), 2);
        let added = call_tool(
            "add_to_order",
            r#"{"item_id":"fries","quantity":3}"#,
            "r1",
            &menus,
            &mut order,
        )
        .await
        .unwrap();
        assert_eq!(added["total_cents"], 1350);
        assert_eq!(
            call_tool(
                "add_to_order",
                r#"{"item_id":"pizza"}"#,
                "r1",
                &menus,
                &mut order
            )
            .await,
            Err(ToolError::UnknownItem("pizza".into()))
        );
        assert!(matches!(
            call_tool("get_menu", "not json", "r1", &menus, &mut order).await,
            Err(ToolError::InvalidArguments(_))
        ));
        assert_eq!(
            call_tool("order_pizza", "{}", "r1", &menus, &mut order).await,
            Err(ToolError::UnknownTool("order_pizza".into()))
        );
        // One load served both tool calls: the cache worked.
        assert_eq!(menus.loads(), 1);
    }
}
