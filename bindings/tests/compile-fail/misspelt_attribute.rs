// A misspelt attribute, and one the provider computes, have no setter.
use bindings::aws::vpc::Vpc;

fn main() {
    let _ = Vpc::new("main").cidr_blok("10.0.0.0/16");
    let _ = Vpc::new("main").arn("arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-1");
}
