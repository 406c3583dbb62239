//! A mini MicroPython: statements ([`block`]), expressions ([`expr`]) and their operators,
//! literals ([`lit`]), and the builtins every simulated board has ([`builtins`]).

pub mod block;
pub mod builtins;
pub mod expr;
pub mod lit;
mod ops;
