//! Pod spec to CRI: sandbox and container configs, environment, volumes on disk.
