//! The export writers, read back by real readers: the XLSX by `calamine`
//! (cells, merged ranges, types) and its parts by `zip` (frozen panes,
//! column widths, creation time); the CSV by the `csv` crate after its BOM;
//! the JSON by its own reader. Regenerating from the same inputs gives
//! byte-identical files.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::rc::Rc;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use gridsync_proto::date::DAY_MS;
use gridsync_proto::dispute::{STEP_ENTRY, StepBy};
use gridsync_proto::edit::Author;
use gridsync_proto::{
    Action, Actor, ActorId, Date, Directory, Edit, HlcClock, Level, Lifecycle, Place, RecordId, RecordKind,
    RecordState, Role, Step, Unit, Value, check_group, make_group,
};
use gridsync_server::export::{self, ExportError, csv as csv_export, json, xlsx};
use gridsync_server_core::ledger::sheet::{
    Book, Cell, Column, DateTime, HeaderNode, Kind, Ratio, Row, RowStyle, SheetData, header,
};
use gridsync_server_core::ledger::{self, AsOf, Month, MonthLedger, MonthParams, MonthTable, RegisterRow};

const OFFSET: i32 = 480;
const COUNTY: &str = "620802";
const TOWNSHIP: &str = "620802100";
const V1: &str = "620802100201";
const V2: &str = "620802100202";
const G1: &str = "620802100201-01";
const G2: &str = "620802100202-01";
const POLICE: &str = "PS-620802100";

fn at(y: i32, m: u8, d: u8, hour: i64) -> i64 {
    Date::from_ymd(y, m, d).expect("date").start_ms(OFFSET) + hour * 3_600_000
}

fn directory() -> Directory {
    let place = |code: &str, name: &str, level, parent: Option<&str>| Place {
        code: code.into(),
        name: name.into(),
        level,
        parent: parent.map(Into::into),
    };
    Directory::new(
        [
            place(COUNTY, "崆峒区", Level::County, None),
            place(TOWNSHIP, "崆峒镇", Level::Township, Some(COUNTY)),
            place(V1, "崆峒村", Level::Village, Some(TOWNSHIP)),
            place(V2, "太统村", Level::Village, Some(TOWNSHIP)),
            place(G1, "崆峒村第一网格", Level::Grid, Some(V1)),
            place(G2, "太统村第一网格", Level::Grid, Some(V2)),
        ],
        [Unit {
            code: POLICE.into(),
            name: "崆峒派出所".into(),
            kind: "police".into(),
            place: TOWNSHIP.into(),
        }],
    )
}

fn actor(user: &str, role: Role, place: &str, unit: Option<&str>) -> Actor {
    Actor { user: user.into(), role, place: Some(place.into()), unit: unit.map(Into::into) }
}

/// One write group by `who` at `ms`, made and checked as a handset does.
fn write(
    dir: &Directory,
    who: &Actor,
    before: Option<&RecordState>,
    new: (RecordId, RecordKind),
    edits: Vec<Edit>,
    ms: i64,
) -> RecordState {
    let mut state = before.cloned().unwrap_or_else(|| RecordState::new(new.0, new.1));
    let mut clock = HlcClock::default();
    let mut bytes = [7u8; 16];
    bytes[..who.user.len().min(16)].copy_from_slice(&who.user.as_bytes()[..who.user.len().min(16)]);
    let mut author =
        Author { device: ActorId::from_bytes(bytes), name: &who.user, clock: &mut clock, now_ms: ms as u64 };
    let changes = make_group(&mut state, &mut author, before.is_none(), edits).expect("changes");
    check_group(before, &state, &changes, who, dir).expect("the rules accept it");
    state
}

fn step(
    dir: &Directory,
    state: &RecordState,
    who: &Actor,
    action: Action,
    ms: i64,
    edit: impl FnOnce(&mut Step),
) -> RecordState {
    let head = Lifecycle::of(state).expect("registered").head;
    let mut s = Step::new(action, head, StepBy::of(who, dir));
    edit(&mut s);
    write(
        dir,
        who,
        Some(state),
        (state.id(), RecordKind::Dispute),
        vec![Edit::Append(STEP_ENTRY.into(), s.to_body())],
        ms,
    )
}

