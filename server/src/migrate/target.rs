//! The PostgreSQL side of a migration: one transaction that locks the
//! tables, checks that they are empty, copies every table of the plan with
//! `COPY … (FORMAT binary)` and sets the identity sequences past the copied
//! positions.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::pin::pin;
use std::time::Duration;

use anyhow::{Context, bail};
use rusqlite::types::ValueRef;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls, Transaction};

use super::quoted;
use super::source::{Plan, Source, Table};

/// Tables a fresh schema already fills, with their key: their rows are
/// replaced by the source's (upserted), and rows there do not make the
/// target "non-empty".
const SEEDED: &[(&str, &[&str])] = &[("meta", &["key"])];

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the migration waits for a table lock another session holds.
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to the target database (plain TCP or a Unix socket, no
/// TLS, as the PostgreSQL backend's own).
#[derive(Debug)]
pub(super) struct Target {
    client: Client,
}

/// What the copy left on the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Copied {
    /// The largest `changes.seq` on the target after the copy.
    pub(super) log_high_water: u64,
}

/// The target's tables as its catalog describes them.
#[derive(Debug, Default)]
struct Catalog {
    /// Columns by table.
    columns: HashMap<String, BTreeSet<String>>,
    /// Columns whose values come from a sequence (identity or serial).
    generated: Vec<(String, String)>,
    /// Foreign keys: (referencing table, referenced table).
    references: Vec<(String, String)>,
}

impl Target {
    /// Connects to `url`. The connection is driven on the caller's runtime.
    pub(super) async fn connect(url: &str) -> anyhow::Result<Target> {
        let mut config: tokio_postgres::Config = url.parse()?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.application_name("gridsync-server migrate-data");
        let (client, connection) = config.connect(NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "the migration's PostgreSQL connection failed");
            }
        });
        Ok(Target { client })
    }

    /// Copies every table of `plan` from `source` in one transaction, which
    /// commits only when every table holds what the source held.
    pub(super) async fn copy(&mut self, source: &Source, plan: &Plan) -> anyhow::Result<Copied> {
        let tx = self.client.transaction().await?;
        tx.batch_execute(&format!("SET LOCAL lock_timeout = '{}ms'", LOCK_TIMEOUT.as_millis())).await?;
        let catalog = Catalog::read(&tx).await?;
        for table in &plan.tables {
            let Some(columns) = catalog.columns.get(&table.name) else {
                bail!(
                    "the target schema has no table {}: is it a gridsync database of this version?",
                    table.name
                );
            };
            if let Some(missing) = table.columns.iter().find(|c| !columns.contains(*c)) {
                bail!("the target schema has no column {}.{missing}", table.name);
            }
        }
        let names: Vec<String> = plan.tables.iter().map(|t| quoted(&t.name)).collect();
        tx.batch_execute(&format!("LOCK TABLE {} IN EXCLUSIVE MODE", names.join(", "))).await?;
        refuse_unless_empty(&tx, plan).await?;

        for table in order(plan, &catalog.references)? {
            let moved = match SEEDED.iter().find(|(name, _)| *name == table.name) {
                Some((_, key)) => upsert(&tx, source, table, key).await?,
                None => copy_table(&tx, source, table).await?,
            };
            if moved != table.rows {
                bail!(
                    "{} rows of {} reached PostgreSQL, where the data directory holds {}",
                    moved,
                    table.name,
                    table.rows
                );
            }
        }
        for (table, column) in &catalog.generated {
            if let Some(table) = plan.tables.iter().find(|t| &t.name == table) {
                continue_sequence(&tx, table, column).await?;
            }
        }
        // The data directory keeps no townships: file every row in its own
        // from the states and the directory just copied.
        gridsync_server_postgres::fill_townships(&tx).await?;
        let high: i64 = tx.query_one("SELECT coalesce(max(seq), 0)::bigint FROM changes", &[]).await?.get(0);
        tx.commit().await?;
        Ok(Copied { log_high_water: u64::try_from(high).context("a negative log position")? })
    }

    /// Rows in each table of `plan`, as committed.
    pub(super) async fn count(&self, plan: &Plan) -> anyhow::Result<BTreeMap<String, u64>> {
        let mut counts = BTreeMap::new();
        for table in &plan.tables {
            let sql = format!("SELECT count(*) FROM {}", quoted(&table.name));
            let rows: i64 = self.client.query_one(&sql, &[]).await?.get(0);
            counts.insert(table.name.clone(), u64::try_from(rows).context("a negative count")?);
        }
        Ok(counts)
    }
}

