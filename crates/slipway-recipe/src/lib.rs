//! Recipe format for slipway images, validation with file/line errors, build plan and cache keys, build driver.
#![warn(missing_docs)]
