//! The production [`RemoteCommandDialer`]: closet-spdy's remotecommand v4 client, which is
//! what the runtime's streaming server speaks.

use closet_spdy::remotecommand::{self, FinalStatus, Outcome};
use closet_types::Status;

use super::{
    BoxFuture, DialError, RemoteCommandDialer, RemoteSession, SessionReader, SessionWriter,
    StreamOptions, error_status, exit_code_status, success_status,
};

/// Opens exec and attach sessions over SPDY/3.1 (`v4.channel.k8s.io`) on the runtime's
/// plain-HTTP streaming URLs.
#[derive(Clone, Copy, Debug, Default)]
pub struct SpdyDialer;

impl RemoteCommandDialer for SpdyDialer {
    fn connect(
        &self,
        url: String,
        options: StreamOptions,
    ) -> BoxFuture<Result<RemoteSession, DialError>> {
        Box::pin(async move {
            let command = remotecommand::connect(
                &url,
                remotecommand::Options {
                    stdin: options.stdin,
                    stdout: options.stdout,
                    stderr: options.stderr,
                    tty: options.tty,
                },
            )
            .await?;
            // The streams keep the connection open; the session handle is not needed.
            let remotecommand::RemoteCommand {
                stdin,
                stdout,
                stderr,
                resize,
                status,
                session: _,
            } = command;
            Ok(RemoteSession {
                stdin: stdin.map(|s| Box::new(s) as SessionWriter),
                stdout: stdout.map(|s| Box::new(s) as SessionReader),
                stderr: stderr.map(|s| Box::new(s) as SessionReader),
                resize: resize.map(|s| Box::new(s) as SessionWriter),
                outcome: Box::pin(async move {
                    match status.wait().await {
                        Ok(status) => final_status(&status),
                        Err(err) => error_status(format!("the exec session ended early: {err}")),
                    }
                }),
            })
        })
    }
}

/// The runtime's Status as it sent it, or one equivalent to the decoded outcome.
fn final_status(status: &FinalStatus) -> Status {
    if let Ok(sent) = serde_json::from_slice::<Status>(&status.raw) {
        return sent;
    }
    match &status.outcome {
        Outcome::Success => success_status(),
        Outcome::ExitCode(code) => exit_code_status(*code),
        Outcome::Failure(message) => error_status(message.clone()),
    }
}
