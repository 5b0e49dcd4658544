#!/usr/bin/env python3
"""Layout oracle for cargo-lockwatch's macOS code.

Emits oracle.c (sizeof/offsetof/constants from Apple headers) and a Rust crate (same items from
the `libc` crate plus the project's own hand-written structs, copied verbatim from
src/probe/macos.rs), compiles both to assembly for arm64 and x86_64 macOS, parses the emitted
`.quad` values and prints a comparison table.  Nothing is executed on the target.
"""
import os, re, subprocess, sys, textwrap

import tempfile
ROOT = os.environ.get("MACOS_ABI_WORK", os.path.join(tempfile.gettempdir(), "macos-abi"))
PROJ = sys.argv[1] if len(sys.argv) > 1 else "."
import ziglang
SDK = os.path.join(os.path.dirname(ziglang.__file__), "lib/libc/include/any-darwin-any")
RES = subprocess.check_output(["clang", "-print-resource-dir"], text=True).strip() + "/include"

# (C type, Rust type, [fields as dotted paths]); Rust path uses the same names.
STRUCTS = [
    ("struct proc_fileinfo", "ProcFileInfo",
     ["fi_openflags", "fi_status", "fi_offset", "fi_type", "fi_guardflags"]),
    ("struct vnode_fdinfowithpath", "VnodeFdInfoWithPath",
     ["pfi", "pfi.fi_openflags", "pvip", "pvip.vip_vi", "pvip.vip_vi.vi_stat.vst_dev",
      "pvip.vip_vi.vi_stat.vst_nlink", "pvip.vip_vi.vi_stat.vst_ino", "pvip.vip_path"]),
    ("struct vinfo_stat", "libc::vinfo_stat",
     ["vst_dev", "vst_mode", "vst_nlink", "vst_ino", "vst_uid", "vst_gid", "vst_atime",
      "vst_atimensec", "vst_mtime", "vst_mtimensec", "vst_ctime", "vst_ctimensec",
      "vst_birthtime", "vst_birthtimensec", "vst_size", "vst_blocks", "vst_blksize",
      "vst_flags", "vst_gen", "vst_rdev", "vst_qspare"]),
    ("struct vnode_info", "libc::vnode_info", ["vi_stat", "vi_type", "vi_pad", "vi_fsid"]),
    ("struct vnode_info_path", "libc::vnode_info_path", ["vip_vi", "vip_path"]),
    ("struct proc_vnodepathinfo", "libc::proc_vnodepathinfo", ["pvi_cdir", "pvi_rdir"]),
    ("struct proc_bsdinfo", "libc::proc_bsdinfo",
     ["pbi_flags", "pbi_status", "pbi_xstatus", "pbi_pid", "pbi_ppid", "pbi_uid", "pbi_gid",
      "pbi_ruid", "pbi_rgid", "pbi_svuid", "pbi_svgid", "rfu_1", "pbi_comm", "pbi_name",
      "pbi_nfiles", "pbi_pgid", "pbi_pjobc", "e_tdev", "e_tpgid", "pbi_nice",
      "pbi_start_tvsec", "pbi_start_tvusec"]),
    ("struct proc_bsdshortinfo", "libc::proc_bsdshortinfo",
     ["pbsi_pid", "pbsi_ppid", "pbsi_pgid", "pbsi_status", "pbsi_comm", "pbsi_flags", "pbsi_uid",
      "pbsi_gid", "pbsi_ruid", "pbsi_rgid", "pbsi_svuid", "pbsi_svgid"]),
    ("struct proc_taskinfo", "libc::proc_taskinfo",
     ["pti_virtual_size", "pti_resident_size", "pti_total_user", "pti_total_system",
      "pti_threads_user", "pti_threads_system", "pti_policy", "pti_faults", "pti_pageins",
      "pti_cow_faults", "pti_messages_sent", "pti_messages_received", "pti_syscalls_mach",
      "pti_syscalls_unix", "pti_csw", "pti_threadnum", "pti_numrunning", "pti_priority"]),
    ("struct proc_fdinfo", "libc::proc_fdinfo", ["proc_fd", "proc_fdtype"]),
    ("struct rusage_info_v2", "libc::rusage_info_v2",
     ["ri_uuid", "ri_user_time", "ri_system_time", "ri_pkg_idle_wkups", "ri_interrupt_wkups",
      "ri_pageins", "ri_wired_size", "ri_resident_size", "ri_phys_footprint",
      "ri_proc_start_abstime", "ri_proc_exit_abstime", "ri_child_user_time",
      "ri_child_system_time", "ri_child_pkg_idle_wkups", "ri_child_interrupt_wkups",
      "ri_child_pageins", "ri_child_elapsed_abstime", "ri_diskio_bytesread",
      "ri_diskio_byteswritten"]),
    ("struct flock", "libc::flock", ["l_start", "l_len", "l_pid", "l_type", "l_whence"]),
    ("struct kevent", "libc::kevent", ["ident", "filter", "flags", "fflags", "data", "udata"]),
    ("struct mach_timebase_info", "MachTimebaseInfo", ["numer", "denom"]),
    ("struct pipe_info", "PipeInfo",
     ["pipe_stat", "pipe_handle", "pipe_peerhandle", "pipe_status", "rfu_1"]),
    ("struct pipe_fdinfo", "PipeFdInfo",
     ["pfi", "pfi.fi_openflags", "pipeinfo", "pipeinfo.pipe_handle", "pipeinfo.pipe_peerhandle"]),
]

