//! Settings of one output: its compression and the run's identity, which
//! fills the `run_id` and `sensor` columns of every row.

/// Column compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Compression {
    /// zstd level 1 (the default).
    #[default]
    Zstd,
    /// Snappy, for older or unknown readers.
    Snappy,
}

/// Settings of one output file.
#[derive(Clone, Debug)]
pub struct WriterOptions {
    /// Column compression.
    pub compression: Compression,
    /// Value of the `run_id` column.
    pub run_id: String,
    /// Value of the `sensor` column.
    pub sensor: String,
    /// Object storage a dataset's parts are sent to as they complete; the
    /// dataset directory is then only their local staging area.
    pub store: Option<crate::store::Store>,
}
