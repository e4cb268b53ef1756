mod arg0;
mod errors;
mod filesystem;
mod harness;
mod network;
mod proc_retry;
mod signals;
