//! One declaration per output column, and everything derived from it: the
//! Arrow field, the column builder that fills it row by row, and the line of
//! the column table in `export/SCHEMA.md`.
//!
//! A table is a static slice of [`Column`]s. Each names its accessor through
//! a [`Value`] variant, and the variant fixes the Arrow type and nullability:
//! an accessor returning `Option` makes a nullable column, one returning a
//! plain value a column without nulls. So the type, the builder and the
//! value cannot disagree, and nothing is matched by position.

use crate::options::WriterOptions;
use arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, DictionaryArray, Float64Builder, Int16Builder,
    Int32Array, Int32Builder, Int64Builder, Int8Builder, StringArray, StringBuilder,
    StringDictionaryBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use foldhash::fast::FixedState;
use std::collections::HashMap;
use std::fmt::{Display, Write as _};
use std::net::IpAddr;
use std::sync::Arc;

/// How a column's value comes from a row of type `R`; the variant is the
/// column's Arrow type, `Opt*` variants are the nullable ones.
pub enum Value<R: 'static> {
    /// Int8.
    I8(fn(&R) -> i8),
    /// Int16.
    I16(fn(&R) -> i16),
    /// Int16, nullable.
    OptI16(fn(&R) -> Option<i16>),
    /// Int32.
    I32(fn(&R) -> i32),
    /// Int32, nullable.
    OptI32(fn(&R) -> Option<i32>),
    /// Int64.
    I64(fn(&R) -> i64),
    /// Int64, nullable.
    OptI64(fn(&R) -> Option<i64>),
    /// Float64.
    F64(fn(&R) -> f64),
    /// Float64, nullable.
    OptF64(fn(&R) -> Option<f64>),
    /// Boolean.
    Bool(fn(&R) -> bool),
    /// Boolean, nullable.
    OptBool(fn(&R) -> Option<bool>),
    /// Utf8.
    Str(for<'a> fn(&'a R) -> &'a str),
    /// Utf8, nullable.
    OptStr(for<'a> fn(&'a R) -> Option<&'a str>),
    /// Utf8 written with `Display` straight into the column (no temporary string).
    Text(for<'a> fn(&'a R) -> &'a dyn Display),
    /// Utf8: an address, dotted quad or RFC 5952.
    Ip(fn(&R) -> IpAddr),
    /// Dictionary-encoded Utf8.
    Dict(for<'a> fn(&'a R) -> &'a str),
    /// Dictionary-encoded Utf8, nullable.
    OptDict(for<'a> fn(&'a R) -> Option<&'a str>),
    /// Dictionary-encoded Utf8 from a fixed vocabulary (`&'static str`).
    Label(fn(&R) -> &'static str),
    /// Dictionary-encoded Utf8 from a fixed vocabulary, nullable.
    OptLabel(fn(&R) -> Option<&'static str>),
    /// Dictionary-encoded Utf8 from the output's settings (run, sensor).
    Setting(for<'a> fn(&'a WriterOptions) -> &'a str),
    /// Timestamp in µs since the Unix epoch, UTC.
    Time(fn(&R) -> i64),
}

// Fn pointers are Copy whatever `R` is; a derive would ask `R: Copy`.
impl<R> Clone for Value<R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<R> Copy for Value<R> {}

impl<R> Value<R> {
    /// The Arrow type.
    pub fn data_type(&self) -> DataType {
        use Value::*;
        match self {
            I8(_) => DataType::Int8,
            I16(_) | OptI16(_) => DataType::Int16,
            I32(_) | OptI32(_) => DataType::Int32,
            I64(_) | OptI64(_) => DataType::Int64,
            F64(_) | OptF64(_) => DataType::Float64,
            Bool(_) | OptBool(_) => DataType::Boolean,
            Str(_) | OptStr(_) | Text(_) | Ip(_) => DataType::Utf8,
            Dict(_) | OptDict(_) | Label(_) | OptLabel(_) | Setting(_) => {
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
            }
            Time(_) => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        }
    }

    /// Whether the column may hold nulls.
    pub fn nullable(&self) -> bool {
        use Value::*;
        matches!(
            self,
            OptI16(_)
                | OptI32(_)
                | OptI64(_)
                | OptF64(_)
                | OptBool(_)
                | OptStr(_)
                | OptDict(_)
                | OptLabel(_)
        )
    }

    /// The Arrow type as `SCHEMA.md` writes it, e.g. `Dict Utf8`.
    pub fn type_name(&self) -> &'static str {
        use Value::*;
        match self {
            I8(_) => "Int8",
            I16(_) | OptI16(_) => "Int16",
            I32(_) | OptI32(_) => "Int32",
            I64(_) | OptI64(_) => "Int64",
            F64(_) | OptF64(_) => "Float64",
            Bool(_) | OptBool(_) => "Boolean",
            Str(_) | OptStr(_) | Text(_) | Ip(_) => "Utf8",
            Dict(_) | OptDict(_) | Label(_) | OptLabel(_) | Setting(_) => "Dict Utf8",
            Time(_) => "Timestamp(µs, UTC)",
        }
    }
}

