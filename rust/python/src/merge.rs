//! Partition summaries and their merge (docs/hash-spec.md §11): a Python class around the core's
//! `PartitionSummary`, the merge functions, conversion and GIL release — nothing else.

use std::sync::Arc;

use lineage_core::merge::Interior;
use lineage_core::{PartitionSummary, TableRoot};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::{
    check_threads, error, hash_to_dict, identity_dict, order_name, parse_row_order, run, run_with,
    table_of,
};

/// What one worker reports about its partition (immutable; shared, never copied).
#[pyclass(frozen, module = "lineage_fast._core", name = "PartitionSummary")]
pub struct PySummary {
    inner: Arc<PartitionSummary>,
}

#[pymethods]
impl PySummary {
    #[getter]
    fn num_rows(&self) -> u64 {
        self.inner.num_rows()
    }

    #[getter]
    fn row_order(&self) -> &'static str {
        order_name(self.inner.row_order())
    }

    #[getter]
    fn schema_digest<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.schema_digest())
    }

    #[getter]
    fn seam_rows(&self) -> u64 {
        self.inner.seam_rows()
    }

    #[getter]
    fn interior_chunks(&self) -> u64 {
        self.inner.interior().count()
    }

    /// `"chunks"`, `"compact"` or `"unplaced"`.
    #[getter]
    fn form(&self) -> &'static str {
        match self.inner.interior() {
            Interior::Chunks(_) => "chunks",
            Interior::Compact { .. } => "compact",
            Interior::Unplaced { .. } => "unplaced",
        }
    }

    #[getter]
    fn first_chunk_index(&self) -> Option<u64> {
        match self.inner.interior() {
            Interior::Compact { first, .. } => Some(*first),
            _ => None,
        }
    }

    #[pyo3(signature = (first_chunk_index = None))]
    fn compact(&self, py: Python<'_>, first_chunk_index: Option<u64>) -> PyResult<PySummary> {
        let inner = self.inner.clone();
        let s = run(py, None, move || inner.compact(first_chunk_index))?;
        Ok(PySummary { inner: Arc::new(s) })
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let inner = self.inner.clone();
        let bytes = run(py, None, move || inner.to_bytes())?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Read a serialized summary; a panic while decoding its Arrow IPC means malformed bytes.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<PySummary> {
        let s = run_with(
            py,
            None,
            move || PartitionSummary::from_bytes(data),
            error::malformed_to_py,
        )?;
        Ok(PySummary { inner: Arc::new(s) })
    }
}

/// The summary of one partition (any Arrow PyCapsule exporter), validated like `hash_table`.
#[pyfunction]
#[pyo3(signature = (data, *, row_order = "ordered", threads = None))]
pub fn partition_summary(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    row_order: &str,
    threads: Option<usize>,
) -> PyResult<PySummary> {
    check_threads(py, threads)?;
    let order = parse_row_order(py, row_order)?;
    let table = table_of(py, data, threads)?;
    let s = run(py, threads, move || PartitionSummary::new(&table, order))?;
    Ok(PySummary { inner: Arc::new(s) })
}

fn inner(summaries: &[Bound<'_, PySummary>]) -> Vec<Arc<PartitionSummary>> {
    summaries.iter().map(|s| s.get().inner.clone()).collect()
}

fn refs(v: &[Arc<PartitionSummary>]) -> Vec<&PartitionSummary> {
    v.iter().map(|s| s.as_ref()).collect()
}

/// Merge full summaries (in partition order) into the raw parts of a `TableHash`.
#[pyfunction]
#[pyo3(signature = (summaries, *, threads = None))]
pub fn merge_summaries<'py>(
    py: Python<'py>,
    summaries: Vec<Bound<'py, PySummary>>,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    check_threads(py, threads)?;
    let all = inner(&summaries);
    let h = run(py, threads, move || lineage_core::merge(&refs(&all)))?;
    hash_to_dict(py, &h)
}

/// Global index of the first interior chunk of each partition.
#[pyfunction]
pub fn chunk_offsets(py: Python<'_>, summaries: Vec<Bound<'_, PySummary>>) -> PyResult<Vec<u64>> {
    let all = inner(&summaries);
    run(py, None, move || lineage_core::chunk_offsets(&refs(&all)))
}

/// Merge compacted (or full) summaries into the raw parts of a `TableRoot`.
#[pyfunction]
#[pyo3(signature = (summaries, *, threads = None))]
pub fn merge_compact<'py>(
    py: Python<'py>,
    summaries: Vec<Bound<'py, PySummary>>,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    check_threads(py, threads)?;
    let all = inner(&summaries);
    let r = run(py, threads, move || {
        lineage_core::merge_compact(&refs(&all))
    })?;
    root_to_dict(py, &r)
}

fn root_to_dict<'py>(py: Python<'py>, r: &TableRoot) -> PyResult<Bound<'py, PyDict>> {
    let d = identity_dict(
        py,
        r.scheme,
        r.row_order,
        r.num_rows,
        &r.schema_digest,
        &r.root,
        &r.columns,
    )?;
    d.set_item("num_chunks", r.num_chunks)?;
    Ok(d)
}
