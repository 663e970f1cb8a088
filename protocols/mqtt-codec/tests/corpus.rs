//! Replays the fuzz corpus (seeds and any crashes saved there) through the fuzzing entry point.

#[test]
fn replay_fuzz_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/mqtt_decode");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut n = 0;
    for entry in entries.flatten() {
        let data = std::fs::read(entry.path()).unwrap();
        tern_mqtt_codec::fuzzing::decode_any(&data);
        n += 1;
    }
    assert!(n > 0, "corpus directory {} is empty", dir.display());
}