# (name in C, Rust expression).  The rec:: values are the project's own copies.
CONSTS = [
    ("PROC_PIDLISTFDS", "libc::PROC_PIDLISTFDS"),
    ("PROC_PIDTBSDINFO", "libc::PROC_PIDTBSDINFO"),
    ("PROC_PIDT_SHORTBSDINFO", "libc::PROC_PIDT_SHORTBSDINFO"),
    ("PROC_PIDT_SHORTBSDINFO_SIZE", "size_of::<libc::proc_bsdshortinfo>()"),
    ("PROC_PIDTASKINFO", "libc::PROC_PIDTASKINFO"),
    ("PROC_PIDVNODEPATHINFO", "libc::PROC_PIDVNODEPATHINFO"),
    ("PROC_PIDFDVNODEPATHINFO", "PROC_PIDFDVNODEPATHINFO"),
    ("PROC_PIDFDVNODEPATHINFO_SIZE", "size_of::<VnodeFdInfoWithPath>()"),
    ("PROC_PIDTBSDINFO_SIZE", "size_of::<libc::proc_bsdinfo>()"),
    ("PROC_PIDTASKINFO_SIZE", "size_of::<libc::proc_taskinfo>()"),
    ("PROC_PIDLISTFD_SIZE", "size_of::<libc::proc_fdinfo>()"),
    ("PROC_PIDVNODEPATHINFO_SIZE", "size_of::<libc::proc_vnodepathinfo>()"),
    ("PROX_FDTYPE_VNODE", "libc::PROX_FDTYPE_VNODE"),
    ("PROX_FDTYPE_PIPE", "libc::PROX_FDTYPE_PIPE"),
    ("PROC_PIDFDPIPEINFO", "PROC_PIDFDPIPEINFO"),
    ("PROC_PIDFDPIPEINFO_SIZE", "size_of::<PipeFdInfo>()"),
    ("FREAD", "rec::FREAD"), ("FWRITE", "rec::FWRITE"),
    ("PROC_FLAG_INEXIT", "rec::pflag::PROC_FLAG_INEXIT"),
    ("PROC_FLAG_CONTROLT", "rec::pflag::PROC_FLAG_CONTROLT"),
    ("RUSAGE_INFO_V2", "libc::RUSAGE_INFO_V2"),
    ("FWASLOCKED", "rec::FWASLOCKED"),          # kernel-only in the SDK: XNU value used
    ("O_EVTONLY", "rec::O_EVTONLY"),
    ("O_EVTONLY", "libc::O_EVTONLY"),
    ("O_NONBLOCK", "libc::O_NONBLOCK"),
    ("O_NOFOLLOW", "libc::O_NOFOLLOW"),
    ("O_CLOEXEC", "libc::O_CLOEXEC"),
    ("F_GETLK", "libc::F_GETLK"),
    ("F_RDLCK", "rec::F_RDLCK"), ("F_UNLCK", "rec::F_UNLCK"), ("F_WRLCK", "rec::F_WRLCK"),
    ("F_RDLCK", "libc::F_RDLCK"), ("F_UNLCK", "libc::F_UNLCK"), ("F_WRLCK", "libc::F_WRLCK"),
    ("SEEK_SET", "libc::SEEK_SET"),
    ("LOCK_EX", "libc::LOCK_EX"), ("LOCK_NB", "libc::LOCK_NB"),
    ("EVFILT_VNODE", "libc::EVFILT_VNODE"), ("EVFILT_PROC", "libc::EVFILT_PROC"),
    ("EVFILT_USER", "libc::EVFILT_USER"),
    ("EVFILT_TIMER", "libc::EVFILT_TIMER"), ("NOTE_USECONDS", "libc::NOTE_USECONDS"),
    ("F_SETFD", "libc::F_SETFD"), ("FD_CLOEXEC", "libc::FD_CLOEXEC"),
    ("EV_ADD", "libc::EV_ADD"), ("EV_DELETE", "libc::EV_DELETE"), ("EV_CLEAR", "libc::EV_CLEAR"),
    ("EV_ONESHOT", "libc::EV_ONESHOT"), ("EV_ERROR", "libc::EV_ERROR"),
    ("NOTE_TRIGGER", "libc::NOTE_TRIGGER"), ("NOTE_EXIT", "libc::NOTE_EXIT"),
    ("NOTE_DELETE", "rec::note::NOTE_DELETE"), ("NOTE_RENAME", "rec::note::NOTE_RENAME"),
    ("NOTE_REVOKE", "rec::note::NOTE_REVOKE"), ("NOTE_FUNLOCK", "rec::note::NOTE_FUNLOCK"),
    ("NOTE_FUNLOCK", "libc::NOTE_FUNLOCK"),
    ("SIDL", "rec::pstat::SIDL"), ("SRUN", "rec::pstat::SRUN"), ("SSLEEP", "rec::pstat::SSLEEP"),
    ("SSTOP", "rec::pstat::SSTOP"), ("SZOMB", "rec::pstat::SZOMB"),
    ("NODEV", "rec::NODEV"),
    ("MAXCOMLEN", "libc::MAXCOMLEN"), ("MAXPATHLEN", "libc::MAXPATHLEN"),
    ("ESRCH", "libc::ESRCH"), ("EPERM", "libc::EPERM"),
    ("SIGTERM", "libc::SIGTERM"), ("SIGKILL", "libc::SIGKILL"), ("SIGCONT", "libc::SIGCONT"),
    # src/config.rs: the runtime directory on macOS.
    ("_CS_DARWIN_USER_TEMP_DIR", "libc::_CS_DARWIN_USER_TEMP_DIR"),
    # src/daemon/logcap.rs: rereading launchd's write-only log files.
    ("F_GETPATH", "libc::F_GETPATH"),
]

