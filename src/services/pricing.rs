//! Prices an order on the server: lines, a discount spread over the lines it
//! applies to, totals. Integer minor units throughout; bigdecimal only for
//! the percentage, rounded half-up to the currency's smallest written unit
//! (a cent; a whole rupiah, whose sen nobody uses).

use bigdecimal::{BigDecimal, RoundingMode, ToPrimitive};

use crate::models::CourseId;

/// A course as it will be sold: the price is read from the course now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceLine {
    pub course_id: CourseId,
    pub title: String,
    pub unit_price_cents: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PricedLine {
    pub course_id: CourseId,
    pub title: String,
    pub unit_price_cents: i64,
    pub discount_cents: i64,
    /// What the line costs after its discount, tax included when prices
    /// include it, without it when tax is added on top.
    pub total_cents: i64,
    /// The tax in (or on top of) `total_cents`.
    pub tax_cents: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quote {
    pub lines: Vec<PricedLine>,
    pub subtotal_cents: i64,
    pub discount_cents: i64,
    /// The tax in the total (it includes it either way).
    pub tax_cents: i64,
    /// What the buyer pays.
    pub total_cents: i64,
}

/// A sales tax (PPN, VAT): its rate, and whether prices include it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaxRate {
    /// Basis points: 1 100 = 11 %.
    pub bps: i32,
    /// Prices include the tax (Indonesian consumer prices do); else it is
    /// added on top.
    pub inclusive: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Discount {
    /// Basis points: 1 = 0.01 %, 10 000 = 100 %.
    PercentBps(i32),
    /// Minor units, capped at what the eligible lines cost.
    Fixed(i64),
}

/// `value × num / den`, rounded half-up to a multiple of `unit` minor
/// units (bigdecimal, never a float), between 0 and `value`.
fn scaled(value: i64, num: i64, den: i64, unit: i64) -> i64 {
    let unit = unit.max(1);
    let exact = BigDecimal::from(value) * BigDecimal::from(num)
        / BigDecimal::from(den)
        / BigDecimal::from(unit);
    exact
        .with_scale_round(0, RoundingMode::HalfUp)
        .to_i64()
        .map_or(value, |units| units.saturating_mul(unit))
        .clamp(0, value)
}

/// `bps` of `amount`, rounded half-up to a multiple of `unit` minor units.
pub fn percent_of(amount: i64, bps: i32, unit: i64) -> i64 {
    scaled(amount, i64::from(bps), 10_000, unit)
}

/// `amount`'s share of a `part` of `whole` (the tax in a refund: `part`
/// is the order's tax, `whole` its total), rounded half-up to `unit`.
pub fn share_of(amount: i64, part: i64, whole: i64, unit: i64) -> i64 {
    if whole <= 0 || part <= 0 || amount <= 0 {
        return 0;
    }
    if amount >= whole {
        return part;
    }
    scaled(part, amount, whole, unit)
}

/// Prices the lines; `discount` applies to the lines `eligible` accepts,
/// in multiples of `unit` minor units (see [`crate::domain::Currency::rounding_unit`]).
pub fn quote(
    lines: &[PriceLine],
    discount: Option<Discount>,
    eligible: impl Fn(CourseId) -> bool,
    unit: i64,
) -> Quote {
    let subtotal_cents = lines.iter().map(|l| l.unit_price_cents).sum::<i64>();
    let eligible_idx: Vec<usize> = (0..lines.len())
        .filter(|&i| eligible(lines[i].course_id))
        .collect();
    let eligible_sum: i64 = eligible_idx
        .iter()
        .map(|&i| lines[i].unit_price_cents)
        .sum();
    let discount_total = match discount {
        None => 0,
        Some(Discount::PercentBps(bps)) => percent_of(eligible_sum, bps, unit),
        Some(Discount::Fixed(amount)) => amount.clamp(0, eligible_sum),
    };
    let weights: Vec<i64> = eligible_idx
        .iter()
        .map(|&i| lines[i].unit_price_cents)
        .collect();
    let shares = allocate_in(discount_total, &weights, unit);
    let mut line_discounts = vec![0; lines.len()];
    for (share, &i) in shares.into_iter().zip(&eligible_idx) {
        line_discounts[i] = share;
    }
    let priced: Vec<PricedLine> = lines
        .iter()
        .zip(line_discounts)
        .map(|(line, discount_cents)| PricedLine {
            course_id: line.course_id,
            title: line.title.clone(),
            unit_price_cents: line.unit_price_cents,
            discount_cents,
            total_cents: line.unit_price_cents - discount_cents,
            tax_cents: 0,
        })
        .collect();
    Quote {
        lines: priced,
        subtotal_cents,
        discount_cents: discount_total,
        tax_cents: 0,
        total_cents: subtotal_cents - discount_total,
    }
}

/// Adds `tax` to a quote: computed once on what the lines cost after
/// discounts (rounded half-up to `unit`, like discounts), then spread over
/// the lines by the same largest-remainder rule, so the lines' taxes add
/// up to the order's exactly. Inclusive: the total stays, the tax is the
/// part of it that is tax (`total × r / (1 + r)`). On top: the total
/// grows by the tax.
pub fn with_tax(mut quote: Quote, tax: Option<TaxRate>, unit: i64) -> Quote {
    // A rate of 0 computes a tax of 0 below: no special case.
    let Some(tax) = tax else {
        return quote;
    };
    let net = quote.total_cents;
    let bps = i64::from(tax.bps);
    let tax_total = if tax.inclusive {
        scaled(net, bps, 10_000 + bps, unit)
    } else {
        percent_of(net, tax.bps, unit)
    };
    let weights: Vec<i64> = quote.lines.iter().map(|l| l.total_cents).collect();
    let shares = allocate_in(tax_total, &weights, unit);
    for (line, share) in quote.lines.iter_mut().zip(shares) {
        line.tax_cents = share;
    }
    quote.tax_cents = tax_total;
    if !tax.inclusive {
        quote.total_cents = net + tax_total;
    }
    quote
}

/// [`allocate`] in whole `unit`s when the total and every weight are
/// whole units (whole rupiah stay whole); else in minor units.
fn allocate_in(total: i64, weights: &[i64], unit: i64) -> Vec<i64> {
    let unit = unit.max(1);
    if total % unit == 0 && weights.iter().all(|w| w % unit == 0) {
        // Weights in minor units weigh the same as in whole units.
        allocate(total / unit, weights)
            .into_iter()
            .map(|share| share * unit)
            .collect()
    } else {
        allocate(total, weights)
    }
}

/// Splits `total` over `weights` in proportion, in whole minor units that
/// add up exactly; leftover units go to the largest remainders first.
/// `total` is at most the weights' sum (a discount or a tax never exceeds
/// what it is spread over), so no share exceeds its weight: a share gets a
/// leftover unit only when its exact part had a fraction, so it was below
/// its weight.
fn allocate(total: i64, weights: &[i64]) -> Vec<i64> {
    let sum: i128 = weights.iter().map(|&w| i128::from(w)).sum();
    if sum == 0 || total == 0 {
        return vec![0; weights.len()];
    }
    debug_assert!(i128::from(total) <= sum, "{total} spread over {sum}");
    let mut shares = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    for (i, &w) in weights.iter().enumerate() {
        let exact = i128::from(total) * i128::from(w);
        shares.push((exact / sum) as i64);
        remainders.push((exact % sum, i));
    }
    let left = total - shares.iter().sum::<i64>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in remainders.into_iter().take(left as usize) {
        shares[i] += 1;
    }
    shares
}

#[cfg(test)]
#[path = "pricing_tests.rs"]
mod tests;
