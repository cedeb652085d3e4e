//! The AOT driver: IR → one object file (`cranelift-object`) → a native executable
//! linked with the target's runtime library (`libforge.a`) by the target's C compiler
//! driver.

use std::path::{Path, PathBuf};

use cranelift_codegen::settings::{self, Configurable};
use cranelift_module::{DataDescription, Linkage, Module};
use cranelift_object::{ObjectBuilder, ObjectModule};
use target_lexicon::Triple;

use crate::ir;

/// Options of one compilation.
#[derive(Clone, Debug)]
pub struct Options {
    pub triple: Triple,
    /// `-O0` (false) or `-O2` (true).
    pub optimize: bool,
    /// Keep symbols (`-g`).
    pub debug: bool,
}

/// The stamp a runtime library must carry to be linked: the compiler version and a
/// digest of the runtime ABI table (a library built by another forgec is refused).
pub fn abi_stamp() -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for f in forge_abi::abi::RUNTIME {
        for b in f.name.bytes().chain([f.params.len() as u8, f.ret.is_some() as u8]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    format!("forgec {} abi {:016x}", env!("CARGO_PKG_VERSION"), h)
}

/// Compiles `program` to the bytes of an object file.
pub fn emit_object(program: &ir::Module, opts: &Options) -> Result<Vec<u8>, String> {
    let mut flags = settings::builder();
    flags.set("opt_level", if opts.optimize { "speed" } else { "none" }).map_err(|e| e.to_string())?;
    flags.set("is_pic", "true").map_err(|e| e.to_string())?;
    flags.set("preserve_frame_pointers", "true").map_err(|e| e.to_string())?;
    let isa = cranelift_codegen::isa::lookup(opts.triple.clone())
        .map_err(|e| format!("unsupported target {}: {e}", opts.triple))?
        .finish(settings::Flags::new(flags))
        .map_err(|e| e.to_string())?;
    let mut builder = ObjectBuilder::new(isa, "forge_program", cranelift_module::default_libcall_names())
        .map_err(|e| e.to_string())?;
    builder.per_function_section(true);
    let mut module = ObjectModule::new(builder);
    let compiled = crate::codegen::compile_program(&mut module, program).map_err(|e| e.0)?;
    // `forge_program`: a pointer to the main module's descriptor, read by the runtime's
    // `main`.
    let id = module
        .declare_data(forge_abi::abi::PROGRAM_SYMBOL, Linkage::Export, false, false)
        .map_err(|e| e.to_string())?;
    let mut d = DataDescription::new();
    d.define(vec![0u8; 8].into_boxed_slice());
    let gv = module.declare_data_in_data(compiled.main_module_desc, &mut d);
    d.write_data_addr(0, gv, 0);
    module.define_data(id, &d).map_err(|e| e.to_string())?;
    // `forge_program_modules`: the standard modules the program names, so that the
    // linker keeps only their code (the others are never referenced).
    let used = used_modules(program);
    let mut sig = module.make_signature();
    sig.params.push(cranelift_codegen::ir::AbiParam::new(module.target_config().pointer_type()));
    let mut d = DataDescription::new();
    let mut bytes = vec![0u8; 8 + 8 * 32];
    bytes[..8].copy_from_slice(&(used.len() as u64).to_le_bytes());
    for (i, m) in used.iter().enumerate() {
        let f =
            module.declare_function(&format!("forge_stdlib_{m}"), Linkage::Import, &sig).map_err(|e| e.to_string())?;
        let fr = module.declare_func_in_data(f, &mut d);
        d.write_function_addr(8 + 8 * i as u32, fr);
    }
    d.define(bytes.into_boxed_slice());
    d.set_align(8);
    let mid = module.declare_data("forge_program_modules", Linkage::Export, false, false).map_err(|e| e.to_string())?;
    module.define_data(mid, &d).map_err(|e| e.to_string())?;
    let product = module.finish();
    product.emit().map_err(|e| e.to_string())
}

/// The standard modules with native code that `program` (and its imports) may use:
/// every module named by a global or a string constant (an over-approximation: a
/// string `"math"` also counts).
pub fn used_modules(program: &ir::Module) -> Vec<&'static str> {
    const NATIVE_MODULES: &[&str] = &[
        "math", "json", "csv", "regex", "crypto", "jwt", "url", "toml", "env", "log", "fs", "io", "term", "time",
        "npc", "db", "http", "ws", "pg", "mysql",
    ];
    fn visit(m: &ir::Module, seen: &mut Vec<String>) {
        for g in &m.globals {
            seen.push(g.clone());
        }
        for p in &m.protos {
            for c in &p.consts {
                if let ir::Const::Str(s) = c {
                    seen.push(s.split('.').next().unwrap_or("").to_string());
                }
            }
        }
        for i in &m.imports {
            visit(i, seen);
        }
    }
    let mut seen = Vec::new();
    visit(program, &mut seen);
    // `fetch` (and the `grab` statement, which calls it) is registered by `http`.
    let mut used: Vec<&'static str> = NATIVE_MODULES
        .iter()
        .copied()
        .filter(|m| seen.iter().any(|s| s == m || (*m == "http" && s == "fetch")))
        .collect();
    // `@server` programs end their top level with a call of `__serve` (ir::server).
    if seen.iter().any(|s| s == "__serve") {
        used.push("server");
    }
    used
}

