//! Step 1 of the data flow: the normalisation table. Maps every physical Arrow type to the logical
//! type that scheme 1 hashes, refuses the types it does not define, and computes the schema digest.
//!
//! See `docs/hash-spec.md` §3 (types) and §6 (schema digest).

use arrow_schema::{DataType, Field, Schema, TimeUnit};

use crate::error::{Error, Result};
use crate::hashing::{Ctx, Digest};

/// Field metadata key under which Arrow records an extension type.
const EXTENSION_NAME_KEY: &str = "ARROW:extension:name";

/// The logical type of a column under scheme 1. Physical variants (string vs large_string vs
/// string_view, dictionary vs plain, list vs large_list) collapse to one logical type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Logical {
    Null,
    Bool,
    /// Integer of `bytes` width (1, 2, 4, 8).
    Int {
        bytes: u8,
        signed: bool,
    },
    /// IEEE float of `bytes` width (2, 4, 8).
    Float {
        bytes: u8,
    },
    String,
    Binary,
    FixedBinary(i32),
    Date32,
    Date64,
    Time32(TimeUnit),
    Time64(TimeUnit),
    Timestamp(TimeUnit, Option<String>),
    Duration(TimeUnit),
    /// Decimal stored as an unscaled two's-complement integer of `bytes` width (4, 8, 16, 32).
    Decimal {
        bytes: u8,
        precision: u8,
        scale: i8,
    },
    List(Box<Logical>),
    FixedList(i32, Box<Logical>),
    Struct(Vec<(String, Logical)>),
}

impl Logical {
    /// Normalise `data_type`, found at `path` (for error messages), to its logical type.
    pub fn from_field(field: &Field, path: &str) -> Result<Logical> {
        if let Some(ext) = field.metadata().get(EXTENSION_NAME_KEY) {
            return Err(unsupported(
                path,
                field.data_type(),
                &format!("extension type {ext:?} is not understood"),
            ));
        }
        Self::from_type(field.data_type(), path)
    }

    fn from_type(data_type: &DataType, path: &str) -> Result<Logical> {
        use DataType as D;
        Ok(match data_type {
            D::Null => Logical::Null,
            D::Boolean => Logical::Bool,
            D::Int8 => Logical::Int {
                bytes: 1,
                signed: true,
            },
            D::Int16 => Logical::Int {
                bytes: 2,
                signed: true,
            },
            D::Int32 => Logical::Int {
                bytes: 4,
                signed: true,
            },
            D::Int64 => Logical::Int {
                bytes: 8,
                signed: true,
            },
            D::UInt8 => Logical::Int {
                bytes: 1,
                signed: false,
            },
            D::UInt16 => Logical::Int {
                bytes: 2,
                signed: false,
            },
            D::UInt32 => Logical::Int {
                bytes: 4,
                signed: false,
            },
            D::UInt64 => Logical::Int {
                bytes: 8,
                signed: false,
            },
            D::Float16 => Logical::Float { bytes: 2 },
            D::Float32 => Logical::Float { bytes: 4 },
            D::Float64 => Logical::Float { bytes: 8 },
            D::Utf8 | D::LargeUtf8 | D::Utf8View => Logical::String,
            D::Binary | D::LargeBinary | D::BinaryView => Logical::Binary,
            D::FixedSizeBinary(w) => Logical::FixedBinary(*w),
            D::Date32 => Logical::Date32,
            D::Date64 => Logical::Date64,
            D::Time32(u) => Logical::Time32(*u),
            D::Time64(u) => Logical::Time64(*u),
            D::Timestamp(u, tz) => Logical::Timestamp(*u, tz.as_ref().map(|t| t.to_string())),
            D::Duration(u) => Logical::Duration(*u),
            D::Decimal32(p, s) => Logical::Decimal {
                bytes: 4,
                precision: *p,
                scale: *s,
            },
            D::Decimal64(p, s) => Logical::Decimal {
                bytes: 8,
                precision: *p,
                scale: *s,
            },
            D::Decimal128(p, s) => Logical::Decimal {
                bytes: 16,
                precision: *p,
                scale: *s,
            },
            D::Decimal256(p, s) => Logical::Decimal {
                bytes: 32,
                precision: *p,
                scale: *s,
            },
            D::List(child) | D::LargeList(child) => {
                Logical::List(Box::new(Self::from_field(child, &format!("{path}.item"))?))
            }
            D::FixedSizeList(child, size) => Logical::FixedList(
                *size,
                Box::new(Self::from_field(child, &format!("{path}.item"))?),
            ),
            D::Struct(fields) => {
                let mut children = Vec::with_capacity(fields.len());
                for f in fields.iter() {
                    if children.iter().any(|(n, _)| n == f.name()) {
                        return Err(unsupported(
                            path,
                            data_type,
                            &format!("struct field name {:?} appears twice", f.name()),
                        ));
                    }
                    let child_path = format!("{path}.{}", f.name());
                    children.push((f.name().clone(), Self::from_field(f, &child_path)?));
                }
                Logical::Struct(children)
            }
            D::Dictionary(_, value) => Self::from_type(value, path)?,
            D::ListView(_) | D::LargeListView(_) => {
                return Err(unsupported(
                    path,
                    data_type,
                    "list_view is not defined in scheme 1; cast it to list first",
                ))
            }
            D::Map(..) => {
                return Err(unsupported(
                    path,
                    data_type,
                    "map is not defined in scheme 1; cast it to list<struct<key, value>> first",
                ))
            }
            D::Union(..) => return Err(unsupported(path, data_type, "union types are refused")),
            D::RunEndEncoded(..) => {
                return Err(unsupported(
                    path,
                    data_type,
                    "run-end encoded arrays are not defined in scheme 1; decode them first",
                ))
            }
            D::Interval(_) => {
                return Err(unsupported(
                    path,
                    data_type,
                    "interval types are not defined in scheme 1",
                ))
            }
        })
    }

