//! The web service deployed to each environment (built out by the service issue).

fn main() {}
