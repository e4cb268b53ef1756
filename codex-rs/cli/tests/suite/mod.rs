mod commands;
mod debug;
