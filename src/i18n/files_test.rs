//! The message files against the code: every id a template or the code
//! uses exists in both languages, both languages have the same ids, and no
//! id is left that nothing uses.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use regex::Regex;

use crate::domain::{
    AccessEnd, DisputeStatus, JournalKind, JournalStatus, NoteCause, OrderStatus, PromoKind,
    Provider,
};
use crate::error::ErrorPage;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &Path, extension: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            files(&path, extension, out);
        } else if path.extension().is_some_and(|e| e == extension) {
            out.push(path);
        }
    }
}

/// The ids a language's files define.
fn defined(language: &str) -> BTreeSet<String> {
    let mut ftl = Vec::new();
    files(&root().join("locales").join(language), "ftl", &mut ftl);
    let id = Regex::new(r"(?m)^([a-z][a-z0-9-]*)\s*=").expect("regex");
    ftl.iter()
        .flat_map(|path| {
            let text = std::fs::read_to_string(path).expect("readable message file");
            id.captures_iter(&text)
                .map(|c| c[1].to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Ids made at run time: every status and kind a page shows, every error
/// page.
fn dynamic_ids() -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    ids.extend(OrderStatus::ALL.iter().map(|v| v.message_id()));
    ids.extend(JournalKind::ALL.iter().map(|v| v.message_id()));
    ids.extend(JournalStatus::ALL.iter().map(|v| v.message_id()));
    ids.extend(PromoKind::ALL.iter().map(|v| v.message_id()));
    ids.extend(Provider::ALL.iter().map(|v| v.message_id()));
    ids.extend(DisputeStatus::ALL.iter().map(|v| v.message_id()));
    ids.extend(AccessEnd::ALL.iter().map(|v| v.message_id()));
    ids.extend(NoteCause::ALL.iter().map(|v| v.message_id()));
    for status in ErrorPage::STATUSES {
        let page =
            ErrorPage::for_status(actix_web::http::StatusCode::from_u16(status).expect("a status"));
        ids.insert(page.title.id);
        ids.insert(page.message.id);
    }
    ids
}

/// Source text: templates, Rust code, mail templates.
fn sources() -> Vec<(PathBuf, String)> {
    let mut paths = Vec::new();
    files(&root().join("templates"), "html", &mut paths);
    files(&root().join("templates"), "txt", &mut paths);
    files(&root().join("src"), "rs", &mut paths);
    paths
        .into_iter()
        .filter(|p| !p.ends_with("files_test.rs"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("readable source");
            (p, text)
        })
        .collect()
}

#[test]
fn both_languages_have_the_same_messages() {
    let en = defined("en");
    let id = defined("id");
    let only_en: Vec<_> = en.difference(&id).collect();
    let only_id: Vec<_> = id.difference(&en).collect();
    assert!(only_en.is_empty(), "missing in Indonesian: {only_en:?}");
    assert!(only_id.is_empty(), "missing in English: {only_id:?}");
    assert!(en.len() > 300, "the files were read ({} ids)", en.len());
}

#[test]
fn every_message_used_exists_and_every_message_is_used() {
    let defined = defined("en");
    // How code and templates name a message.
    let uses = Regex::new(
        r#"(?:msg!\(|Message::new\(|\bt\(|\bt1\(|\bt2\(|label\(|message_id: )\s*"([a-z][a-z0-9-]*)""#,
    )
    .expect("regex");
    let literal = Regex::new(r#""([a-z][a-z0-9-]*)""#).expect("regex");
    let mut used = dynamic_ids();
    let mut missing = Vec::new();
    let mut quoted = BTreeSet::new();
    for (path, text) in sources() {
        for capture in uses.captures_iter(&text) {
            let id = capture[1].to_owned();
            if !defined.contains(&id) {
                missing.push(format!("{}: {id}", path.display()));
            }
            used.insert(id);
        }
        // An id written as a plain literal elsewhere (a table of ids) is
        // used too.
        quoted.extend(literal.captures_iter(&text).map(|c| c[1].to_owned()));
    }
    assert!(missing.is_empty(), "used but not defined: {missing:#?}");
    let unused: Vec<_> = defined
        .iter()
        .filter(|id| !used.contains(*id) && !quoted.contains(*id))
        .collect();
    assert!(unused.is_empty(), "defined but never used: {unused:?}");
    let dynamic_missing: Vec<_> = dynamic_ids()
        .into_iter()
        .filter(|id| !defined.contains(id))
        .collect();
    assert!(
        dynamic_missing.is_empty(),
        "labels without words: {dynamic_missing:?}"
    );
}

#[test]
fn every_message_formats_in_both_languages() {
    use super::{I18n, Message};
    use crate::domain::Locale;
    for locale in Locale::ALL {
        let i18n = I18n::new(*locale);
        for id in defined(locale.as_str()) {
            let text = i18n.message(&Message::new(id.clone()));
            assert!(!text.trim().is_empty(), "{locale}: {id} is empty");
        }
    }
}
