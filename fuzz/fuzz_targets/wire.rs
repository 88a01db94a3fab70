//! Every decoder of bytes from a peer or a stored row: the envelope's
//! message types in every protocol version, error bodies, log bodies,
//! record states and snapshots ([`gridsync_proto::fuzzing::decoders`]).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gridsync_proto::fuzzing::decoders(data));
