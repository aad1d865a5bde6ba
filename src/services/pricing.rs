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
    pub total_cents: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quote {
    pub lines: Vec<PricedLine>,
    pub subtotal_cents: i64,
    pub discount_cents: i64,
    pub total_cents: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Discount {
    /// Basis points: 1 = 0.01 %, 10 000 = 100 %.
    PercentBps(i32),
    /// Minor units, capped at what the eligible lines cost.
    Fixed(i64),
}

/// `bps` of `amount`, rounded half-up to a multiple of `unit` minor units.
pub fn percent_of(amount: i64, bps: i32, unit: i64) -> i64 {
    let unit = unit.max(1);
    let exact = BigDecimal::from(amount) * BigDecimal::from(bps)
        / BigDecimal::from(10_000)
        / BigDecimal::from(unit);
    exact
        .with_scale_round(0, RoundingMode::HalfUp)
        .to_i64()
        .map_or(amount, |units| units.saturating_mul(unit))
        .clamp(0, amount)
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
    // Whole units per line when everything is in whole units; else cents.
    let unit = unit.max(1);
    let shares = if discount_total % unit == 0 && weights.iter().all(|w| w % unit == 0) {
        let units: Vec<i64> = weights.iter().map(|w| w / unit).collect();
        allocate(discount_total / unit, &units)
            .into_iter()
            .map(|share| share * unit)
            .collect()
    } else {
        allocate(discount_total, &weights)
    };
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
        })
        .collect();
    Quote {
        lines: priced,
        subtotal_cents,
        discount_cents: discount_total,
        total_cents: subtotal_cents - discount_total,
    }
}

/// Splits `total` over `weights` in proportion, in whole minor units that
/// add up exactly; leftover units go to the largest remainders first.
fn allocate(total: i64, weights: &[i64]) -> Vec<i64> {
    let sum: i128 = weights.iter().map(|&w| i128::from(w)).sum();
    if sum == 0 || total == 0 {
        return vec![0; weights.len()];
    }
    let mut shares = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    for (i, &w) in weights.iter().enumerate() {
        let exact = i128::from(total) * i128::from(w);
        shares.push((exact / sum) as i64);
        remainders.push((exact % sum, i));
    }
    let mut left = total - shares.iter().sum::<i64>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in remainders {
        if left == 0 {
            break;
        }
        if shares[i] < weights[i] {
            shares[i] += 1;
            left -= 1;
        }
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: i64, price: i64) -> PriceLine {
        PriceLine {
            course_id: CourseId(id),
            title: format!("c{id}"),
            unit_price_cents: price,
        }
    }

    #[test]
    fn percent_rounds_half_up_to_the_minor_unit() {
        assert_eq!(percent_of(8_900, 1_000, 1), 890); // 10 % of $89.00
        assert_eq!(percent_of(1_005, 5_000, 1), 503); // 502.5 -> 503
        assert_eq!(percent_of(1_003, 5_000, 1), 502); // 501.5 -> 502
        assert_eq!(percent_of(999, 3_333, 1), 333); // 332.9667 -> 333
        assert_eq!(percent_of(4_900, 10_000, 1), 4_900);
        assert_eq!(percent_of(0, 2_500, 1), 0);
        // JPY has no minor unit below the yen: ¥4,900 at 15 % = ¥735.
        assert_eq!(percent_of(4_900, 1_500, 1), 735);
    }

    #[test]
    fn a_discount_is_spread_over_eligible_lines_and_adds_up() {
        let lines = [line(1, 8_900), line(2, 6_900), line(3, 4_900)];
        let q = quote(&lines, Some(Discount::PercentBps(1_000)), |_| true, 1);
        assert_eq!(q.subtotal_cents, 20_700);
        assert_eq!(q.discount_cents, 2_070);
        assert_eq!(q.total_cents, 18_630);
        assert_eq!(q.lines.iter().map(|l| l.discount_cents).sum::<i64>(), 2_070);
        assert_eq!(
            q.lines.iter().map(|l| l.total_cents).sum::<i64>(),
            q.total_cents
        );
        assert_eq!(q.lines[0].discount_cents, 890);
    }

    #[test]
    fn a_restricted_code_discounts_only_its_courses() {
        let lines = [line(1, 8_900), line(2, 6_900)];
        let q = quote(
            &lines,
            Some(Discount::PercentBps(5_000)),
            |id| id == CourseId(2),
            1,
        );
        assert_eq!(q.discount_cents, 3_450);
        assert_eq!(q.lines[0].discount_cents, 0);
        assert_eq!(q.lines[1].discount_cents, 3_450);
        assert_eq!(q.total_cents, 12_350);
    }

    #[test]
    fn a_fixed_discount_is_capped_at_what_it_applies_to() {
        let lines = [line(1, 1_000), line(2, 3_000)];
        let q = quote(
            &lines,
            Some(Discount::Fixed(5_000)),
            |id| id == CourseId(1),
            1,
        );
        assert_eq!(q.discount_cents, 1_000);
        assert_eq!(q.total_cents, 3_000);
        let free = quote(&lines, Some(Discount::Fixed(10_000)), |_| true, 1);
        assert_eq!(free.total_cents, 0);
        assert!(free.lines.iter().all(|l| l.total_cents == 0));
    }

    #[test]
    fn leftover_cents_go_to_the_largest_remainders() {
        // 100 over three equal lines: 34 + 33 + 33.
        assert_eq!(allocate(100, &[500, 500, 500]), vec![34, 33, 33]);
        assert_eq!(allocate(7, &[1, 1, 100]), vec![0, 0, 7]);
        assert_eq!(allocate(3, &[1, 1, 1]), vec![1, 1, 1]);
        for total in 0..=300 {
            let shares = allocate(total, &[99, 101, 100]);
            assert_eq!(shares.iter().sum::<i64>(), total);
            assert!(shares.iter().zip([99, 101, 100]).all(|(s, w)| *s <= w));
        }
    }

    #[test]
    fn rupiah_discounts_are_whole_rupiah() {
        // 0.01 % of Rp299.000 is Rp29,90: rounded to Rp30 (3,000 minor units).
        assert_eq!(percent_of(29_900_000, 1, 100), 3_000);
        let lines = [line(1, 79_900_000), line(2, 29_900_000)];
        let q = quote(&lines, Some(Discount::PercentBps(1_234)), |_| true, 100);
        assert_eq!(q.discount_cents % 100, 0);
        assert!(q.lines.iter().all(|l| l.discount_cents % 100 == 0), "{q:?}");
        assert_eq!(
            q.lines.iter().map(|l| l.discount_cents).sum::<i64>(),
            q.discount_cents
        );
    }

    #[test]
    fn no_discount_means_totals_equal_prices() {
        let q = quote(&[line(1, 4_900)], None, |_| true, 1);
        assert_eq!(
            (q.subtotal_cents, q.discount_cents, q.total_cents),
            (4_900, 0, 4_900)
        );
    }
}
