//! The `time` module (spec 11 §11.11): dates, times and time zones, on `chrono` and
//! the IANA database of `chrono-tz`.
//!
//! A time is an Object with the keys `iso`, `unix`, `unix_ms`, the calendar fields,
//! the weekday names, `day_of_year` and `timezone`. A *time argument* is such an object
//! (only its Int `unix` key is read) or an Int Unix timestamp; its sub-second part and
//! zone are dropped unless a function says otherwise. Arithmetic that would leave
//! chrono's range fails with `invalid timestamp` instead of panicking.

use std::fmt::{Display, Write};
use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Datelike, Local, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;

use crate::builtins::Registry;
use crate::error::{fail, Error, Result};
use crate::host::Host;
use crate::value::{map_with_capacity, Key, Value};

pub fn register(r: &mut Registry) {
    r.module("time", "now", now);
    r.module("time", "local", local);
    r.module("time", "unix", unix);
    r.module("time", "today", today);
    r.module("time", "date", date);
    r.module("time", "parse", parse);
    r.module("time", "format", format);
    r.module("time", "from_unix", from_unix);
    r.module("time", "diff", diff);
    r.module("time", "add", add);
    r.module("time", "sub", sub);
    r.module("time", "zone", zone);
    r.module("time", "zones", zones);
    r.module("time", "is_before", is_before);
    r.module("time", "is_after", is_after);
    r.module("time", "start_of", start_of);
    r.module("time", "end_of", end_of);
    r.module("time", "sleep", sleep);
    r.module("time", "elapsed", elapsed);
    r.module("time", "measure", measure);
    r.module("time", "is_weekend", is_weekend);
    r.module("time", "is_weekday", is_weekday);
    r.module("time", "day_of_week", day_of_week);
    r.module("time", "days_in_month", days_in_month);
    r.module("time", "is_leap_year", is_leap_year);
}

const INVALID_TIMESTAMP: &str = "invalid timestamp";
const NOT_A_TIME: &str = "first argument must be a time object";
const SECOND_NOT_A_TIME: &str = "second argument must be a time object";

// ---------------------------------------------------------------------------------
// Zones and time objects
// ---------------------------------------------------------------------------------

/// The zone a time is expressed in.
#[derive(Clone, Copy)]
enum Zone {
    Utc,
    /// The system zone (`timezone` = `"Local"`).
    Local,
    Named(Tz),
}

impl Zone {
    /// The zone a `timezone` field names: `UTC`, `Local` or an IANA name.
    fn from_field(name: &str) -> Option<Zone> {
        match name {
            "UTC" => Some(Zone::Utc),
            "Local" => Some(Zone::Local),
            _ => name.parse::<Tz>().ok().map(Zone::Named),
        }
    }
}

/// The IANA zone `name`, or the error that points to `time.zones()`.
fn parse_tz(name: &str) -> Result<Tz> {
    name.parse::<Tz>()
        .map_err(|_| Error::new(format!("unknown timezone: '{name}'. Use time.zones() to list available zones")))
}

fn weekday_name(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// The time object of `dt`, labelled `label`.
fn time_object<Z: TimeZone>(dt: &DateTime<Z>, label: &str) -> Value
where
    Z::Offset: Display,
{
    let weekday = weekday_name(dt.weekday());
    let mut m = map_with_capacity(13);
    let mut put = |k: &str, v: Value| {
        m.insert(Key::new(k), v);
    };
    put("iso", Value::string(dt.to_rfc3339()));
    put("unix", Value::int(dt.timestamp()));
    put("unix_ms", Value::int(dt.timestamp_millis()));
    put("year", Value::int(i64::from(dt.year())));
    put("month", Value::int(i64::from(dt.month())));
    put("day", Value::int(i64::from(dt.day())));
    put("hour", Value::int(i64::from(dt.hour())));
    put("minute", Value::int(i64::from(dt.minute())));
    put("second", Value::int(i64::from(dt.second())));
    put("weekday", Value::str(weekday));
    put("weekday_short", Value::str(&weekday[..3]));
    put("day_of_year", Value::int(i64::from(dt.ordinal())));
    put("timezone", Value::str(label));
    Value::object(m)
}

/// The time object of the instant `utc` expressed in `zone`.
fn render(utc: &DateTime<Utc>, zone: Zone, label: &str) -> Value {
    match zone {
        Zone::Utc => time_object(utc, label),
        Zone::Local => time_object(&utc.with_timezone(&Local), "Local"),
        Zone::Named(tz) => time_object(&utc.with_timezone(&tz), label),
    }
}

fn utc_object(utc: &DateTime<Utc>) -> Value {
    render(utc, Zone::Utc, "UTC")
}

/// The Unix seconds of a time argument: an Int, or an object's Int `unix` key.
fn unix_of(v: &Value) -> Option<i64> {
    match v.as_int() {
        Some(n) => Some(n),
        None => v.as_object()?.get("unix")?.as_int(),
    }
}

/// The instant of Unix second `secs`.
fn instant(secs: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0).ok_or_else(|| Error::new(INVALID_TIMESTAMP))
}

/// The instant of a time argument, or the error `msg` when it is not one.
fn time_arg(v: &Value, msg: &str) -> Result<DateTime<Utc>> {
    match unix_of(v) {
        Some(secs) => instant(secs),
        None => fail(msg),
    }
}

