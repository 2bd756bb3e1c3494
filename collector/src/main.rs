use std::process::ExitCode;

use chattag_collector::cli::{Cli, Command, ServeArgs};
use chattag_collector::config::Config;
use chattag_collector::metrics::StoreMetrics;
use clap::Parser;

// malloc/free were the top user-space symbols of the request threads under ingest load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => serve(&cli.serve),
        Some(Command::Serve(args)) => serve(&args),
        Some(Command::Migrate(args)) => migrate(&args.db),
        Some(Command::Export(target)) => chattag_collector::metrica::cli::export(target),
        Some(Command::Upload(target)) => chattag_collector::metrica::cli::upload(target),
        Some(Command::Import(source)) => chattag_collector::chats::cli::import(source),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("chattag-collector: {message}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: &ServeArgs) -> Result<(), String> {
    chattag_collector::logging::init(args.log_format, &args.log);
    let config = Config::resolve(args, std::env::var("CHATTAG_READ_TOKEN").ok())
        .map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime
        .block_on(chattag_collector::app::serve(config))
        .map_err(|e| e.to_string())
}

fn migrate(db: &std::path::Path) -> Result<(), String> {
    chattag_collector::store::open(db, false, std::sync::Arc::new(StoreMetrics::default()))
        .map_err(|e| e.to_string())?;
    println!("database ready: {}", db.display());
    Ok(())
}
