//! Who the shop's invoices are from.

/// The seller as invoices and credit notes name it; each order keeps a
/// copy (JSON) from when it was placed.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Seller {
    pub name: String,
    /// Lines of the postal address (`\n` in the variable starts a line).
    pub address: Vec<String>,
    /// NPWP, VAT number, or whatever the shop's country uses.
    pub tax_id: Option<String>,
    /// Printed at the bottom of every invoice (bank details, legal notes).
    pub footer: Option<String>,
}

impl Seller {
    pub(super) fn from_vars(var: &impl Fn(&str) -> Option<String>) -> Self {
        let text = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Self {
            name: text("SELLER_NAME").unwrap_or_else(|| "kasir".to_owned()),
            address: text("SELLER_ADDRESS")
                .map(|a| {
                    a.replace("\\n", "\n")
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            tax_id: text("SELLER_TAX_ID"),
            footer: text("INVOICE_FOOTER"),
        }
    }

    /// The copy an order keeps.
    pub fn snapshot(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// An order's copy; `None` for orders placed before sellers were kept.
    pub fn from_snapshot(json: Option<&str>) -> Option<Self> {
        json.and_then(|j| serde_json::from_str(j).ok())
    }
}