    /// Append the canonical type descriptor (docs/hash-spec.md §6) to `out`.
    pub fn write_descriptor(&self, out: &mut Vec<u8>) {
        match self {
            Logical::Null => out.push(0x01),
            Logical::Bool => out.push(0x02),
            Logical::Int { bytes, signed } => {
                let base = if *signed { 0x03 } else { 0x07 };
                out.push(base + bytes.trailing_zeros() as u8);
            }
            Logical::Float { bytes } => out.push(0x0B + (bytes.trailing_zeros() as u8 - 1)),
            Logical::String => out.push(0x10),
            Logical::Binary => out.push(0x11),
            Logical::FixedBinary(w) => {
                out.push(0x12);
                out.extend_from_slice(&(*w as u32).to_le_bytes());
            }
            Logical::Date32 => out.push(0x20),
            Logical::Date64 => out.push(0x21),
            Logical::Time32(u) => out.extend_from_slice(&[0x22, unit_code(*u)]),
            Logical::Time64(u) => out.extend_from_slice(&[0x23, unit_code(*u)]),
            Logical::Timestamp(u, tz) => {
                out.extend_from_slice(&[0x24, unit_code(*u)]);
                match tz {
                    None => out.push(0x00),
                    Some(tz) => {
                        out.push(0x01);
                        write_str(out, tz);
                    }
                }
            }
            Logical::Duration(u) => out.extend_from_slice(&[0x25, unit_code(*u)]),
            Logical::Decimal {
                bytes,
                precision,
                scale,
            } => {
                out.extend_from_slice(&[0x30, *bytes, *precision, *scale as u8]);
            }
            Logical::List(child) => {
                out.push(0x40);
                child.write_descriptor(out);
            }
            Logical::FixedList(size, child) => {
                out.push(0x41);
                out.extend_from_slice(&(*size as u32).to_le_bytes());
                child.write_descriptor(out);
            }
            Logical::Struct(children) => {
                out.push(0x50);
                out.extend_from_slice(&(children.len() as u32).to_le_bytes());
                for (name, child) in children {
                    write_str(out, name);
                    child.write_descriptor(out);
                }
            }
        }
    }

