mod cargo_bin;
mod resources;
