//! Rotation's logs and errors never carry a key: not the old one, not the new one, not a
//! mistyped one — across a successful rotation, a rejected key and a missing one.
//!
//! Own test binary: it installs a global subscriber (debug for every crate, trace for bridge
//! and severa) writing to a buffer, so lines from every task and thread are captured.

mod rotation_support;

use bridge::rotation::{RotationStep, StepOutcome};
use rotation_support::*;
use severa::ApiKey;
use severa_sim::DEFAULT_API_KEY;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_in_any_log_line_or_error() {
    let buffer =
        test_support::LogCapture::install("debug,bridge=trace,severa=trace,severa_sim=trace");

    let s = Setup::start().await;
    let operator = s.operator();
    let mut errors = Vec::new();
    let wrong = "mistyped-key-3c9e1f0a";

    // A mistyped key: refused by the pre-check, and by testSecret when staged by hand.
    let err = operator
        .rotate(
            &s.secret_id,
            ApiKey::new(wrong),
            &token(),
            false,
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
    errors.push(format!("{err} {err:?}"));
    let staged = s.stage(wrong).await;
    let rotation = s.rotation();
    for step in [RotationStep::Create, RotationStep::Set] {
        rotation.handle(&s.event(step, &staged)).await.unwrap();
    }
    let err = rotation
        .handle(&s.event(RotationStep::Test, &staged))
        .await
        .unwrap_err();
    errors.push(format!("{err} {err:?}"));

    // No key staged.
    let err = rotation
        .handle(&s.event(RotationStep::Create, &token()))
        .await
        .unwrap_err();
    errors.push(format!("{err} {err:?}"));

    // The real thing.
    let new_key = s.regenerate_key().await;
    let report = operator
        .rotate(
            &s.secret_id,
            ApiKey::new(new_key.clone()),
            &token(),
            false,
            Duration::from_secs(5),
        )
        .await
        .expect("rotated");
    errors.push(format!("{report:?}"));
    let again = rotation
        .handle(&s.event(RotationStep::Finish, &report.version_id))
        .await
        .unwrap();
    assert_eq!(again, StepOutcome::AlreadyCurrent);
    assert_eq!(s.current_value().await, new_key);
    s.stop().await;

    let lines = buffer.lines();
    assert!(
        lines.iter().any(|l| l.contains("testSecret")),
        "step logs were captured"
    );
    assert!(
        lines.iter().any(|l| l.contains("nothing to set in Severa")),
        "setSecret says why it does nothing"
    );
    for key in [DEFAULT_API_KEY, new_key.as_str(), wrong] {
        for line in &lines {
            assert!(!line.contains(key), "a key in a log line: {line}");
        }
        for error in &errors {
            assert!(!error.contains(key), "a key in an error: {error}");
        }
    }
}