impl Catalog {
    async fn read(tx: &Transaction<'_>) -> anyhow::Result<Catalog> {
        let mut catalog = Catalog::default();
        let columns = tx
            .query(
                "SELECT table_name::text, column_name::text,
                        (is_identity = 'YES' OR coalesce(column_default, '') LIKE 'nextval(%')
                   FROM information_schema.columns
                  WHERE table_schema = current_schema()",
                &[],
            )
            .await?;
        for row in columns {
            let (table, column, generated): (String, String, bool) = (row.get(0), row.get(1), row.get(2));
            if generated {
                catalog.generated.push((table.clone(), column.clone()));
            }
            catalog.columns.entry(table).or_default().insert(column);
        }
        let references = tx
            .query(
                "SELECT c.relname::text, p.relname::text
                   FROM pg_constraint k
                   JOIN pg_class c ON c.oid = k.conrelid
                   JOIN pg_class p ON p.oid = k.confrelid
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE k.contype = 'f' AND n.nspname = current_schema()",
                &[],
            )
            .await?;
        catalog.references = references.into_iter().map(|r| (r.get(0), r.get(1))).collect();
        Ok(catalog)
    }
}

/// Refuses a target that holds data in any table the migration fills.
async fn refuse_unless_empty(tx: &Transaction<'_>, plan: &Plan) -> anyhow::Result<()> {
    let mut holding = Vec::new();
    for table in plan.tables.iter().filter(|t| !SEEDED.iter().any(|(name, _)| *name == t.name)) {
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {})", quoted(&table.name));
        if tx.query_one(&sql, &[]).await?.get::<_, bool>(0) {
            holding.push(table.name.as_str());
        }
    }
    if !holding.is_empty() {
        bail!(
            "the database already holds gridsync data (in {}): migrate-data fills only an empty database. \
             Migrate into a new one (e.g. `createdb gridsync_new`), or drop and re-create this one if \
             nothing in it is needed",
            holding.join(", ")
        );
    }
    Ok(())
}

/// The tables in an order where every table comes after those it refers to
/// (PostgreSQL checks a foreign key at the end of each statement).
fn order<'p>(plan: &'p Plan, references: &[(String, String)]) -> anyhow::Result<Vec<&'p Table>> {
    let mut left: Vec<&Table> = plan.tables.iter().collect();
    let mut ordered = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let waits = |t: &Table, left: &[&Table]| {
            references
                .iter()
                .any(|(from, to)| *from == t.name && from != to && left.iter().any(|other| other.name == *to))
        };
        let Some(i) = left.iter().position(|t| !waits(t, &left)) else {
            bail!("the target schema's foreign keys form a cycle between {}", names(&left));
        };
        ordered.push(left.remove(i));
    }
    Ok(ordered)
}

fn names(tables: &[&Table]) -> String {
    tables.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
}

/// The target's types of `table`'s columns, in the plan's column order.
async fn types_of(tx: &Transaction<'_>, table: &Table) -> anyhow::Result<Vec<Type>> {
    let columns: Vec<String> = table.columns.iter().map(|c| quoted(c)).collect();
    let sql = format!("SELECT {} FROM {} LIMIT 0", columns.join(", "), quoted(&table.name));
    let statement = tx.prepare(&sql).await?;
    Ok(statement.columns().iter().map(|c| c.type_().clone()).collect())
}

/// Copies `table` with one binary COPY; returns the rows PostgreSQL took.
async fn copy_table(tx: &Transaction<'_>, source: &Source, table: &Table) -> anyhow::Result<u64> {
    let types = types_of(tx, table).await?;
    let columns: Vec<String> = table.columns.iter().map(|c| quoted(c)).collect();
    let sql = format!("COPY {} ({}) FROM STDIN (FORMAT binary)", quoted(&table.name), columns.join(", "));
    let sink = tx.copy_in(&sql).await?;
    let mut writer = pin!(BinaryCopyInWriter::new(sink, &types));
    let mut statement = source.rows(table)?;
    let mut rows = statement.query([])?;
    let mut cells = Vec::with_capacity(types.len());
    while let Some(row) = rows.next()? {
        read_row(row, table, &types, &mut cells)?;
        let values: Vec<&(dyn ToSql + Sync)> = cells.iter().map(Cell::sql).collect();
        writer.as_mut().write(&values).await?;
    }
    Ok(writer.as_mut().finish().await?)
}