/// Where a target's runtime library lives, searched in order: `$FORGE_HOME/runtimes/T`,
/// next to the forgec binary (`<dir>/runtimes/T`, `<dir>/../runtimes/T`,
/// `<dir>/../../runtimes/T`), and the source checkout this forgec was built from.
pub fn find_runtime(target: &str) -> Result<PathBuf, String> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(home) = std::env::var_os("FORGE_HOME") {
        dirs.push(Path::new(&home).join("runtimes").join(target));
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            dirs.push(dir.join("runtimes").join(target));
            dirs.push(dir.join("../runtimes").join(target));
            dirs.push(dir.join("../../runtimes").join(target));
        }
    }
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtimes").join(target));
    for d in &dirs {
        let lib = d.join("libforge.a");
        if lib.is_file() {
            let stamp = std::fs::read_to_string(d.join("STAMP")).unwrap_or_default();
            if stamp.trim() != abi_stamp() {
                return Err(format!(
                    "the runtime library {} was built by another forgec ({}); rebuild it with: scripts/build-runtime --target {target}",
                    lib.display(),
                    if stamp.trim().is_empty() { "no stamp" } else { stamp.trim() }
                ));
            }
            return Ok(d.clone());
        }
    }
    Err(format!(
        "no runtime library for target '{target}' (looked in {}); build it with: scripts/build-runtime --target {target}",
        dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
    ))
}

/// Links `object` with the runtime in `runtime_dir` into `out`, writing a temporary
/// file first and renaming it, so a failed link never leaves a broken executable.
pub fn link(object: &[u8], runtime_dir: &Path, out: &Path, opts: &Options) -> Result<(), String> {
    let out_dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let stem = out.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "a.out".into());
    let tmp_obj = std::env::temp_dir().join(format!("forgec-{}-{stem}.o", std::process::id()));
    std::fs::write(&tmp_obj, object).map_err(|e| format!("cannot write {}: {e}", tmp_obj.display()))?;
    let tmp_out = out_dir.join(format!(".{stem}.forgec-{}.tmp", std::process::id()));
    let cc = find_cc(&opts.triple)?;
    let mut cmd = std::process::Command::new(&cc);
    cmd.arg(&tmp_obj).arg(runtime_dir.join("libforge.a")).arg("-o").arg(&tmp_out);
    // Section garbage collection first, so runtime code the program does not use is
    // dropped.
    cmd.arg("-Wl,--gc-sections");
    if !opts.debug {
        cmd.arg("-s");
    }
    let extra = std::fs::read_to_string(runtime_dir.join("link-args"))
        .unwrap_or_else(|_| "-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc".into());
    for a in extra.split_whitespace() {
        cmd.arg(a);
    }
    let result = cmd.output();
    let _ = std::fs::remove_file(&tmp_obj);
    let output = match result {
        Ok(o) => o,
        Err(e) => {
            return Err(format!(
                "cannot run the linker '{}': {e}; install a C compiler (Debian: apt-get install gcc)",
                cc.display()
            ))
        }
    };
    if !output.status.success() {
        let _ = std::fs::remove_file(&tmp_out);
        return Err(format!("linking failed:\n{}", String::from_utf8_lossy(&output.stderr).trim_end()));
    }
    std::fs::rename(&tmp_out, out).map_err(|e| {
        let _ = std::fs::remove_file(&tmp_out);
        format!("cannot write {}: {e}", out.display())
    })
}

/// The C compiler driver for a target, found with the `cc` crate's tool detection.
fn find_cc(triple: &Triple) -> Result<PathBuf, String> {
    let host = Triple::host().to_string();
    let tool = cc::Build::new()
        .target(&triple.to_string())
        .host(&host)
        .opt_level(0)
        .cargo_metadata(false)
        .try_get_compiler()
        .map_err(|e| format!("no C compiler for target {triple}: {e}; install gcc (Debian: apt-get install gcc)"))?;
    let path = tool.path().to_path_buf();
    if which(&path).is_none() {
        return Err(format!(
            "the linker '{}' was not found; install a C compiler (Debian: apt-get install gcc{})",
            path.display(),
            if triple.architecture != Triple::host().architecture { "-aarch64-linux-gnu" } else { "" }
        ));
    }
    Ok(path)
}

fn which(p: &Path) -> Option<PathBuf> {
    if p.components().count() > 1 {
        return p.is_file().then(|| p.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(p)).find(|c| c.is_file()))
}
