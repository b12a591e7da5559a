//! Writes every target's seed corpus (`fuzz_checks::seeds`) to `fuzz/corpus/<target>/`, replacing
//! the `seed-*` files there:
//!
//!     cargo run -p fuzz-checks --bin fuzz-seeds [CORPUS_DIR]

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus"));
    match write(&dir) {
        Ok(count) => {
            println!("wrote {count} seed files under {}", dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fuzz-seeds: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write(dir: &std::path::Path) -> std::io::Result<usize> {
    let seeds = fuzz_checks::seeds::all();
    for (target, _) in fuzz_checks::TARGETS {
        let target_dir = dir.join(target);
        std::fs::create_dir_all(&target_dir)?;
        for entry in std::fs::read_dir(&target_dir)? {
            let path = entry?.path();
            let is_seed = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("seed-"));
            if is_seed {
                std::fs::remove_file(path)?;
            }
        }
    }
    for seed in &seeds {
        let path = dir.join(seed.target).join(format!("seed-{}", seed.name));
        std::fs::write(path, &seed.bytes)?;
    }
    Ok(seeds.len())
}
