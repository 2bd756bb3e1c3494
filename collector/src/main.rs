use std::process::ExitCode;

use chattag_collector::cli::{Cli, Command, CommandError, ServeArgs};
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
        Some(Command::Migrate(args)) => migrate(&args),
        Some(Command::Db(command)) => chattag_collector::cli::db_copy::run(command),
        Some(Command::Export(target)) => chattag_collector::metrica::cli::export(target),
        Some(Command::Upload(target)) => chattag_collector::metrica::cli::upload(target),
        Some(Command::Import(source)) => chattag_collector::chats::cli::import(source),
        Some(Command::Forget(args)) => chattag_collector::privacy::cli::forget(args),
        Some(Command::ExportPerson(args)) => chattag_collector::privacy::cli::export(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("chattag-collector: {error}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: &ServeArgs) -> Result<(), CommandError> {
    chattag_collector::logging::init(args.log_format, &args.log);
    let config = Config::resolve(args, std::env::var("CHATTAG_READ_TOKEN").ok())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(chattag_collector::app::serve(config))?)
}

fn migrate(args: &chattag_collector::cli::DbArgs) -> Result<(), CommandError> {
    let db = args
        .database()
        .map_err(chattag_collector::store::StoreError::from)?;
    chattag_collector::store::open(&db, false, std::sync::Arc::new(StoreMetrics::default()))?;
    println!("database ready: {db}");
    Ok(())
}
