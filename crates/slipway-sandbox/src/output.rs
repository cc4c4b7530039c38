//! The step's output: streamed live (optionally prefixed), written to a log
//! file, and its last lines kept for error messages.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::PathBuf;

/// Where the step's output is echoed while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Echo {
    /// Not echoed (still logged and kept for errors).
    #[default]
    Quiet,
    /// Echoed on stdout (`slipway run`).
    Stdout,
    /// Echoed on stderr (build steps).
    Stderr,
}

/// How a step's output is handled.
#[derive(Debug, Clone, Default)]
pub struct OutputOptions {
    /// Live echo.
    pub echo: Echo,
    /// Prefix each echoed line with `[step-name] ` (when several steps run at once).
    pub prefix: bool,
    /// Append the raw output here.
    pub log_file: Option<PathBuf>,
    /// Keep the whole output in memory ([`crate::StepOutcome::output`]).
    pub collect: bool,
}

/// Number of output lines quoted in a failed step's error.
pub const TAIL_LINES: usize = 30;

/// What the reader thread hands back.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    pub(crate) tail: VecDeque<String>,
    pub(crate) all: Vec<u8>,
}

impl Collected {
    pub(crate) fn tail_text(&self) -> String {
        self.tail
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Read `pipe` to its end (every process of the step has exited or closed it).
pub(crate) fn pump(pipe: impl Read, name: &str, options: &OutputOptions) -> io::Result<Collected> {
    let mut log = match &options.log_file {
        Some(path) => Some(
            fs_err::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        ),
        None => None,
    };
    let prefix = options.prefix.then(|| format!("[{name}] "));
    let mut collected = Collected::default();
    let mut reader = BufReader::new(pipe);
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if let Some(log) = &mut log {
            log.write_all(&line)?;
        }
        if options.collect {
            collected.all.extend_from_slice(&line);
        }
        let echo = |out: &mut dyn Write| -> io::Result<()> {
            if let Some(p) = &prefix {
                out.write_all(p.as_bytes())?;
            }
            out.write_all(&line)?;
            if !line.ends_with(b"\n") {
                out.write_all(b"\n")?;
            }
            out.flush()
        };
        // A closed stdout/stderr must not stop the step; ignore echo errors.
        let _ = match options.echo {
            Echo::Quiet => Ok(()),
            Echo::Stdout => echo(&mut io::stdout().lock()),
            Echo::Stderr => echo(&mut io::stderr().lock()),
        };
        if collected.tail.len() == TAIL_LINES {
            collected.tail.pop_front();
        }
        let text = String::from_utf8_lossy(&line);
        collected
            .tail
            .push_back(text.trim_end_matches('\n').to_owned());
    }
    Ok(collected)
}
