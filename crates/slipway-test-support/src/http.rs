//! HTTP servers on loopback for yum repos and source mirrors.
