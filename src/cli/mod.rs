//! The `kasir` command line: `serve` (the default), `migrate`,
//! `create-staff`, `seed-demo`, `prune-carts`, `reconcile`, `journal
//! verify`, `stripe doctor`, `stripe webhook-endpoint create`.

use std::process::ExitCode;

mod api_token;

use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::services::{accounts, cart, demo};
use crate::startup::Application;
use crate::{db, telemetry};

#[derive(Parser)]
#[command(
    name = "kasir",
    version,
    about = "A course-shop checkout: catalog, cart, Stripe payments, financial journal"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum JournalCommand {
    /// Recompute the hash chain; exits non-zero when a row was altered or removed.
    Verify,
}

#[derive(Subcommand)]
enum StripeCommand {
    /// Check the keys, their mode, and the webhook endpoint for PUBLIC_URL.
    Doctor,
    /// Webhook endpoint set-up.
    WebhookEndpoint {
        #[command(subcommand)]
        command: WebhookEndpointCommand,
    },
}

#[derive(Subcommand)]
enum WebhookEndpointCommand {
    /// Create the endpoint for PUBLIC_URL with exactly the events kasir
    /// handles, and print its signing secret (once).
    Create,
}

#[cfg(feature = "bench")]
#[derive(Subcommand)]
enum BenchCommand {
    /// Seed a large history: courses, users, paid orders with their journal.
    Seed {
        #[arg(long, default_value_t = 1_000)]
        courses: u32,
        #[arg(long, default_value_t = 10_000)]
        users: u32,
        #[arg(long, default_value_t = 100_000)]
        orders: u32,
        /// Pending orders left for webhook deliveries.
        #[arg(long, default_value_t = 20_000)]
        pending: u32,
        /// Users (the first ones) who get a cart of three courses.
        #[arg(long, default_value_t = 2_000)]
        carts: u32,
    },
    /// Write signed payment_intent.succeeded deliveries for pending orders.
    WebhookEvents {
        #[arg(long)]
        count: u32,
        #[arg(long, default_value_t = 20)]
        duplicate_percent: u32,
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Check the money invariants; files list event ids answered 2xx.
    Check {
        #[arg(long, num_args = 0..)]
        acked: Vec<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database and serve the shop (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create a staff account, or make an existing account staff.
    CreateStaff {
        #[arg(long)]
        email: String,
        /// The password (or set KASIR_STAFF_PASSWORD, which keeps it out of `ps`).
        #[arg(long, env = "KASIR_STAFF_PASSWORD", hide_env_values = true)]
        password: String,
        /// Display name for a new account (defaults to the email's local part).
        #[arg(long)]
        name: Option<String>,
    },
    /// Add the demo catalog (courses already there are left as they are).
    SeedDemo,
    /// Ask the payment provider about pending orders whose webhook never
    /// came: fulfil, cancel, or report them.
    Reconcile {
        /// Only orders older than this many minutes.
        #[arg(long, default_value_t = 10)]
        older_than_minutes: u32,
    },
    /// Stripe set-up: `doctor`, `webhook-endpoint create`.
    Stripe {
        #[command(subcommand)]
        command: StripeCommand,
    },
    /// Tokens of the LMS read API: `create --name`, `list`, `revoke --id`.
    ApiToken {
        #[command(subcommand)]
        command: api_token::ApiTokenCommand,
    },
    /// Journal tools.
    Journal {
        #[command(subcommand)]
        command: JournalCommand,
    },
    /// Load-test support for bench/run.sh (seeding, signed events, invariants).
    #[cfg(feature = "bench")]
    #[command(hide = true)]
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Delete processed webhook events (and the personal data in their
    /// payloads) received more than N days ago.
    PruneEvents {
        #[arg(long, default_value_t = 90)]
        older_than_days: u32,
    },
    /// Delete guest carts that nobody touched for a while.
    PruneCarts {
        /// Age in days after which an untouched guest cart goes.
        #[arg(long, default_value_t = 30)]
        older_than_days: u32,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // A missing .env is normal; a broken one is worth saying.
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("error: could not read .env: {e}");
        return ExitCode::FAILURE;
    }
    telemetry::init();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings),
        Command::Migrate => migrate(&settings),
        Command::CreateStaff {
            email,
            password,
            name,
        } => create_staff(&settings, &email, &password, name.as_deref()),
        Command::SeedDemo => seed_demo(&settings),
        #[cfg(feature = "bench")]
        Command::Bench { command } => bench(&settings, command),
        Command::PruneCarts { older_than_days } => prune_carts(&settings, older_than_days),
        Command::PruneEvents { older_than_days } => prune_events(&settings, older_than_days),
        Command::Reconcile { older_than_minutes } => reconcile(settings, older_than_minutes),
        Command::Journal {
            command: JournalCommand::Verify,
        } => verify_journal(&settings),
        Command::Stripe { command } => stripe(&settings, command),
        Command::ApiToken { command } => api_token::run(&settings, command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings).await?;
        app.run_until_stopped().await?;
        tracing::info!("kasir stopped");
        Ok(())
    })
}

fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let applied = db::migrate(&settings.database_url)?;
    if applied.is_empty() {
        println!(
            "database is up to date ({})",
            settings.database_url.engine()
        );
    } else {
        for version in applied {
            println!("applied migration {version}");
        }
    }
    Ok(())
}

