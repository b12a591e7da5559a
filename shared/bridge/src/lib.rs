//! severa-bridge's integration core. The logic knows only [`ports`]; AWS adapters implement them.

pub mod ports;
