//! The AOT driver: IR → one object file (`cranelift-object`) for the target's ISA → a
//! native executable linked with the target's runtime library (`runtimes/<T>/libforge.a`)
//! by the target's linker (`crate::targets`: a C compiler driver, or the self-contained
//! rust-lld for static targets).

use std::path::{Path, PathBuf};

use cranelift_codegen::settings::{self, Configurable};
use cranelift_module::{DataDescription, Linkage, Module};
use cranelift_object::{ObjectBuilder, ObjectModule};
use target_lexicon::Triple;

use crate::ir;
use crate::targets::{LinkMode, Linker, Target};

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
    use forge_abi::layout as L;
    let layout = [
        L::LAYOUT_VERSION as u64,
        L::TAG_INT,
        L::TAG_SPECIAL,
        L::TAG_BUILTIN,
        L::TAG_PTR,
        L::RC_OFFSET as u64,
        L::KIND_OFFSET as u64,
        L::FUNC_ENTRY_OFFSET as u64,
        L::FUNC_SLOTS_OFFSET as u64,
        L::FUNC_FIXED_OFFSET as u64,
        L::FUNC_ARITY_OFFSET as u64,
        L::NO_ARITY,
    ];
    for b in layout.iter().flat_map(|v| v.to_le_bytes()) {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    for f in forge_abi::abi::RUNTIME {
        for b in f.name.bytes().chain([f.params.len() as u8, f.ret.is_some() as u8]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    format!("forgec {} abi {:016x}", env!("CARGO_PKG_VERSION"), h)
}

/// Whether Cranelift's IR verifier runs on every function before and after its passes:
/// in debug builds, and where `FORGE_VERIFY_IR` is set (the test suite sets it). It
/// only finds bugs of the code generator, at about a third of the compile time, so the
/// release build users run leaves it out.
pub fn verify_ir() -> bool {
    cfg!(debug_assertions) || std::env::var_os("FORGE_VERIFY_IR").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Compiles `program` to the bytes of an object file.
pub fn emit_object(program: &ir::Module, opts: &Options) -> Result<Vec<u8>, String> {
    let mut flags = settings::builder();
    flags.set("opt_level", if opts.optimize { "speed" } else { "none" }).map_err(|e| e.to_string())?;
    flags.set("is_pic", "true").map_err(|e| e.to_string())?;
    flags.set("preserve_frame_pointers", "true").map_err(|e| e.to_string())?;
    flags.set("enable_verifier", if verify_ir() { "true" } else { "false" }).map_err(|e| e.to_string())?;
    let isa = cranelift_codegen::isa::lookup(opts.triple.clone())
        .map_err(|e| format!("unsupported target {}: {e}", opts.triple))?
        .finish(settings::Flags::new(flags))
        .map_err(|e| e.to_string())?;
    let mut builder = ObjectBuilder::new(isa, "forge_program", cranelift_module::default_libcall_names())
        .map_err(|e| e.to_string())?;
    builder.per_function_section(true);
    let mut module = ObjectModule::new(builder);
    let compiled = crate::codegen::compile_program_parallel(&mut module, program).map_err(|e| e.0)?;
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

/// What the search for a target's runtime library found.
#[derive(Debug)]
pub enum RuntimeStatus {
    /// A runtime built by this forgec for this target.
    Ready(PathBuf),
    /// A runtime that this forgec must not link (another compiler's ABI, or another
    /// target's library): why.
    Stale(String),
    /// No runtime library in any of the searched directories.
    Missing(Vec<PathBuf>),
}

/// Where a target's runtime library lives, searched in order: `$FORGE_HOME/runtimes/T`,
/// next to the forgec binary (`<dir>/runtimes/T`, `<dir>/../runtimes/T`,
/// `<dir>/../../runtimes/T`), and the source checkout this forgec was built from. The
/// first directory with a `libforge.a` is the one used; its `STAMP` must name this
/// forgec's ABI stamp and this target.
pub fn runtime_status(target: &Target) -> RuntimeStatus {
    let name = &target.name;
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(home) = std::env::var_os("FORGE_HOME") {
        dirs.push(Path::new(&home).join("runtimes").join(name));
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            dirs.push(dir.join("runtimes").join(name));
            dirs.push(dir.join("../runtimes").join(name));
            dirs.push(dir.join("../../runtimes").join(name));
        }
    }
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtimes").join(name));
    for d in &dirs {
        let lib = d.join("libforge.a");
        if !lib.is_file() {
            continue;
        }
        let stamp = std::fs::read_to_string(d.join("STAMP")).unwrap_or_default();
        let mut lines = stamp.lines().map(str::trim);
        let abi = lines.next().unwrap_or("");
        let built_for = lines.find_map(|l| l.strip_prefix("target ")).unwrap_or("").trim();
        let rebuild = format!("rebuild it with: scripts/build-runtime --target {name}");
        if abi != abi_stamp() {
            return RuntimeStatus::Stale(format!(
                "the runtime library {} was built by another forgec ({}); {rebuild}",
                lib.display(),
                if abi.is_empty() { "no stamp" } else { abi }
            ));
        }
        if built_for.split_whitespace().next() != Some(name.as_str()) {
            return RuntimeStatus::Stale(format!(
                "the runtime library {} was built for {}, not for target {name}; {rebuild}",
                lib.display(),
                if built_for.is_empty() { "an unnamed target" } else { built_for }
            ));
        }
        return RuntimeStatus::Ready(d.canonicalize().unwrap_or_else(|_| d.clone()));
    }
    RuntimeStatus::Missing(dirs)
}

/// The directory of a target's runtime library, or an error naming the command that
/// builds it.
pub fn find_runtime(target: &Target) -> Result<PathBuf, String> {
    match runtime_status(target) {
        RuntimeStatus::Ready(d) => Ok(d),
        RuntimeStatus::Stale(why) => Err(why),
        RuntimeStatus::Missing(dirs) => Err(format!(
            "no runtime library for target '{}' (looked in {}); build it with: scripts/build-runtime --target {}",
            target.name,
            dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "),
            target.name
        )),
    }
}

/// How executables for a target are linked on this machine.
#[derive(Debug)]
pub struct LinkerCmd {
    /// The program that is run.
    pub program: PathBuf,
    /// Whether it is a C compiler driver (`-Wl,` options) or rust-lld itself.
    pub driver: bool,
}

/// Finds the linker of `target`. A C compiler driver is looked up on `PATH`
/// (`CC_<rust triple>` overrides it, and `CC` too for the host target); rust-lld is the
/// copy in the runtime directory `runtime` (`None`: the runtime is not built yet).
pub fn find_linker(target: &Target, runtime: Option<&Path>) -> Result<LinkerCmd, String> {
    match &target.linker {
        Linker::Driver(default) => {
            let rt = &target.rust_triple;
            let mut vars = vec![format!("CC_{rt}"), format!("CC_{}", rt.replace('-', "_"))];
            if target.is_host() {
                vars.push("CC".into());
            }
            let (program, from) = vars
                .iter()
                .find_map(|v| {
                    std::env::var(v).ok().filter(|s| !s.trim().is_empty()).map(|s| (s.trim().to_string(), Some(v)))
                })
                .unwrap_or_else(|| (default.clone(), None));
            match which(Path::new(&program)) {
                Some(p) => Ok(LinkerCmd { program: p, driver: true }),
                None => Err(match from {
                    Some(var) => {
                        format!("the linker '{program}' for target {} (from ${var}) was not found", target.name)
                    }
                    None => format!(
                        "the linker '{program}' for target {} was not found on PATH; {}",
                        target.name,
                        install_hint(&target.linker_package, &format!("CC_{}", rt.replace('-', "_")))
                    ),
                }),
            }
        }
        Linker::RustLld => {
            let rebuild = format!("scripts/build-runtime --target {}", target.name);
            let Some(dir) = runtime else {
                return Err(format!(
                    "target {} links with the rust-lld that {rebuild} puts into its runtime directory",
                    target.name
                ));
            };
            let lld = dir.join("bin/rust-lld");
            if !lld.is_file() {
                return Err(format!(
                    "the runtime directory {} has no bin/rust-lld; rebuild it with: {rebuild}",
                    dir.display()
                ));
            }
            for f in target.startfiles.iter().chain(&target.endfiles) {
                if !dir.join(f).is_file() {
                    return Err(format!(
                        "the runtime directory {} has no {f} (a start file of the C library); rebuild it with: {rebuild}",
                        dir.display()
                    ));
                }
            }
            Ok(LinkerCmd { program: lld, driver: false })
        }
    }
}

fn install_hint(packages: &str, var: &str) -> String {
    if packages.trim().is_empty() {
        format!("install it or name another with {var}")
    } else {
        format!("install it (Debian/Ubuntu: apt-get install {}) or name another with {var}", packages.trim())
    }
}

/// Links `object` with the runtime in `runtime_dir` into `out` for `target`, writing a
/// temporary file first and renaming it, so a failed link never leaves a broken
/// executable.
pub fn link(object: &[u8], runtime_dir: &Path, out: &Path, target: &Target, opts: &Options) -> Result<(), String> {
    let linker = find_linker(target, Some(runtime_dir))?;
    let out_dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let stem = out.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "a.out".into());
    let tmp_obj = std::env::temp_dir().join(format!("forgec-{}-{stem}.o", std::process::id()));
    std::fs::write(&tmp_obj, object).map_err(|e| format!("cannot write {}: {e}", tmp_obj.display()))?;
    let tmp_out = out_dir.join(format!(".{stem}.forgec-{}.tmp", std::process::id()));
    // The native libraries the runtime needs, as rustc reported them when it was built.
    let extra = std::fs::read_to_string(runtime_dir.join("link-args"))
        .unwrap_or_else(|_| "-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc".into());
    let mut cmd = std::process::Command::new(&linker.program);
    if linker.driver {
        cmd.arg(&tmp_obj).arg(runtime_dir.join("libforge.a")).arg("-o").arg(&tmp_out);
        // Section garbage collection first, so runtime code the program does not use is
        // dropped.
        cmd.arg("-Wl,--gc-sections");
        // The runtime directory's rust-lld, through the toolchain's `ld.lld` wrapper,
        // where scripts/build-runtime put it: 3-4x faster than GNU ld.
        let gcc_ld = runtime_dir.join("bin/gcc-ld");
        if gcc_ld.join("ld.lld").is_file() {
            let mut b = std::ffi::OsString::from("-B");
            b.push(gcc_ld.as_os_str());
            cmd.arg(b).arg("-fuse-ld=lld");
        }
        if target.link == LinkMode::Static {
            cmd.arg("-static");
        }
        if !opts.debug {
            cmd.arg("-s");
        }
        cmd.args(extra.split_whitespace());
    } else {
        // rust-lld with the C library's own start files and archives: the same link a
        // C compiler driver would do for a static executable, without the driver.
        cmd.args(["-flavor", "gnu", "-static", "--gc-sections", "--eh-frame-hdr", "-z", "noexecstack"]);
        if !opts.debug {
            cmd.arg("-s");
        }
        cmd.arg("-o").arg(&tmp_out);
        cmd.args(target.startfiles.iter().map(|f| runtime_dir.join(f)));
        cmd.arg(&tmp_obj);
        // A group, so that archive members pulled in late (the C library's use of
        // compiler builtins that live in libforge.a) still resolve.
        cmd.arg("-L").arg(runtime_dir).arg("--start-group").arg(runtime_dir.join("libforge.a"));
        cmd.args(extra.split_whitespace());
        cmd.arg("--end-group");
        cmd.args(target.endfiles.iter().map(|f| runtime_dir.join(f)));
    }
    let result = cmd.output();
    let _ = std::fs::remove_file(&tmp_obj);
    let output = match result {
        Ok(o) => o,
        Err(e) => {
            return Err(format!(
                "cannot run the linker '{}': {e}; {}",
                linker.program.display(),
                install_hint(&target.linker_package, &format!("CC_{}", target.rust_triple.replace('-', "_")))
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

/// `p` itself when it is a path, else the first `PATH` entry that holds it.
pub fn which(p: &Path) -> Option<PathBuf> {
    if p.components().count() > 1 {
        return p.is_file().then(|| p.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(p)).find(|c| c.is_file()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every target's object file is an ELF relocatable for that target's machine (no
    /// runtime library or linker needed to check this).
    #[test]
    fn objects_for_every_target() {
        let src = "let xs = [1, 2, 3]\nsay \"sum {xs[0] + xs[1] + xs[2]}\"\n";
        let is_builtin = |n: &str| libforge::builtins::lookup(n).is_some();
        let module =
            crate::driver::front_end("t.fg", src, &is_builtin, forge_abi::report::Colour::Never).expect("front end");
        for t in crate::targets::all().expect("targets") {
            let opts = Options { triple: t.triple.clone(), optimize: true, debug: false };
            let obj = emit_object(&module, &opts).unwrap_or_else(|e| panic!("{}: {e}", t.name));
            assert_eq!(&obj[..4], b"\x7fELF", "{}", t.name);
            let machine = u16::from_le_bytes([obj[18], obj[19]]);
            let want = match t.triple.architecture {
                target_lexicon::Architecture::X86_64 => 62,
                target_lexicon::Architecture::Aarch64(_) => 183,
                ref other => panic!("{}: add the ELF machine of {other}", t.name),
            };
            assert_eq!(machine, want, "{}", t.name);
        }
    }
}