fn dispute(dir: &Directory, who: &Actor, n: u8, place: &str, ms: i64, parties: &[&str]) -> RecordState {
    let set = |f: &str, v: Value| Edit::Set(f.into(), v);
    let parties = parties
        .iter()
        .map(|name| {
            Value::Map(BTreeMap::from([
                ("name".to_owned(), Value::from(*name)),
                ("role".to_owned(), Value::from("applicant")),
                ("id_number".to_owned(), Value::from("620802199001011234")),
            ]))
        })
        .collect();
    let edits = vec![
        set("registered_at", Value::from(place)),
        set("place", Value::from(place)),
        set("source", Value::from("patrol")),
        set("category", Value::from("邻里纠纷")),
        set("summary", Value::from("=两户因排水沟发生争执")),
        set("parties", Value::List(parties)),
    ];
    write(dir, who, None, (RecordId::derived(&["export", &n.to_string()]), RecordKind::Dispute), edits, ms)
}

/// December 2026 in a township: a dispute carried over from November and
/// resolved; one escalated from a village, transferred to the police and
/// closed; one still open; patrols.
fn records(dir: &Directory) -> Vec<RecordState> {
    let w1 = actor("wang", Role::Worker, G1, None);
    let cadre = actor("cun", Role::Worker, V2, None);
    let centre = actor("zhen", Role::TownshipAdmin, TOWNSHIP, None);
    let police = actor("jing", Role::Department, TOWNSHIP, Some(POLICE));
    let mut out = Vec::new();

    let mut d1 = dispute(dir, &w1, 1, G1, at(2026, 11, 10, 9), &["张三", "李四"]);
    d1 = step(dir, &d1, &w1, Action::Accept, at(2026, 11, 11, 9), |_| {});
    d1 = step(dir, &d1, &w1, Action::Mediate, at(2026, 11, 20, 9), |_| {});
    d1 = step(dir, &d1, &w1, Action::Resolve, at(2026, 12, 3, 15), |s| s.note = Some("和解".into()));
    out.push(d1);

    let mut d2 = dispute(dir, &cadre, 2, V2, at(2026, 12, 2, 10), &["王五"]);
    d2 = step(dir, &d2, &cadre, Action::Escalate, at(2026, 12, 4, 10), |s| s.to = Some(TOWNSHIP.into()));
    d2 = step(dir, &d2, &centre, Action::Transfer, at(2026, 12, 5, 10), |s| s.unit = Some(POLICE.into()));
    d2 = step(dir, &d2, &police, Action::AcceptTransfer, at(2026, 12, 6, 10), |_| {});
    d2 = step(dir, &d2, &police, Action::RequestClosure, at(2026, 12, 8, 10), |s| {
        s.note = Some("已处理".into())
    });
    d2 = step(dir, &d2, &centre, Action::ConfirmClosure, at(2026, 12, 9, 10), |_| {});
    out.push(d2);

    out.push(dispute(dir, &w1, 3, G1, at(2026, 12, 20, 11), &["欧阳娜娜"]));

    for (n, (grid, day)) in [(G1, 1), (G1, 2), (G2, 2), (G1, 31)].into_iter().enumerate() {
        let who = if grid == G1 { &w1 } else { &cadre };
        let ms = at(2026, 12, day, 8);
        let edits =
            vec![Edit::Set("grid".into(), Value::from(grid)), Edit::Set("started_ms".into(), Value::Int(ms))];
        out.push(write(
            dir,
            who,
            None,
            (RecordId::derived(&["patrol", &n.to_string()]), RecordKind::Patrol),
            edits,
            ms,
        ));
    }
    out
}

