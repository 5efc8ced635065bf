// A required argument cannot be left out: it is a parameter of `new`.
use bindings::aws::subnet::Subnet;

fn main() {
    let _ = Subnet::new("a").cidr_block("10.0.0.0/24");
}
