//! Replays the fuzz corpus through the fuzz oracle on stable Rust, so a
//! crash the fuzzer once found stays fixed.

use std::path::PathBuf;
use tern_mqttsn_codec::fuzzing::decode_any;

#[test]
fn fuzz_corpus_replays_cleanly() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/mqttsn_decode");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        // Crate built outside the workspace: nothing to replay.
        return;
    };
    let mut replayed = 0;
    for entry in entries {
        let path = entry.expect("readable corpus dir").path();
        if path.is_file() {
            let data = std::fs::read(&path).expect("readable corpus file");
            decode_any(&data);
            replayed += 1;
        }
    }
    assert!(replayed >= 10, "expected the seed corpus in {}", dir.display());
}

#[test]
fn seeds_decode() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/mqttsn_decode");
    for seed in [
        "connect_will_clean_session",
        "publish_300_octets_long_length",
        "encapsulated_publish",
    ] {
        let Ok(data) = std::fs::read(dir.join(format!("{seed}.bin"))) else {
            return;
        };
        tern_mqttsn_codec::decode(&bytes::Bytes::from(data)).expect("seed is a valid datagram");
    }
}