fn month(dir: &Directory, reader: Role, as_of_ms: i64) -> (MonthTable, Vec<RegisterRow>) {
    let params = MonthParams {
        place: TOWNSHIP.into(),
        month: Month::new(2026, 12).expect("month"),
        utc_offset_minutes: OFFSET,
        reader,
        as_of: AsOf { log_position: 4242, time_ms: as_of_ms },
    };
    let mut ledger = MonthLedger::new(dir, params).expect("place");
    let mut rows = Vec::new();
    for r in records(dir) {
        rows.extend(ledger.add(&r));
    }
    ledger::register::sort(&mut rows);
    (ledger.finish(), rows)
}

/// A sheet with a cell of every kind and row of every style.
fn every_kind() -> SheetData {
    let (columns, header, header_rows) = header(vec![
        HeaderNode::Column(Column::new("name", "名称", 12, Kind::Text)),
        HeaderNode::Group(
            "数量".into(),
            vec![Column::new("n", "件数", 8, Kind::Integer), Column::new("rate", "比率", 10, Kind::Ratio)],
        ),
        HeaderNode::Column(Column::new("day", "日期", 11, Kind::Date)),
        HeaderNode::Column(Column::new("when", "时间", 17, Kind::DateTime)),
    ]);
    let day = Date::from_ymd(2026, 12, 31).expect("date");
    let when = DateTime::new(at(2026, 12, 1, 8) + 30 * 60_000 + 123, OFFSET);
    SheetData {
        name: "样表".into(),
        title: vec!["样表标题".into(), "第二行".into()],
        columns,
        header,
        header_rows,
        frozen_columns: 1,
        rows: vec![
            Row {
                style: RowStyle::Body,
                cells: vec![
                    Cell::text("=1+1"),
                    Cell::Int(42),
                    Cell::Ratio(Ratio::new(2, 3)),
                    Cell::Date(day),
                    Cell::DateTime(when),
                ],
            },
            Row {
                style: RowStyle::Subtotal,
                cells: vec![
                    Cell::text("小计"),
                    Cell::Int(0),
                    Cell::Ratio(Ratio::new(0, 0)),
                    Cell::Empty,
                    Cell::Empty,
                ],
            },
            Row {
                style: RowStyle::Total,
                cells: vec![
                    Cell::Empty,
                    Cell::Int(-7),
                    Cell::Ratio(Ratio::new(5, 4)),
                    Cell::Date(day),
                    Cell::Empty,
                ],
            },
        ],
        footer: vec!["脚注一".into(), "脚注二".into()],
    }
}

fn book<'a>(table: &'a MonthTable, rows: &'a [RegisterRow], sample: &'a SheetData) -> Book<'a> {
    let mut book = table.book(rows.iter().cloned());
    book.sheets.push(sample.to_sheet());
    book
}

fn xlsx_bytes(book: Book<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    xlsx::write(book, &mut out).expect("an XLSX");
    out
}

/// Excel's serial number of a local moment.
fn serial(unix_ms: i64) -> f64 {
    (unix_ms + i64::from(OFFSET) * 60_000) as f64 / DAY_MS as f64 + 25_569.0
}

fn part(bytes: &[u8], name: &str) -> String {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("a zip");
    let mut text = String::new();
    zip.by_name(name).expect("the part").read_to_string(&mut text).expect("UTF-8");
    text
}

