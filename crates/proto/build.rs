//! Compiles `proto/hourglass/v1/*.proto` with protox (pure Rust, no system `protoc`) and generates the
//! prost messages, the tonic client and server, and the file descriptor set used by reflection.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let files = ["policy.proto", "registry.proto", "usage.proto", "webhook.proto"]
        .map(|file| proto_root.join("hourglass/v1").join(file));
    println!("cargo:rerun-if-changed={}", proto_root.display());

    let file_descriptors = protox::compile(&files, [&proto_root])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptor_path = out_dir.join("hourglass_descriptor.bin");
    std::fs::write(&descriptor_path, prost::Message::encode_to_vec(&file_descriptors))?;

    tonic_prost_build::configure()
        .file_descriptor_set_path(&descriptor_path)
        .skip_protoc_run()
        .compile_fds(file_descriptors)?;
    Ok(())
}
