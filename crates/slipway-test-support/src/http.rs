//! HTTP servers on loopback for yum repos and source mirrors.
//!
//! A real server: Python's `http.server` serving a directory on a free
//! 127.0.0.1 port (no Range support; yum does not need it), stopped on drop.
//!
//! ```no_run
//! let dir = slipway_test_support::generated_dir("my-repo");
//! let Some(server) = slipway_test_support::http::HttpServer::serve(&dir) else { return };
//! let url = server.url(); // http://127.0.0.1:PORT
//! # let _ = url;
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{ChildGuard, free_port, require_tool, wait_for_port};

/// A running `python3 -m http.server` serving one directory.
#[derive(Debug)]
pub struct HttpServer {
    _guard: ChildGuard,
    port: u16,
    root: PathBuf,
}

impl HttpServer {
    /// Serve `dir` on a free loopback port. `None` (after a loud skip, or a
    /// panic under CI) when `python3` is missing.
    #[track_caller]
    pub fn serve(dir: &Path) -> Option<Self> {
        let python = require_tool("python3")?;
        let port = free_port();
        let child = Command::new(python)
            .args(["-m", "http.server", "--bind", "127.0.0.1"])
            .arg(port.to_string())
            .arg("--directory")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn python3 -m http.server");
        let guard = ChildGuard::new(format!("http.server on port {port}"), child);
        wait_for_port(port, Duration::from_secs(20)).expect("http.server did not start");
        Some(Self {
            _guard: guard,
            port,
            root: dir.to_path_buf(),
        })
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory served.
    pub fn root(&self) -> &Path {
        &self.root
    }
}