/// The zone named by the `timezone` field of a time object, if it is a known one.
fn zone_of(v: &Value) -> Option<(Zone, String)> {
    let name = v.as_object()?.get("timezone")?.as_str()?;
    Zone::from_field(name).map(|z| (z, name.to_string()))
}

/// The current instant truncated to whole seconds.
fn now_secs() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now)
}

// ---------------------------------------------------------------------------------
// Current time and construction
// ---------------------------------------------------------------------------------

fn now(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let utc = Utc::now();
    match args.first().and_then(Value::as_str) {
        Some(name) => Ok(render(&utc, Zone::Named(parse_tz(name)?), name)),
        None => Ok(utc_object(&utc)),
    }
}

fn local(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    Ok(render(&Utc::now(), Zone::Local, "Local"))
}

fn unix(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    Ok(Value::int(Utc::now().timestamp()))
}

fn today(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    Ok(Value::string(Utc::now().format("%Y-%m-%d").to_string()))
}

fn date(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let field = |i: usize| args.get(i).and_then(Value::as_int);
    let (Some(y), Some(m), Some(d)) = (field(0), field(1), field(2)) else {
        return fail("time.date(year, month, day) requires three integers");
    };
    let day = match (i32::try_from(y), u32::try_from(m), u32::try_from(d)) {
        (Ok(y), Ok(m), Ok(d)) => NaiveDate::from_ymd_opt(y, m, d),
        _ => None,
    };
    match day {
        Some(day) => Ok(utc_object(&day.and_time(NaiveTime::MIN).and_utc())),
        None => fail(format!("invalid date: {y}-{m}-{d}")),
    }
}

/// Parses the date/time formats of `time.parse`, in the spec's order. Naive values are
/// taken as UTC.
fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(dt.and_utc());
        }
    }
    for fmt in ["%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y", "%b %d, %Y", "%d %b %Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, fmt) {
            return Some(d.and_time(NaiveTime::MIN).and_utc());
        }
    }
    None
}

fn parse(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let arg = args.first();
    if let Some(s) = arg.and_then(Value::as_str) {
        let Some(utc) = parse_datetime(s) else {
            return fail(format!(
                "cannot parse '{s}' as a date/time. Supported formats: YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS, MM/DD/YYYY, DD.MM.YYYY, \"Jan 15, 2026\""
            ));
        };
        return match args.get(1).and_then(Value::as_str) {
            Some(name) => Ok(render(&utc, Zone::Named(parse_tz(name)?), name)),
            None => Ok(utc_object(&utc)),
        };
    }
    match arg.and_then(Value::as_int) {
        Some(n) => match DateTime::from_timestamp(n, 0) {
            Some(utc) => Ok(utc_object(&utc)),
            None => fail(format!("invalid unix timestamp: {n}")),
        },
        None => fail("time.parse() requires a date string or unix timestamp"),
    }
}

/// `dt` formatted with strftime specifiers, or `None` when `fmt` is invalid.
fn strftime<Z: TimeZone>(dt: &DateTime<Z>, fmt: &str) -> Option<String>
where
    Z::Offset: Display,
{
    let mut out = String::new();
    write!(out, "{}", dt.format(fmt)).ok()?;
    Some(out)
}

fn format(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(t) = args.first() else {
        return fail("time.format(time_obj, format_str) requires a time object");
    };
    let utc = time_arg(t, "time.format() first argument must be a time object or unix timestamp")?;
    let fmt = args.get(1).and_then(Value::as_str).unwrap_or("%Y-%m-%d %H:%M:%S");
    let text = match zone_of(t).map(|z| z.0) {
        Some(Zone::Local) => strftime(&utc.with_timezone(&Local), fmt),
        Some(Zone::Named(tz)) => strftime(&utc.with_timezone(&tz), fmt),
        Some(Zone::Utc) | None => strftime(&utc, fmt),
    };
    match text {
        Some(s) => Ok(Value::string(s)),
        None => fail("time.format() invalid format string"),
    }
}

fn from_unix(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(n) = args.first().and_then(Value::as_int) else {
        return fail("time.from_unix() requires an integer timestamp");
    };
    match DateTime::from_timestamp(n, 0) {
        Some(utc) => Ok(utc_object(&utc)),
        None => fail(format!("invalid unix timestamp: {n}")),
    }
}

// ---------------------------------------------------------------------------------
// Arithmetic and comparison
// ---------------------------------------------------------------------------------

/// The two time arguments of a binary function, as Unix seconds.
fn two_times(args: &[Value], missing: &str) -> Result<(i64, i64)> {
    let (Some(a), Some(b)) = (args.first(), args.get(1)) else {
        return fail(missing);
    };
    let Some(a) = unix_of(a) else {
        return fail(NOT_A_TIME);
    };
    let Some(b) = unix_of(b) else {
        return fail(SECOND_NOT_A_TIME);
    };
    Ok((a, b))
}

/// `[-]Dd Hh Mm Ss` of a difference in seconds.
fn human(diff: i128) -> String {
    let abs = diff.unsigned_abs();
    let sign = if diff < 0 { "-" } else { "" };
    format!("{sign}{}d {}h {}m {}s", abs / 86400, abs % 86400 / 3600, abs % 3600 / 60, abs % 60)
}

