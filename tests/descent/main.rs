//! End-to-end tests through the `descent` facade alone, the way a user's crate sees it, and
//! of the examples as command-line tools. One binary, one module per topic.

mod common;
mod examples_cli;
mod facade;
mod lab;
mod mnist_example;
mod one_error;
mod regression_data;
