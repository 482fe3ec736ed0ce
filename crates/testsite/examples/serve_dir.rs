//! Serves a folder of real pages on 127.0.0.1 until killed, for manual
//! benchmarks on real markup:
//! `cargo run --release -p trawl-testsite --example serve_dir -- DIR [PORT]`.
//! The first stdout line is `listening on http://127.0.0.1:PORT`.

use std::process::ExitCode;

// stdout is this program's interface: the listening address.
#[allow(clippy::print_stdout)]
fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(root) = args.next() else {
        eprintln!("usage: serve_dir DIR [PORT]");
        return ExitCode::from(2);
    };
    let port: u16 = match args.next().map(|text| text.parse()) {
        None => 0,
        Some(Ok(port)) => port,
        Some(Err(_)) => {
            eprintln!("serve_dir: PORT is not a port number");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("serve_dir: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        match trawl_testsite::DirSite::start(root.into(), port).await {
            Ok(site) => {
                println!("listening on {}", site.base_url());
                std::future::pending::<()>().await;
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("serve_dir: {error}");
                ExitCode::FAILURE
            }
        }
    })
}
