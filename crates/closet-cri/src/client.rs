use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use tonic::transport::{Channel, Endpoint};

use crate::cri;
use crate::runtime::cri_calls;
use crate::{BoxFuture, CriError, Runtime};

/// How long one attempt to open the socket may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// [`Runtime`] over CRI v1 gRPC on a unix socket (containerd's, or any CRI runtime's).
#[derive(Clone, Debug)]
pub struct CriClient {
    socket: PathBuf,
    runtime: RuntimeServiceClient<Channel>,
    images: ImageServiceClient<Channel>,
}

impl CriClient {
    /// Connects to an existing CRI socket, as `--container-runtime-endpoint` does.
    ///
    /// Accepts a plain path or a `unix://` URI. Fails if nothing listens there; the runtime
    /// is not asked anything until the first call.
    pub async fn connect(endpoint: impl AsRef<Path>) -> Result<Self, CriError> {
        let socket = socket_path(endpoint.as_ref());
        let uri = format!("unix://{}", socket.display());
        let channel = Endpoint::from_shared(uri)
            .map_err(|source| CriError::Endpoint {
                socket: socket.clone(),
                source,
            })?
            .connect_timeout(CONNECT_TIMEOUT)
            .connect()
            .await
            .map_err(|source| CriError::Connect {
                socket: socket.clone(),
                source,
            })?;
        Ok(Self {
            socket,
            runtime: RuntimeServiceClient::new(channel.clone()),
            images: ImageServiceClient::new(channel),
        })
    }

    /// The socket this client talks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    fn call_error(&self, method: &'static str) -> impl FnOnce(tonic::Status) -> CriError + '_ {
        move |status| CriError::Call {
            method,
            socket: self.socket.clone(),
            source: Box::new(status),
        }
    }
}

/// `unix:///run/x.sock` and `/run/x.sock` name the same socket.
fn socket_path(endpoint: &Path) -> PathBuf {
    match endpoint.to_str().and_then(|s| s.strip_prefix("unix://")) {
        Some(rest) => PathBuf::from(rest),
        None => endpoint.to_path_buf(),
    }
}

// === impl Runtime for CriClient ===

macro_rules! impl_client {
    ($(($method:ident, $service:ident, $name:literal, $req:ident, $resp:ident)),* $(,)?) => {
        impl Runtime for CriClient {
            $(
                fn $method(&self, request: cri::$req) -> BoxFuture<'_, Result<cri::$resp, CriError>> {
                    Box::pin(async move {
                        let response = self.$service.clone().$method(request).await;
                        Ok(response.map_err(self.call_error($name))?.into_inner())
                    })
                }
            )*
        }
    };
}
cri_calls!(impl_client);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_uri_and_path_name_the_same_socket() {
        assert_eq!(
            socket_path(Path::new("unix:///run/x.sock")),
            Path::new("/run/x.sock")
        );
        assert_eq!(
            socket_path(Path::new("/run/x.sock")),
            Path::new("/run/x.sock")
        );
    }

    #[tokio::test]
    async fn connecting_to_a_missing_socket_names_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("nothing.sock");
        let err = CriClient::connect(&socket)
            .await
            .expect_err("no one listens");
        assert!(matches!(err, CriError::Connect { .. }), "{err:?}");
        assert!(err.to_string().contains("nothing.sock"), "{err}");
    }
}
