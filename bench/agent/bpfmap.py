"""Reads pinned BPF maps straight through the bpf(2) syscall (ctypes, standard library only).

A lookup is one syscall (a few microseconds), so a poller can watch the datapath's own maps
far more finely than `bpftool map dump` (a process and a full dump, ~5-10 ms) allows.
"""

import ctypes
import os
import platform
import struct

BPF_MAP_LOOKUP_ELEM = 1
BPF_MAP_GET_NEXT_KEY = 4
BPF_OBJ_GET = 7
_SYSCALL_BPF = {"x86_64": 321, "aarch64": 280, "armv7l": 386, "ppc64le": 361, "s390x": 351,
                "riscv64": 280}
_ATTR_SIZE = 128  # larger than the fields used; the kernel accepts a zero tail

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
try:
    _NR_BPF = _SYSCALL_BPF[platform.machine()]
except KeyError:
    raise SystemExit(f"bpfmap: unknown bpf syscall number for {platform.machine()}") from None


def _bpf(command, attr):
    result = _libc.syscall(_NR_BPF, command, ctypes.byref(attr), _ATTR_SIZE)
    if result < 0:
        return -ctypes.get_errno()
    return result


class PinnedMap:
    """A pinned map opened read-only by path; keys and values are bytes of fixed sizes."""

    def __init__(self, path, key_size, value_size):
        self.path = path
        self.key_size, self.value_size = key_size, value_size
        name = ctypes.create_string_buffer(os.fsencode(path))
        attr = ctypes.create_string_buffer(_ATTR_SIZE)
        struct.pack_into("=QII", attr, 0, ctypes.addressof(name), 0, 0)
        fd = _bpf(BPF_OBJ_GET, attr)
        if fd < 0:
            raise OSError(-fd, f"BPF_OBJ_GET {path}: {os.strerror(-fd)}")
        self.fd = fd
        self._key = ctypes.create_string_buffer(key_size)
        self._value = ctypes.create_string_buffer(value_size)
        self._next = ctypes.create_string_buffer(key_size)
        self._lookup_attr = ctypes.create_string_buffer(_ATTR_SIZE)
        struct.pack_into("=IIQQQ", self._lookup_attr, 0, fd, 0, ctypes.addressof(self._key),
                         ctypes.addressof(self._value), 0)
        self._next_attr = ctypes.create_string_buffer(_ATTR_SIZE)
        self._next_attr_first = ctypes.create_string_buffer(_ATTR_SIZE)
        struct.pack_into("=IIQQ", self._next_attr, 0, fd, 0, ctypes.addressof(self._key),
                         ctypes.addressof(self._next))
        struct.pack_into("=IIQQ", self._next_attr_first, 0, fd, 0, 0,
                         ctypes.addressof(self._next))

    def lookup(self, key):
        """The value bytes, or None when the key is absent."""
        ctypes.memmove(self._key, key, self.key_size)
        result = _bpf(BPF_MAP_LOOKUP_ELEM, self._lookup_attr)
        if result == -2:  # ENOENT
            return None
        if result < 0:
            raise OSError(-result, f"lookup in {self.path}: {os.strerror(-result)}")
        return self._value.raw

    def keys(self):
        result = _bpf(BPF_MAP_GET_NEXT_KEY, self._next_attr_first)
        while result == 0:
            key = self._next.raw
            yield key
            ctypes.memmove(self._key, key, self.key_size)
            result = _bpf(BPF_MAP_GET_NEXT_KEY, self._next_attr)
        if result != -2:
            raise OSError(-result, f"iterate {self.path}: {os.strerror(-result)}")

    def items(self):
        for key in list(self.keys()):
            value = self.lookup(key)
            if value is not None:
                yield key, value

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
