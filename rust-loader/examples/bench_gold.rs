//! Writes a gold table of the widest gold shape (`gold_city_activity`: 11 columns plus the
//! `event_date` partition) as snappy Parquet under `<lake>/gold/gold_city_activity/`, for
//! `scripts/bench-loader`.
//!
//! ```text
//! cargo run --release -p soundlake-loader --example bench_gold -- /tmp/lake 5000000 30
//! ```

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

const STATES: [&str; 12] = [
    "MA", "NY", "CA", "TX", "WA", "IL", "FL", "GA", "OR", "CO", "NJ", "PA",
];

fn usage() -> ! {
    eprintln!("usage: bench_gold LAKE_DIR ROWS DAYS   (writes LAKE_DIR/gold/gold_city_activity/event_date=…/part-0.snappy.parquet)");
    std::process::exit(2)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, rows, days] = args.as_slice() else {
        usage()
    };
    let (rows, days): (usize, usize) = match (rows.parse(), days.parse()) {
        (Ok(rows), Ok(days)) if days > 0 => (rows, days),
        _ => usage(),
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("city", DataType::Utf8, true),
        Field::new("state", DataType::Utf8, true),
        Field::new("h3_cell", DataType::Int64, true),
        Field::new("latitude", DataType::Float64, true),
        Field::new("longitude", DataType::Float64, true),
        Field::new("active_users", DataType::Int64, true),
        Field::new("sessions", DataType::Int64, true),
        Field::new("page_views", DataType::Int64, true),
        Field::new("listen_events", DataType::Int64, true),
        Field::new("listening_seconds", DataType::Float64, true),
        Field::new(
            "_ingested_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
    ]));
    let epoch_day = 19_723; // 2024-01-01
    let per_day = rows.div_ceil(days);
    let mut written = 0;
    for day in 0..days {
        let n = per_day.min(rows - written);
        if n == 0 {
            break;
        }
        let date = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
            .and_then(|e| e.checked_add_days(chrono::Days::new((epoch_day + day) as u64)))
            .ok_or("date out of range")?;
        let folder = format!("{dir}/gold/gold_city_activity/event_date={date}");
        std::fs::create_dir_all(&folder)?;
        let file = std::fs::File::create(format!("{folder}/part-00000.snappy.parquet"))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props))?;
        let mut start = 0;
        while start < n {
            let len = 65_536.min(n - start);
            let ids: Vec<i64> = (start..start + len)
                .map(|i| (i + day * 7919) as i64)
                .collect();
            let columns: Vec<ArrayRef> = vec![
                Arc::new(StringArray::from_iter_values(
                    ids.iter().map(|i| format!("City {}", i % 5000)),
                )),
                Arc::new(StringArray::from_iter_values(
                    ids.iter().map(|i| STATES[(*i as usize) % STATES.len()]),
                )),
                Arc::new(Int64Array::from_iter_values(
                    ids.iter().map(|i| 0x0882_8308_2a3f_ffff_i64 ^ (i << 12)),
                )),
                Arc::new(Float64Array::from_iter_values(
                    ids.iter().map(|i| 25.0 + (*i % 2300) as f64 / 100.0),
                )),
                Arc::new(Float64Array::from_iter_values(
                    ids.iter().map(|i| -124.0 + (*i % 5700) as f64 / 100.0),
                )),
                Arc::new(Int64Array::from_iter_values(ids.iter().map(|i| i % 1000))),
                Arc::new(Int64Array::from_iter_values(ids.iter().map(|i| i % 1500))),
                Arc::new(Int64Array::from_iter_values(ids.iter().map(|i| i % 9000))),
                Arc::new(Int64Array::from_iter_values(ids.iter().map(|i| i % 7000))),
                Arc::new(Float64Array::from_iter_values(
                    ids.iter().map(|i| (*i % 100_000) as f64 * 1.5),
                )),
                Arc::new(
                    TimestampMicrosecondArray::from_iter_values(
                        ids.iter().map(|i| 1_704_067_200_000_000 + i * 1_000),
                    )
                    .with_timezone("UTC"),
                ),
            ];
            writer.write(&RecordBatch::try_new(schema.clone(), columns)?)?;
            start += len;
        }
        writer.close()?;
        written += n;
    }
    println!("{written} rows in {days} day partitions under {dir}/gold/gold_city_activity");
    Ok(())
}
