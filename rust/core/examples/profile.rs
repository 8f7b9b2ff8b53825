//! Time the ordered and unordered hash of a generated table with 1 and 2 threads:
//! `cargo run -p lineage-core --release --example profile -- ROWS`.
use std::sync::Arc;
use std::time::Instant;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use lineage_core::{RowOrder, Table};

fn main() {
    let rows: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..rows as i64));
    let qty: ArrayRef = Arc::new(Int64Array::from_iter_values(
        (0..rows).map(|_| (next() % 1000) as i64),
    ));
    let price: ArrayRef = Arc::new(Float64Array::from_iter_values(
        (0..rows).map(|_| (next() % 100_000) as f64 / 100.0),
    ));
    let name: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..rows).map(|_| format!("name-{}", next() % 100_000)),
    ));
    let batch =
        RecordBatch::try_from_iter([("id", ids), ("qty", qty), ("price", price), ("name", name)])
            .unwrap();
    let table = Table::new(batch.schema(), vec![batch]).unwrap();
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        for order in [RowOrder::Ordered, RowOrder::Unordered] {
            let mut best = f64::MAX;
            for _ in 0..5 {
                let t0 = Instant::now();
                pool.install(|| table.hash(order).unwrap());
                best = best.min(t0.elapsed().as_secs_f64());
            }
            println!(
                "{rows} rows, {threads} threads, {order:?}: {:.1} ms",
                best * 1e3
            );
        }
    }
}
