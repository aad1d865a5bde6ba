//! The shop's CSS, JavaScript and images, inside the binary: it serves
//! them from wherever it is started (a systemd unit, a container holding
//! only the binary). Each file is served at a URL holding a hash of its
//! content (`/static/css/app.3f2a9c1d.css`), cached for a year, gzipped
//! once at start. `STATIC_DIR` serves a directory instead, read on every
//! request and never cached, for editing CSS during development.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use rust_embed::RustEmbed;

use crate::error::AppError;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Embedded;

/// One embedded file, ready to serve.
struct Asset {
    content_type: String,
    body: Vec<u8>,
    /// Present when compressing saves something.
    gzip: Option<Vec<u8>>,
}

enum Source {
    /// Embedded: by hashed name, and the hashed name of each logical path.
    Embedded {
        files: HashMap<String, Asset>,
        urls: HashMap<String, String>,
    },
    /// A directory, read on every request (`STATIC_DIR`).
    Directory(PathBuf),
}

static ASSETS: OnceLock<Source> = OnceLock::new();

/// Chooses where assets come from; called once at start (later calls
/// change nothing). Without it, the embedded files are used.
pub fn init(static_dir: Option<PathBuf>) {
    let _ = ASSETS.set(match static_dir {
        Some(dir) => Source::Directory(dir),
        None => embedded(),
    });
}

fn source() -> &'static Source {
    ASSETS.get_or_init(embedded)
}

/// `css/app.css` → `css/app.3f2a9c1d.css`.
fn hashed_name(path: &str, hash: &[u8; 32]) -> String {
    let tag = hex::encode(&hash[..4]);
    match path.rsplit_once('.') {
        Some((stem, extension)) => format!("{stem}.{tag}.{extension}"),
        None => format!("{path}.{tag}"),
    }
}

fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(body).ok()?;
    let compressed = encoder.finish().ok()?;
    (compressed.len() < body.len()).then_some(compressed)
}

fn embedded() -> Source {
    let mut files = HashMap::new();
    let mut urls = HashMap::new();
    for path in Embedded::iter() {
        let Some(file) = Embedded::get(&path) else {
            continue;
        };
        let hashed = hashed_name(&path, &file.metadata.sha256_hash());
        let body = file.data.into_owned();
        let content_type = mime_type(&path);
        let compress = content_type.starts_with("text/")
            || content_type.contains("javascript")
            || content_type.contains("svg");
        files.insert(
            hashed.clone(),
            Asset {
                gzip: if compress { gzip(&body) } else { None },
                content_type,
                body,
            },
        );
        urls.insert(path.into_owned(), hashed);
    }
    Source::Embedded { files, urls }
}

fn mime_type(path: &str) -> String {
    let guessed = mime_guess::from_path(path).first_or_octet_stream();
    if guessed.type_() == "text" || guessed.essence_str() == "application/javascript" {
        format!("{}; charset=utf-8", guessed.essence_str())
    } else {
        guessed.essence_str().to_owned()
    }
}

/// The URL a page uses for `path` (`css/app.css`).
pub fn url(path: &str) -> String {
    match source() {
        Source::Embedded { urls, .. } => match urls.get(path) {
            Some(hashed) => format!("/static/{hashed}"),
            None => {
                tracing::error!(asset = path, "no such static file");
                format!("/static/{path}")
            }
        },
        Source::Directory(_) => format!("/static/{path}"),
    }
}

/// Only names of the asset tree: no `..`, no absolute paths.
fn safe(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

#[get("/static/{path:.*}")]
pub(super) async fn serve(
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    if !safe(&path) {
        return Err(AppError::NotFound);
    }
    match source() {
        Source::Embedded { files, urls } => {
            // A hashed name never changes its content; a plain one (an old
            // page, a bookmark) is answered with the current file, briefly
            // cached.
            let (file, immutable) = match files.get(&path) {
                Some(file) => (file, true),
                None => match urls.get(&path).and_then(|hashed| files.get(hashed)) {
                    Some(file) => (file, false),
                    None => return Err(AppError::NotFound),
                },
            };
            Ok(embedded_response(&req, file, immutable))
        }
        Source::Directory(dir) => directory_response(&req, dir, &path).await,
    }
}

fn embedded_response(req: &HttpRequest, file: &Asset, immutable: bool) -> HttpResponse {
    let accepts_gzip = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CONTENT_TYPE, file.content_type.as_str()))
        .insert_header((
            header::CACHE_CONTROL,
            if immutable {
                "public, max-age=31536000, immutable"
            } else {
                "public, max-age=300"
            },
        ))
        .insert_header((header::VARY, "Accept-Encoding"));
    match (&file.gzip, accepts_gzip) {
        (Some(gzip), true) => response
            // Set here, so the compression middleware leaves it alone.
            .insert_header((header::CONTENT_ENCODING, "gzip"))
            .body(gzip.clone()),
        _ => response
            .insert_header((header::CONTENT_ENCODING, "identity"))
            .body(file.body.clone()),
    }
}

async fn directory_response(
    req: &HttpRequest,
    dir: &Path,
    path: &str,
) -> Result<HttpResponse, AppError> {
    let file = actix_files::NamedFile::open_async(dir.join(path))
        .await
        .map_err(|_| AppError::NotFound)?;
    let mut response = file.into_response(req);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_file_has_a_hashed_url() {
        let Source::Embedded { files, urls } = embedded() else {
            unreachable!()
        };
        assert!(urls.contains_key("css/app.css"), "{:?}", urls.keys());
        for (path, hashed) in &urls {
            assert_ne!(path, hashed);
            assert!(files.contains_key(hashed));
        }
        let css = &files[&urls["css/app.css"]];
        assert_eq!(css.content_type, "text/css; charset=utf-8");
        assert!(css.gzip.as_ref().is_some_and(|g| g.len() < css.body.len()));
    }

    #[test]
    fn only_paths_inside_the_tree_are_served() {
        assert!(safe("css/app.css"));
        for bad in [
            "",
            "/etc/passwd",
            "../Cargo.toml",
            "css/../../x",
            "css//app.css",
            "./x",
        ] {
            assert!(!safe(bad), "{bad}");
        }
    }
}
