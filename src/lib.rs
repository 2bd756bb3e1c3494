//! chattag snippet: the browser shell around `chattag-core` (being written).