def ident(s):
    return re.sub(r"[^A-Za-z0-9]", "_", s)

def c_source():
    out = ["#define _DARWIN_C_SOURCE 1",
           "#include <stddef.h>", "#include <sys/types.h>", "#include <sys/param.h>",
           "#include <sys/proc_info.h>", "#include <libproc.h>", "#include <fcntl.h>",
           "#include <sys/file.h>", "#include <sys/event.h>", "#include <sys/sysctl.h>",
           "#include <sys/resource.h>", "#include <sys/proc.h>", "#include <signal.h>",
           "#include <errno.h>", "#include <unistd.h>", "#include <mach/mach_time.h>",
           "#ifndef FWASLOCKED", "#define FWASLOCKED 0x00004000 /* XNU bsd/sys/fcntl.h, KERNEL-only */",
           "#endif", "#ifndef NODEV", "#define NODEV ((dev_t)-1)", "#endif"]
    for ctype, _, fields in STRUCTS:
        n = ident(ctype)
        out.append(f"const long long v_size__{n} = sizeof({ctype});")
        out.append(f"const long long v_align__{n} = _Alignof({ctype});")
        for f in fields:
            out.append(f"const long long v_off__{n}__{ident(f)} = offsetof({ctype}, {f});")
    seen = set()
    for c, _ in CONSTS:
        if c in seen: continue
        seen.add(c)
        out.append(f"const long long v_const__{c} = (long long)({c});")
    return "\n".join(out) + "\n"

