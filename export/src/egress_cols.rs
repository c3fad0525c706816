//! The egress columns (schema.md section 3): their per-flow values, their
//! Arrow fields and their column builders, appended after `service`.
//!
//! Kept in one struct and one builder so the flows table gains them as a
//! block: every column except `egress` is nullable.

use arrow::array::{
    ArrayRef, BooleanBuilder, Int32Builder, StringBuilder, StringDictionaryBuilder,
};
use arrow::datatypes::{DataType, Field, Int32Type};
use pathlens_classify::egress::ExpectedPath;
use std::sync::Arc;

pub use pathlens_classify::outcome::EgressFields;

fn dict() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// The Arrow fields, in schema order.
pub fn egress_fields() -> Vec<Field> {
    vec![
        Field::new("egress", dict(), false),
        Field::new("egress_list", dict(), true),
        Field::new("o365_endpoint_id", DataType::Int32, true),
        Field::new("o365_service_area", dict(), true),
        Field::new("o365_category", dict(), true),
        Field::new("o365_expressroute", DataType::Boolean, true),
        Field::new("src2dst_next_hop", dict(), true),
        Field::new("dst2src_next_hop", dict(), true),
        Field::new("asymmetric", DataType::Boolean, true),
        Field::new("expected_path", dict(), true),
        Field::new("path_conformant", DataType::Boolean, true),
        Field::new("path_note", DataType::Utf8, true),
    ]
}

/// Column builders for the egress block.
pub(crate) struct EgressColumns {
    egress: StringDictionaryBuilder<Int32Type>,
    egress_list: StringDictionaryBuilder<Int32Type>,
    endpoint_id: Int32Builder,
    service_area: StringDictionaryBuilder<Int32Type>,
    category: StringDictionaryBuilder<Int32Type>,
    o365_er: BooleanBuilder,
    s2d_hop: StringDictionaryBuilder<Int32Type>,
    d2s_hop: StringDictionaryBuilder<Int32Type>,
    asymmetric: BooleanBuilder,
    expected: StringDictionaryBuilder<Int32Type>,
    conformant: BooleanBuilder,
    note: StringBuilder,
}

impl EgressColumns {
    pub(crate) fn new() -> Self {
        let d = StringDictionaryBuilder::<Int32Type>::new;
        EgressColumns {
            egress: d(),
            egress_list: d(),
            endpoint_id: Int32Builder::new(),
            service_area: d(),
            category: d(),
            o365_er: BooleanBuilder::new(),
            s2d_hop: d(),
            d2s_hop: d(),
            asymmetric: BooleanBuilder::new(),
            expected: d(),
            conformant: BooleanBuilder::new(),
            note: StringBuilder::new(),
        }
    }

    pub(crate) fn append(&mut self, e: &EgressFields) {
        self.egress.append_value(e.egress.as_str());
        self.egress_list.append_option(e.egress_list.as_deref());
        self.endpoint_id.append_option(e.o365_endpoint_id);
        self.service_area
            .append_option(e.o365_service_area.as_deref());
        self.category.append_option(e.o365_category);
        self.o365_er.append_option(e.o365_expressroute);
        self.s2d_hop.append_option(e.src2dst_next_hop.as_deref());
        self.d2s_hop.append_option(e.dst2src_next_hop.as_deref());
        self.asymmetric.append_option(e.asymmetric);
        self.expected
            .append_option(e.expected_path.map(ExpectedPath::as_str));
        self.conformant.append_option(e.path_conformant);
        self.note.append_option(e.path_note.as_deref());
    }

    pub(crate) fn finish_into(&mut self, cols: &mut Vec<ArrayRef>) {
        cols.push(Arc::new(self.egress.finish()));
        cols.push(Arc::new(self.egress_list.finish()));
        cols.push(Arc::new(self.endpoint_id.finish()));
        cols.push(Arc::new(self.service_area.finish()));
        cols.push(Arc::new(self.category.finish()));
        cols.push(Arc::new(self.o365_er.finish()));
        cols.push(Arc::new(self.s2d_hop.finish()));
        cols.push(Arc::new(self.d2s_hop.finish()));
        cols.push(Arc::new(self.asymmetric.finish()));
        cols.push(Arc::new(self.expected.finish()));
        cols.push(Arc::new(self.conformant.finish()));
        cols.push(Arc::new(self.note.finish()));
    }
}
