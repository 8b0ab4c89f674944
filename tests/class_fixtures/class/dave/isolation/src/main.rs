//! Class fixture, a crate that does not build.
fn main() {
    let n = 100
    println!("主进程内:  {n}");
}
