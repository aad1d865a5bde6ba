//! Keys kept outside the database: the one that signs and encrypts session
//! cookies (`SECRET_KEY`) and the one that seals the journal
//! (`JOURNAL_KEY`), each generated and kept under `data/` when unset.

use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngCore;

use super::SECRET_KEY_MIN_BYTES;

/// Key material (session cookies, journal seals).
#[derive(Clone)]
pub struct SecretKey(Vec<u8>);

impl SecretKey {
    /// `name` is the setting the key came from, for the error.
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.len() < SECRET_KEY_MIN_BYTES {
            return Err(format!(
                "{name} must be at least {SECRET_KEY_MIN_BYTES} bytes (it is {}); \
                 generate one with `openssl rand -base64 64`",
                bytes.len()
            ));
        }
        Ok(Self(bytes))
    }

    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_KEY_MIN_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

/// Reads the key kept at `path`, or creates one there (readable by the
/// owner only) so sessions survive restarts without any set-up.
pub(super) fn load_or_generate_key(name: &str, path: &Path) -> Result<SecretKey, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let bytes = BASE64.decode(text.trim()).map_err(|e| {
                format!(
                    "{} is not valid base64 ({e}); delete it to generate a new key",
                    path.display()
                )
            })?;
            SecretKey::from_bytes(name, bytes).map_err(|e| format!("{}: {e}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SecretKey::generate();
            write_private_file(path, &BASE64.encode(key.expose())).map_err(|e| {
                format!(
                    "could not save a generated {name} to {}: {e}",
                    path.display()
                )
            })?;
            Ok(key)
        }
        Err(e) => Err(format!("could not read {}: {e}", path.display())),
    }
}

fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secret_key_is_kept_and_reused() {
        let dir = std::env::temp_dir().join(format!("kasir-key-{}", std::process::id()));
        let path = dir.join("secret_key");
        let _ = std::fs::remove_dir_all(&dir);
        let first = load_or_generate_key("SECRET_KEY", &path).unwrap();
        let second = load_or_generate_key("SECRET_KEY", &path).unwrap();
        assert_eq!(first.expose(), second.expose());
        assert!(first.expose().len() >= SECRET_KEY_MIN_BYTES);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
