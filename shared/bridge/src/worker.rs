//! The worker function's logic (see `functions/worker`).