    /// Human-readable logical type name, as shown in manifests and errors.
    pub fn display(&self) -> String {
        match self {
            Logical::Null => "null".into(),
            Logical::Bool => "bool".into(),
            Logical::Int { bytes, signed } => {
                format!("{}int{}", if *signed { "" } else { "u" }, *bytes as u32 * 8)
            }
            Logical::Float { bytes } => format!("float{}", *bytes as u32 * 8),
            Logical::String => "string".into(),
            Logical::Binary => "binary".into(),
            Logical::FixedBinary(w) => format!("fixed_size_binary[{w}]"),
            Logical::Date32 => "date32".into(),
            Logical::Date64 => "date64".into(),
            Logical::Time32(u) => format!("time32[{}]", unit_name(*u)),
            Logical::Time64(u) => format!("time64[{}]", unit_name(*u)),
            Logical::Timestamp(u, None) => format!("timestamp[{}]", unit_name(*u)),
            Logical::Timestamp(u, Some(tz)) => format!("timestamp[{}, tz={tz}]", unit_name(*u)),
            Logical::Duration(u) => format!("duration[{}]", unit_name(*u)),
            Logical::Decimal {
                bytes,
                precision,
                scale,
            } => {
                format!("decimal{}({precision}, {scale})", *bytes as u32 * 8)
            }
            Logical::List(c) => format!("list<{}>", c.display()),
            Logical::FixedList(n, c) => format!("fixed_size_list<{}>[{n}]", c.display()),
            Logical::Struct(cs) => {
                let inner: Vec<String> = cs
                    .iter()
                    .map(|(n, c)| format!("{n}: {}", c.display()))
                    .collect();
                format!("struct<{}>", inner.join(", "))
            }
        }
    }
}

fn unit_code(u: TimeUnit) -> u8 {
    match u {
        TimeUnit::Second => 0,
        TimeUnit::Millisecond => 1,
        TimeUnit::Microsecond => 2,
        TimeUnit::Nanosecond => 3,
    }
}

fn unit_name(u: TimeUnit) -> &'static str {
    match u {
        TimeUnit::Second => "s",
        TimeUnit::Millisecond => "ms",
        TimeUnit::Microsecond => "us",
        TimeUnit::Nanosecond => "ns",
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn unsupported(path: &str, data_type: &DataType, reason: &str) -> Error {
    Error::UnsupportedType {
        column: path.to_string(),
        data_type: data_type.to_string(),
        reason: reason.to_string(),
    }
}

/// One column of a [`CanonicalSchema`].
#[derive(Debug, Clone)]
pub struct CanonicalColumn {
    pub name: String,
    pub logical: Logical,
    /// Index of the column in the input schema.
    pub input_index: usize,
    /// `u32 len ‖ name ‖ type descriptor`: the column's part of the schema digest.
    pub descriptor: Vec<u8>,
}

/// The input schema normalised and put in canonical (bytewise name) order.
#[derive(Debug, Clone)]
pub struct CanonicalSchema {
    /// Columns sorted by the UTF-8 bytes of their names.
    pub columns: Vec<CanonicalColumn>,
    /// BLAKE3 schema digest (docs/hash-spec.md §6).
    pub digest: Digest,
}

impl CanonicalSchema {
    /// Normalise `schema`; refuses duplicate names and unsupported types.
    pub fn new(schema: &Schema) -> Result<Self> {
        let mut columns = Vec::with_capacity(schema.fields().len());
        for (input_index, field) in schema.fields().iter().enumerate() {
            let logical = Logical::from_field(field, field.name())?;
            let mut descriptor = Vec::new();
            write_str(&mut descriptor, field.name());
            logical.write_descriptor(&mut descriptor);
            columns.push(CanonicalColumn {
                name: field.name().clone(),
                logical,
                input_index,
                descriptor,
            });
        }
        columns.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        if let Some(w) = columns.windows(2).find(|w| w[0].name == w[1].name) {
            return Err(Error::DuplicateColumn(w[0].name.clone()));
        }
        let mut h = Ctx::Schema.hasher();
        h.update(&(columns.len() as u64).to_le_bytes());
        for c in &columns {
            h.update(&c.descriptor);
        }
        Ok(CanonicalSchema {
            columns,
            digest: h.finalize().into(),
        })
    }
}
