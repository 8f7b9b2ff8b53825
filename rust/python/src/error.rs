//! Core errors → the exception classes defined in `lineage_fast/exceptions.py`.
//!
//! The classes live in Python so that they can inherit from both `LineageError` and the builtin a
//! user would catch (`TypeError`, `ValueError`); this module only picks the class and fills in the
//! structured attributes.

use lineage_core::Error;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The exception classes of `lineage_fast.exceptions` raised from Rust.
#[derive(Debug, Clone, Copy)]
pub enum ErrorKind {
    Lineage,
    UnsupportedType,
    UnsupportedInput,
    DuplicateColumn,
    SchemaMismatch,
    InvalidData,
    ValueOutOfRange,
    InvalidArgument,
    Merge,
    Internal,
    ColumnNotFound,
    DuplicateKey,
}

impl ErrorKind {
    fn class_name(self) -> &'static str {
        match self {
            ErrorKind::Lineage => "LineageError",
            ErrorKind::UnsupportedType => "UnsupportedTypeError",
            ErrorKind::UnsupportedInput => "UnsupportedInputError",
            ErrorKind::DuplicateColumn => "DuplicateColumnError",
            ErrorKind::SchemaMismatch => "SchemaMismatchError",
            ErrorKind::InvalidData => "InvalidDataError",
            ErrorKind::ValueOutOfRange => "ValueOutOfRangeError",
            ErrorKind::InvalidArgument => "InvalidArgumentError",
            ErrorKind::Merge => "MergeError",
            ErrorKind::Internal => "InternalError",
            ErrorKind::ColumnNotFound => "ColumnNotFoundError",
            ErrorKind::DuplicateKey => "DuplicateKeyError",
        }
    }
}

/// Build an exception of `kind` with message `msg` and attributes `attrs`.
pub fn exception(py: Python<'_>, kind: ErrorKind, msg: String, attrs: &[(&str, String)]) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let module = py.import("lineage_fast.exceptions")?;
        let class = module.getattr(kind.class_name())?;
        let value = class.call1((msg.clone(),))?;
        let dict = PyDict::new(py);
        for (k, v) in attrs {
            dict.set_item(*k, v)?;
        }
        for (k, v) in dict.iter() {
            value.setattr(k.cast::<pyo3::types::PyString>()?.to_str()?, v)?;
        }
        Ok(PyErr::from_value(value))
    };
    build().unwrap_or_else(|e| e)
}

/// Map a core error to its Python exception.
pub fn to_py(py: Python<'_>, err: Error) -> PyErr {
    let msg = err.to_string();
    match err {
        Error::UnsupportedType {
            column, data_type, ..
        } => exception(
            py,
            ErrorKind::UnsupportedType,
            msg,
            &[("column", column), ("data_type", data_type)],
        ),
        Error::DuplicateColumn(column) => {
            exception(py, ErrorKind::DuplicateColumn, msg, &[("column", column)])
        }
        Error::SchemaMismatch(_) => exception(py, ErrorKind::SchemaMismatch, msg, &[]),
        Error::InvalidData { column, .. } => {
            exception(py, ErrorKind::InvalidData, msg, &[("column", column)])
        }
        Error::ValueOutOfRange { column, .. } => {
            exception(py, ErrorKind::ValueOutOfRange, msg, &[("column", column)])
        }
        Error::InvalidArgument(_) => exception(py, ErrorKind::InvalidArgument, msg, &[]),
        Error::Merge(_) => exception(py, ErrorKind::Merge, msg, &[]),
        Error::InvalidSummary(_) => exception(py, ErrorKind::InvalidData, msg, &[]),
        Error::ColumnNotFound { column, .. } => {
            exception(py, ErrorKind::ColumnNotFound, msg, &[("column", column)])
        }
        Error::DuplicateKey { side, rows, count } => {
            let e = exception(py, ErrorKind::DuplicateKey, msg, &[("side", side)]);
            let v = e.value(py);
            match v
                .setattr("rows", rows)
                .and_then(|_| v.setattr("count", count))
            {
                Ok(()) => e,
                Err(err) => err,
            }
        }
        Error::Io { path, source } => io_to_py(path, source),
        Error::Arrow(_) => exception(py, ErrorKind::Lineage, msg, &[]),
    }
}

/// A failed read → the builtin `OSError` subclass Python itself would raise (`FileNotFoundError`,
/// `PermissionError`, `IsADirectoryError`...), with `errno`, `strerror` and `filename` set.
fn io_to_py(path: String, source: std::io::Error) -> PyErr {
    use pyo3::exceptions as exc;
    use std::io::ErrorKind as K;
    let errno = source.raw_os_error().unwrap_or(0);
    let args = (errno, source.to_string(), path);
    match source.kind() {
        K::NotFound => exc::PyFileNotFoundError::new_err(args),
        K::PermissionDenied => exc::PyPermissionError::new_err(args),
        K::IsADirectory => exc::PyIsADirectoryError::new_err(args),
        K::NotADirectory => exc::PyNotADirectoryError::new_err(args),
        _ => exc::PyOSError::new_err(args),
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// A panic while importing foreign Arrow data: the data is malformed.
pub fn malformed_to_py(py: Python<'_>, payload: Box<dyn std::any::Any + Send>) -> PyErr {
    let what = panic_message(payload.as_ref());
    exception(
        py,
        ErrorKind::InvalidData,
        format!("malformed Arrow data: importing it failed ({what})"),
        &[],
    )
}

/// A panic caught before it could cross into Python.
pub fn panic_to_py(py: Python<'_>, payload: Box<dyn std::any::Any + Send>) -> PyErr {
    let what = panic_message(payload.as_ref());
    exception(
        py,
        ErrorKind::Internal,
        format!("internal error in lineage_fast (please report it): {what}"),
        &[],
    )
}