/// One output column: its name, how its value comes from the row, what it
/// means and its counterparts in other flow tools.
pub struct Column<R: 'static> {
    /// Column name.
    pub name: &'static str,
    /// Accessor, which also fixes the type and nullability.
    pub value: Value<R>,
    /// One-line meaning (Markdown), as `SCHEMA.md` shows it.
    pub doc: &'static str,
    /// Zeek `conn.log` counterpart, empty if none.
    pub zeek: &'static str,
    /// nfstream counterpart, empty if none.
    pub nfstream: &'static str,
    /// IPFIX information element, empty if none.
    pub ipfix: &'static str,
}

impl<R> Column<R> {
    /// A column without counterparts.
    pub const fn new(name: &'static str, value: Value<R>, doc: &'static str) -> Self {
        Column {
            name,
            value,
            doc,
            zeek: "",
            nfstream: "",
            ipfix: "",
        }
    }

    /// The same column with its Zeek, nfstream and IPFIX counterparts.
    pub const fn like(
        self,
        zeek: &'static str,
        nfstream: &'static str,
        ipfix: &'static str,
    ) -> Self {
        Column {
            zeek,
            nfstream,
            ipfix,
            ..self
        }
    }

    /// Whether Parquet should try dictionary pages for it: not for the
    /// columns nearly every row gives a new value (ids, addresses, times),
    /// where building the dictionary costs writer time and then falls back
    /// to plain pages anyway.
    pub fn dictionary(&self) -> bool {
        !matches!(
            self.value,
            Value::Str(_) | Value::Text(_) | Value::Ip(_) | Value::Time(_)
        )
    }

    /// The Arrow field.
    pub fn field(&self) -> Field {
        Field::new(self.name, self.value.data_type(), self.value.nullable())
    }
}

/// A row of an output table, as the workers hand it over: the table's
/// columns are declared for its type.
pub trait Row: Sized + 'static {
    /// The columns, in file order.
    fn columns() -> &'static [Column<Self>];
}

/// The Arrow schema of a column list.
pub fn schema_of<R>(columns: &[Column<R>]) -> SchemaRef {
    Arc::new(Schema::new(
        columns.iter().map(Column::field).collect::<Vec<_>>(),
    ))
}

/// The Markdown column table of `SCHEMA.md`, one line per column.
pub fn doc_table<R>(columns: &[Column<R>]) -> String {
    let mut s = String::from(
        "| column | type | meaning | Zeek conn.log | nfstream | IPFIX |\n\
         |---|---|---|---|---|---|\n",
    );
    for c in columns {
        let ty = match c.value.nullable() {
            true => format!("{}, nullable", c.value.type_name()),
            false => c.value.type_name().to_string(),
        };
        let _ = write!(s, "| `{}` |", c.name);
        for cell in [ty.as_str(), c.doc, c.zeek, c.nfstream, c.ipfix] {
            // An empty cell stays `| |`, as hand-written tables have it.
            let _ = write!(s, "{}{cell} |", if cell.is_empty() { "" } else { " " });
        }
        s.push('\n');
    }
    s
}