fn diff(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (a, b) = two_times(args, "time.diff(t1, t2) requires two time objects")?;
    let d = i128::from(a) - i128::from(b);
    let secs = i64::try_from(d).map_err(|_| Error::new(INVALID_TIMESTAMP))?;
    let x = secs as f64;
    let mut m = map_with_capacity(6);
    m.insert(Key::new("seconds"), Value::int(secs));
    m.insert(Key::new("minutes"), Value::float(x / 60.0));
    m.insert(Key::new("hours"), Value::float(x / 3600.0));
    m.insert(Key::new("days"), Value::float(x / 86400.0));
    m.insert(Key::new("weeks"), Value::float(x / 604800.0));
    m.insert(Key::new("human"), Value::string(human(d)));
    Ok(Value::object(m))
}

/// A duration in milliseconds: Int seconds, or an object of Int fields (`years` count
/// 365 days and `months` 30; other kinds of fields and unknown keys are ignored).
fn duration_ms(dur: &Value) -> Option<i128> {
    if let Some(secs) = dur.as_int() {
        return Some(i128::from(secs) * 1000);
    }
    let obj = dur.as_object()?;
    const DAY: i128 = 86_400_000;
    let units: [(&str, i128); 8] = [
        ("years", 365 * DAY),
        ("months", 30 * DAY),
        ("weeks", 7 * DAY),
        ("days", DAY),
        ("hours", 3_600_000),
        ("minutes", 60_000),
        ("seconds", 1000),
        ("millis", 1),
    ];
    let total =
        units.iter().filter_map(|(k, ms)| obj.get(*k).and_then(Value::as_int).map(|n| i128::from(n) * ms)).sum();
    Some(total)
}

/// `time.add` (sign 1) and `time.sub` (sign -1).
fn shift(args: &[Value], sign: i128, missing: &str, bad_duration: &str) -> Result<Value> {
    let Some(t) = args.first() else {
        return fail(missing);
    };
    let start = time_arg(t, NOT_A_TIME)?;
    let Some(delta) = args.get(1).and_then(duration_ms) else {
        return fail(bad_duration);
    };
    let ms = i128::from(start.timestamp()) * 1000 + sign * delta;
    let end = i64::try_from(ms).ok().and_then(DateTime::from_timestamp_millis);
    let Some(end) = end else {
        return fail(INVALID_TIMESTAMP);
    };
    Ok(match zone_of(t) {
        Some((zone, label)) => render(&end, zone, &label),
        None => utc_object(&end),
    })
}

fn add(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    shift(
        args,
        1,
        "time.add(time_obj, duration) requires two arguments",
        "time.add() second argument must be a duration object like {days: 5, hours: 3} or seconds integer",
    )
}

fn sub(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    shift(
        args,
        -1,
        "time.sub(time_obj, duration) requires two arguments",
        "time.sub() second argument must be a duration object or seconds integer",
    )
}

fn zone(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let Some(t) = args.first() else {
        return fail("time.zone(time_obj, timezone) requires two arguments");
    };
    let Some(name) = args.get(1).and_then(Value::as_str) else {
        return fail("time.zone() second argument must be a timezone string");
    };
    let utc = time_arg(t, NOT_A_TIME)?;
    Ok(render(&utc, Zone::Named(parse_tz(name)?), name))
}

/// Every IANA zone name, sorted.
fn zone_names() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names: Vec<&'static str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
        names.sort_unstable();
        names
    })
}

fn zones(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let filter = args.first().and_then(Value::as_str).map(str::to_lowercase).unwrap_or_default();
    let names = zone_names().iter().filter(|n| filter.is_empty() || n.to_lowercase().contains(&filter));
    Ok(Value::array(names.map(|n| Value::str(n)).collect()))
}

fn is_before(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (a, b) = two_times(args, "time.is_before(t1, t2) requires two time objects")?;
    Ok(Value::bool(a < b))
}

fn is_after(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let (a, b) = two_times(args, "time.is_after(t1, t2) requires two time objects")?;
    Ok(Value::bool(a > b))
}

/// The first (or, with `end`, the last) second of the `unit` containing `dt`, in UTC;
/// `Ok(None)` when that falls outside chrono's range.
fn boundary(dt: &DateTime<Utc>, unit: &str, end: bool) -> Result<Option<DateTime<Utc>>> {
    let d = dt.date_naive();
    let hms = |h: u32, m: u32, s: u32| NaiveTime::from_hms_opt(h, m, s);
    let (day, time) = match (unit, end) {
        ("day", false) => (Some(d), hms(0, 0, 0)),
        ("day", true) => (Some(d), hms(23, 59, 59)),
        ("hour", false) => (Some(d), hms(dt.hour(), 0, 0)),
        ("hour", true) => (Some(d), hms(dt.hour(), 59, 59)),
        ("minute", false) => (Some(d), hms(dt.hour(), dt.minute(), 0)),
        ("minute", true) => (Some(d), hms(dt.hour(), dt.minute(), 59)),
        ("week", false) => {
            let back = chrono::Days::new(u64::from(d.weekday().num_days_from_monday()));
            (d.checked_sub_days(back), hms(0, 0, 0))
        }
        ("week", true) => {
            let ahead = chrono::Days::new(u64::from(6 - d.weekday().num_days_from_monday()));
            (d.checked_add_days(ahead), hms(23, 59, 59))
        }
        ("month", false) => (d.with_day(1), hms(0, 0, 0)),
        ("month", true) => (last_day_of_month(d.year(), d.month()), hms(23, 59, 59)),
        ("year", false) => (NaiveDate::from_ymd_opt(d.year(), 1, 1), hms(0, 0, 0)),
        ("year", true) => (NaiveDate::from_ymd_opt(d.year(), 12, 31), hms(23, 59, 59)),
        _ => return fail(format!("unknown unit '{unit}'. Use: day, hour, minute, week, month, year")),
    };
    Ok(day.zip(time).map(|(day, time)| day.and_time(time).and_utc()))
}