fn create_staff(
    settings: &Settings,
    email: &str,
    password: &str,
    name: Option<&str>,
) -> anyhow::Result<()> {
    let pool = db::open(&settings.database_url, 1)?;
    let mut conn = pool.get()?;
    let (user, created) = accounts::create_staff(&mut conn, email, password, name)?;
    if created {
        println!("created staff account {}", user.email);
    } else {
        println!(
            "{} is now staff, with the new password (their other sessions were ended)",
            user.email
        );
    }
    Ok(())
}

fn seed_demo(settings: &Settings) -> anyhow::Result<()> {
    let pool = db::open(&settings.database_url, 1)?;
    let mut conn = pool.get()?;
    let added = demo::seed_demo_catalog(&mut conn, settings.currency)?;
    println!("demo catalog: {added} course(s) added");
    Ok(())
}

fn prune_carts(settings: &Settings, older_than_days: u32) -> anyhow::Result<()> {
    let pool = db::open(&settings.database_url, 1)?;
    let mut conn = pool.get()?;
    let pruned = cart::prune_guest_carts(
        &mut conn,
        chrono::TimeDelta::days(i64::from(older_than_days)),
    )?;
    println!("{pruned} guest cart(s) untouched for {older_than_days} days deleted");
    Ok(())
}

fn prune_events(settings: &Settings, older_than_days: u32) -> anyhow::Result<()> {
    let pool = db::open(&settings.database_url, 1)?;
    let before = db::now() - chrono::TimeDelta::days(i64::from(older_than_days));
    let pruned = crate::models::webhook_event::WebhookEvent::prune_processed_before(
        &mut *pool.get()?,
        before,
    )?;
    println!(
        "{pruned} processed webhook event(s) received more than {older_than_days} days ago deleted"
    );
    Ok(())
}

fn reconcile(settings: Settings, older_than_minutes: u32) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let pool = db::open(&settings.database_url, 2)?;
        let payments = crate::payments::Payments::from_settings(&settings, pool.clone())?;
        let window = chrono::TimeDelta::minutes(i64::from(older_than_minutes));
        let report = crate::services::reconcile::reconcile(&payments, &pool, window).await?;
        print!("{report}");
        Ok(())
    })
}

