//! The poison-ignoring lock every mutex of the server is taken with.

/// A mutex's guard, taken even when a holder panicked (the server's
/// locks ignore poisoning: the data is used as that holder left it).
pub fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
