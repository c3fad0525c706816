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
    ArrayRef, BooleanBuilder, Float64Builder, Int16Builder, Int32Builder, Int64Builder,
    Int8Builder, StringBuilder, StringDictionaryBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use std::fmt::{Display, Write as _};
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
    /// Dictionary-encoded Utf8.
    Dict(for<'a> fn(&'a R) -> &'a str),
    /// Dictionary-encoded Utf8, nullable.
    OptDict(for<'a> fn(&'a R) -> Option<&'a str>),
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
            Str(_) | OptStr(_) | Text(_) => DataType::Utf8,
            Dict(_) | OptDict(_) | Setting(_) => {
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
            OptI16(_) | OptI32(_) | OptI64(_) | OptF64(_) | OptBool(_) | OptStr(_) | OptDict(_)
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
            Str(_) | OptStr(_) | Text(_) => "Utf8",
            Dict(_) | OptDict(_) | Setting(_) => "Dict Utf8",
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
        !matches!(self.value, Value::Str(_) | Value::Text(_) | Value::Time(_))
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
    Dict(for<'a> fn(&'a R) -> &'a str, DictBuilder),
    OptDict(for<'a> fn(&'a R) -> Option<&'a str>, DictBuilder),
    Setting(for<'a> fn(&'a WriterOptions) -> &'a str, DictBuilder),
    Time(fn(&R) -> i64, TimestampMicrosecondBuilder),
}

type DictBuilder = StringDictionaryBuilder<Int32Type>;

impl<R> Builder<R> {
    fn new(v: Value<R>) -> Self {
        match v {
            Value::I8(f) => Builder::I8(f, Int8Builder::new()),
            Value::I16(f) => Builder::I16(f, Int16Builder::new()),
            Value::OptI16(f) => Builder::OptI16(f, Int16Builder::new()),
            Value::I32(f) => Builder::I32(f, Int32Builder::new()),
            Value::OptI32(f) => Builder::OptI32(f, Int32Builder::new()),
            Value::I64(f) => Builder::I64(f, Int64Builder::new()),
            Value::OptI64(f) => Builder::OptI64(f, Int64Builder::new()),
            Value::F64(f) => Builder::F64(f, Float64Builder::new()),
            Value::OptF64(f) => Builder::OptF64(f, Float64Builder::new()),
            Value::Bool(f) => Builder::Bool(f, BooleanBuilder::new()),
            Value::OptBool(f) => Builder::OptBool(f, BooleanBuilder::new()),
            Value::Str(f) => Builder::Str(f, StringBuilder::new()),
            Value::OptStr(f) => Builder::OptStr(f, StringBuilder::new()),
            Value::Text(f) => Builder::Text(f, StringBuilder::new()),
            Value::Dict(f) => Builder::Dict(f, DictBuilder::new()),
            Value::OptDict(f) => Builder::OptDict(f, DictBuilder::new()),
            Value::Setting(f) => Builder::Setting(f, DictBuilder::new()),
            Value::Time(f) => Builder::Time(f, TimestampMicrosecondBuilder::new()),
        }
    }

    #[inline]
    fn append(&mut self, r: &R, opts: &WriterOptions) {
        match self {
            Builder::I8(f, b) => b.append_value(f(r)),
            Builder::I16(f, b) => b.append_value(f(r)),
            Builder::OptI16(f, b) => b.append_option(f(r)),
            Builder::I32(f, b) => b.append_value(f(r)),
            Builder::OptI32(f, b) => b.append_option(f(r)),
            Builder::I64(f, b) => b.append_value(f(r)),
            Builder::OptI64(f, b) => b.append_option(f(r)),
            Builder::F64(f, b) => b.append_value(f(r)),
            Builder::OptF64(f, b) => b.append_option(f(r)),
            Builder::Bool(f, b) => b.append_value(f(r)),
            Builder::OptBool(f, b) => b.append_option(f(r)),
            Builder::Str(f, b) => b.append_value(f(r)),
            Builder::OptStr(f, b) => b.append_option(f(r)),
            Builder::Text(f, b) => {
                // Writing into a string builder cannot fail.
                let _ = write!(b, "{}", f(r));
                b.append_value("");
            }
            Builder::Dict(f, b) => {
                b.append_value(f(r));
            }
            Builder::OptDict(f, b) => b.append_option(f(r)),
            Builder::Setting(f, b) => {
                b.append_value(f(opts));
            }
            Builder::Time(f, b) => b.append_value(f(r)),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::I8(_, b) => Arc::new(b.finish()),
            Builder::I16(_, b) | Builder::OptI16(_, b) => Arc::new(b.finish()),
            Builder::I32(_, b) | Builder::OptI32(_, b) => Arc::new(b.finish()),
            Builder::I64(_, b) | Builder::OptI64(_, b) => Arc::new(b.finish()),
            Builder::F64(_, b) | Builder::OptF64(_, b) => Arc::new(b.finish()),
            Builder::Bool(_, b) | Builder::OptBool(_, b) => Arc::new(b.finish()),
            Builder::Str(_, b) | Builder::OptStr(_, b) | Builder::Text(_, b) => {
                Arc::new(b.finish())
            }
            Builder::Dict(_, b) | Builder::OptDict(_, b) | Builder::Setting(_, b) => {
                Arc::new(b.finish())
            }
            Builder::Time(_, b) => Arc::new(b.finish().with_timezone("UTC")),
        }
    }
}

/// The column builders of one batch of `R` rows, made from its declaration.
pub struct Batch<R: Row> {
    builders: Vec<Builder<R>>,
    schema: SchemaRef,
}

impl<R: Row> Default for Batch<R> {
    fn default() -> Self {
        Batch {
            builders: R::columns().iter().map(|c| Builder::new(c.value)).collect(),
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
        for b in &mut self.builders {
            b.append(row, opts);
        }
    }

    /// Finishes the rows appended so far into a batch; the builders start over.
    ///
    /// # Errors
    /// Only if a column disagrees with the schema (an accessor declared
    /// without nulls cannot produce one, so tests rule this out).
    pub fn finish(&mut self) -> Result<RecordBatch, arrow::error::ArrowError> {
        let cols: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
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
    fn a_batch_fills_every_column_and_starts_over() {
        let opts = WriterOptions {
            compression: crate::options::Compression::Zstd,
            run_id: "r".into(),
            sensor: "s".into(),
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
