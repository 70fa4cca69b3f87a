#!/usr/bin/python3
"""Reference layouts for the LUO hand-over and uAPI structures, written with ctypes from the C
declarations of include/linux/kho/abi/{luo,memfd,block,kexec_handover}.h and
include/uapi/linux/liveupdate.h (the ABI headers use __packed; the uAPI structs use natural
alignment). ctypes lays structures and bitfields out as the C compiler does, so this is an
independent check of offsets, padding and the pfn:52/flags:12 bitfield.

stdin: JSON list of [struct name, {field: value}] (strings for char arrays, ints or "u64:0x…")
stdout: JSON list of [sizeof, hex bytes]
"""
import ctypes as C
import json
import sys

u8, u16, u32, s32, u64 = C.c_uint8, C.c_uint16, C.c_uint32, C.c_int32, C.c_uint64


class Packed(C.LittleEndianStructure):
    _pack_ = 1


class kho_block_header_ser(Packed):
    _fields_ = [("next", u64), ("count", u64)]


class luo_ser(Packed):
    _fields_ = [("compatible", C.c_char * 8), ("liveupdate_num", u64), ("sessions_pa", u64), ("flbs_pa", u64)]


class luo_file_set_ser(Packed):
    _fields_ = [("files", u64), ("count", u64)]


class luo_session_ser(Packed):
    _fields_ = [("name", C.c_char * 64), ("file_set_ser", luo_file_set_ser)]


class luo_file_ser(Packed):
    _fields_ = [("compatible", C.c_char * 48), ("data", u64), ("token", u64)]


class luo_flb_header_ser(Packed):
    _fields_ = [("pgcnt", u64), ("count", u64)]


class luo_flb_ser(Packed):
    _fields_ = [("name", C.c_char * 48), ("data", u64), ("count", u64)]


class luo_session_header_ser(Packed):
    _fields_ = [("count", u64)]


class kho_vmalloc(Packed):
    _fields_ = [("first", u64), ("total_pages", u32), ("flags", u16), ("order", u16)]


class memfd_luo_folio_ser(Packed):
    _fields_ = [("pfn", u64, 52), ("flags", u64, 12), ("index", u64)]


class memfd_luo_ser(Packed):
    _fields_ = [
        ("pos", u64),
        ("size", u64),
        ("seals", u32),
        ("flags", u32),
        ("nr_folios", u64),
        ("folios", kho_vmalloc),
    ]


class memfd_luo_ser_v1(Packed):
    _fields_ = [("pos", u64), ("size", u64), ("nr_folios", u64), ("folios", kho_vmalloc)]


class liveupdate_ioctl_create_session(C.LittleEndianStructure):
    _fields_ = [("size", u32), ("fd", s32), ("name", C.c_char * 64)]


class liveupdate_session_preserve_fd(C.LittleEndianStructure):
    _fields_ = [("size", u32), ("fd", s32), ("token", u64)]


class liveupdate_session_finish(C.LittleEndianStructure):
    _fields_ = [("size", u32), ("reserved", u32)]


class liveupdate_session_get_name(C.LittleEndianStructure):
    _fields_ = [("size", u32), ("reserved", u32), ("name", C.c_char * 64)]


def fill(obj, fields):
    for k, v in fields.items():
        cur = getattr(obj, k)
        if isinstance(cur, C.Structure):
            fill(cur, v)
        elif isinstance(v, str) and v.startswith("u64:"):
            setattr(obj, k, int(v[4:], 0))
        elif isinstance(v, str):
            setattr(obj, k, v.encode())
        else:
            setattr(obj, k, v)
    return obj


out = []
for name, fields in json.load(sys.stdin):
    cls = globals()[name]
    obj = fill(cls(), fields)
    out.append([C.sizeof(cls), bytes(obj).hex()])
print(json.dumps(out))