/// A column builder holding its accessor: one variant per [`Value`] variant.
enum Builder<R: 'static> {
    I8(fn(&R) -> i8, Int8Builder),
    I16(fn(&R) -> i16, Int16Builder),
    OptI16(fn(&R) -> Option<i16>, Int16Builder),
    I32(fn(&R) -> i32, Int32Builder),
    OptI32(fn(&R) -> Option<i32>, Int32Builder),
    I64(fn(&R) -> i64, Int64Builder),
    OptI64(fn(&R) -> Option<i64>, Int64Builder),
    F64(fn(&R) -> f64, Float64Builder),
    OptF64(fn(&R) -> Option<f64>, Float64Builder),
    Bool(fn(&R) -> bool, BooleanBuilder),
    OptBool(fn(&R) -> Option<bool>, BooleanBuilder),
    Str(for<'a> fn(&'a R) -> &'a str, StringBuilder),
    OptStr(for<'a> fn(&'a R) -> Option<&'a str>, StringBuilder),
    Text(for<'a> fn(&'a R) -> &'a dyn Display, StringBuilder),
    Ip(fn(&R) -> IpAddr, StringBuilder),
    Dict(for<'a> fn(&'a R) -> &'a str, DictBuilder),
    OptDict(for<'a> fn(&'a R) -> Option<&'a str>, DictBuilder),
    Label(fn(&R) -> &'static str, LabelBuilder),
    OptLabel(fn(&R) -> Option<&'static str>, LabelBuilder),
    Setting(for<'a> fn(&'a WriterOptions) -> &'a str, SettingBuilder),
    Time(fn(&R) -> i64, TimestampMicrosecondBuilder),
}

type DictBuilder = StringDictionaryBuilder<Int32Type>;

/// A dictionary column of vocabulary labels, each found by its address: a
/// `&'static str` never moves nor changes, so no row hashes its text
/// (hashing every label of every row was the writer's largest single cost).
/// Two equal labels at different addresses only repeat a dictionary value,
/// which Arrow allows and the Parquet encoder merges.
#[derive(Default)]
struct LabelBuilder {
    keys: Int32Builder,
    values: StringBuilder,
    known: HashMap<(usize, usize), i32, FixedState>,
}

impl LabelBuilder {
    fn with_capacity(n: usize) -> Self {
        LabelBuilder {
            keys: Int32Builder::with_capacity(n),
            ..LabelBuilder::default()
        }
    }

    fn append(&mut self, v: Option<&'static str>) {
        let Some(s) = v else {
            self.keys.append_null();
            return;
        };
        let next = i32::try_from(self.known.len()).unwrap_or(i32::MAX);
        let key = *self
            .known
            .entry((s.as_ptr() as usize, s.len()))
            .or_insert_with(|| {
                self.values.append_value(s);
                next
            });
        self.keys.append_value(key);
    }

    fn finish(&mut self, n: usize) -> ArrayRef {
        self.known.clear();
        let mut keys = std::mem::replace(&mut self.keys, Int32Builder::with_capacity(n));
        dictionary(keys.finish(), self.values.finish())
    }
}

/// A dictionary column holding one setting: every row has the same value.
#[derive(Default)]
struct SettingBuilder {
    keys: Int32Builder,
    values: StringBuilder,
    last: Option<(String, i32)>,
}

impl SettingBuilder {
    fn append(&mut self, s: &str) {
        let key = match &self.last {
            Some((v, k)) if v == s => *k,
            _ => {
                let k = i32::try_from(ArrayBuilder::len(&self.values)).unwrap_or(i32::MAX);
                self.values.append_value(s);
                self.last = Some((s.to_string(), k));
                k
            }
        };
        self.keys.append_value(key);
    }

    fn finish(&mut self) -> ArrayRef {
        self.last = None;
        dictionary(self.keys.finish(), self.values.finish())
    }
}

/// A dictionary array of keys into `values`; the keys come from the
/// builders above, so each is inside `values`.
fn dictionary(keys: Int32Array, values: StringArray) -> ArrayRef {
    Arc::new(DictionaryArray::<Int32Type>::new(keys, Arc::new(values)))
}

/// An address as text: IPv4 by hand (the `Display` of `Ipv4Addr` pads and
/// formats octet by octet, a cost on two columns of every row), IPv6 by
/// `Display`, which writes RFC 5952.
fn ip_text(a: IpAddr) -> IpText {
    let mut t = IpText {
        buf: [0; 45],
        len: 0,
    };
    match a {
        IpAddr::V4(v4) => {
            for (i, o) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    t.push(b'.');
                }
                if o >= 100 {
                    t.push(b'0' + o / 100);
                }
                if o >= 10 {
                    t.push(b'0' + o / 10 % 10);
                }
                t.push(b'0' + o % 10);
            }
        }
        IpAddr::V6(v6) => {
            let _ = write!(t, "{v6}");
        }
    }
    t
}

