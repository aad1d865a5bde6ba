//! `kasir api-token`: tokens of the LMS read API.

use clap::Subcommand;

use crate::config::Settings;
use crate::db;
use crate::models::api_token::ApiToken;
use crate::services::lms::tokens;

#[derive(Subcommand)]
pub(super) enum ApiTokenCommand {
    /// Make a token; it is printed once (only its hash is kept).
    Create {
        /// What uses it ("moodle"), to tell tokens apart.
        #[arg(long)]
        name: String,
    },
    /// List the tokens: id, name, first characters, state.
    List,
    /// Revoke a token: requests with it answer 401 from then on.
    Revoke {
        #[arg(long)]
        id: i64,
    },
}

pub(super) fn run(settings: &Settings, command: ApiTokenCommand) -> anyhow::Result<()> {
    let pool = db::open(&settings.database_url, 1)?;
    let mut conn = pool.get()?;
    match command {
        ApiTokenCommand::Create { name } => {
            let (token, row) = tokens::create(&mut conn, &name).map_err(anyhow::Error::msg)?;
            eprintln!(
                "token {} ({:?}) created; it is shown this once, keep it secret:",
                row.id, row.name
            );
            println!("{token}");
        }
        ApiTokenCommand::List => {
            let all = ApiToken::list(&mut conn)?;
            if all.is_empty() {
                println!("no tokens (kasir api-token create --name NAME)");
            }
            for token in all {
                let state = match token.revoked_at {
                    Some(at) => format!("revoked {}", at.format("%Y-%m-%d %H:%M")),
                    None => "active".into(),
                };
                println!("{}\t{}\t{}…\t{state}", token.id, token.name, token.prefix);
            }
        }
        ApiTokenCommand::Revoke { id } => {
            if ApiToken::revoke(&mut conn, id, db::now())? {
                println!("token {id} revoked");
            } else {
                anyhow::bail!("no active token with id {id}");
            }
        }
    }
    Ok(())
}
