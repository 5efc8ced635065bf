// A literal or a reference of the wrong terraform type is rejected.
use bindings::aws::subnet::Subnet;
use bindings::aws::vpc::Vpc;
use synth::Stack;

fn build(stack: &mut Stack) {
    let vpc = stack.add(Vpc::new("main").enable_dns_support("yes"));
    stack.add(Subnet::new("a", vpc.tags()));
}

fn main() {}
