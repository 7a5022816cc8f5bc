//! `auth0-ingest assets …`: prints what `setup` would install, for
//! installing by hand (Kibana: Stack Management → Saved objects → Import).

use std::process::ExitCode;

use auth0_ingest::setup::assets;
use clap::Subcommand;

/// The assets `assets` can print.
#[derive(Debug, Subcommand)]
pub enum Asset {
    /// The Kibana saved objects (data view, saved searches, dashboard) as
    /// NDJSON on stdout, for Stack Management → Saved objects → Import.
    Kibana {
        /// The data stream namespace the data view covers (`*`: all).
        #[arg(long, default_value = assets::ALL_NAMESPACES)]
        namespace: String,
    },
}

/// Prints the chosen assets on stdout.
pub fn run(asset: Asset) -> ExitCode {
    let Asset::Kibana { namespace } = asset;
    match assets::ndjson(&namespace) {
        Ok(ndjson) => {
            print!("{ndjson}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {:#}", anyhow::Error::from(error));
            ExitCode::FAILURE
        }
    }
}