fn stripe(settings: &Settings, command: StripeCommand) -> anyhow::Result<()> {
    use crate::config::PaymentSettings;
    use crate::payments::stripe::StripeProvider;
    use crate::services::stripe_setup::{self, Created};
    let PaymentSettings::Stripe(keys) = &settings.payments else {
        anyhow::bail!(
            "no Stripe keys are set (STRIPE_SECRET_KEY, STRIPE_PUBLISHABLE_KEY, STRIPE_WEBHOOK_SECRET): \
             the shop runs on its sandbox"
        );
    };
    let provider = StripeProvider::new(keys)?;
    actix_web::rt::System::new().block_on(async move {
        match command {
            StripeCommand::Doctor => {
                let diagnosis =
                    stripe_setup::doctor(&provider, keys, &settings.public_url).await;
                print!("{diagnosis}");
                anyhow::ensure!(diagnosis.healthy(), "Stripe is not ready for this shop");
            }
            StripeCommand::WebhookEndpoint {
                command: WebhookEndpointCommand::Create,
            } => {
                let pool = db::open(&settings.database_url, 1)?;
                let installation = crate::models::installation::Installation::id(&mut *pool.get()?)?;
                match stripe_setup::create_webhook_endpoint(
                    &provider,
                    &settings.public_url,
                    &installation,
                )
                .await?
                {
                    Created::New(endpoint) => {
                        println!(
                            "created webhook endpoint {} for {} ({} event types)",
                            endpoint.id,
                            endpoint.url,
                            endpoint.enabled_events.len()
                        );
                        match endpoint.secret {
                            Some(secret) => println!(
                                "its signing secret, shown only now: set STRIPE_WEBHOOK_SECRET={secret}"
                            ),
                            None => println!("Stripe returned no signing secret: reveal it in the dashboard"),
                        }
                    }
                    Created::Exists(endpoint) => {
                        println!(
                            "a webhook endpoint for {} exists already: {} (its secret is in the dashboard; \
                             `kasir stripe doctor` checks its events)",
                            endpoint.url, endpoint.id
                        );
                    }
                }
            }
        }
        Ok(())
    })
}

fn verify_journal(settings: &Settings) -> anyhow::Result<()> {
    let pool = db::open(&settings.database_url, 1)?;
    let verdict = crate::services::journal::verify_chain(&mut *pool.get()?, &settings.journal_key)?;
    println!("{verdict}");
    match verdict {
        crate::services::journal::ChainVerdict::Intact { .. } => Ok(()),
        crate::services::journal::ChainVerdict::Broken { .. } => {
            anyhow::bail!("the journal has been tampered with")
        }
        crate::services::journal::ChainVerdict::Unsealed { .. } => {
            anyhow::bail!("journal rows are waiting for their seal")
        }
        // Only a staff view's check stops early; this one has no budget.
        crate::services::journal::ChainVerdict::Checking { .. } => {
            anyhow::bail!("the check stopped before the last seal")
        }
    }
}

#[cfg(feature = "bench")]
fn bench(settings: &Settings, command: BenchCommand) -> anyhow::Result<()> {
    use crate::bench;
    let pool = db::open(&settings.database_url, 1)?;
    let mut conn = pool.get()?;
    match command {
        BenchCommand::Seed {
            courses,
            users,
            orders,
            pending,
            carts,
        } => {
            let started = std::time::Instant::now();
            let plan = bench::SeedPlan {
                courses,
                users,
                orders,
                pending,
                carts,
            };
            let report = bench::seed(&mut conn, settings, plan)?;
            println!(
                "seeded {courses} courses, {users} users, {} orders ({pending} pending), {} journal rows, {} grants in {:.1} s",
                report.orders,
                report.journal_rows,
                report.grants,
                started.elapsed().as_secs_f64()
            );
        }
        BenchCommand::WebhookEvents {
            count,
            duplicate_percent,
            out,
        } => {
            let (distinct, duplicates) =
                bench::write_webhook_events(&mut conn, settings, count, duplicate_percent, &out)?;
            println!(
                "{distinct} events and {duplicates} duplicate deliveries written to {}",
                out.display()
            );
        }
        BenchCommand::Check { acked } => {
            let mut ids = std::collections::HashSet::new();
            for path in acked {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                ids.extend(text.lines().filter(|l| !l.is_empty()).map(str::to_owned));
            }
            for fact in bench::check_invariants(&mut conn, &settings.journal_key, &ids)? {
                println!("ok: {fact}");
            }
        }
    }
    Ok(())
}
