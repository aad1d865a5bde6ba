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
    /// The sales tax the prices included, as an order's copy keeps it.
    #[serde(default)]
    pub tax: Option<TaxLabel>,
}

/// An address's non-blank lines, trimmed.
fn address_lines(address: &str) -> Vec<String> {
    address
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A tax as documents name it: `PPN 11 %`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TaxLabel {
    pub name: String,
    pub bps: i32,
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
                .map(|a| address_lines(&a.replace("\\n", "\n")))
                .unwrap_or_default(),
            tax_id: text("SELLER_TAX_ID"),
            footer: text("INVOICE_FOOTER"),
            tax: None,
        }
    }

    /// The seller with what staff set on the settings page over the
    /// configuration, field by field.
    pub fn with_overrides(&self, set: &crate::models::seller_settings::SellerSettings) -> Self {
        Self {
            name: set.name.clone().unwrap_or_else(|| self.name.clone()),
            address: set
                .address
                .as_deref()
                .map_or_else(|| self.address.clone(), address_lines),
            tax_id: set.tax_id.clone().or_else(|| self.tax_id.clone()),
            footer: set.footer.clone().or_else(|| self.footer.clone()),
            tax: self.tax.clone(),
        }
    }

    /// The copy an order keeps, with the tax its prices include.
    pub fn snapshot(&self, tax: Option<&TaxSettings>) -> String {
        let mut copy = self.clone();
        copy.tax = tax.map(|t| TaxLabel {
            name: t.name.clone(),
            bps: t.rate.bps,
        });
        serde_json::to_string(&copy).unwrap_or_default()
    }

    /// An order's copy; `None` for orders placed before sellers were kept.
    pub fn from_snapshot(json: Option<&str>) -> Option<Self> {
        json.and_then(|j| serde_json::from_str(j).ok())
    }
}

/// The shop's sales tax: `TAX_RATE_BPS` (basis points, 1100 = 11 %; unset
/// or 0: no tax), `TAX_INCLUSIVE` (`true`: prices include it, as
/// Indonesian consumer prices include PPN; `false`: added on top) and
/// `TAX_NAME` (`PPN`, `VAT`; default `Tax`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaxSettings {
    pub rate: crate::services::pricing::TaxRate,
    pub name: String,
}

impl TaxSettings {
    pub(super) fn from_vars(var: &impl Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        let bps = match var("TAX_RATE_BPS").map(|v| v.trim().to_owned()) {
            None => return Ok(None),
            Some(v) if v.is_empty() => return Ok(None),
            Some(v) => v
                .parse::<i32>()
                .ok()
                .filter(|b| (0..=10_000).contains(b))
                .ok_or_else(|| {
                    format!(
                        "TAX_RATE_BPS must be basis points from 0 to 10000 (1100 = 11 %), not {v:?}"
                    )
                })?,
        };
        let inclusive = match var("TAX_INCLUSIVE").as_deref().map(str::trim) {
            None | Some("" | "true" | "1" | "yes") => true,
            Some("false" | "0" | "no") => false,
            Some(other) => {
                return Err(format!(
                    "TAX_INCLUSIVE must be true or false, not {other:?}"
                ));
            }
        };
        let name = var("TAX_NAME")
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "Tax".to_owned());
        Ok((bps > 0).then_some(Self {
            rate: crate::services::pricing::TaxRate { bps, inclusive },
            name,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tax(pairs: &[(&str, &str)]) -> Result<Option<TaxSettings>, String> {
        let vars: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        TaxSettings::from_vars(&|name: &str| vars.get(name).cloned())
    }

    #[test]
    fn tax_is_off_unless_a_rate_is_set_and_prices_include_it_unless_told() {
        assert_eq!(tax(&[]), Ok(None));
        assert_eq!(tax(&[("TAX_RATE_BPS", "0")]), Ok(None));
        let ppn = tax(&[("TAX_RATE_BPS", "1100"), ("TAX_NAME", "PPN")])
            .unwrap()
            .unwrap();
        assert_eq!(
            (ppn.rate.bps, ppn.rate.inclusive, ppn.name.as_str()),
            (1_100, true, "PPN")
        );
        assert!(
            tax(&[("TAX_RATE_BPS", "11%")])
                .unwrap_err()
                .contains("basis points")
        );
        assert!(tax(&[("TAX_RATE_BPS", "10001")]).is_err());
        let vat = tax(&[("TAX_RATE_BPS", "1900"), ("TAX_INCLUSIVE", "false")])
            .unwrap()
            .unwrap();
        assert_eq!(
            (vat.rate.bps, vat.rate.inclusive, vat.name.as_str()),
            (1_900, false, "Tax")
        );
        assert!(tax(&[("TAX_RATE_BPS", "1900"), ("TAX_INCLUSIVE", "maybe")]).is_err());
    }
}