/// The text of an address, on the stack.
struct IpText {
    // The longest text of an IPv6 address, one ending in an embedded
    // IPv4 (`ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255`), has 45.
    buf: [u8; 45],
    len: usize,
}

impl IpText {
    fn push(&mut self, c: u8) {
        if let Some(b) = self.buf.get_mut(self.len) {
            *b = c;
            self.len += 1;
        }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(self.buf.get(..self.len).unwrap_or(&[])).unwrap_or("")
    }
}

impl std::fmt::Write for IpText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl<R> Builder<R> {
    /// A builder with room for `n` rows.
    fn new(v: Value<R>, n: usize) -> Self {
        match v {
            Value::I8(f) => Builder::I8(f, Int8Builder::with_capacity(n)),
            Value::I16(f) => Builder::I16(f, Int16Builder::with_capacity(n)),
            Value::OptI16(f) => Builder::OptI16(f, Int16Builder::with_capacity(n)),
            Value::I32(f) => Builder::I32(f, Int32Builder::with_capacity(n)),
            Value::OptI32(f) => Builder::OptI32(f, Int32Builder::with_capacity(n)),
            Value::I64(f) => Builder::I64(f, Int64Builder::with_capacity(n)),
            Value::OptI64(f) => Builder::OptI64(f, Int64Builder::with_capacity(n)),
            Value::F64(f) => Builder::F64(f, Float64Builder::with_capacity(n)),
            Value::OptF64(f) => Builder::OptF64(f, Float64Builder::with_capacity(n)),
            Value::Bool(f) => Builder::Bool(f, BooleanBuilder::with_capacity(n)),
            Value::OptBool(f) => Builder::OptBool(f, BooleanBuilder::with_capacity(n)),
            Value::Str(f) => Builder::Str(f, text_builder(n)),
            Value::OptStr(f) => Builder::OptStr(f, text_builder(n)),
            Value::Text(f) => Builder::Text(f, text_builder(n)),
            Value::Ip(f) => Builder::Ip(f, text_builder(n)),
            Value::Dict(f) => Builder::Dict(f, DictBuilder::new()),
            Value::OptDict(f) => Builder::OptDict(f, DictBuilder::new()),
            Value::Label(f) => Builder::Label(f, LabelBuilder::with_capacity(n)),
            Value::OptLabel(f) => Builder::OptLabel(f, LabelBuilder::with_capacity(n)),
            Value::Setting(f) => Builder::Setting(f, SettingBuilder::default()),
            Value::Time(f) => Builder::Time(f, TimestampMicrosecondBuilder::with_capacity(n)),
        }
    }

    /// Appends one value per row: the variant is matched once for the run
    /// of rows, not once a value, and each arm is a loop of its own.
    fn append_rows(&mut self, rows: &[&R], opts: &WriterOptions) {
        macro_rules! each {
            ($f:ident, $b:ident, $append:ident) => {
                for r in rows {
                    $b.$append($f(r));
                }
            };
        }
        match self {
            Builder::I8(f, b) => each!(f, b, append_value),
            Builder::I16(f, b) => each!(f, b, append_value),
            Builder::OptI16(f, b) => each!(f, b, append_option),
            Builder::I32(f, b) => each!(f, b, append_value),
            Builder::OptI32(f, b) => each!(f, b, append_option),
            Builder::I64(f, b) => each!(f, b, append_value),
            Builder::OptI64(f, b) => each!(f, b, append_option),
            Builder::F64(f, b) => each!(f, b, append_value),
            Builder::OptF64(f, b) => each!(f, b, append_option),
            Builder::Bool(f, b) => each!(f, b, append_value),
            Builder::OptBool(f, b) => each!(f, b, append_option),
            Builder::Str(f, b) => each!(f, b, append_value),
            Builder::OptStr(f, b) => each!(f, b, append_option),
            Builder::Text(f, b) => {
                for r in rows {
                    // Writing into a string builder cannot fail.
                    let _ = write!(b, "{}", f(r));
                    b.append_value("");
                }
            }
            Builder::Ip(f, b) => {
                for r in rows {
                    b.append_value(ip_text(f(r)).as_str());
                }
            }
            Builder::Dict(f, b) => {
                for r in rows {
                    b.append_value(f(r));
                }
            }
            Builder::OptDict(f, b) => each!(f, b, append_option),
            Builder::Label(f, b) => {
                for r in rows {
                    b.append(Some(f(r)));
                }
            }
            Builder::OptLabel(f, b) => each!(f, b, append),
            Builder::Setting(f, b) => {
                for _ in rows {
                    b.append(f(opts));
                }
            }
            Builder::Time(f, b) => each!(f, b, append_value),
        }
    }

