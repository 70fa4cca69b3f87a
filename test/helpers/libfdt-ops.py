#!/usr/bin/python3
"""Replay FDT operation sequences with python3-libfdt (the reference) and print the bytes.

stdin: JSON list of cases; stdout: JSON list of results, one per case.
  {"kind": "sw", "ops": [["rsv", addr, size] | ["finrsv"] | ["begin", name] |
                         ["prop", name, hex] | ["end"]]}
      -> {"hex": finished blob} or {"err": errno, "at": op index}
  {"kind": "rw", "blob": hex, "bufsize": n, "ops": [...]}  ops on libfdt.Fdt after resize(bufsize)
      (or, with "inplace": true, after fdt_open_into(blob, blob, len(blob)) on the given buffer):
      ["setprop", path, name, hex] ["appendprop", path, name, hex] ["delprop", path, name]
      ["add_subnode", path, name] ["del_node", path] ["set_name", path, name]
      ["nop_property", path, name] ["nop_node", path] ["add_mem_rsv", addr, size]
      ["del_mem_rsv", n] ["pack"] ["resize", n]
      -> {"hex": whole buffer after the ops, "errs": [[op index, errno], ...]} (errors do not stop)
  {"kind": "read", "blob": hex} -> {"err": errno} or {"tree": [...]} (libfdt's view of the tree),
      {"skip": why} when the binding cannot show it, {"crash": signal} when libfdt crashed
  {"kind": "check", "blob": hex} -> {"err": errno} or {}: fdt_check_full alone (libfdt's readers
      assume the root at offset 0, so a blob it accepts may still not read)
  {"kind": "paths", "blob": hex, "paths": [...]} -> {"offsets": fdt_path_offset of each (or -errno)}
Paths are resolved with fdt_path_offset; a lookup failure is reported like any other error.
"""
import json
import os
import struct
import sys

import libfdt


def run_sw(case):
    sw = libfdt.FdtSw()
    for i, op in enumerate(case["ops"]):
        try:
            if op[0] == "rsv":
                sw.add_reservemap_entry(op[1], op[2])
            elif op[0] == "finrsv":
                sw.finish_reservemap()
            elif op[0] == "begin":
                sw.begin_node(op[1])
            elif op[0] == "prop":
                sw.property(op[1], bytes.fromhex(op[2]))
            elif op[0] == "end":
                sw.end_node()
        except libfdt.FdtException as e:
            return {"err": abs(e.err), "at": i}
    sw.resize(len(sw._fdt) + 64)  # room for the END token (as_fdt does not grow)
    fdt = sw.as_fdt()
    return {"hex": bytes(fdt.as_bytearray()[: fdt.totalsize()]).hex()}


def chk(ret):
    if isinstance(ret, int) and ret < 0:
        raise libfdt.FdtException(ret)
    return ret


def run_rw(case):
    fdt = libfdt.Fdt(bytes.fromhex(case["blob"]))
    if case.get("inplace"):
        # "blob" is the whole buffer: fdt_open_into(buf, buf, len(buf)).
        buf = bytearray.fromhex(case["blob"])
        err = libfdt.fdt_open_into(buf, buf, len(buf))
        if err:
            return {"hex": buf.hex(), "errs": [[-1, abs(err)]]}
        fdt._fdt = buf
    else:
        fdt.resize(case["bufsize"])
    errs = []
    for i, op in enumerate(case["ops"]):
        buf = fdt._fdt
        try:
            k = op[0]
            if k in ("setprop", "appendprop", "delprop", "add_subnode", "del_node", "set_name",
                     "nop_property", "nop_node"):
                off = chk(libfdt.fdt_path_offset(buf, op[1]))
            if k == "setprop":
                v = bytes.fromhex(op[3])
                chk(libfdt.fdt_setprop(buf, off, op[2], v, len(v)))
            elif k == "appendprop":
                v = bytes.fromhex(op[3])
                chk(libfdt.fdt_appendprop(buf, off, op[2], v, len(v)))
            elif k == "delprop":
                chk(libfdt.fdt_delprop(buf, off, op[2]))
            elif k == "add_subnode":
                chk(libfdt.fdt_add_subnode(buf, off, op[2]))
            elif k == "del_node":
                chk(libfdt.fdt_del_node(buf, off))
            elif k == "set_name":
                chk(libfdt.fdt_set_name(buf, off, op[2]))
            elif k == "nop_property":
                chk(libfdt.fdt_nop_property(buf, off, op[2]))
            elif k == "nop_node":
                chk(libfdt.fdt_nop_node(buf, off))
            elif k == "add_mem_rsv":
                chk(libfdt.fdt_add_mem_rsv(buf, op[1], op[2]))
            elif k == "del_mem_rsv":
                chk(libfdt.fdt_del_mem_rsv(buf, op[1]))
            elif k == "pack":
                fdt.pack()
            elif k == "resize":
                fdt.resize(op[1])
        except libfdt.FdtException as e:
            errs.append([i, abs(e.err)])
    return {"hex": bytes(fdt._fdt).hex(), "errs": errs}


