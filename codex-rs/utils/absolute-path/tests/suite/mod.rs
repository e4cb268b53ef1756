mod serde_round_trip;