fn last_day_of_month(year: i32, month: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, days_in(i64::from(year), i64::from(month))?)
}

fn start_or_end(args: &[Value], end: bool, missing: &str) -> Result<Value> {
    let Some(t) = args.first() else {
        return fail(missing);
    };
    let unit = args.get(1).and_then(Value::as_str).unwrap_or("day");
    let dt = time_arg(t, NOT_A_TIME)?;
    match boundary(&dt, unit, end)? {
        Some(b) => Ok(utc_object(&b)),
        None => fail(INVALID_TIMESTAMP),
    }
}

fn start_of(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    start_or_end(args, false, "time.start_of(time_obj, unit) requires two arguments")
}

fn end_of(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    start_or_end(args, true, "time.end_of(time_obj, unit) requires two arguments")
}

// ---------------------------------------------------------------------------------
// Sleeping and measuring
// ---------------------------------------------------------------------------------

fn sleep(h: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let arg = args.first();
    let dur = if let Some(n) = arg.and_then(Value::as_int) {
        Duration::from_secs(u64::try_from(n).unwrap_or(0))
    } else if let Some(x) = arg.and_then(Value::as_float) {
        match Duration::try_from_secs_f64(x.max(0.0)) {
            Ok(d) => d,
            Err(_) => return fail("time.sleep() duration is out of range"),
        }
    } else {
        return fail("time.sleep() requires seconds (number)");
    };
    h.sleep(dur)?;
    Ok(Value::NULL)
}

fn epoch_millis() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

fn elapsed(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    Ok(Value::int(epoch_millis()))
}

fn measure(_: &mut dyn Host, _args: &[Value]) -> Result<Value> {
    Ok(Value::int(epoch_millis()))
}

// ---------------------------------------------------------------------------------
// Calendar questions
// ---------------------------------------------------------------------------------

/// The instant of the optional time argument, or now.
fn time_or_now(args: &[Value], msg: &str) -> Result<DateTime<Utc>> {
    match args.first() {
        Some(t) => time_arg(t, msg),
        None => Ok(now_secs()),
    }
}

fn is_weekend(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let dt = time_or_now(args, "argument must be a time object")?;
    Ok(Value::bool(dt.weekday().num_days_from_monday() >= 5))
}

fn is_weekday(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let dt = time_or_now(args, "argument must be a time object")?;
    Ok(Value::bool(dt.weekday().num_days_from_monday() < 5))
}

fn day_of_week(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let dt = time_or_now(args, "argument must be a time object")?;
    Ok(Value::str(weekday_name(dt.weekday())))
}

fn leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// The number of days of a Gregorian month, or `None` for a month outside 1–12.
fn days_in(year: i64, month: i64) -> Option<u32> {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => Some(31),
        4 | 6 | 9 | 11 => Some(30),
        2 => Some(if leap(year) { 29 } else { 28 }),
        _ => None,
    }
}

fn days_in_month(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let ints = (args.first().and_then(Value::as_int), args.get(1).and_then(Value::as_int));
    let (year, month) = match (ints, args.first()) {
        ((Some(y), Some(m)), _) => (y, m),
        (_, Some(t)) => {
            let dt = time_arg(t, "argument must be a time object or (year, month)")?;
            (i64::from(dt.year()), i64::from(dt.month()))
        }
        (_, None) => {
            let now = Utc::now();
            (i64::from(now.year()), i64::from(now.month()))
        }
    };
    match days_in(year, month) {
        Some(n) => Ok(Value::int(i64::from(n))),
        None => fail("invalid year/month"),
    }
}

