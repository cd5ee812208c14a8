"""The emulated kernel: speakeasy maps the driver images and provides the CPU (unicorn) and the
memory manager; everything a driver imports is served here, by Python code of this project.

One `Kernel` per architecture and run. It loads any number of `.sys` images side by side (each
relocated to its own base), calls their entry points with frames built by hand (speakeasy's own
run loop puts `rsp` 16-byte aligned at entry, sizes the stack from `SizeOfStackCommit` and
passes 5th+ x64 arguments in the shadow space, none of which a real kernel does), and serves
every import through a page of "export" addresses: an import's IAT slot points into that page, a
code hook there runs the Python function for it, and the function may call back into driver
code (the NMR calling `ClientAttachProvider` from inside `NmrRegisterClient`) by yielding a
`Call`: the call gets a frame of its own below the import's, returns to a resume address in the
same page, and the Python function continues where it yielded. One unicorn `emu_start` runs a
whole top-level call (DriverEntry, DriverUnload, a work item) with every nested call in it.

What a run checks as it goes, each failure a `Failure` whose `kind` names it:
- `bugcheck`: `KeBugCheckEx` (a Rust panic), an invalid instruction, an `int3`;
- `unmapped access`: a read, write or fetch of memory nothing maps (freed pool blocks are
  unmapped, each block ends at a page end, images are unmapped at unload);
- `unsupported import`: a driver calls a function this kernel does not serve;
- `stdcall pop` (x86): a callback did not pop exactly its arguments;
- `callee-saved register`: a callback returned with `rbx/rbp/rdi/rsi/r12-r15` (x64) or
  `ebx/ebp/esi/edi` (x86) changed;
- `stack budget`: a top-level call chain used more stack than its budget;
- `hang`: the instruction limit of one top-level call was reached;
- and what the NMR model (`nmr.py`) and the scenarios (`run.py`) raise.
"""

import inspect
import logging
import struct

import unicorn as uc
from unicorn import x86_const as X

import speakeasy
from speakeasy.windows.common import PeFile

PAGE = 0x1000


class Failure(Exception):
    """A run failed: `kind` names the reason, `message` says what happened."""

    def __init__(self, kind, message):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


class Call:
    """What a served function yields to call driver code: `fn(*args)`, for `role`."""

    def __init__(self, fn, args, role):
        self.fn = fn
        self.args = list(args)
        self.role = role


class Arch:
    def __init__(self, name):
        self.name = name
        self.x64 = name == "x64"
        self.ptr = 8 if self.x64 else 4
        self.mask = (1 << (8 * self.ptr)) - 1
        if self.x64:
            self.sp, self.pc, self.ret = X.UC_X86_REG_RSP, X.UC_X86_REG_RIP, X.UC_X86_REG_RAX
            self.callee_saved = [
                ("rbx", X.UC_X86_REG_RBX), ("rbp", X.UC_X86_REG_RBP),
                ("rdi", X.UC_X86_REG_RDI), ("rsi", X.UC_X86_REG_RSI),
                ("r12", X.UC_X86_REG_R12), ("r13", X.UC_X86_REG_R13),
                ("r14", X.UC_X86_REG_R14), ("r15", X.UC_X86_REG_R15),
            ]
            self.arg_regs = [X.UC_X86_REG_RCX, X.UC_X86_REG_RDX, X.UC_X86_REG_R8, X.UC_X86_REG_R9]
            # A real x64 kernel stack: 24 KiB (KERNEL_STACK_SIZE).
            self.stack_size = 24 * 1024
        else:
            self.sp, self.pc, self.ret = X.UC_X86_REG_ESP, X.UC_X86_REG_EIP, X.UC_X86_REG_EAX
            self.callee_saved = [
                ("ebx", X.UC_X86_REG_EBX), ("ebp", X.UC_X86_REG_EBP),
                ("esi", X.UC_X86_REG_ESI), ("edi", X.UC_X86_REG_EDI),
            ]
            self.arg_regs = []
            # A real x86 kernel stack: 12 KiB.
            self.stack_size = 12 * 1024


