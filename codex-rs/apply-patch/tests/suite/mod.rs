mod backends;
mod file_system;
mod partial;
mod scenarios;
mod tree;