#[test]
fn xlsx_reads_back_with_its_cells_merges_and_types() {
    let dir = directory();
    let as_of = at(2027, 1, 2, 9);
    let (table, rows) = month(&dir, Role::CountyAdmin, as_of);
    let sample = every_kind();
    let bytes = xlsx_bytes(book(&table, &rows, &sample));
    let mut xlsx: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.clone())).expect("calamine opens it");
    assert_eq!(xlsx.sheet_names(), ["清单化管理统计表", "排查调处分类台帐", "样表"]);

    // The statistics table: title, two header rows, then the lines.
    let t = xlsx.worksheet_range("清单化管理统计表").expect("the table");
    let table_sheet = table.sheet().collect();
    let ncols = table_sheet.columns.len() as u32;
    assert_eq!(t.get_value((0, 0)), Some(&Data::String("崆峒镇矛盾纠纷清单化管理统计表".into())));
    let merged: Vec<((u32, u32), (u32, u32))> = xlsx
        .merge_cells_by_sheet_name("清单化管理统计表")
        .expect("merged cells")
        .into_iter()
        .map(|d| (d.start, d.end))
        .collect();
    assert!(merged.contains(&((0, 0), (0, ncols - 1))), "the title spans the table: {merged:?}");
    assert!(merged.contains(&((2, 0), (3, 0))), "单位 spans both header rows");
    let group = table_sheet.header.iter().find(|h| h.text == "化解").expect("the 化解 group");
    let (g0, g1) = (u32::from(group.col), u32::from(group.col + group.cols - 1));
    assert!(merged.contains(&((2, g0), (2, g1))), "化解 spans its sub-columns");
    assert_eq!(t.get_value((2, g0)), Some(&Data::String("化解".into())));
    assert_eq!(t.get_value((3, g0)), Some(&Data::String("应化解".into())));
    let footer_row = 4 + table_sheet.rows.len() as u32;
    assert!(merged.contains(&((footer_row, 0), (footer_row, ncols - 1))), "footer lines span the table");
    assert_eq!(t.get_value((footer_row, 0)), Some(&Data::String(table_sheet.footer[0].clone())));
    assert!(table_sheet.footer[0].contains("4242"));

    // Every cell as the model has it, with its type.
    for (i, row) in table_sheet.rows.iter().enumerate() {
        for (c, cell) in row.cells.iter().enumerate() {
            let got = t.get_value((4 + i as u32, c as u32));
            match cell {
                Cell::Text(s) => assert_eq!(got, Some(&Data::String(s.clone()))),
                Cell::Int(n) => assert_eq!(got, Some(&Data::Float(*n as f64)), "row {i} col {c}: a number"),
                Cell::Ratio(r) => match r.value() {
                    Some(v) => assert_eq!(got, Some(&Data::Float(v))),
                    None => assert!(matches!(got, None | Some(Data::Empty))),
                },
                Cell::Empty => assert!(matches!(got, None | Some(Data::Empty))),
                other => panic!("the table holds no {other:?}"),
            }
        }
    }
    let total = t.rows().find(|r| r[2] == Data::String("全部".into())).expect("the grand total");
    let col = |k: &str| table_sheet.columns.iter().position(|c| c.key == k).expect("column");
    assert_eq!(total[col("carried_over")], Data::Float(1.0));
    assert_eq!(total[col("found")], Data::Float(2.0));
    assert_eq!(total[col("resolution_rate")], Data::Float(2.0 / 3.0));
    assert_eq!(total[col("patrols")], Data::Float(4.0));

    // The register: dates are dates, moments date-times, counts numbers.
    let r = xlsx.worksheet_range("排查调处分类台帐").expect("the register");
    let reg = table.register_head();
    let reg_sheet = ledger::register::sheet(&reg, rows.iter().cloned()).collect();
    let rcol = |k: &str| reg_sheet.columns.iter().position(|c| c.key == k).expect("column") as u32;
    assert_eq!(reg_sheet.rows.len(), 3);
    let first = 4; // two title lines, two header rows
    assert_eq!(r.get_value((first, rcol("number"))), Some(&Data::Float(1.0)));
    let accepted = r.get_value((first, rcol("accepted"))).expect("a date");
    match accepted {
        Data::DateTime(d) => {
            assert!(d.is_datetime());
            assert_eq!(d.as_f64(), serial(at(2026, 11, 11, 0)), "2026-11-11");
        }
        other => panic!("a date cell, not {other:?}"),
    }
    match r.get_value((first, rcol("registered"))).expect("a moment") {
        Data::DateTime(d) => assert!((d.as_f64() - serial(at(2026, 11, 10, 9))).abs() < 1e-6),
        other => panic!("a date-time cell, not {other:?}"),
    }
    assert_eq!(
        r.get_value((first, rcol("parties"))),
        Some(&Data::String("张三（申请人）、李四（申请人）".into()))
    );
    assert_eq!(r.get_value((first, rcol("stage"))), Some(&Data::String("已化解".into())));

    // The sample: every kind, and formula-looking text stays text.
    let s = xlsx.worksheet_range("样表").expect("the sample");
    assert_eq!(s.get_value((4, 0)), Some(&Data::String("=1+1".into())));
    assert_eq!(s.get_value((4, 1)), Some(&Data::Float(42.0)));
    assert_eq!(s.get_value((4, 2)), Some(&Data::Float(2.0 / 3.0)));
    match s.get_value((4, 3)) {
        Some(Data::DateTime(d)) => assert_eq!(d.as_f64(), serial(at(2026, 12, 31, 0))),
        other => panic!("a date, not {other:?}"),
    }
    match s.get_value((4, 4)) {
        Some(Data::DateTime(d)) => {
            assert!((d.as_f64() - serial(at(2026, 12, 1, 8) + 30 * 60_000)).abs() < 1e-6)
        }
        other => panic!("a date-time, not {other:?}"),
    }
    assert!(matches!(s.get_value((5, 2)), None | Some(Data::Empty)), "0 of 0 is no share");
    assert_eq!(s.get_value((6, 1)), Some(&Data::Float(-7.0)));

    // What calamine does not read: frozen panes, widths, formats, creation time.
    let sheet1 = part(&bytes, "xl/worksheets/sheet1.xml");
    assert!(
        sheet1.contains(r#"xSplit="3" ySplit="4""#) && sheet1.contains(r#"state="frozen""#),
        "{sheet1:.600}"
    );
    assert!(sheet1.contains(r#"<col min="1" max="1" width="24.7109375""#), "the 单位 column is 24 wide");
    // Printed on A4 landscape, one page wide, the header rows on every page.
    assert!(sheet1.contains(r#"<pageSetUpPr fitToPage="1"/>"#), "fit to the page's width: {sheet1:.800}");
    assert!(
        sheet1.contains(r#"paperSize="9""#) && sheet1.contains(r#"orientation="landscape""#),
        "A4 landscape"
    );
    let workbook = part(&bytes, "xl/workbook.xml");
    assert!(workbook.contains("_xlnm.Print_Titles"), "repeated header rows: {workbook:.800}");
    let styles = part(&bytes, "xl/styles.xml");
    assert!(styles.contains("0.00%") && styles.contains("yyyy-mm-dd"), "percent and date formats");
    let core = part(&bytes, "docProps/core.xml");
    assert!(core.contains("2027-01-02T01:00:00Z"), "created at the as-of time: {core}");
}

#[test]
fn regenerating_gives_the_same_bytes() {
    let dir = directory();
    let as_of = at(2027, 1, 2, 9);
    let sample = every_kind();
    let make = || {
        let (table, rows) = month(&dir, Role::Auditor, as_of);
        let xlsx = xlsx_bytes(book(&table, &rows, &sample));
        let json = json::write(book(&table, &rows, &sample), Vec::new()).expect("JSON");
        let mut csv = Vec::new();
        for sheet in book(&table, &rows, &sample).sheets {
            csv.push(csv_export::write_sheet(sheet, Vec::new()).expect("CSV"));
        }
        (xlsx, json, csv)
    };
    let (a, b) = (make(), make());
    assert_eq!(a.0, b.0, "XLSX byte-identical");
    assert_eq!(a.1, b.1, "JSON byte-identical");
    assert_eq!(a.2, b.2, "CSV byte-identical");
    // The creation time comes from the data, so other data may differ.
    let (table, rows) = month(&dir, Role::Auditor, as_of + 1000);
    assert_ne!(xlsx_bytes(book(&table, &rows, &sample)), a.0);
}

#[test]
fn csv_starts_with_a_bom_and_parses() {
    let dir = directory();
    let (table, rows) = month(&dir, Role::Worker, at(2027, 1, 2, 9));
    let files = Files::default();
    let names = csv_export::write_book(table.book(rows.iter().cloned()), |name| {
        Ok(FileIn(name.into(), files.clone()))
    })
    .expect("CSV files");
    let files = files.borrow();
    assert_eq!(names, ["01-清单化管理统计表.csv", "02-排查调处分类台帐.csv"]);
    let table_sheet = table.sheet().collect();
    let text = &files[&names[0]];
    assert!(text.starts_with(csv_export::BOM), "a BOM first");
    let mut reader = ::csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(&text[3..]);
    let records: Vec<::csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("it parses");
    assert_eq!(records[0].iter().collect::<Vec<_>>(), [table_sheet.title[0].as_str()]);
    let header: Vec<&str> = records[2].iter().collect();
    assert_eq!(header.len(), table_sheet.columns.len());
    assert_eq!((header[0], header[3], header[17]), ("单位", "纠纷排查/上月结转", "化解/化解率"));
    let body = &records[3..3 + table_sheet.rows.len()];
    assert!(body.iter().all(|r| r.len() == table_sheet.columns.len()));
    let total = body.last().expect("the total");
    assert_eq!((&total[0], &total[2], &total[4], &total[17]), ("合计", "全部", "2", "66.67%"));
    assert_eq!(records.len(), 3 + table_sheet.rows.len() + table_sheet.footer.len());
    assert!(records.last().expect("footer").len() == 1);

    // The register as a worker reads it: names masked, no numbers, no summary,
    // and the summary's leading '=' never reaches a cell unescaped.
    let text = String::from_utf8(files[&names[1]][3..].to_vec()).expect("UTF-8");
    assert!(text.contains("张*（申请人）、李*（申请人）") && text.contains("欧*（申请人）"), "{text}");
    assert!(!text.contains("张三") && !text.contains("1234") && !text.contains("排水沟"), "{text}");
    assert!(text.contains("\r\n"), "CRLF");
}

/// The files a CSV export wrote, by name.
type Files = Rc<RefCell<BTreeMap<String, Vec<u8>>>>;

/// A writer into one entry of the files (the CSV writer asks for each file
/// by name).
struct FileIn(String, Files);

impl std::io::Write for FileIn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.1.borrow_mut().entry(self.0.clone()).or_default().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn json_round_trips() {
    let dir = directory();
    let (table, rows) = month(&dir, Role::TownshipAdmin, at(2027, 1, 2, 9));
    let sample = every_kind();
    let bytes = json::write(book(&table, &rows, &sample), Vec::new()).expect("JSON");
    let back = json::read(bytes.as_slice()).expect("reads back");
    let want: Vec<SheetData> = book(&table, &rows, &sample).sheets.into_iter().map(|s| s.collect()).collect();
    assert_eq!(back.sheets, want);
    assert_eq!(back.as_of_ms, at(2027, 1, 2, 9));
    let value: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
    assert_eq!((value["format"].as_str(), value["version"].as_u64()), (Some(json::FORMAT), Some(1)));
    let rate = &value["sheets"][2]["rows"][0]["cells"][2];
    assert_eq!(rate, &serde_json::json!({"numerator": 2, "denominator": 3}));
    assert_eq!(value["sheets"][2]["rows"][0]["cells"][4], "2026-12-01T08:30:00.123+08:00");
    assert!(matches!(json::read(&b"{\"format\":\"other\"}"[..]), Err(ExportError::Json(_))));
}

#[test]
fn a_row_that_does_not_fit_stops_every_writer() {
    let mut bad = every_kind();
    bad.rows[0].cells[1] = Cell::text("not a number");
    fn one(s: &SheetData) -> Book<'_> {
        Book { title: "x".into(), as_of_ms: 0, sheets: vec![s.to_sheet()] }
    }
    assert!(matches!(xlsx::write(one(&bad), Vec::new()), Err(ExportError::Shape(_))));
    assert!(matches!(json::write(one(&bad), Vec::new()), Err(ExportError::Shape(_))));
    assert!(matches!(csv_export::write_sheet(bad.to_sheet(), Vec::new()), Err(ExportError::Shape(_))));
    assert_eq!("xlsx".parse::<export::Format>(), Ok(export::Format::Xlsx));
}