/// Inserts or replaces every row of a table a fresh schema fills
/// ([`SEEDED`]); returns the rows written.
async fn upsert(tx: &Transaction<'_>, source: &Source, table: &Table, key: &[&str]) -> anyhow::Result<u64> {
    let columns: Vec<String> = table.columns.iter().map(|c| quoted(c)).collect();
    let params: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
    let updates: Vec<String> = table
        .columns
        .iter()
        .filter(|c| !key.contains(&c.as_str()))
        .map(|c| format!("{0} = EXCLUDED.{0}", quoted(c)))
        .collect();
    let conflict = key.iter().map(|c| quoted(c)).collect::<Vec<_>>().join(", ");
    let action =
        if updates.is_empty() { "NOTHING".to_owned() } else { format!("UPDATE SET {}", updates.join(", ")) };
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({conflict}) DO {action}",
        quoted(&table.name),
        columns.join(", "),
        params.join(", ")
    );
    let statement = tx.prepare(&sql).await?;
    let types = statement.params().to_vec();
    let mut rows_stmt = source.rows(table)?;
    let mut rows = rows_stmt.query([])?;
    let mut cells = Vec::with_capacity(types.len());
    let mut written = 0;
    while let Some(row) = rows.next()? {
        read_row(row, table, &types, &mut cells)?;
        let values: Vec<&(dyn ToSql + Sync)> = cells.iter().map(Cell::sql).collect();
        tx.execute(&statement, &values).await?;
        written += 1;
    }
    Ok(written)
}

/// Sets the sequence behind `table.column` so that the next value it hands
/// out is past every copied one and past SQLite's `AUTOINCREMENT` counter.
async fn continue_sequence(tx: &Transaction<'_>, table: &Table, column: &str) -> anyhow::Result<()> {
    let sql = format!("SELECT coalesce(max({}), 0)::bigint FROM {}", quoted(column), quoted(&table.name));
    let copied: i64 = tx.query_one(&sql, &[]).await?.get(0);
    let counter = match table.key.as_slice() {
        [key] if key == column => table.autoincrement.unwrap_or(0),
        _ => 0,
    };
    let last = copied.max(counter);
    // `setval(seq, n, true)`: the next value is n + 1; an empty table starts at 1.
    let (value, called) = if last > 0 { (last, true) } else { (1, false) };
    tx.execute(
        "SELECT setval(pg_get_serial_sequence($1, $2), $3, $4)",
        &[&quoted(&table.name), &column, &value, &called],
    )
    .await
    .with_context(|| format!("cannot move the sequence of {}.{column}", table.name))?;
    Ok(())
}

/// Converts one SQLite row into `cells`, by the target's column types.
fn read_row(
    row: &rusqlite::Row<'_>,
    table: &Table,
    types: &[Type],
    cells: &mut Vec<Cell>,
) -> anyhow::Result<()> {
    cells.clear();
    for (i, ty) in types.iter().enumerate() {
        let cell = Cell::convert(row.get_ref(i)?, ty).map_err(|why| {
            let column = table.columns.get(i).map_or("?", String::as_str);
            anyhow::anyhow!("{}.{column} {why}", table.name)
        })?;
        cells.push(cell);
    }
    Ok(())
}

