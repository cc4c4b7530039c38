//! Log output on stderr: human lines by default, full tracing lines on request.
//!
//! Without `-v` and without `SLIPWAY_LOG`, warnings and errors are printed as
//! a person reads them — `warning: retrying host (attempt 2/6): …` — with no
//! timestamp, level column or module path. `-v` (info), `-vv` (debug),
//! `-vvv` (trace) or a `SLIPWAY_LOG` filter (`slipway_registry=debug`) switch
//! to tracing's own format with timestamps and targets, for bug reports.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The environment variable holding a tracing filter.
pub(crate) const LOG_ENV: &str = "SLIPWAY_LOG";

/// Install the global subscriber for `-v` given `verbose` times.
pub(crate) fn init(verbose: u8) {
    let from_env = std::env::var(LOG_ENV).ok().filter(|v| !v.is_empty());
    let detailed = verbose > 0 || from_env.is_some();
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = from_env
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(use_colour());
    let _ = if detailed {
        builder.with_target(true).try_init()
    } else {
        builder.event_format(Human).try_init()
    };
}

/// Colour only on a terminal, and never when `NO_COLOR` is set (<https://no-color.org>).
fn use_colour() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// `warning: MESSAGE key=value` — the level as a word where it matters, the
/// message, and any fields; nothing else.
struct Human;

impl<S, N> FormatEvent<S, N> for Human
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = *event.metadata().level();
        let prefix = if level == Level::ERROR {
            "error: "
        } else if level == Level::WARN {
            "warning: "
        } else {
            ""
        };
        write!(writer, "{prefix}")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
