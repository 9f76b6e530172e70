//! gyrus runtime: everything that must run the same on a PC and on a microcontroller.
//!
//! `no_std` and allocation-free. Modules:
//! - [`tasks`] (feature `tasks`): the Yang et al. 2019 cognitive tasks and the Mod-Cog battery,
//!   generated from a seed into caller-provided buffers, so that host and board see the same trials.
#![cfg_attr(not(any(feature = "std", test)), no_std)]
#![deny(missing_docs)]

#[cfg(feature = "tasks")]
pub mod tasks;