    /// The column so far; the builder starts over with room for `n` rows
    /// (Arrow's own `finish` leaves none, and growing back to a batch by
    /// doubling, copying at each step, cost a tenth of the writer's
    /// instructions).
    fn finish(&mut self, n: usize) -> ArrayRef {
        fn renew<B>(b: &mut B, fresh: B) -> B {
            std::mem::replace(b, fresh)
        }
        match self {
            Builder::I8(_, b) => Arc::new(renew(b, Int8Builder::with_capacity(n)).finish()),
            Builder::I16(_, b) | Builder::OptI16(_, b) => {
                Arc::new(renew(b, Int16Builder::with_capacity(n)).finish())
            }
            Builder::I32(_, b) | Builder::OptI32(_, b) => {
                Arc::new(renew(b, Int32Builder::with_capacity(n)).finish())
            }
            Builder::I64(_, b) | Builder::OptI64(_, b) => {
                Arc::new(renew(b, Int64Builder::with_capacity(n)).finish())
            }
            Builder::F64(_, b) | Builder::OptF64(_, b) => {
                Arc::new(renew(b, Float64Builder::with_capacity(n)).finish())
            }
            Builder::Bool(_, b) | Builder::OptBool(_, b) => {
                Arc::new(renew(b, BooleanBuilder::with_capacity(n)).finish())
            }
            Builder::Str(_, b)
            | Builder::OptStr(_, b)
            | Builder::Text(_, b)
            | Builder::Ip(_, b) => Arc::new(renew(b, text_builder(n)).finish()),
            Builder::Dict(_, b) | Builder::OptDict(_, b) => Arc::new(b.finish()),
            Builder::Label(_, b) | Builder::OptLabel(_, b) => b.finish(n),
            Builder::Setting(_, b) => b.finish(),
            Builder::Time(_, b) => Arc::new(
                renew(b, TimestampMicrosecondBuilder::with_capacity(n))
                    .finish()
                    .with_timezone("UTC"),
            ),
        }
    }
}

/// A text column's builder with room for `n` rows of a typical length.
fn text_builder(n: usize) -> StringBuilder {
    StringBuilder::with_capacity(n, n * TEXT_BYTES)
}

/// Bytes a text value is assumed to take (an address, a Community ID).
const TEXT_BYTES: usize = 32;

/// Rows per Arrow batch handed to the Parquet writer; the builders keep
/// room for this many.
pub const BATCH_ROWS: usize = 8_192;

/// Rows appended column by column at a time ([`Batch::append_rows`]): few
/// enough that the rows stay in cache while every column walks them.
pub const CHUNK_ROWS: usize = 64;

/// The column builders of one batch of `R` rows, made from its declaration.
pub struct Batch<R: Row> {
    builders: Vec<Builder<R>>,
    schema: SchemaRef,
}

impl<R: Row> Default for Batch<R> {
    fn default() -> Self {
        Batch {
            builders: R::columns()
                .iter()
                .map(|c| Builder::new(c.value, BATCH_ROWS))
                .collect(),
            schema: schema_of(R::columns()),
        }
    }
}

impl<R: Row> Batch<R> {
    /// The table's Arrow schema.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Appends one row.
    pub fn append(&mut self, row: &R, opts: &WriterOptions) {
        self.append_rows(&[row], opts);
    }

    /// Appends rows column by column: each builder then takes a run of
    /// values at once, with the same accessor and the same branch each
    /// time, rather than one value between 90 other columns'.
    pub fn append_rows(&mut self, rows: &[&R], opts: &WriterOptions) {
        for b in &mut self.builders {
            b.append_rows(rows, opts);
        }
    }

    /// Finishes the rows appended so far into a batch; the builders start over.
    ///
    /// # Errors
    /// Only if a column disagrees with the schema (an accessor declared
    /// without nulls cannot produce one, so tests rule this out).
    pub fn finish(&mut self) -> Result<RecordBatch, arrow::error::ArrowError> {
        let cols: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(|b| b.finish(BATCH_ROWS))
            .collect();
        RecordBatch::try_new(self.schema.clone(), cols)
    }
}

