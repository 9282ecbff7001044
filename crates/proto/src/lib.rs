//! Generated protobuf and gRPC types of the `hourglass.v1` API, and the file descriptor set that server
//! reflection serves. Only `hourglass-server` (and tests acting as clients) depend on this crate.

#![allow(clippy::all, missing_docs)] // Generated code follows prost's style, not ours.

/// Types of the `hourglass.v1` package.
pub mod v1 {
    tonic::include_proto!("hourglass.v1");
}

/// The encoded `FileDescriptorSet` of `hourglass.v1`, for `tonic-reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("hourglass_descriptor");
