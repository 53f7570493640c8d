//! The exit status a v4 streaming server writes to the error stream: a `metav1.Status`.
//!
//! kubelet writes `{"metadata":{},"status":"Success"}` when the command exits 0, and a
//! `Failure` with reason `NonZeroExitCode` and a cause `{"reason":"ExitCode","message":"N"}`
//! otherwise; any other failure (the runtime could not start the command) is a `Failure`
//! with a message. Decoding follows client-go's v4 error decoder.

use bytes::Bytes;
use serde::Deserialize;

/// How the remote command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The command exited 0.
    Success,
    /// The command exited with this non-zero code.
    ExitCode(i32),
    /// The command could not run, or the status was not understood.
    Failure(String),
}

/// The decoded outcome together with the status bytes exactly as the server sent them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalStatus {
    /// What happened.
    pub outcome: Outcome,
    /// The server's Status JSON, verbatim; empty if it sent none.
    pub raw: Bytes,
}

impl FinalStatus {
    pub(super) fn from_raw(raw: Bytes) -> Self {
        Self {
            outcome: decode(&raw),
            raw,
        }
    }

    /// Status JSON to hand on: the server's bytes when it sent some, otherwise a Status
    /// equivalent to [`FinalStatus::outcome`] in the shape kubelet writes.
    pub fn json(&self) -> Bytes {
        if !self.raw.is_empty() {
            return self.raw.clone();
        }
        let value = match &self.outcome {
            Outcome::Success => serde_json::json!({"metadata": {}, "status": "Success"}),
            Outcome::ExitCode(code) => serde_json::json!({
                "metadata": {},
                "status": "Failure",
                "message": format!("command terminated with non-zero exit code: {code}"),
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
            }),
            Outcome::Failure(message) => {
                serde_json::json!({"metadata": {}, "status": "Failure", "message": message})
            }
        };
        Bytes::from(value.to_string())
    }
}

#[derive(Deserialize)]
struct Status {
    #[serde(default)]
    status: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    details: Option<Details>,
}

#[derive(Deserialize)]
struct Details {
    #[serde(default)]
    causes: Vec<Cause>,
}

#[derive(Deserialize)]
struct Cause {
    /// `StatusCause.Type`, which is serialized as `reason`.
    #[serde(default)]
    reason: String,
    #[serde(default)]
    message: String,
}

fn decode(raw: &[u8]) -> Outcome {
    // An error stream closed without a word is a success, as client-go reads it.
    if raw.is_empty() {
        return Outcome::Success;
    }
    let status: Status = match serde_json::from_slice(raw) {
        Ok(status) => status,
        Err(error) => {
            return Outcome::Failure(format!(
                "error stream protocol error: {error} in {:?}",
                String::from_utf8_lossy(raw)
            ));
        }
    };
    match status.status.as_str() {
        "Success" => Outcome::Success,
        "Failure" if status.reason == "NonZeroExitCode" => {
            let cause = status
                .details
                .iter()
                .flat_map(|d| &d.causes)
                .find(|c| c.reason == "ExitCode");
            match cause.map(|c| c.message.trim().parse::<i32>()) {
                Some(Ok(code)) => Outcome::ExitCode(code),
                Some(Err(_)) => Outcome::Failure(format!(
                    "error stream protocol error: invalid exit code value {:?}",
                    cause.map(|c| c.message.as_str()).unwrap_or_default()
                )),
                None => Outcome::Failure(
                    "error stream protocol error: no ExitCode cause given".to_owned(),
                ),
            }
        }
        "Failure" if !status.message.is_empty() => Outcome::Failure(status.message),
        "Failure" if !status.reason.is_empty() => Outcome::Failure(status.reason),
        _ => Outcome::Failure("error stream protocol error: unknown error".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn kubelet_statuses_decode() {
        assert_eq!(
            decode(br#"{"metadata":{},"status":"Success"}"#),
            Outcome::Success
        );
        let exit3 = br#"{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}"#;
        assert_eq!(decode(exit3), Outcome::ExitCode(3));
        let internal = br#"{"metadata":{},"status":"Failure","message":"Internal error occurred: error executing command in container: no such file","reason":"InternalError","details":{"causes":[{"message":"no such file"}]},"code":500}"#;
        assert_eq!(
            decode(internal),
            Outcome::Failure(
                "Internal error occurred: error executing command in container: no such file"
                    .to_owned()
            )
        );
        assert_eq!(decode(b""), Outcome::Success);
    }

    #[test]
    fn broken_statuses_are_failures() {
        for raw in [
            &b"not json"[..],
            br#"{"status":"Failure","reason":"NonZeroExitCode"}"#,
            br#"{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"x"}]}}"#,
            br#"{"status":"Weird"}"#,
        ] {
            let Outcome::Failure(message) = decode(raw) else { panic!("{raw:?}") };
            assert!(message.starts_with("error stream protocol error"), "{message}");
        }
    }

    #[test]
    fn json_is_verbatim_or_synthesized() {
        let raw = Bytes::from_static(br#"{"status":"Success","extra":1}"#);
        assert_eq!(FinalStatus::from_raw(raw.clone()).json(), raw);
        let synthesized = FinalStatus {
            outcome: Outcome::ExitCode(2),
            raw: Bytes::new(),
        }
        .json();
        assert_eq!(decode(&synthesized), Outcome::ExitCode(2));
        let success = FinalStatus::from_raw(Bytes::new());
        assert_eq!(success.outcome, Outcome::Success);
        assert_eq!(decode(&success.json()), Outcome::Success);
    }
}