/// `u64` counters as the signed Int64 of the schema, saturating.
pub(crate) fn i64c(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod test {
    use super::*;

    struct Demo {
        n: u64,
        name: Option<String>,
    }

    type C = Column<Demo>;
    static DEMO: &[Column<Demo>] = &[
        C::new("n", Value::I64(|r| i64c(r.n)), "a counter").like("z", "nf", "ie (1)"),
        C::new("name", Value::OptDict(|r| r.name.as_deref()), "a label"),
        C::new("run_id", Value::Setting(|o| &o.run_id), "the run"),
    ];
    impl Row for Demo {
        fn columns() -> &'static [Column<Demo>] {
            DEMO
        }
    }

    #[test]
    fn the_variant_fixes_type_and_nullability() {
        let s = schema_of(DEMO);
        assert_eq!(s.field(0).data_type(), &DataType::Int64);
        assert!(!s.field(0).is_nullable());
        assert!(matches!(s.field(1).data_type(), DataType::Dictionary(..)));
        assert!(s.field(1).is_nullable());
        let t = doc_table(DEMO);
        assert!(
            t.contains("| `n` | Int64 | a counter | z | nf | ie (1) |"),
            "{t}"
        );
        assert!(
            t.contains("| `name` | Dict Utf8, nullable | a label | | | |"),
            "{t}"
        );
    }

    #[test]
    fn addresses_read_as_their_display() {
        // A stride through the whole IPv4 space hits every octet width.
        for i in 0..200_000u32 {
            let a = IpAddr::from(std::net::Ipv4Addr::from(i.wrapping_mul(21_473)));
            assert_eq!(ip_text(a).as_str(), a.to_string());
        }
        for a in [
            "::",
            "::1",
            "2001:db8::8:800:200c:417a",
            "::ffff:255.255.255.255",
        ]
        .iter()
        .filter_map(|t| t.parse::<IpAddr>().ok())
        .chain([IpAddr::from([0xffff_u16; 8])])
        {
            assert_eq!(ip_text(a).as_str(), a.to_string());
        }
    }

    #[test]
    fn labels_read_back_as_appended() {
        use arrow::array::{Array, AsArray};
        // The same text at another address, as two crates' literals may be.
        let twin: &'static str = Box::leak(String::from("udp").into_boxed_str());
        let rows = [
            Some("tcp"),
            None,
            Some("udp"),
            Some(twin),
            Some("tcp"),
            None,
        ];
        let mut b = LabelBuilder::default();
        for round in 0..2 {
            for r in rows.iter().skip(round) {
                b.append(*r);
            }
            let a = b.finish(4);
            let d = a.as_dictionary::<Int32Type>();
            let values = d.values().as_string::<i32>();
            let got: Vec<Option<&str>> = (0..d.len())
                .map(|i| d.is_valid(i).then(|| values.value(d.key(i).unwrap_or(0))))
                .collect();
            assert_eq!(got, rows.iter().skip(round).copied().collect::<Vec<_>>());
        }
        let mut s = SettingBuilder::default();
        for v in ["run-1", "run-1", "run-2", "run-2"] {
            s.append(v);
        }
        let a = s.finish();
        let d = a.as_dictionary::<Int32Type>();
        assert_eq!(d.values().len(), 2);
        let values = d.values().as_string::<i32>();
        let got: Vec<&str> = d
            .keys()
            .values()
            .iter()
            .map(|&k| values.value(k as usize))
            .collect();
        assert_eq!(got, ["run-1", "run-1", "run-2", "run-2"]);
    }

    #[test]
    fn a_batch_fills_every_column_and_starts_over() {
        let opts = WriterOptions {
            compression: crate::options::Compression::Zstd,
            run_id: "r".into(),
            sensor: "s".into(),
            store: None,
        };
        let mut b = Batch::<Demo>::default();
        b.append(
            &Demo {
                n: u64::MAX,
                name: None,
            },
            &opts,
        );
        b.append(
            &Demo {
                n: 3,
                name: Some("x".into()),
            },
            &opts,
        );
        let batch = b.finish().unwrap();
        assert_eq!((batch.num_rows(), batch.column(1).null_count()), (2, 1));
        assert_eq!(b.finish().unwrap().num_rows(), 0);
    }
}
