//! The shape of the code, checked: statuses and kinds are written only as
//! types, service modules do not import each other in a circle, and no
//! source file grows past what one person reads in a sitting.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use kasir::domain::{
    AccessEnd, DisputeStatus, IntentStatus, JournalKind, JournalStatus, OrderStatus, PromoKind,
    Provider, RedemptionStatus, RefundStatus, Role, StripeEvent,
};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files(&path, ext));
        } else if path.extension().is_some_and(|e| e == ext) {
            found.push(path);
        }
    }
    found.sort();
    found
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Values of kasir's own vocabularies: written only through their enums.
fn own_vocabulary() -> BTreeSet<&'static str> {
    let mut words = BTreeSet::new();
    words.extend(OrderStatus::ALL.iter().map(|v| v.as_str()));
    words.extend(JournalKind::ALL.iter().map(|v| v.as_str()));
    words.extend(JournalStatus::ALL.iter().map(|v| v.as_str()));
    words.extend(PromoKind::ALL.iter().map(|v| v.as_str()));
    words.extend(RedemptionStatus::ALL.iter().map(|v| v.as_str()));
    words.extend(Provider::ALL.iter().map(|v| v.as_str()));
    words.extend(Role::ALL.iter().map(|v| v.as_str()));
    words.extend(AccessEnd::ALL.iter().map(|v| v.as_str()));
    words
}

/// Stripe's words: also allowed in `src/payments`, the Stripe adapter.
fn stripe_vocabulary() -> BTreeSet<&'static str> {
    let mut words = BTreeSet::new();
    words.extend(
        IntentStatus::ALL
            .iter()
            .filter(|v| **v != IntentStatus::Unknown)
            .map(|v| v.as_str()),
    );
    words.extend(DisputeStatus::ALL.iter().map(|v| v.as_str()));
    words.extend(RefundStatus::ALL.iter().map(|v| v.as_str()));
    words.extend(StripeEvent::ALL.iter().map(|v| v.as_str()));
    words
}

#[test]
fn statuses_kinds_and_providers_are_written_only_as_types() {
    let own = own_vocabulary();
    let stripe = stripe_vocabulary();
    let mut found = Vec::new();
    for path in files(&root().join("src"), "rs") {
        let name = relative(&path);
        if name.starts_with("src/domain/") || name == "src/db/schema.rs" {
            continue;
        }
        // Stripe's object names ("refund", "dispute") key its fixtures.
        let stripe_json = name == "src/payments/stripe_json.rs";
        let in_payments = name.starts_with("src/payments/");
        let text = std::fs::read_to_string(&path).unwrap();
        // Unit tests (last in a file) say what they test in plain words.
        for (n, line) in text
            .lines()
            .take_while(|l| l.trim() != "#[cfg(test)]")
            .enumerate()
        {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for word in line.split('"').skip(1).step_by(2) {
                let ours = own.contains(word) && !stripe_json;
                let theirs = stripe.contains(word) && !in_payments;
                if ours || theirs {
                    found.push(format!("{name}:{}: \"{word}\"", n + 1));
                }
            }
        }
    }
    // Templates: menus and comparisons loop over the enums' `ALL`.
    for path in files(&root().join("templates"), "html") {
        let name = relative(&path);
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            for word in own.iter().chain(stripe.iter()) {
                if line.contains(&format!("value=\"{word}\""))
                    || line.contains(&format!("== \"{word}\""))
                    || line.contains(&format!("\"{word}\","))
                {
                    found.push(format!("{name}:{}: \"{word}\"", n + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "literals that belong in src/domain as enum values:\n{}",
        found.join("\n")
    );
}

#[test]
fn service_modules_import_each_other_in_no_circle() {
    let services = root().join("src/services");
    // module name (first path segment under services) -> the service
    // modules it imports.
    let mut imports: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in files(&services, "rs") {
        let rel = path.strip_prefix(&services).unwrap();
        let module = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if module == "mod" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let entry = imports.entry(module.clone()).or_default();
        for part in text.split("crate::services::").skip(1) {
            let target: String = part
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !target.is_empty() && target != module {
                entry.insert(target);
            }
        }
    }
    // Depth-first search for a back edge.
    fn visit(
        node: &str,
        imports: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in imports.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, imports, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for module in imports.keys() {
        let cycle = visit(module, &imports, &mut Vec::new(), &mut done);
        assert!(
            cycle.is_none(),
            "service modules import each other: {cycle:?}"
        );
    }
    assert!(
        imports["checkout"].contains("order_lifecycle"),
        "the graph was read: checkout uses the lifecycle"
    );
}

#[test]
fn no_source_file_is_over_four_hundred_lines() {
    let long: Vec<String> = files(&root().join("src"), "rs")
        .into_iter()
        .filter(|p| !p.ends_with("db/schema.rs"))
        .filter_map(|p| {
            let lines = std::fs::read_to_string(&p).unwrap().lines().count();
            (lines > 420).then(|| format!("{} ({lines} lines)", relative(&p)))
        })
        .collect();
    assert!(long.is_empty(), "split these: {long:?}");
}

#[test]
fn every_transaction_that_writes_takes_the_write_lock_up_front() {
    // A deferred SQLite transaction that reads before it writes fails at
    // once when another writer got there first: writes go through
    // `db::write_transaction` or a `db::WriteGroup` (BEGIN IMMEDIATE on
    // SQLite), both in db/write.rs.
    let deferred: Vec<String> = files(&root().join("src"), "rs")
        .into_iter()
        .filter(|p| !p.ends_with("db/write.rs"))
        .flat_map(|p| {
            let name = relative(&p);
            std::fs::read_to_string(&p)
                .unwrap()
                .lines()
                .enumerate()
                .filter(|(_, line)| {
                    line.contains(".transaction(") && !line.trim_start().starts_with("//")
                })
                .map(|(n, _)| format!("{name}:{}", n + 1))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        deferred.is_empty(),
        "use db::write_transaction: {deferred:?}"
    );
}

#[test]
fn every_insert_struct_binds_its_nones_so_postgresql_keeps_it_prepared() {
    // diesel writes a `None` as DEFAULT by default and then declines to
    // keep the INSERT prepared on PostgreSQL (see src/models/mod.rs).
    let mut unbound = Vec::new();
    for path in files(&root().join("src"), "rs") {
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (n, line) in lines.iter().enumerate() {
            if !(line.trim_start().starts_with("#[derive(") && line.contains("Insertable")) {
                continue;
            }
            let attributes = lines[n + 1..]
                .iter()
                .take_while(|l| l.trim_start().starts_with("#["));
            if !attributes
                .into_iter()
                .any(|l| l.contains("treat_none_as_default_value = false"))
            {
                unbound.push(format!("{}:{}", relative(&path), n + 1));
            }
        }
    }
    assert!(
        unbound.is_empty(),
        "add #[diesel(treat_none_as_default_value = false)]: {unbound:?}"
    );
}