fn is_leap_year(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let year = match args.first() {
        Some(v) if v.as_int().is_some() => v.as_int().unwrap_or(0),
        Some(t) => i64::from(time_arg(t, "argument must be a year integer or time object")?.year()),
        None => i64::from(Utc::now().year()),
    };
    Ok(Value::bool(leap(year)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtins::arrays::testing::{host, i, j, s, show};
    use crate::builtins::BuiltinFn;

    fn run(f: BuiltinFn, args: &[Value]) -> Result<Value> {
        f(&mut host(), args)
    }

    fn ok(f: BuiltinFn, args: &[Value]) -> Value {
        run(f, args).unwrap_or_else(|e| panic!("failed: {}", e.message()))
    }

    fn say(f: BuiltinFn, args: &[Value]) -> String {
        show(ok(f, args))
    }

    fn err(f: BuiltinFn, args: &[Value]) -> String {
        match run(f, args) {
            Ok(v) => panic!("succeeded with {}", show(v)),
            Err(e) => e.message().to_string(),
        }
    }

    fn get(v: &Value, key: &str) -> String {
        show(v.as_object().unwrap_or_else(|| panic!("not an object: {}", show(v.clone())))[key].clone())
    }

    fn parsed(text: &str) -> Value {
        ok(parse, &[s(text)])
    }

    #[test]
    fn spec_date_object() {
        assert_eq!(
            say(date, &[i(2026), i(12), i(25)]),
            r#"{ "iso": "2026-12-25T00:00:00+00:00", "unix": 1798156800, "unix_ms": 1798156800000, "year": 2026, "month": 12, "day": 25, "hour": 0, "minute": 0, "second": 0, "weekday": "Friday", "weekday_short": "Fri", "day_of_year": 359, "timezone": "UTC" }"#
        );
        assert_eq!(get(&ok(date, &[i(2024), i(2), i(29)]), "weekday"), "Thursday");
        assert_eq!(err(date, &[i(2025), i(2), i(29)]), "invalid date: 2025-2-29");
        assert_eq!(err(date, &[i(2025), i(-1), i(1)]), "invalid date: 2025--1-1");
        assert_eq!(err(date, &[i(i64::MAX), i(1), i(1)]), format!("invalid date: {}-1-1", i64::MAX));
        assert_eq!(err(date, &[i(2025), i(1)]), "time.date(year, month, day) requires three integers");
        assert_eq!(err(date, &[i(2025), i(1), s("1")]), "time.date(year, month, day) requires three integers");
    }

    #[test]
    fn spec_example() {
        let t = parsed("2026-03-04T13:45:30Z");
        assert_eq!(say(format, &[t.clone(), s("%B %d, %Y")]), "March 04, 2026");
        assert_eq!(get(&ok(start_of, &[t.clone(), s("week")]), "iso"), "2026-03-02T00:00:00+00:00");
        assert_eq!(get(&ok(end_of, &[t.clone(), s("month")]), "iso"), "2026-03-31T23:59:59+00:00");
        assert_eq!(get(&ok(add, &[t, j(r#"{"days": 7, "hours": 3}"#)]), "iso"), "2026-03-11T16:45:30+00:00");
        let d = ok(diff, &[parsed("2026-03-15T01:02:03"), parsed("2026-03-01")]);
        assert_eq!(get(&d, "human"), "14d 1h 2m 3s");
    }

    #[test]
    fn conformance_parse_format() {
        let t = parsed("2026-03-04T13:45:30Z");
        assert_eq!(get(&t, "iso"), "2026-03-04T13:45:30+00:00");
        assert_eq!(say(format, std::slice::from_ref(&t)), "2026-03-04 13:45:30");
        assert_eq!(say(format, &[t.clone(), s("%Y/%m/%d %H:%M")]), "2026/03/04 13:45");
        assert_eq!(say(format, &[t.clone(), s("%a %b %e")]), "Wed Mar  4");
        assert_eq!(say(format, &[t.clone(), s("%j")]), "063");
        assert_eq!(say(format, &[t.clone(), i(5)]), "2026-03-04 13:45:30");
        assert_eq!(get(&parsed("2026-03-04"), "iso"), "2026-03-04T00:00:00+00:00");
        assert_eq!(get(&parsed("2026-03-04 08:00:00"), "hour"), "8");
        assert_eq!(get(&parsed("03/02/2026"), "iso"), "2026-03-02T00:00:00+00:00");
        assert_eq!(get(&parsed("02.03.2026"), "iso"), "2026-03-02T00:00:00+00:00");
        assert_eq!(get(&parsed("Mar 2, 2026"), "day"), "2");
        assert_eq!(get(&parsed("Mar 02, 2026"), "day"), "2");
        assert_eq!(get(&parsed("15 Jan 2026"), "iso"), "2026-01-15T00:00:00+00:00");
        assert_eq!(get(&ok(parse, &[i(0)]), "iso"), "1970-01-01T00:00:00+00:00");
        assert_eq!(get(&ok(from_unix, &[i(86400)]), "iso"), "1970-01-02T00:00:00+00:00");
        assert_eq!(get(&parsed("2026-03-04T13:45:30+02:00"), "unix"), "1772624730");
        assert_eq!(get(&parsed("2026-03-04T13:45:30+02:00"), "timezone"), "UTC");
    }

    #[test]
    fn fractional_seconds_and_negative_times() {
        let t = parsed("2026-03-04T10:05:07.5Z");
        assert_eq!(get(&t, "iso"), "2026-03-04T10:05:07.500+00:00");
        assert_eq!(get(&t, "unix_ms"), "1772618707500");
        let t = ok(from_unix, &[i(-1)]);
        assert_eq!(get(&t, "iso"), "1969-12-31T23:59:59+00:00");
        assert_eq!(get(&t, "unix_ms"), "-1000");
        let t = ok(add, &[i(0), j(r#"{"millis": -1}"#)]);
        assert_eq!(
            (get(&t, "iso"), get(&t, "unix"), get(&t, "unix_ms")),
            ("1969-12-31T23:59:59.999+00:00".into(), "-1".into(), "-1".into())
        );
    }

    #[test]
    fn parse_errors() {
        assert_eq!(
            err(parse, &[s("yesterday")]),
            "cannot parse 'yesterday' as a date/time. Supported formats: YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS, MM/DD/YYYY, DD.MM.YYYY, \"Jan 15, 2026\""
        );
        assert_eq!(err(parse, &[]), "time.parse() requires a date string or unix timestamp");
        assert_eq!(err(parse, &[Value::float(1.5)]), "time.parse() requires a date string or unix timestamp");
        assert_eq!(err(parse, &[i(i64::MAX)]), format!("invalid unix timestamp: {}", i64::MAX));
        assert_eq!(
            err(parse, &[s("2026-01-01"), s("Mars/Base")]),
            "unknown timezone: 'Mars/Base'. Use time.zones() to list available zones"
        );
        // An Int with a zone stays UTC.
        assert_eq!(get(&ok(parse, &[i(0), s("Asia/Tokyo")]), "timezone"), "UTC");
        assert_eq!(err(from_unix, &[s("0")]), "time.from_unix() requires an integer timestamp");
        assert_eq!(err(from_unix, &[i(i64::MIN)]), format!("invalid unix timestamp: {}", i64::MIN));
    }

    #[test]
    fn format_in_zones_and_errors() {
        let tokyo = ok(zone, &[parsed("2026-01-15T12:00:00Z"), s("Asia/Tokyo")]);
        assert_eq!(say(format, &[tokyo.clone(), s("%H:%M %Z %z")]), "21:00 JST +0900");
        assert_eq!(say(format, &[i(0), s("%Z %s %.3f")]), "UTC 0 .000");
        assert_eq!(say(format, &[j(r#"{"unix": 0, "timezone": "Nowhere/Else"}"#)]), "1970-01-01 00:00:00");
        assert_eq!(err(format, &[tokyo, s("%Q")]), "time.format() invalid format string");
        assert_eq!(err(format, &[]), "time.format(time_obj, format_str) requires a time object");
        assert_eq!(err(format, &[s("2026")]), "time.format() first argument must be a time object or unix timestamp");
        assert_eq!(
            err(format, &[j(r#"{"unix": 1.5}"#)]),
            "time.format() first argument must be a time object or unix timestamp"
        );
        assert_eq!(err(format, &[i(i64::MAX)]), "invalid timestamp");
        // Local renders in the system zone with the label Local.
        let l = ok(local, &[]);
        assert_eq!(get(&l, "timezone"), "Local");
        let _ = say(format, &[l, s("%Z")]);
    }

    #[test]
    fn conformance_zones() {
        let t = parsed("2026-01-15T12:00:00Z");
        let tokyo = ok(zone, &[t.clone(), s("Asia/Tokyo")]);
        assert_eq!(get(&tokyo, "iso"), "2026-01-15T21:00:00+09:00");
        assert_eq!(get(&tokyo, "hour"), "21");
        assert_eq!(get(&tokyo, "timezone"), "Asia/Tokyo");
        assert_eq!(get(&tokyo, "unix"), get(&t, "unix"));
        let ny = ok(parse, &[s("2026-03-02"), s("America/New_York")]);
        assert_eq!(get(&ny, "iso"), "2026-03-01T19:00:00-05:00");
        assert_eq!(get(&ny, "day"), "1");
        assert_eq!(say(zones, &[s("tokyo")]), "[Asia/Tokyo]");
        let all = ok(zones, &[]);
        let names = all.as_array().unwrap();
        assert!(names.len() > 590, "{} zones", names.len());
        assert_eq!(show(names[0].clone()), "Africa/Abidjan");
        assert_eq!(show(names[names.len() - 1].clone()), "Zulu");
        assert_eq!(ok(zones, &[i(3)]).as_array().unwrap().len(), names.len());
        assert_eq!(err(zone, &[]), "time.zone(time_obj, timezone) requires two arguments");
        assert_eq!(err(zone, std::slice::from_ref(&t)), "time.zone() second argument must be a timezone string");
        assert_eq!(err(zone, &[s("x"), s("UTC")]), "first argument must be a time object");
        assert_eq!(err(zone, &[t, s("Nope")]), "unknown timezone: 'Nope'. Use time.zones() to list available zones");
        assert_eq!(get(&ok(now, &[s("Europe/Paris")]), "timezone"), "Europe/Paris");
        assert_eq!(get(&ok(now, &[]), "timezone"), "UTC");
        assert_eq!(get(&ok(now, &[i(1)]), "timezone"), "UTC");
        assert_eq!(
            err(now, &[s("Bad/Zone")]),
            "unknown timezone: 'Bad/Zone'. Use time.zones() to list available zones"
        );
    }

    #[test]
    fn conformance_arithmetic() {
        let t = parsed("2026-03-04T13:45:30Z");
        assert_eq!(get(&ok(add, &[t.clone(), j(r#"{"days": 7, "hours": 3}"#)]), "iso"), "2026-03-11T16:45:30+00:00");
        assert_eq!(get(&ok(add, &[t.clone(), i(60)]), "iso"), "2026-03-04T13:46:30+00:00");
        assert_eq!(get(&ok(sub, &[t.clone(), j(r#"{"weeks": 1}"#)]), "iso"), "2026-02-25T13:45:30+00:00");
        let a = parsed("2026-03-15T01:02:03");
        let b = parsed("2026-03-01");
        let d = ok(diff, &[a.clone(), b.clone()]);
        assert_eq!(get(&d, "seconds"), "1213323");
        assert_eq!(get(&d, "human"), "14d 1h 2m 3s");
        assert_eq!(get(&d, "days"), "14.043090277777777");
        assert_eq!(get(&ok(diff, &[b.clone(), a.clone()]), "human"), "-14d 1h 2m 3s");
        assert_eq!(say(is_before, &[b.clone(), a.clone()]), "true");
        assert_eq!(say(is_after, &[b.clone(), a.clone()]), "false");
        assert_eq!(say(is_after, &[a.clone(), a.clone()]), "false");
        assert_eq!(say(is_before, &[i(1), i(2)]), "true");
    }

    #[test]
    fn durations() {
        let t = ok(date, &[i(2026), i(1), i(1)]);
        let dur = j(
            r#"{"years": 1, "months": 1, "weeks": 1, "days": 1, "hours": 1, "minutes": 1, "seconds": 1, "millis": 500, "other": 9, "days_x": 3}"#,
        );
        assert_eq!(get(&ok(add, &[t.clone(), dur.clone()]), "iso"), "2027-02-08T01:01:01.500+00:00");
        assert_eq!(get(&ok(sub, &[t.clone(), j(r#"{"days": 1.5, "hours": 2}"#)]), "iso"), "2025-12-31T22:00:00+00:00");
        // The zone of the argument is kept, also for Int durations.
        let tokyo = ok(zone, &[t.clone(), s("Asia/Tokyo")]);
        let later = ok(add, &[tokyo.clone(), i(3600)]);
        assert_eq!(
            (get(&later, "iso"), get(&later, "timezone")),
            ("2026-01-01T10:00:00+09:00".into(), "Asia/Tokyo".into())
        );
        let weird = j(r#"{"unix": 0, "timezone": "Not/AZone"}"#);
        assert_eq!(get(&ok(add, &[weird, i(1)]), "timezone"), "UTC");
        assert_eq!(get(&ok(add, &[i(0), i(1)]), "iso"), "1970-01-01T00:00:01+00:00");
        assert_eq!(err(add, &[]), "time.add(time_obj, duration) requires two arguments");
        assert_eq!(err(sub, &[]), "time.sub(time_obj, duration) requires two arguments");
        assert_eq!(err(add, &[s("x"), i(1)]), "first argument must be a time object");
        assert_eq!(
            err(add, &[t.clone(), s("1 day")]),
            "time.add() second argument must be a duration object like {days: 5, hours: 3} or seconds integer"
        );
        assert_eq!(
            err(add, std::slice::from_ref(&t)),
            "time.add() second argument must be a duration object like {days: 5, hours: 3} or seconds integer"
        );
        assert_eq!(
            err(sub, &[t.clone(), Value::NULL]),
            "time.sub() second argument must be a duration object or seconds integer"
        );
        assert_eq!(err(add, &[t.clone(), i(i64::MAX)]), "invalid timestamp");
        assert_eq!(err(add, &[t, j(r#"{"years": 9223372036854775807}"#)]), "invalid timestamp");
        assert_eq!(err(add, &[i(i64::MAX), i(1)]), "invalid timestamp");
    }

    #[test]
    fn diff_and_compare_errors() {
        assert_eq!(err(diff, &[i(1)]), "time.diff(t1, t2) requires two time objects");
        assert_eq!(err(diff, &[s("a"), i(1)]), "first argument must be a time object");
        assert_eq!(err(diff, &[i(1), s("b")]), "second argument must be a time object");
        assert_eq!(err(is_before, &[]), "time.is_before(t1, t2) requires two time objects");
        assert_eq!(err(is_after, &[i(1)]), "time.is_after(t1, t2) requires two time objects");
        assert_eq!(err(is_after, &[i(1), j("{}")]), "second argument must be a time object");
        assert_eq!(err(diff, &[i(i64::MAX), i(-1)]), "invalid timestamp");
        let d = ok(diff, &[i(0), i(90061)]);
        assert_eq!(get(&d, "human"), "-1d 1h 1m 1s");
        assert_eq!(get(&d, "minutes"), "-1501.0166666666667");
        assert_eq!(get(&d, "weeks"), show(Value::float(-90061.0 / 604800.0)));
    }

    #[test]
    fn starts_and_ends() {
        let t = parsed("2024-02-29T13:45:30Z");
        let iso = |f: BuiltinFn, unit: &str| get(&ok(f, &[t.clone(), s(unit)]), "iso");
        assert_eq!(iso(start_of, "day"), "2024-02-29T00:00:00+00:00");
        assert_eq!(iso(end_of, "day"), "2024-02-29T23:59:59+00:00");
        assert_eq!(iso(start_of, "hour"), "2024-02-29T13:00:00+00:00");
        assert_eq!(iso(end_of, "hour"), "2024-02-29T13:59:59+00:00");
        assert_eq!(iso(start_of, "minute"), "2024-02-29T13:45:00+00:00");
        assert_eq!(iso(end_of, "minute"), "2024-02-29T13:45:59+00:00");
        assert_eq!(iso(start_of, "week"), "2024-02-26T00:00:00+00:00");
        assert_eq!(iso(end_of, "week"), "2024-03-03T23:59:59+00:00");
        assert_eq!(iso(start_of, "month"), "2024-02-01T00:00:00+00:00");
        assert_eq!(iso(end_of, "month"), "2024-02-29T23:59:59+00:00");
        assert_eq!(iso(start_of, "year"), "2024-01-01T00:00:00+00:00");
        assert_eq!(iso(end_of, "year"), "2024-12-31T23:59:59+00:00");
        assert_eq!(get(&ok(start_of, std::slice::from_ref(&t)), "iso"), "2024-02-29T00:00:00+00:00");
        assert_eq!(get(&ok(end_of, &[t.clone(), i(1)]), "iso"), "2024-02-29T23:59:59+00:00");
        // The zone of the argument is dropped: the result is UTC.
        let tokyo = ok(zone, &[t.clone(), s("Asia/Tokyo")]);
        assert_eq!(get(&ok(start_of, &[tokyo]), "timezone"), "UTC");
        assert_eq!(
            err(start_of, &[t.clone(), s("decade")]),
            "unknown unit 'decade'. Use: day, hour, minute, week, month, year"
        );
        assert_eq!(err(end_of, &[]), "time.end_of(time_obj, unit) requires two arguments");
        assert_eq!(err(start_of, &[]), "time.start_of(time_obj, unit) requires two arguments");
        assert_eq!(err(start_of, &[s("x"), s("decade")]), "first argument must be a time object");
        // The very last representable week has no end inside chrono's range (unless
        // the last day happens to be a Sunday).
        let last = DateTime::<Utc>::MAX_UTC;
        if last.weekday() != Weekday::Sun {
            assert_eq!(err(end_of, &[i(last.timestamp()), s("week")]), "invalid timestamp");
        }
    }

    #[test]
    fn calendar_questions() {
        let sat = ok(date, &[i(2026), i(3), i(7)]);
        assert_eq!(say(is_weekend, std::slice::from_ref(&sat)), "true");
        assert_eq!(say(is_weekday, std::slice::from_ref(&sat)), "false");
        assert_eq!(say(day_of_week, std::slice::from_ref(&sat)), "Saturday");
        assert_eq!(say(day_of_week, &[i(0)]), "Thursday");
        assert_eq!(err(is_weekend, &[s("x")]), "argument must be a time object");
        assert_eq!(err(is_weekday, &[Value::NULL]), "argument must be a time object");
        assert_eq!(err(day_of_week, &[j("[]")]), "argument must be a time object");
        let _ = say(is_weekend, &[]);
        assert!(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
            .contains(&say(day_of_week, &[]).as_str()));
        assert_eq!(say(days_in_month, &[i(2024), i(2)]), "29");
        assert_eq!(say(days_in_month, &[i(2023), i(2)]), "28");
        assert_eq!(say(days_in_month, &[i(1900), i(2)]), "28");
        assert_eq!(say(days_in_month, &[i(2000), i(2)]), "29");
        assert_eq!(say(days_in_month, &[i(2026), i(4)]), "30");
        assert_eq!(say(days_in_month, std::slice::from_ref(&sat)), "31");
        // A single Int is a timestamp, not a year.
        assert_eq!(say(days_in_month, &[i(2024)]), "31");
        let n: i64 = say(days_in_month, &[]).parse().unwrap();
        assert!((28..=31).contains(&n));
        assert_eq!(err(days_in_month, &[i(2024), i(13)]), "invalid year/month");
        assert_eq!(err(days_in_month, &[s("x")]), "argument must be a time object or (year, month)");
        assert_eq!(say(is_leap_year, &[i(2024)]), "true");
        assert_eq!(say(is_leap_year, &[i(1900)]), "false");
        assert_eq!(say(is_leap_year, &[i(2000)]), "true");
        assert_eq!(say(is_leap_year, &[i(-4)]), "true");
        assert_eq!(say(is_leap_year, &[ok(date, &[i(2024), i(5), i(1)])]), "true");
        let _ = say(is_leap_year, &[]);
        assert_eq!(err(is_leap_year, &[s("2024")]), "argument must be a year integer or time object");
    }

    #[test]
    fn clocks_and_sleep() {
        let before = ok(elapsed, &[]).as_int().unwrap();
        assert_eq!(say(sleep, &[Value::float(0.01)]), "null");
        assert_eq!(say(sleep, &[i(-3)]), "null");
        assert_eq!(say(sleep, &[Value::float(-1.0)]), "null");
        let after = ok(measure, &[]).as_int().unwrap();
        assert!(after - before >= 10, "{before} {after}");
        assert!(before > 1_700_000_000_000);
        assert_eq!(err(sleep, &[s("1")]), "time.sleep() requires seconds (number)");
        assert_eq!(err(sleep, &[Value::float(f64::INFINITY)]), "time.sleep() duration is out of range");
        let u = ok(unix, &[]).as_int().unwrap();
        assert!((u - before / 1000).abs() < 5);
        let today_text = say(today, &[]);
        assert_eq!(today_text.len(), 10);
        let n = ok(now, &[]);
        assert_eq!(get(&n, "iso")[..10], today_text[..]);
        let keys: Vec<&str> = n.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "iso",
                "unix",
                "unix_ms",
                "year",
                "month",
                "day",
                "hour",
                "minute",
                "second",
                "weekday",
                "weekday_short",
                "day_of_year",
                "timezone"
            ]
        );
    }

    #[test]
    fn members_in_catalogue_order() {
        let module = crate::builtins::module_object("time");
        let names: Vec<&str> = module.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "now",
                "local",
                "unix",
                "today",
                "date",
                "parse",
                "format",
                "from_unix",
                "diff",
                "add",
                "sub",
                "zone",
                "zones",
                "is_before",
                "is_after",
                "start_of",
                "end_of",
                "sleep",
                "elapsed",
                "measure",
                "is_weekend",
                "is_weekday",
                "day_of_week",
                "days_in_month",
                "is_leap_year"
            ]
        );
    }
}
