//! Decisions: which device a request goes to ([`selection`]) and whether the chosen device may
//! take it now ([`rate_limit`]). Policies see read-only views and return decisions as data;
//! they never touch the event queue or device state.

pub mod rate_limit;
pub mod selection;