class Image:
    """A driver image known to the kernel, mapped while loaded."""

    def __init__(self, name, path, pe, map_symbols):
        self.name = name
        self.path = path
        self.pe = pe
        self.base = pe.base
        self.size = (pe.image_size + PAGE - 1) & ~(PAGE - 1)
        self.loaded = False
        self.map_symbols = map_symbols  # sorted [(rva, name)] from the lld map, may be empty
        self.driver_object = 0
        self.unload_routine = 0

    def contains(self, addr):
        return self.base <= addr < self.base + self.size

    def symbol(self, addr):
        """`name+0x..` for an address in this image, from the link map when there is one."""
        rva = addr - self.base
        best = None
        for sym_rva, name in self.map_symbols:
            if sym_rva <= rva:
                best = (sym_rva, name)
            else:
                break
        if best is None:
            return f"{self.name}+{rva:#x}"
        return f"{self.name}!{best[1]}+{rva - best[0]:#x}"


def read_map_symbols(map_path):
    """`(rva, demangled-ish name)` of the functions in an lld-link `/MAP` file, sorted."""
    symbols = []
    if not map_path:
        return symbols
    try:
        with open(map_path, encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
    except OSError:
        return symbols
    # lld's map: "Address  Size  Align Out     In      Symbol" with VA in hex first.
    base = None
    for line in lines:
        parts = line.split()
        if len(parts) < 5:
            continue
        try:
            va = int(parts[0], 16)
            int(parts[1], 16)
        except ValueError:
            continue
        if base is None:
            base = va & ~0xFFFF
        name = parts[-1]
        if name.startswith("__imp_") or ":(" in name or name.endswith(".obj") or "(" in name and ".text" in name:
            continue
        if len(parts) == 5 and not name.startswith(("_", "?")) and not name[0].isalpha():
            continue
        symbols.append((va, name))
    if base is None:
        return []
    out = sorted({(va - base, name) for va, name in symbols if va >= base})
    return out


class Frame:
    """One call the kernel made into driver code, until it returns."""

    def __init__(self, fn, role, base_sp, expect_sp, saved, markers, gen, import_ctx, top):
        self.fn = fn
        self.role = role
        self.base_sp = base_sp  # sp at entry (pointing at the return address)
        self.expect_sp = expect_sp
        self.saved = saved  # the interrupted code's callee-saved registers
        self.markers = markers
        self.gen = gen  # the served function waiting for this call's result (None: top level)
        self.import_ctx = import_ctx
        self.top = top
        self.min_write = base_sp


class ImportCtx:
    def __init__(self, name, sp, ret, pop_bytes):
        self.name = name
        self.sp = sp
        self.ret = ret
        self.pop_bytes = pop_bytes


class Kernel:
    """One emulated kernel (one CPU, one architecture)."""

    def __init__(self, arch, images, budget, instruction_limit=5_000_000):
        """`images`: [(name, path, map_path)]; `budget`: stack bytes per top-level call chain."""
        self.arch = Arch(arch)
        self.budget = budget
        self.instruction_limit = instruction_limit
        self.images = {}
        self.services = {}  # name -> (function, x86 stack bytes popped, or None for cdecl)
        self.trace = []  # DbgPrint lines and kernel events
        self.failure = None
        self.frames = []
        self.stack_peaks = []  # (label, bytes) per top-level call
        self.dispatch_hooks = {}
        self.dispatch_calls = {}
        logger = logging.getLogger("speakeasy-quiet")
        logger.setLevel(logging.CRITICAL)
        logger.propagate = False
        self.se = speakeasy.Speakeasy(logger=logger)
        first = True
        next_base = None
        imp_id = None
        for name, path, map_path in images:
            if first:
                pe = self.se.load_module(path)
                self.emu = self.se.emu
                self.uc = self.emu.emu_eng.emu
                # speakeasy maps the first image itself; this kernel maps images at load.
                self.emu.mem_unmap(pe.base, (pe.image_size + PAGE - 1) & ~(PAGE - 1))
                first = False
            else:
                pe = self.emu.load_pe(path, imp_id=imp_id)
                if pe.base != next_base:
                    pe.rebase(next_base)
            image = Image(name, path, pe, read_map_symbols(map_path))
            self.images[name] = image
            imp_id = pe.imp_id + 0x1000
            next_base = image.base + image.size + 0x100000
        self._setup_memory()

    # -- memory ---------------------------------------------------------------------------

    def _map(self, size, tag):
        """Maps `size` bytes in this kernel's own region (never reused)."""
        size = (size + PAGE - 1) & ~(PAGE - 1)
        addr = self.region_next
        self.region_next += size + PAGE  # an unmapped page after each block
        self.uc.mem_map(addr, size, uc.UC_PROT_READ | uc.UC_PROT_WRITE)
        self.maps[addr] = tag
        return addr

    def _setup_memory(self):
        a = self.arch
        self.region_next = 0x7E00_0000_0000 if a.x64 else 0x60000000
        self.maps = {}
        # The exports page: one 16-byte slot per served (or unsupported) import, then the
        # resume and top-level return addresses. int3 everywhere: never executed, the code hook
        # takes over first.
        self.exports_base = self._map(4 * PAGE, "npi.kernel.exports")
        self.uc.mem_protect(self.exports_base, 4 * PAGE, uc.UC_PROT_ALL)
        self.uc.mem_write(self.exports_base, b"\xcc" * (4 * PAGE))
        self.resume_addr = self.exports_base
        self.top_addr = self.exports_base + 16
        self.export_slots = {}  # addr -> import name
        self.next_slot = self.exports_base + 64
        self.uc.hook_add(uc.UC_HOOK_CODE, self._on_export, begin=self.exports_base,
                         end=self.exports_base + 4 * PAGE - 1)
        # The kernel stack, nothing mapped below it: an overflow is an unmapped access.
        self.stack_lo = self._map(a.stack_size + 2 * PAGE, "npi.kernel.stack")
        self.uc.mem_unmap(self.stack_lo, PAGE)  # guard page
        self.stack_lo += PAGE
        self.stack_hi = self.stack_lo + a.stack_size
        self.uc.mem_unmap(self.stack_hi, PAGE)
        self.uc.hook_add(uc.UC_HOOK_MEM_WRITE, self._on_stack_write, begin=self.stack_lo,
                         end=self.stack_hi - 1)
        # Harness scratch (driver objects, out-parameters the NMR owns): not pool.
        self.scratch = self._map(4 * PAGE, "npi.kernel.scratch")
        self.scratch_next = self.scratch
        self.uc.hook_add(uc.UC_HOOK_INTR, self._on_interrupt)
        if hasattr(uc, "UC_HOOK_INSN_INVALID"):
            self.uc.hook_add(uc.UC_HOOK_INSN_INVALID, self._on_invalid)
        self.install_access_hook()
        # Pool: each block alone at the end of its own pages, unmapped when freed.
        self.pool = {}  # addr -> (size, tag, serial, pages_base, pages_size, caller)
        self.pool_serial = 0
        self.pool_fail_at = None  # fail this allocation number (1-based)
        self.pool_log = []  # (serial, size, tag, caller, result)
        self.freed = {}  # addr -> (size, tag, serial, freer)

    def alloc_scratch(self, size):
        addr = self.scratch_next
        self.scratch_next += (size + 15) & ~15
        if self.scratch_next > self.scratch + 4 * PAGE:
            raise Failure("harness", "scratch memory exhausted")
        self.uc.mem_write(addr, b"\0" * size)
        return addr

    def read(self, addr, size):
        return bytes(self.uc.mem_read(addr, size))

    def write(self, addr, data):
        self.uc.mem_write(addr, data)

    def read_ptr(self, addr):
        return int.from_bytes(self.read(addr, self.arch.ptr), "little")

    def write_ptr(self, addr, value):
        self.write(addr, (value & self.arch.mask).to_bytes(self.arch.ptr, "little"))

    def read_u32(self, addr):
        return struct.unpack("<I", self.read(addr, 4))[0]

    def read_u16(self, addr):
        return struct.unpack("<H", self.read(addr, 2))[0]

    def read_cstr(self, addr, limit=512):
        out = bytearray()
        while len(out) < limit:
            b = self.read(addr + len(out), 1)
            if b == b"\0":
                break
            out += b
        return out.decode("latin-1")

    def reg(self, r):
        return self.uc.reg_read(r)

    def set_reg(self, r, v):
        self.uc.reg_write(r, v & self.arch.mask)

    # -- images ---------------------------------------------------------------------------

    def image_of(self, addr):
        for image in self.images.values():
            if image.loaded and image.contains(addr):
                return image
        return None

    def describe(self, addr):
        image = self.image_of(addr)
        if image:
            return image.symbol(addr)
        for image in self.images.values():
            if image.contains(addr):
                return f"{image.symbol(addr)} (image not loaded)"
        if addr in self.export_slots:
            return f"kernel!{self.export_slots[addr]}"
        return f"{addr:#x}"

    def map_image(self, image):
        """Maps a fresh copy of the image (its `.data` as in the file) with section protections,
        and points every import at this kernel's exports."""
        pe = image.pe
        self.uc.mem_map(image.base, image.size, uc.UC_PROT_ALL)
        self.uc.mem_write(image.base, pe.mapped_image)
        for addr, (dll, func) in pe.imports.items():
            self.write_ptr(addr, self._export_slot(f"{dll}.{func}"))
        # Section protections, so a write to .rdata or a jump into .data faults.
        self.uc.mem_protect(image.base, PAGE, uc.UC_PROT_READ)
        for section in pe.sections:
            start = image.base + section.VirtualAddress
            size = (max(section.Misc_VirtualSize, section.SizeOfRawData) + PAGE - 1) & ~(PAGE - 1)
            chars = section.Characteristics
            prot = 0
            if chars & 0x40000000:
                prot |= uc.UC_PROT_READ
            if chars & 0x80000000:
                prot |= uc.UC_PROT_WRITE
            if chars & 0x20000000:
                prot |= uc.UC_PROT_EXEC | uc.UC_PROT_READ
            if size and prot:
                self.uc.mem_protect(start, min(size, image.base + image.size - start), prot)
        image.loaded = True

    def unmap_image(self, image):
        self.uc.mem_unmap(image.base, image.size)
        image.loaded = False

    def _export_slot(self, qualified):
        for addr, name in self.export_slots.items():
            if name == qualified:
                return addr
        addr = self.next_slot
        self.next_slot += 16
        self.export_slots[addr] = qualified
        return addr

    def serve(self, name, function, x86_pop):
        """Serves `name` (`MODULE.Function`, module without extension) with `function(args)`.
        `x86_pop`: stack bytes the x86 function pops (stdcall), or None for cdecl; the number of
        argument slots read is `x86_pop // 4` (x86) or `max(4, that)` (x64)."""
        self.services[name.lower()] = (name, function, x86_pop)

    # -- calls ----------------------------------------------------------------------------

    def _markers(self):
        base = 0x5EED_0000_0000_0000 if self.arch.x64 else 0x5EED0000
        return [base + 0x111 * (i + 1) for i in range(len(self.arch.callee_saved))]

    def _push_call(self, fn, args, role, gen, import_ctx, top):
        a = self.arch
        if top:
            sp = self.stack_hi - 64
        else:
            sp = self.reg(a.sp)
        n = max(4, len(args)) if a.x64 else len(args)
        base = (sp - a.ptr * n) & ~0xF
        for i, value in enumerate(args):
            self.write_ptr(base + a.ptr * i, value)
        ret_slot = base - a.ptr
        self.write_ptr(ret_slot, self.top_addr if top else self.resume_addr)
        if a.x64:
            for r, value in zip(a.arg_regs, args):
                self.set_reg(r, value)
            expect = base  # the caller pops the arguments
        else:
            expect = base + a.ptr * len(args)  # stdcall: the callee pops them
        saved = [self.reg(r) for _, r in a.callee_saved]
        markers = self._markers()
        for (_, r), m in zip(a.callee_saved, markers):
            self.set_reg(r, m)
        self.set_reg(a.sp, ret_slot)
        frame = Frame(fn, role, ret_slot, expect, saved, markers, gen, import_ctx, top)
        self.frames.append(frame)
        if self.image_of(fn) is None:
            raise Failure(
                "unmapped access",
                f"{role}: the kernel would call {self.describe(fn)}, which is in no loaded image "
                f"(a callback of an unloaded driver?)",
            )
        self.set_reg(a.pc, fn)

    def _pop_call(self):
        a = self.arch
        frame = self.frames.pop()
        sp = self.reg(a.sp)
        if sp != frame.expect_sp:
            delta = sp - frame.expect_sp
            raise Failure(
                "stdcall pop" if not a.x64 else "stack pointer",
                f"{frame.role} ({self.describe(frame.fn)}) returned with the stack pointer "
                f"{'+' if delta >= 0 else ''}{delta} bytes off: it popped "
                f"{(sp - frame.base_sp - a.ptr)} bytes of arguments, "
                f"{frame.expect_sp - frame.base_sp - a.ptr} were pushed",
            )
        for (name, r), marker in zip(a.callee_saved, frame.markers):
            if self.reg(r) != marker:
                raise Failure(
                    "callee-saved register",
                    f"{frame.role} ({self.describe(frame.fn)}) returned with {name} changed "
                    f"({marker:#x} -> {self.reg(r):#x})",
                )
        rv = self.reg(a.ret) & 0xFFFFFFFF if not a.x64 else self.reg(a.ret)
        for (_, r), value in zip(a.callee_saved, frame.saved):
            self.set_reg(r, value)
        # Stack used by this call, counted into the caller's frame as well.
        if self.frames:
            self.frames[-1].min_write = min(self.frames[-1].min_write, frame.min_write)
        return frame, rv

    def _on_stack_write(self, _uc, _access, address, _size, _value, _user):
        if self.frames:
            f = self.frames[-1]
            if address < f.min_write:
                f.min_write = address

    def _on_export(self, _uc, address, _size, _user):
        if self.failure:
            self.uc.emu_stop()
            return
        try:
            self._export(address)
        except Failure as failure:
            self.failure = failure
            self.uc.emu_stop()
        except Exception as error:  # a bug in the harness: say so, do not hide it
            import traceback

            self.failure = Failure("harness", f"{error!r}\n{traceback.format_exc()}")
            self.uc.emu_stop()

    def _export(self, address):
        a = self.arch
        if address == self.top_addr:
            frame, rv = self._pop_call()
            self.top_result = rv
            self.top_frame = frame
            self.uc.emu_stop()
            return
        if address == self.resume_addr:
            frame, rv = self._pop_call()
            self._advance(frame.gen, frame.import_ctx, rv)
            return
        name = self.export_slots.get(address)
        if name is None:
            raise Failure("unmapped access", f"jump into the kernel at {address:#x}")
        service = self.services.get(name.lower())
        sp = self.reg(a.sp)
        ret = self.read_ptr(sp)
        if service is None:
            raise Failure(
                "unsupported import",
                f"{name}, called from {self.describe(ret)}: this kernel does not serve it",
            )
        _, function, x86_pop = service
        if a.x64:
            nargs = max(4, (x86_pop or 16) // 4 + 4)
            args = [self.reg(r) for r in a.arg_regs]
            args += [self.read_ptr(sp + 8 * (i + 1)) for i in range(4, nargs)]
            pop = 0
        else:
            nargs = (x86_pop or 64) // 4
            args = [self.read_ptr(sp + 4 * (i + 1)) for i in range(nargs)]
            pop = x86_pop or 0
        ctx = ImportCtx(name, sp, ret, pop)
        self.caller = ret
        if inspect.isgeneratorfunction(function):
            self._advance(function(args), ctx, None)
        else:
            self._return_import(ctx, function(args))

    def _advance(self, gen, ctx, value):
        try:
            request = gen.send(value)
        except StopIteration as stop:
            self._return_import(ctx, stop.value or 0)
            return
        self._push_call(request.fn, request.args, request.role, gen, ctx, False)

    def _return_import(self, ctx, rv):
        a = self.arch
        if ctx.name.lower() == "ntoskrnl._chkstk" and not a.x64:
            # x86 _chkstk: allocates eax bytes below the caller's stack pointer.
            size = self.reg(X.UC_X86_REG_EAX)
            self.set_reg(a.sp, ctx.sp + 4 - size)
            self.set_reg(a.pc, ctx.ret)
            return
        if ctx.name.lower() != "ntoskrnl.__chkstk":
            self.set_reg(a.ret, rv or 0)
        self.set_reg(a.sp, ctx.sp + a.ptr + ctx.pop_bytes)
        self.set_reg(a.pc, ctx.ret)

    def _on_interrupt(self, _uc, intno, _user):
        pc = self.reg(self.arch.pc)
        kind = "bugcheck"
        what = {3: "int3 (breakpoint)", 0x29: "int 0x29 (__fastfail)", 0x2C: "int 0x2c (assertion)"}
        self.failure = Failure(
            kind, f"{what.get(intno, f'interrupt {intno:#x}')} at {self.describe(pc)}"
        )
        self.uc.emu_stop()

    def _on_invalid(self, _uc, _user):
        pc = self.reg(self.arch.pc)
        self.failure = Failure("bugcheck", f"invalid instruction at {self.describe(pc)}")
        self.uc.emu_stop()
        return False

    def call(self, fn, args, role):
        """A top-level call from the kernel (DriverEntry, DriverUnload, a work item): returns
        its result, records its stack peak, raises `Failure`."""
        a = self.arch
        self.failure = None
        self.top_frame = None
        self.top_result = None
        self._push_call(fn, args, role, None, None, True)
        top = self.frames[0]
        until = self.exports_base + 4 * PAGE - 1
        try:
            self.uc.emu_start(fn, until, count=self.instruction_limit)
        except uc.UcError as error:
            if self.failure is None:
                self.failure = self._classify(error)
        if self.failure is not None:
            self.frames.clear()
            raise self.failure
        if self.top_frame is None:
            pc = self.reg(a.pc)
            self.frames.clear()
            raise Failure(
                "hang",
                f"{role} did not return within {self.instruction_limit:,} instructions "
                f"(now at {self.describe(pc)})",
            )
        used = top.base_sp - top.min_write + a.ptr  # the return address counts
        self.stack_peaks.append((role, used))
        if used > self.budget:
            raise Failure(
                "stack budget",
                f"{role} used {used} bytes of stack, over the budget of {self.budget} bytes",
            )
        return self.top_result

    def _classify(self, error):
        a = self.arch
        pc = self.reg(a.pc)
        code = error.args[0] if error.args else None
        text = str(error)
        if code in (uc.UC_ERR_READ_UNMAPPED, uc.UC_ERR_WRITE_UNMAPPED, uc.UC_ERR_FETCH_UNMAPPED,
                    uc.UC_ERR_READ_PROT, uc.UC_ERR_WRITE_PROT, uc.UC_ERR_FETCH_PROT):
            detail = self._last_bad_access or ""
            return Failure("unmapped access", f"{text} at {self.describe(pc)}{detail}")
        if code == uc.UC_ERR_INSN_INVALID:
            return Failure("bugcheck", f"invalid instruction at {self.describe(pc)}")
        return Failure("bugcheck", f"CPU exception ({text}) at {self.describe(pc)}")

    _last_bad_access = None

    def install_access_hook(self):
        def on_bad(_uc, access, address, size, _value, _user):
            what = "a freed pool block" if any(
                base <= address < base + info[0] for base, info in self.freed.items()
            ) else "nothing mapped"
            for base, info in self.freed.items():
                if base <= address < base + max(info[0], 1):
                    what = f"freed pool block #{info[2]} ({info[0]} bytes, tag {info[1]!r}, freed by {info[3]})"
            for image in self.images.values():
                if not image.loaded and image.contains(address):
                    what = f"the unloaded image {image.name}"
            if self.stack_lo - PAGE <= address < self.stack_lo:
                what = "the guard page below the kernel stack (stack overflow)"
            kinds = {uc.UC_MEM_READ_UNMAPPED: "read", uc.UC_MEM_WRITE_UNMAPPED: "write",
                     uc.UC_MEM_FETCH_UNMAPPED: "fetch", uc.UC_MEM_WRITE_PROT: "write (read-only)",
                     uc.UC_MEM_READ_PROT: "read (protected)", uc.UC_MEM_FETCH_PROT: "fetch (not code)"}
            self._last_bad_access = (f": {kinds.get(access, 'access')} of {size} bytes at "
                                     f"{address:#x} ({what})")
            return False

        self.uc.hook_add(uc.UC_HOOK_MEM_INVALID, on_bad)

    # -- dispatch-table calls ---------------------------------------------------------------

    def watch_dispatch(self, fn, label):
        """Counts calls into `fn` (a function of a dispatch table)."""
        if fn in self.dispatch_hooks or not fn:
            return

        def on_call(_uc, _address, _size, _user):
            self.dispatch_calls[label] = self.dispatch_calls.get(label, 0) + 1

        self.dispatch_hooks[fn] = self.uc.hook_add(uc.UC_HOOK_CODE, on_call, begin=fn, end=fn)

    def unwatch_image(self, image):
        for fn in list(self.dispatch_hooks):
            if image.contains(fn):
                self.uc.hook_del(self.dispatch_hooks.pop(fn))
