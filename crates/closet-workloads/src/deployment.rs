//! x
/// x
pub async fn run(_c: kube::Client, _s: impl std::future::Future<Output = ()> + Send + 'static) {}
