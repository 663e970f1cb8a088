//! Replays the committed corpus through the fuzz crate's own oracles on
//! stable, without libFuzzer: `cargo test --manifest-path fuzz/Cargo.toml`.
//! (The codecs' `decode_any` corpora are replayed by each codec's
//! `tests/corpus.rs`.)

use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .map(|e| e.expect("readable corpus dir").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let data = std::fs::read(&p).expect("readable corpus file");
            (p, data)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn mqtt_stream_corpus_replays_cleanly() {
    let seeds = corpus("mqtt_decode");
    assert!(!seeds.is_empty(), "expected MQTT seeds in corpus/mqtt_decode");
    for (path, data) in &seeds {
        for input in tern_fuzz::mqtt_stream_seeds(data) {
            eprintln!("{} as {:02x?}", path.display(), &input[..2]);
            tern_fuzz::mqtt_stream(&input);
        }
    }
    // Regression inputs saved from mqtt_stream crashes, if any.
    for (path, data) in corpus("mqtt_stream") {
        eprintln!("{}", path.display());
        tern_fuzz::mqtt_stream(&data);
    }
}
