//! The webhook function's logic (see `functions/webhook`).