def rust_source(macos_rs, records_rs):
    # Copy the project's hand-written declarations verbatim.
    m = re.search(r"(#\[allow\(\s*dead_code.*?struct ProcFileInfo \{.*?\n\}\n)", macos_rs, re.S)
    decl = m.group(1)
    decl += re.search(r"(#\[repr\(C\)\]\s*#\[derive\(Clone, Copy\)\]\s*struct VnodeFdInfoWithPath \{.*?\n\})", macos_rs, re.S).group(1) + "\n"
    decl += re.search(r"(const PROC_PIDFDVNODEPATHINFO: c_int = \d+;)", macos_rs).group(1) + "\n"
    decl += re.search(r"(#\[repr\(C\)\]\s*#\[derive\(Debug, Clone, Copy, Default\)\]\s*struct MachTimebaseInfo \{.*?\n\})", macos_rs, re.S).group(1) + "\n"
    decl += re.search(r"(#\[allow\(\s*dead_code[^]]*?only the handles are read.*?struct PipeInfo \{.*?\n\})", macos_rs, re.S).group(1) + "\n"
    decl += re.search(r"(#\[repr\(C\)\]\s*#\[derive\(Clone, Copy\)\]\s*struct PipeFdInfo \{.*?\n\})", macos_rs, re.S).group(1) + "\n"
    decl += re.search(r"(const PROC_PIDFDPIPEINFO: c_int = \d+;)", macos_rs).group(1) + "\n"
    # The pure module's constants: keep only `pub const` / `pub mod` blocks.
    rec = []
    for blk in re.finditer(r"^pub (const [A-Z_]+: [a-z0-9]+ = [^;]+;|mod (pstat|pflag|note) \{.*?^\})", records_rs, re.S | re.M):
        rec.append("pub " + blk.group(1))
    lines = ["#![no_std]", "#![allow(dead_code, non_upper_case_globals, clippy::all)]",
             "use core::ffi::c_int; use core::mem::{size_of, align_of, offset_of};",
             "pub mod rec {", *rec, "}", decl]
    for ctype, rtype, fields in STRUCTS:
        n = ident(ctype)
        lines.append(f"#[no_mangle] pub static v_size__{n}: i64 = size_of::<{rtype}>() as i64;")
        lines.append(f"#[no_mangle] pub static v_align__{n}: i64 = align_of::<{rtype}>() as i64;")
        for f in fields:
            lines.append(f"#[no_mangle] pub static v_off__{n}__{ident(f)}: i64 = offset_of!({rtype}, {f}) as i64;")
    for i, (c, r) in enumerate(CONSTS):
        lines.append(f"#[no_mangle] pub static v_rconst_{i}__{c}: i64 = ({r}) as i64;")
    lines.append("#[panic_handler] fn p(_: &core::panic::PanicInfo) -> ! { loop {} }")
    return "\n".join(lines) + "\n"

