//! Test support for Hourglass's own tests, never part of a release build: real `redis-server`
//! processes on free ports ([`redis`]).

pub mod redis;
