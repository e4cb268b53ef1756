mod backends;
mod discovery;
mod unreadable;