/// One value on its way to PostgreSQL, typed for its target column (a NULL
/// keeps its column's type).
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Int8(Option<i64>),
    Int4(Option<i32>),
    Int2(Option<i16>),
    Bool(Option<bool>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

impl Cell {
    /// `value` as a value of the PostgreSQL type `ty`; the error says what
    /// is wrong, never the value.
    fn convert(value: ValueRef<'_>, ty: &Type) -> Result<Cell, String> {
        let integer = || match value {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(n) => Ok(Some(n)),
            other => Err(format!("holds {} where PostgreSQL expects {ty}", other.data_type())),
        };
        let narrow = |_| format!("holds an integer out of the range of PostgreSQL's {ty}");
        if *ty == Type::INT8 {
            Ok(Cell::Int8(integer()?))
        } else if *ty == Type::INT4 {
            integer()?.map(|n| i32::try_from(n).map_err(narrow)).transpose().map(Cell::Int4)
        } else if *ty == Type::INT2 {
            integer()?.map(|n| i16::try_from(n).map_err(narrow)).transpose().map(Cell::Int2)
        } else if *ty == Type::BOOL {
            match integer()? {
                None => Ok(Cell::Bool(None)),
                Some(0) => Ok(Cell::Bool(Some(false))),
                Some(1) => Ok(Cell::Bool(Some(true))),
                Some(_) => {
                    Err("holds an integer other than 0 or 1 where PostgreSQL expects a boolean".into())
                }
            }
        } else if *ty == Type::TEXT || *ty == Type::VARCHAR || *ty == Type::BPCHAR {
            match value {
                ValueRef::Null => Ok(Cell::Text(None)),
                ValueRef::Text(bytes) => std::str::from_utf8(bytes)
                    .map(|s| Cell::Text(Some(s.to_owned())))
                    .map_err(|_| "holds text that is not UTF-8".to_owned()),
                other => Err(format!("holds {} where PostgreSQL expects {ty}", other.data_type())),
            }
        } else if *ty == Type::BYTEA {
            match value {
                ValueRef::Null => Ok(Cell::Bytes(None)),
                ValueRef::Blob(bytes) => Ok(Cell::Bytes(Some(bytes.to_vec()))),
                other => Err(format!("holds {} where PostgreSQL expects bytea", other.data_type())),
            }
        } else {
            Err(format!("has the PostgreSQL type {ty}, which migrate-data does not convert"))
        }
    }

    fn sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Cell::Int8(v) => v,
            Cell::Int4(v) => v,
            Cell::Int2(v) => v,
            Cell::Bool(v) => v,
            Cell::Text(v) => v,
            Cell::Bytes(v) => v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_convert_by_the_target_type_and_errors_quote_no_value() {
        assert_eq!(Cell::convert(ValueRef::Integer(1), &Type::BOOL), Ok(Cell::Bool(Some(true))));
        assert_eq!(Cell::convert(ValueRef::Integer(0), &Type::BOOL), Ok(Cell::Bool(Some(false))));
        assert_eq!(Cell::convert(ValueRef::Null, &Type::BYTEA), Ok(Cell::Bytes(None)));
        assert_eq!(Cell::convert(ValueRef::Integer(-7), &Type::INT8), Ok(Cell::Int8(Some(-7))));
        assert_eq!(
            Cell::convert(ValueRef::Text("网格".as_bytes()), &Type::TEXT),
            Ok(Cell::Text(Some("网格".into())))
        );
        assert_eq!(
            Cell::convert(ValueRef::Blob(&[0, 255]), &Type::BYTEA),
            Ok(Cell::Bytes(Some(vec![0, 255])))
        );
        let two = Cell::convert(ValueRef::Integer(2), &Type::BOOL).expect_err("not a flag");
        assert!(!two.contains('2'), "{two}");
        let text = Cell::convert(ValueRef::Text(b"secret"), &Type::BYTEA).expect_err("not bytes");
        assert!(!text.contains("secret"), "{text}");
        assert!(Cell::convert(ValueRef::Integer(1 << 40), &Type::INT4).is_err());
        assert!(Cell::convert(ValueRef::Text(&[0xff]), &Type::TEXT).is_err());
    }

    #[test]
    fn tables_come_after_those_they_refer_to() {
        let table = |name: &str| Table {
            name: name.into(),
            columns: vec!["x".into()],
            key: vec![],
            rows: 0,
            autoincrement: None,
        };
        let plan = Plan {
            tables: ["enrollments", "places", "units", "users"].into_iter().map(table).collect(),
            log_high_water: 0,
        };
        let refs = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
        };
        let edges =
            refs(&[("enrollments", "users"), ("users", "units"), ("units", "places"), ("places", "places")]);
        let ordered: Vec<&str> =
            order(&plan, &edges).expect("order").iter().map(|t| t.name.as_str()).collect();
        assert_eq!(ordered, ["places", "units", "users", "enrollments"]);
        let cycle = refs(&[("units", "users"), ("users", "units")]);
        assert!(order(&plan, &cycle).is_err());
    }
}
