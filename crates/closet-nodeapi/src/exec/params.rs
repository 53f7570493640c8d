//! The query of an exec or attach request (`PodExecOptions`, `PodAttachOptions`).

use crate::status::{Failure, bad_request};

use crate::logs::{form_pairs, parse_bool};

/// What an exec or attach request asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct StreamParams {
    /// The command and its arguments (exec only), one `command=` parameter each.
    pub(crate) command: Vec<String>,
    /// Pass the client's stdin.
    pub(crate) stdin: bool,
    /// Return stdout.
    pub(crate) stdout: bool,
    /// Return stderr (never with a TTY: the TTY merges it into stdout).
    pub(crate) stderr: bool,
    /// Allocate (exec) or expect (attach) a terminal.
    pub(crate) tty: bool,
}

impl StreamParams {
    /// Parses the query; exec needs a command, and every request at least one stream.
    pub(crate) fn parse(query: &str, needs_command: bool) -> Result<Self, Failure> {
        let mut params = Self::default();
        for (key, value) in form_pairs(query) {
            match key.as_str() {
                "command" => params.command.push(value),
                "stdin" | "input" => params.stdin = parse_bool(&key, &value)?,
                "stdout" => params.stdout = parse_bool(&key, &value)?,
                "stderr" => params.stderr = parse_bool(&key, &value)?,
                "tty" => params.tty = parse_bool(&key, &value)?,
                _ => {}
            }
        }
        if params.tty {
            params.stderr = false;
        }
        if needs_command && params.command.is_empty() {
            return Err(bad_request("you must specify at least 1 command"));
        }
        if !params.stdin && !params.stdout && !params.stderr {
            return Err(bad_request(
                "you must specify at least 1 of stdin, stdout, stderr",
            ));
        }
        Ok(params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_exec_query() {
        let p = StreamParams::parse(
            "command=ls&command=-la&command=%2F&container=web&stderr=true&stdout=true",
            true,
        )
        .unwrap();
        assert_eq!(p.command, ["ls", "-la", "/"]);
        assert!(p.stdout && p.stderr && !p.stdin && !p.tty);
    }

    #[test]
    fn tty_drops_stderr() {
        let p = StreamParams::parse(
            "command=sh&stdin=true&stdout=true&stderr=true&tty=true",
            true,
        )
        .unwrap();
        assert!(p.tty && p.stdin && p.stdout && !p.stderr);
    }

    #[test]
    fn missing_pieces_are_refused() {
        assert_eq!(
            StreamParams::parse("stdout=true", true).unwrap_err().0.code,
            400
        );
        assert_eq!(
            StreamParams::parse("command=ls", true).unwrap_err().0.code,
            400
        );
        assert!(StreamParams::parse("stdout=true", false).is_ok());
    }
}
