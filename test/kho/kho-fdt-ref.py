#!/usr/bin/python3
"""Reference for the KHO root FDT: kho_out_fdt_setup / kho_add_subtree / kho_remove_subtree
written with python3-libfdt, working in place in one 4096-byte page as the kernel does.

stdin: JSON list of cases {"compat": str, "memmap": int, "blobsize": bool, "dataprop": str,
       "ops": [["add", name, phys, size] | ["remove", phys]]}
stdout: JSON list of {"page": hex of the whole page, "rets": [return value per op]}
"""
import json
import struct
import sys

import libfdt

PAGE = 4096
ENOMEM, EEXIST = 12, 17


def setup(compat, memmap):
    sw = libfdt.FdtSw(PAGE)  # one fixed-size buffer, like fdt_create(fdt, PAGE_SIZE)
    sw.finish_reservemap()
    sw.begin_node("")
    sw.property_string("compatible", compat)
    sw.property("preserved-memory-map", struct.pack("<Q", memmap))
    sw.end_node()
    return sw


def open_in_place(page):
    # fdt_open_into(fdt, fdt, PAGE_SIZE) on an ordered blob: only totalsize changes.
    return libfdt.fdt_open_into(bytearray(page), page, PAGE)


def add(page, case, name, phys, size):
    if open_in_place(page) < 0:
        return -ENOMEM
    err = -ENOMEM
    off = libfdt.fdt_add_subnode(page, 0, name)
    if off < 0:
        if off == -libfdt.EXISTS:
            err = -EEXIST
    else:
        ok = libfdt.fdt_setprop(page, off, case["dataprop"], struct.pack("<Q", phys), 8) >= 0
        if ok and case["blobsize"]:
            ok = libfdt.fdt_setprop(page, off, "blob-size", struct.pack("<Q", size), 8) >= 0
        if ok:
            err = 0
        else:
            libfdt.fdt_del_node(page, off)
    libfdt.fdt_pack(page)
    return err


def remove(page, case, phys):
    if open_in_place(page) < 0:
        return 0
    off = libfdt.fdt_first_subnode(page, 0)
    while off >= 0:
        got = libfdt.fdt_getprop(page, off, case["dataprop"])  # [value, len] or -errno
        val = None if isinstance(got, int) else bytes(got[0])
        if val is not None and len(val) == 8 and struct.unpack("<Q", val)[0] == phys:
            libfdt.fdt_del_node(page, off)
            break
        off = libfdt.fdt_next_subnode(page, off)
    libfdt.fdt_pack(page)
    return 0


def run(case):
    sw = setup(case["compat"], case["memmap"])
    fdt = sw.as_fdt()
    page = bytearray(PAGE)
    raw = fdt.as_bytearray()
    page[: len(raw)] = raw
    rets = []
    for op in case["ops"]:
        if op[0] == "add":
            rets.append(add(page, case, op[1], op[2], op[3]))
        else:
            rets.append(remove(page, case, op[1]))
    return {"page": bytes(page).hex(), "rets": rets}


print(json.dumps([run(c) for c in json.load(sys.stdin)]))
