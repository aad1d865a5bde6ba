//! The recap's arithmetic, kind by kind, with every figure non-zero: the
//! integration tests' histories have no lost dispute, no failed refund and
//! no tax together, so a sign or an arm could go wrong unseen there.

use super::*;

fn group(kind: JournalKind, status: JournalStatus, amount: i64) -> MovementGroup {
    MovementGroup {
        kind,
        status,
        bucket: "2026-11-30".to_owned(),
        promo: None,
        amount,
        discount: 7,
        row_count: 3,
    }
}

fn recap_of(kind: JournalKind, status: JournalStatus, amount: i64) -> Option<Recap> {
    group(kind, status, amount).recap()
}

#[test]
fn each_kind_moves_its_own_figure_with_its_sign() {
    use JournalKind as K;
    use JournalStatus as S;
    let income = Recap {
        gross: 1000,
        discounts: 7,
        orders: 3,
        ..Recap::default()
    };
    assert_eq!(recap_of(K::Income, S::Success, 1000), Some(income));
    let only = |f: fn(&mut Recap)| {
        let mut recap = Recap::default();
        f(&mut recap);
        Some(recap)
    };
    assert_eq!(
        recap_of(K::Refund, S::Success, 400),
        only(|r| r.refunds = 400)
    );
    // A refund the bank failed gives the money back: refunds go down.
    assert_eq!(
        recap_of(K::RefundReversed, S::Success, 400),
        only(|r| r.refunds = -400)
    );
    // Only a lost dispute (`failed`) is money gone.
    assert_eq!(
        recap_of(K::Dispute, S::Failed, 250),
        only(|r| r.disputes = 250)
    );
    assert_eq!(recap_of(K::Dispute, S::Pending, 250), None);
    assert_eq!(recap_of(K::Tax, S::Success, 90), only(|r| r.tax = 90));
    assert_eq!(
        recap_of(K::TaxRefunded, S::Success, 30),
        only(|r| r.tax = -30)
    );
    assert_eq!(recap_of(K::PaymentInitiated, S::Pending, 1000), None);
}

#[test]
fn net_is_gross_less_refunds_and_lost_disputes_and_net_of_tax_less_the_tax() {
    let recap = Recap {
        gross: 10_000,
        discounts: 500,
        refunds: 1_200,
        disputes: 300,
        orders: 4,
        tax: 900,
    };
    assert_eq!(recap.net(), 8_500);
    assert_eq!(recap.net_of_tax(), 7_600);
}

#[test]
fn merging_adds_every_figure_into_every_bucket() {
    let recap = |n: i64| Recap {
        gross: n,
        discounts: 2 * n,
        refunds: 3 * n,
        disputes: 4 * n,
        orders: 5 * n,
        tax: 6 * n,
    };
    let report = |n: i64, day: &str| Report {
        total: recap(n),
        by_day: BTreeMap::from([(day.to_owned(), recap(n))]),
        by_month: BTreeMap::from([("2026-11".to_owned(), recap(n))]),
        by_course: BTreeMap::from([("Rust".to_owned(), recap(n))]),
        by_promo: BTreeMap::from([("TEN".to_owned(), recap(n))]),
    };
    let mut merged = report(1, "2026-11-29");
    merged.merge(report(10, "2026-11-30"));
    assert_eq!(merged.total, recap(11));
    assert_eq!(merged.by_month["2026-11"], recap(11));
    assert_eq!(merged.by_course["Rust"], recap(11));
    assert_eq!(merged.by_promo["TEN"], recap(11));
    assert_eq!(merged.by_day["2026-11-29"], recap(1));
    assert_eq!(merged.by_day["2026-11-30"], recap(10));
}

#[test]
fn the_cache_keeps_the_recap_that_covers_the_most_seals() {
    let covering = |gross: i64| Report {
        total: Recap {
            gross,
            ..Recap::default()
        },
        ..Report::default()
    };
    let kept = |cache: &RevenueCache| {
        let kept = cache.lock();
        (kept.0, kept.1.total.gross)
    };
    let cache = RevenueCache::default();
    cache.keep(5, &covering(500));
    assert_eq!(kept(&cache), (5, 500), "a first recap is kept");
    cache.keep(3, &covering(300));
    assert_eq!(
        kept(&cache),
        (5, 500),
        "a slower view's older recap does not replace it"
    );
    cache.keep(5, &covering(501));
    assert_eq!(kept(&cache), (5, 500), "nor does one that covers no more");
    cache.keep(7, &covering(700));
    assert_eq!(kept(&cache), (7, 700), "a newer one does");
}
