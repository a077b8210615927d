//! End-to-end tests: the real daemon in-process, the real admin socket, the
//! real console code, real HTTP on loopback.

mod admin_socket;
mod cli_users;
mod lifecycle;
