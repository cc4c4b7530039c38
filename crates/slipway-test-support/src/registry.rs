//! Debian's `docker-registry` (distribution) started on a free port: anonymous, htpasswd, token auth.
