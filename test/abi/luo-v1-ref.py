#!/usr/bin/python3
"""Reference for the FDT-era LUO root tree (luo-v1): kernel/liveupdate/luo_core.c
luo_fdt_setup() with luo_session_setup_outgoing() and luo_flb_setup_outgoing(), written with
python3-libfdt's sequential writer into one zeroed 4096-byte buffer as the kernel does.

stdin: JSON list of {"ln": int, "session": int, "flb": int | null}
stdout: JSON list of hex strings, each the whole 4096-byte buffer after fdt_finish
"""
import json
import struct
import sys

import libfdt

PAGE = 4096


def build(case):
    sw = libfdt.FdtSw(PAGE)
    sw.finish_reservemap()
    sw.begin_node("")
    sw.property_string("compatible", "luo-v1")
    sw.property("liveupdate-number", struct.pack("<Q", case["ln"]))
    sw.begin_node("luo-session")
    sw.property_string("compatible", "luo-session-v2")
    sw.property("luo-session-header", struct.pack("<Q", case["session"]))
    sw.end_node()
    if case["flb"] is not None:
        sw.begin_node("luo-flb")
        sw.property_string("compatible", "luo-flb-v1")
        sw.property("luo-flb-header", struct.pack("<Q", case["flb"]))
        sw.end_node()
    sw.end_node()
    raw = sw.as_fdt().as_bytearray()
    page = bytearray(PAGE)
    page[: len(raw)] = raw
    return bytes(page).hex()


print(json.dumps([build(c) for c in json.load(sys.stdin)]))
