mod cli;
mod environment;
mod harness;
mod hostile;
mod lifecycle;
mod load;
mod reconnect;
mod sessions;
