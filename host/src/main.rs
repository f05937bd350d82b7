//! The `dataguardian` binary.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    // The server renders notification templates in a child process of
    // this binary, under memory and time limits (notify/templates.rs).
    if args.get(1).map(String::as_str) == Some(dataguardian::notify::templates::CHILD_ARG) {
        return dataguardian::notify::templates::child_main();
    }
    if let Err(e) = dataguardian::cli::apply_config_file(&args) {
        eprintln!("error: {e:#}");
        return std::process::ExitCode::from(dataguardian::exit::USAGE);
    }
    let cli = dataguardian::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let shipping = match dataguardian::cli::init_logging(&cli, runtime.handle().clone()) {
        Ok(shipping) => shipping,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(dataguardian::cli::run(cli));
    // The last batch goes out on the runtime's workers, still running here.
    if let Some(shipping) = shipping {
        shipping.shutdown();
    }
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(dataguardian::exit::code(&e))
        }
    }
}
