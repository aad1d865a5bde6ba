//! Cover images staff upload: the type is read from the content (never the
//! file name), the size and dimensions are bounded, and the file is stored
//! under a random name with the extension of the type found.

use std::path::{Path, PathBuf};

use rand::RngCore;

use crate::i18n::Message;
use crate::msg;

/// The largest upload accepted.
pub const MAX_BYTES: usize = 2 * 1024 * 1024;
/// Images smaller or larger than this on either side are refused.
const MIN_SIDE: usize = 16;
const MAX_SIDE: usize = 4096;

/// An image whose content was checked.
#[derive(Debug)]
pub struct CoverImage {
    bytes: Vec<u8>,
    extension: &'static str,
}

/// Checks an upload's content: PNG, JPEG or WebP, at most 2 MiB, between
/// 16 and 4,096 pixels a side.
pub fn check_cover(bytes: Vec<u8>) -> Result<CoverImage, Message> {
    if bytes.len() > MAX_BYTES {
        return Err(msg!("cover-too-large"));
    }
    let extension = match imagesize::image_type(&bytes) {
        Ok(imagesize::ImageType::Png) => "png",
        Ok(imagesize::ImageType::Jpeg) => "jpg",
        Ok(imagesize::ImageType::Webp) => "webp",
        _ => return Err(msg!("cover-wrong-type")),
    };
    let size = imagesize::blob_size(&bytes).map_err(|_| msg!("cover-unreadable"))?;
    let sides = MIN_SIDE..=MAX_SIDE;
    if !sides.contains(&size.width) || !sides.contains(&size.height) {
        return Err(msg!(
            "cover-bad-size",
            width = size.width,
            height = size.height,
            min = MIN_SIDE,
            max = MAX_SIDE
        ));
    }
    Ok(CoverImage { bytes, extension })
}

/// Writes the image into `dir` under a new random name; returns the name.
pub fn store(dir: &Path, image: &CoverImage) -> std::io::Result<String> {
    std::fs::create_dir_all(dir)?;
    let mut random = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut random);
    let name = format!("{}.{}", hex::encode(random), image.extension);
    let path = dir.join(&name);
    // A temporary name first, so a half-written file is never served.
    let partial = dir.join(format!("{name}.partial"));
    std::fs::write(&partial, &image.bytes)?;
    std::fs::rename(&partial, &path)?;
    Ok(name)
}

/// Deletes a stored upload (a replaced or removed cover); a missing file is
/// not an error.
pub fn remove(dir: &Path, name: &str) {
    if let Some(path) = path_of(dir, name)
        && let Err(e) = std::fs::remove_file(&path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(file = %path.display(), error = %e, "could not delete an old upload");
    }
}

/// The file behind a served name, and its content type; `None` for any
/// name `store` cannot have made.
pub fn path_of(dir: &Path, name: &str) -> Option<PathBuf> {
    content_type(name).map(|_| dir.join(name))
}

/// The content type of a name `store` made: 32 hex digits and a known
/// extension, nothing else (no dots, slashes or other names).
pub fn content_type(name: &str) -> Option<&'static str> {
    let (stem, extension) = name.split_once('.')?;
    if stem.len() != 32
        || !stem
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return None;
    }
    match extension {
        "png" => Some("image/png"),
        "jpg" => Some("image/jpeg"),
        "webp" => Some("image/webp"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid 1×1 … n×n PNG header is enough for the size check.
    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13];
        bytes.extend_from_slice(b"IHDR");
        bytes.extend_from_slice(&width.to_be_bytes());
        bytes.extend_from_slice(&height.to_be_bytes());
        bytes.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
        bytes
    }

    #[test]
    fn the_type_comes_from_the_content() {
        assert_eq!(check_cover(png(640, 360)).unwrap().extension, "png");
        let html = b"<html><script>alert(1)</script></html>".to_vec();
        assert!(check_cover(html).is_err());
        assert!(check_cover(Vec::new()).is_err());
    }

    #[test]
    fn sides_and_bytes_are_bounded() {
        let refusal = check_cover(png(8, 360)).unwrap_err();
        assert_eq!(refusal.id, "cover-bad-size");
        assert!(
            refusal
                .args
                .contains(&("width".into(), crate::i18n::Arg::Number(8)))
        );
        assert!(check_cover(png(640, 5000)).is_err());
        let mut huge = png(640, 360);
        huge.resize(MAX_BYTES + 1, 0);
        assert_eq!(check_cover(huge).unwrap_err().id, "cover-too-large");
    }

    #[test]
    fn only_names_store_makes_are_served() {
        let name = "0123456789abcdef0123456789abcdef.png";
        assert_eq!(content_type(name), Some("image/png"));
        for bad in [
            "../secret_key",
            "0123456789abcdef0123456789abcdef.png/../../x",
            "0123456789ABCDEF0123456789ABCDEF.png",
            "0123456789abcdef0123456789abcdef.html",
            "0123456789abcdef0123456789abcdef.png.partial",
            "short.png",
        ] {
            assert_eq!(content_type(bad), None, "{bad}");
        }
    }
}
