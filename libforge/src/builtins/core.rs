//! Output and type builtins (spec 10 §10.2–10.3).

use super::{arg, Registry};
use crate::display::{display, write_display};
use crate::error::{fail, Result};
use crate::host::Host;
use crate::ops::type_name;
use crate::value::Value;

pub fn register(r: &mut Registry) {
    r.global("print", print);
    r.global("println", println);
    r.global("say", say);
    r.global("yell", yell);
    r.global("whisper", whisper);
    r.global("typeof", type_of);
    r.global("type", type_of_type);
    r.global("str", str_);
    r.global("len", len);
}

fn joined(args: &[Value]) -> String {
    let mut s = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        write_display(&mut s, a);
    }
    s
}

fn print(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    crate::output::write(&joined(args));
    Ok(Value::NULL)
}

fn println(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let mut s = joined(args);
    s.push('\n');
    crate::output::write(&s);
    Ok(Value::NULL)
}

fn say(h: &mut dyn Host, args: &[Value]) -> Result<Value> {
    println(h, args)
}

fn yell(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let mut s = joined(args).to_uppercase();
    s.push('\n');
    crate::output::write(&s);
    Ok(Value::NULL)
}

fn whisper(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let mut s = joined(args).to_lowercase();
    s.push('\n');
    crate::output::write(&s);
    Ok(Value::NULL)
}

fn type_of(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match args.first() {
        Some(v) => Ok(Value::str(type_name(v))),
        None => fail("typeof() requires an argument"),
    }
}

fn type_of_type(h: &mut dyn Host, args: &[Value]) -> Result<Value> {
    type_of(h, args)
}

fn str_(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    match args.first() {
        Some(v) if v.is_str() => Ok(v.clone()),
        Some(v) => Ok(Value::string(display(v))),
        None => Ok(Value::str("")),
    }
}

fn len(_: &mut dyn Host, args: &[Value]) -> Result<Value> {
    let v = arg(args, 0);
    if let Some(s) = v.as_str() {
        return Ok(Value::int(s.len() as i64));
    }
    if let Some(a) = v.as_array() {
        return Ok(Value::int(a.len() as i64));
    }
    if let Some(m) = v.as_object() {
        return Ok(Value::int(m.len() as i64));
    }
    fail("len() requires string, array, or object")
}
