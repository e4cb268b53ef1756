mod concurrency;
mod decisions;
mod harness;
mod limits;
mod raw;
mod refusals;
