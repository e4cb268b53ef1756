mod commands;
mod debug;
mod execpolicy;
