//! Python object ↔ Arrow, zero-copy, through the Arrow PyCapsule interface.

use arrow_array::ffi::{from_ffi, FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::ffi_stream::{FFI_ArrowArrayStream, RecordBatchStreamReader};
use arrow_array::{Array, RecordBatch, RecordBatchReader, StructArray};
use arrow_data::ArrayData;
use arrow_schema::{DataType, SchemaRef};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyCapsuleMethods, PyTuple};

use crate::error::{exception, ErrorKind};

/// Arrow data imported from Python: one schema and its batches (owned, `Send`).
pub struct Imported {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

fn input_error(py: Python<'_>, msg: String) -> PyErr {
    exception(py, ErrorKind::UnsupportedInput, msg, &[])
}

fn invalid(py: Python<'_>, msg: String) -> PyErr {
    exception(py, ErrorKind::InvalidData, msg, &[])
}

/// Take the Arrow C stream of an object exporting `__arrow_c_stream__` (its batches are not read
/// yet). The caller must hold the GIL only for this call: see `crate::stream` for reading.
pub fn stream_reader(obj: &Bound<'_, PyAny>) -> PyResult<RecordBatchStreamReader> {
    let py = obj.py();
    let capsule = obj.call_method0("__arrow_c_stream__")?;
    let capsule = capsule
        .cast::<PyCapsule>()
        .map_err(|_| input_error(py, "__arrow_c_stream__ did not return a PyCapsule".into()))?;
    let ptr = capsule.pointer_checked(Some(c"arrow_array_stream"))?;
    // SAFETY: the capsule named "arrow_array_stream" holds an FFI_ArrowArrayStream; from_raw
    // moves it out and leaves a released stream behind, as the capsule protocol requires.
    unsafe { RecordBatchStreamReader::from_raw(ptr.as_ptr().cast::<FFI_ArrowArrayStream>()) }
        .map_err(|e| {
            input_error(
                py,
                format!(
                    "the Arrow C stream is not a stream of record batches ({e}): a table is \
                     needed; wrap a single column first, e.g. pa.table({{\"name\": array}})"
                ),
            )
        })
}

/// The message of a failed read from an Arrow C stream (the producer's own message included).
pub fn stream_failed(e: &arrow_schema::ArrowError) -> String {
    format!("reading the Arrow C stream failed: {e}")
}

/// Import any object exporting `__arrow_c_stream__` or `__arrow_c_array__`.
pub fn import(obj: &Bound<'_, PyAny>) -> PyResult<Imported> {
    let py = obj.py();
    if obj.hasattr("__arrow_c_stream__")? {
        let reader = stream_reader(obj)?;
        let schema = reader.schema();
        let mut batches = Vec::new();
        for b in reader {
            batches.push(b.map_err(|e| invalid(py, stream_failed(&e)))?);
        }
        return Ok(Imported { schema, batches });
    }
    if obj.hasattr("__arrow_c_array__")? {
        let pair = obj.call_method0("__arrow_c_array__")?;
        let pair = pair
            .cast::<PyTuple>()
            .map_err(|_| input_error(py, "__arrow_c_array__ did not return a tuple".into()))?;
        if pair.len() != 2 {
            return Err(input_error(
                py,
                "__arrow_c_array__ must return (schema, array) capsules".into(),
            ));
        }
        let schema_capsule = pair.get_item(0)?;
        let array_capsule = pair.get_item(1)?;
        let schema_capsule = schema_capsule
            .cast::<PyCapsule>()
            .map_err(|_| input_error(py, "schema is not a PyCapsule".into()))?;
        let array_capsule = array_capsule
            .cast::<PyCapsule>()
            .map_err(|_| input_error(py, "array is not a PyCapsule".into()))?;
        let schema_ptr = schema_capsule.pointer_checked(Some(c"arrow_schema"))?;
        let array_ptr = array_capsule.pointer_checked(Some(c"arrow_array"))?;
        // SAFETY: the capsules hold an FFI_ArrowSchema and an FFI_ArrowArray. The array is moved
        // out (its release callback now belongs to us); the schema is only borrowed.
        let data = unsafe {
            let array = std::ptr::replace(
                array_ptr.as_ptr().cast::<FFI_ArrowArray>(),
                FFI_ArrowArray::empty(),
            );
            let schema = &*schema_ptr.as_ptr().cast::<FFI_ArrowSchema>();
            from_ffi(array, schema)
        }
        .map_err(|e| invalid(py, format!("cannot import the Arrow C array: {e}")))?;
        // Validate before building typed arrays over it.
        data.validate_full()
            .map_err(|e| invalid(py, format!("invalid Arrow array: {e}")))?;
        let array = arrow_array::make_array(data);
        return match array.data_type() {
            DataType::Struct(_) => {
                let s = array.as_any().downcast_ref::<StructArray>().expect("struct array");
                if s.null_count() > 0 {
                    return Err(invalid(py, "a struct array with top-level nulls is not a table".into()));
                }
                let batch = RecordBatch::from(s.clone());
                Ok(Imported { schema: batch.schema(), batches: vec![batch] })
            }
            other => Err(input_error(
                py,
                format!("expected tabular data (a struct array or record batch), got an array of type {other}"),
            )),
        };
    }
    let tname = obj
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into());
    Err(input_error(
        py,
        format!(
            "cannot read an object of type {tname}: expected an object with __arrow_c_stream__ or \
             __arrow_c_array__ (pyarrow Table/RecordBatch/RecordBatchReader, polars DataFrame, DuckDB relation)"
        ),
    ))
}

/// Arrow → Python: a record batch exported zero-copy through the C data interface and imported
/// by pyarrow as a `pyarrow.RecordBatch`.
pub fn export_batch(py: Python<'_>, batch: RecordBatch) -> PyResult<Bound<'_, PyAny>> {
    export(py, StructArray::from(batch).into_data(), "RecordBatch")
}

/// Arrow → Python: an array exported zero-copy through the C data interface and imported by
/// pyarrow as a `pyarrow.Array`.
pub fn export_array(py: Python<'_>, data: ArrayData) -> PyResult<Bound<'_, PyAny>> {
    export(py, data, "Array")
}

/// `data` exported through the C data interface and imported by pyarrow's class `class`
/// (`Array`, or `RecordBatch` for a struct array).
fn export<'py>(py: Python<'py>, data: ArrayData, class: &str) -> PyResult<Bound<'py, PyAny>> {
    let (array, schema) = arrow_array::ffi::to_ffi(&data)
        .map_err(|e| exception(py, ErrorKind::Internal, format!("export failed: {e}"), &[]))?;
    // The capsules own the C structs; pyarrow moves them out (leaving released structs that drop
    // as no-ops), and a capsule never consumed releases its data when collected.
    let schema = PyCapsule::new_with_value(py, schema, c"arrow_schema")?;
    let array = PyCapsule::new_with_value(py, array, c"arrow_array")?;
    py.import("pyarrow")?
        .getattr(class)?
        .call_method1("_import_from_c_capsule", (schema, array))
}