def parse_asm(text):
    """Collects the bytes each v_* label defines (.quad/.long/.short/.byte/.space/.ascii/.asciz)."""
    def unescape(s):
        out, i = bytearray(), 0
        while i < len(s):
            c = s[i]
            if c == "\\":
                n = s[i + 1]
                if n in "01234567":
                    j = i + 1
                    while j < len(s) and j < i + 4 and s[j] in "01234567":
                        j += 1
                    out.append(int(s[i + 1:j], 8)); i = j; continue
                out.append({"n": 10, "t": 9, "r": 13, '"': 34, "\\": 92, "b": 8, "f": 12}.get(n, ord(n))); i += 2; continue
            out.append(ord(c)); i += 1
        return bytes(out)
    vals, cur, buf = {}, None, bytearray()
    def flush():
        nonlocal cur, buf
        if cur is not None and len(buf) >= 8:
            vals[cur] = int.from_bytes(bytes(buf[:8]), "little", signed=True)
        cur, buf = None, bytearray()
    for line in text.splitlines():
        s = line.strip()
        m = re.match(r"^_?(v_[A-Za-z0-9_]+):$", s)
        if m:
            flush(); cur = m.group(1); continue
        if cur is None:
            continue
        m = re.match(r"^\.(quad|long|short|byte|space|ascii|asciz|zero)\s+(.*)$", s)
        if not m:
            if s and not s.startswith(".p2align") and not s.startswith(";") and not s.startswith("#"):
                flush()
            continue
        kind, arg = m.groups()
        arg = re.split(r"\s+[;#@]", arg)[0].strip()
        if kind in ("quad", "long", "short", "byte"):
            size = {"quad": 8, "long": 4, "short": 2, "byte": 1}[kind]
            buf += (int(arg, 0) & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
        elif kind in ("space", "zero"):
            buf += bytes(int(arg.split(",")[0], 0))
        else:
            b = unescape(arg.strip()[1:-1])
            buf += b + (b"\0" if kind == "asciz" else b"")
        if len(buf) >= 8:
            flush()
    flush()
    return vals

def main():
    os.makedirs(f"{ROOT}/work", exist_ok=True)
    open(f"{ROOT}/work/oracle.c", "w").write(c_source())
    crate = f"{ROOT}/work/rs"
    os.makedirs(f"{crate}/src", exist_ok=True)
    libc_ver = re.search(r'name = "libc"\nversion = "([^"]+)"', open(f"{PROJ}/Cargo.lock").read()).group(1)
    open(f"{crate}/Cargo.toml", "w").write(textwrap.dedent(f"""
        [package]
        name = "layout_oracle"
        version = "0.0.0"
        edition = "2021"
        [lib]
        crate-type = ["lib"]
        [dependencies]
        libc = {{ version = "={libc_ver}", default-features = false }}
        [profile.dev]
        panic = "abort"
        """))
    open(f"{crate}/src/lib.rs", "w").write(rust_source(
        open(f"{PROJ}/src/probe/macos.rs").read(), open(f"{PROJ}/src/probe/macos_records.rs").read()))
    results = {}
    for carch, rtarget, ctarget in [("arm64", "aarch64-apple-darwin", "arm64-apple-macos11"),
                                    ("x86_64", "x86_64-apple-darwin", "x86_64-apple-macos10.15")]:
        for hdr in ["xnu", "sdk"]:
            inc = ["-I", f"{ROOT}/xnuinc"] if hdr == "xnu" else []
            asm = subprocess.run(["clang", "-target", ctarget, "-nostdinc", "-isystem", RES, *inc,
                                  "-isystem", SDK, "-S", "-o", "-", f"{ROOT}/work/oracle.c"],
                                 check=True, capture_output=True, text=True).stdout
            results[(carch, hdr)] = parse_asm(asm)
        r = subprocess.run(["cargo", "rustc", "-q", "--offline", "--target", rtarget, "--",
                            "--emit", f"asm={ROOT}/work/{rtarget}.s"], cwd=crate,
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(f"[{rtarget}] rust side failed:\n{r.stderr[-3000:]}")
            results[(carch, "rust")] = None
        else:
            results[(carch, "rust")] = parse_asm(open(f"{ROOT}/work/{rtarget}.s").read())
    # Compare.
    # A Rust side that did not compile compares nothing: that is a failure, not a pass.
    bad = sum(1 for a in ["arm64", "x86_64"] if results[(a, "rust")] is None)
    keys = [k for k in results[("arm64", "sdk")]]
    print(f"{'item':70} {'arch':6} {'xnu.h':>7} {'sdk.h':>7} {'rust':>7}")
    for carch in ["arm64", "x86_64"]:
        rs = results[(carch, "rust")] or {}
        rmap = {}
        for k, v in rs.items():
            m = re.match(r"v_rconst_\d+__(.*)", k)
            rmap.setdefault("v_const__" + m.group(1) if m else k, []).append(v)
        for k in keys:
            x = results[(carch, "xnu")].get(k); s = results[(carch, "sdk")].get(k)
            rv = rmap.get(k)
            rvs = ",".join(map(str, rv)) if rv else "-"
            ok = x == s and (rv is None or all(v == s for v in rv))
            # NODEV is (dev_t)-1 = -1 in C but u32::MAX in the Rust record: compare as u32.
            if k == "v_const__NODEV" and rv and all((v & 0xffffffff) == (s & 0xffffffff) for v in rv):
                ok = True
            if not ok:
                bad += 1
            print(f"{k[2:]:70} {carch:6} {str(x):>7} {str(s):>7} {rvs:>7} {'' if ok else '  <-- MISMATCH'}")
    print(f"\n{bad} mismatches")

main()