def node_tree(fdt, off):
    props = []
    p = fdt.first_property_offset(off, libfdt.QUIET_NOTFOUND)
    while p >= 0:
        prop = fdt.get_property_by_offset(p)
        props.append([prop.name, bytes(prop).hex()])
        p = fdt.next_property_offset(p, libfdt.QUIET_NOTFOUND)
    kids = []
    c = fdt.first_subnode(off, libfdt.QUIET_NOTFOUND)
    while c >= 0:
        kids.append(node_tree(fdt, c))
        c = fdt.next_subnode(c, libfdt.QUIET_NOTFOUND)
    name = fdt.get_name(off)
    for n in [name] + [p[0] for p in props]:
        n.encode("utf-8")  # raises UnicodeEncodeError for names that were not UTF-8
    return [name, props, kids]


def run_read(case):
    data = bytearray.fromhex(case["blob"])
    if len(data) >= 28 and data[:4] == b"\xd0\x0d\xfe\xed" and struct.unpack_from(">I", data, 20)[0] < 16:
        # libfdt 1.6.1's fdt_check_full can crash on pre-v16 blobs (which we refuse anyway);
        # its header check alone is safe.
        err = libfdt.fdt_check_header(data) if len(data) >= 40 else 0
        return {"err": abs(err)} if err else {"skip": "version < 16"}
    err = libfdt.fdt_check_full(data, len(data)) if hasattr(libfdt, "fdt_check_full") else 0
    if err:
        return {"err": abs(err)}
    try:
        fdt = libfdt.Fdt(data)
        # fdt_get_mem_rsv's python binding drops a zero address, so decode the entries directly.
        base = fdt.off_mem_rsvmap()
        rsv = [[str(x) for x in struct.unpack_from(">QQ", data, base + 16 * i)]
               for i in range(fdt.num_mem_rsv())]
        rsv = [[str(a), str(s)] for a, s in rsv]
        return {"tree": node_tree(fdt, 0), "rsv": rsv, "version": fdt.version(),
                "last_comp": fdt.last_comp_version(), "cpu": fdt.boot_cpuid_phys()}
    except libfdt.FdtException as e:
        return {"err": abs(e.err)}
    except (UnicodeError, SystemError) as e:
        # The binding decodes names as UTF-8; such blobs cannot be compared through it.
        return {"skip": str(e)}


def run_read_isolated(case):
    """libfdt 1.6.1 can crash on hostile v16 blobs (a property length that wraps is not bounded
    by a structure size), so those reads run in a forked child; a crash is reported as
    {"crash": signal}. v17 blobs (bounded by size_dt_struct) run in-process, for speed."""
    data = bytes.fromhex(case["blob"][:48])
    if len(data) >= 24 and struct.unpack_from(">I", data, 20)[0] == 17:
        return run_read(case)
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        with os.fdopen(wfd, "w") as w:
            json.dump(run_read(case), w)
        os._exit(0)
    os.close(wfd)
    with os.fdopen(rfd) as r:
        out = r.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return {"crash": os.WTERMSIG(status)}
    return json.loads(out)


def run_check(case):
    data = bytearray.fromhex(case["blob"])
    err = libfdt.fdt_check_full(data, len(data))
    return {"err": abs(err)} if err else {}


def run_paths(case):
    data = bytearray.fromhex(case["blob"])
    return {"offsets": [libfdt.fdt_path_offset(data, p) for p in case["paths"]]}


RUN = {"sw": run_sw, "rw": run_rw, "read": run_read_isolated, "check": run_check, "paths": run_paths}
cases = json.load(sys.stdin)
json.dump([RUN[c["kind"]](c) for c in cases], sys.stdout)
