//! Tests of the pricing rules: discounts, tax, rounding.

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
    // By remainder, not by size: 3 × 5/7 = 2 r1, 3 × 2/7 = 0 r6.
    assert_eq!(allocate(3, &[5, 2]), vec![2, 1]);
    // 5 over 1:2:4 = 0 r5, 1 r3, 2 r6: the two largest remainders win.
    assert_eq!(allocate(5, &[1, 2, 4]), vec![1, 1, 3]);
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
fn inclusive_tax_is_the_part_of_the_price_that_is_tax_and_adds_up_per_line() {
    let ppn = Some(TaxRate {
        bps: 1_100,
        inclusive: true,
    });
    // Rp 111.000 incl. 11 % PPN: Rp 100.000 + Rp 11.000.
    let q = with_tax(quote(&[line(1, 11_100_000)], None, |_| true, 100), ppn, 100);
    assert_eq!((q.total_cents, q.tax_cents), (11_100_000, 1_100_000));
    // Many odd lines with a promo: the total never moves, line taxes
    // add up to the order's, each line's is rounded to whole rupiah.
    let lines: Vec<PriceLine> = (1..=17).map(|i| line(i, 1_000_000 + i * 3_700)).collect();
    let discounted = quote(&lines, Some(Discount::PercentBps(1_234)), |_| true, 100);
    let q = with_tax(discounted.clone(), ppn, 100);
    assert_eq!(q.total_cents, discounted.total_cents);
    assert_eq!(
        q.lines.iter().map(|l| l.tax_cents).sum::<i64>(),
        q.tax_cents
    );
    assert!(
        q.lines
            .iter()
            .all(|l| l.tax_cents % 100 == 0 && l.tax_cents <= l.total_cents)
    );
    let exact = discounted.total_cents as f64 * 1_100.0 / 11_100.0;
    assert!(
        (q.tax_cents as f64 - exact).abs() <= 50.0,
        "{} vs {exact}",
        q.tax_cents
    );
}

#[test]
fn tax_on_top_raises_the_total_by_exactly_the_lines_taxes() {
    let vat = Some(TaxRate {
        bps: 1_900,
        inclusive: false,
    });
    let lines = [line(1, 8_900), line(2, 4_900), line(3, 333)];
    let q = with_tax(
        quote(&lines, Some(Discount::PercentBps(1_000)), |_| true, 1),
        vat,
        1,
    );
    // 14 133 - 1 413 (10 %, half-up) = 12 720; 19 % of it = 2 416.8 -> 2 417.
    assert_eq!(
        (q.discount_cents, q.tax_cents, q.total_cents),
        (1_413, 2_417, 15_137)
    );
    assert_eq!(q.lines.iter().map(|l| l.tax_cents).sum::<i64>(), 2_417);
    assert_eq!(
        q.lines
            .iter()
            .map(|l| l.total_cents + l.tax_cents)
            .sum::<i64>(),
        q.total_cents
    );
    // No rate, or a zero one, changes nothing.
    let plain = quote(&lines, None, |_| true, 1);
    assert_eq!(with_tax(plain.clone(), None, 1), plain);
    assert_eq!(
        with_tax(
            plain.clone(),
            Some(TaxRate {
                bps: 0,
                inclusive: false
            }),
            1
        ),
        plain
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

#[test]
fn a_refund_carries_its_share_of_the_tax_rounded_half_up() {
    // 10.00 of a 124.20 order holding 12.31 of tax: 0.99112... -> 0.99.
    assert_eq!(share_of(1_000, 1_231, 12_420, 1), 99);
    // 62.10 of it: exactly half of 12.31 = 6.155 -> 6.16 (half up).
    assert_eq!(share_of(6_210, 1_231, 12_420, 1), 616);
    // All of it (or more): all the tax, never more.
    assert_eq!(share_of(12_420, 1_231, 12_420, 1), 1_231);
    assert_eq!(share_of(20_000, 1_231, 12_420, 1), 1_231);
    // One cent short of all: still rounded, not the whole.
    assert_eq!(share_of(12_419, 1_231, 12_420, 1), 1_231);
    assert_eq!(share_of(12_300, 1_231, 12_420, 1), 1_219);
    // Whole rupiah stay whole: Rp 100,000 of Rp 799,000 holding Rp 79,180.
    assert_eq!(share_of(10_000_000, 7_918_000, 79_900_000, 100), 991_000);
    // Nothing to share, nothing shared; never negative.
    assert_eq!(share_of(0, 1_231, 12_420, 1), 0);
    assert_eq!(share_of(-5, 1_231, 12_420, 1), 0);
    assert_eq!(share_of(1_000, 0, 12_420, 1), 0);
    assert_eq!(share_of(1_000, -1, 12_420, 1), 0);
    assert_eq!(share_of(1_000, 1_231, 0, 1), 0);
    assert_eq!(share_of(1_000, 1_231, -1, 1), 0);
}

#[test]
fn nothing_to_weigh_by_gets_nothing() {
    assert_eq!(allocate(5, &[0, 0]), vec![0, 0]);
    assert_eq!(allocate(0, &[3, 4]), vec![0, 0]);
    assert_eq!(allocate(7, &[]), Vec::<i64>::new());
}

#[test]
fn whole_units_only_when_the_total_and_every_weight_are_whole() {
    // In units of 100 (as rupiah are rounded): whole units in, whole out.
    assert_eq!(allocate_in(1_000, &[1_500, 2_500], 100), vec![400, 600]);
    // A weight that is not whole: minor units (112.5 + 187.5, the tie to
    // the first line), not whole hundreds (100 + 200).
    assert_eq!(allocate_in(300, &[150, 250], 100), vec![113, 187]);
    // A total that is not whole: minor units too.
    assert_eq!(allocate_in(1_050, &[1_500, 2_500], 100), vec![394, 656]);
}
