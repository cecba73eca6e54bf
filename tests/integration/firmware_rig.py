"""Helpers for the IO board firmware tests: the simavr rig and a Modbus master.

`Rig` runs build/firmware/iob-sim (the real AVR ELF under libsimavr) or
build/firmware/iob-host (the same core as a Linux process); both print
"pty PATH" and take one command a line on stdin. The rig's event lines carry
simulated time ("out t=US mask=0xMM ...", "in t=US NAME=V", "walk t=US dir=a").

`Master` is a deliberately separate, minimal Modbus RTU master (its own CRC,
framing and timeouts) over the pty, so that a bug shared by the firmware's
framer and a library cannot hide; mbpoll is the other, external master.
"""
import os
import re
import select
import struct
import subprocess
import termios
import threading
import time
import tty
from pathlib import Path

BUILD = Path(os.environ.get("TS_BUILD_DIR", Path(__file__).resolve().parents[2] / "build"))
FW = BUILD / "firmware"
IOB_ELF = FW / "iob.elf"
IOB_SIM = FW / "iob-sim"
IOB_HOST = FW / "iob-host"

# firmware/core/ioboard_regs.h
OUT = dict(open_a=0, open_b=1, stop=2, led_green=3, led_red=4, led_yellow=5, buzzer=6, alarm=7)
IN = dict(pass_a=0, pass_b=1, fire_loop_ok=2, confirm=3, reject=4, manual_open=5, tamper=6)
COIL_PULSE = 8
COIL_WDT_ACK = 16
HR_DEBOUNCE, HR_WATCHDOG = 8, 9
IR_STATUS, IR_FW_VERSION, IR_FRAMES_OK, IR_CRC_ERRORS = 7, 8, 9, 10
IR_EXCEPTIONS, IR_WDT_TRIPS = 11, 12
STATUS_WDT_TRIPPED, STATUS_FIRE, STATUS_WDT_ARMED = 0x1, 0x2, 0x4


def crc16(data: bytes) -> bytes:
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return struct.pack("<H", crc)


class Rig:
    def __init__(self, *args, host=False):
        if host:
            cmd = [str(IOB_HOST)]
        else:
            cmd = [str(IOB_SIM), *args, str(IOB_ELF)]
        for exe in cmd[:1] + ([] if host else [cmd[-1]]):
            assert Path(exe).exists(), f"{exe} not built (avr-gcc/libsimavr missing?)"
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        self.lines = []
        self.cond = threading.Condition()
        self.pty = None
        threading.Thread(target=self._reader, daemon=True).start()
        self.pty = re.match(r"^pty (\S+)", self.wait_line(r"^pty ")).group(1)

    def _reader(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_line(self, pattern, start=0, timeout=5.0):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines[start:]:
                    if rx.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no line matching {pattern!r}; got {self.lines[-10:]}")
                self.cond.wait(left)

    def mark(self):
        with self.cond:
            return len(self.lines)

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def now_us(self):
        start = self.mark()
        self.send("time")
        return int(re.search(r"t=(\d+)", self.wait_line(r"^time ", start)).group(1))

    def sleep_sim(self, us):
        """Wait until at least `us` of simulated time has passed."""
        end = self.now_us() + us
        while self.now_us() < end:
            time.sleep(0.02)

    def outs(self, start=0):
        """[(t_us, mask)] for every output change since line index `start`."""
        with self.cond:
            lines = list(self.lines[start:])
        return [(int(m.group(1)), int(m.group(2), 16)) for m in
                (re.match(r"^out t=(\d+) mask=0x([0-9a-f]+)", x) for x in lines) if m]

    def close(self):
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.wait(timeout=5)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        assert self.proc.returncode == 0, f"rig exited {self.proc.returncode}"


class Master:
    def __init__(self, pty, unit=1, timeout=1.0):
        self.fd = os.open(pty, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd, termios.TCSANOW)  # not TCSAFLUSH: keep anything queued
        self.unit = unit
        self.timeout = timeout

    def close(self):
        os.close(self.fd)

    def raw(self, frame: bytes, timeout=None):
        """Send bytes as they are; return the reply once it holds a valid CRC (None: nothing).

        Ending on a valid CRC rather than on a pause keeps a loaded machine,
        where the rig can fall behind the wall clock mid-frame, from splitting
        a reply.
        """
        os.write(self.fd, frame)
        buf = b""
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.fd], [], [], 0.02)
            if r:
                buf += os.read(self.fd, 512)
                if len(buf) >= 4 and crc16(buf[:-2]) == buf[-2:]:
                    break
        return buf or None

    def request(self, pdu: bytes, unit=None):
        adu = bytes([self.unit if unit is None else unit]) + pdu
        reply = self.raw(adu + crc16(adu))
        if reply is None:
            return None
        assert len(reply) >= 4 and crc16(reply[:-2]) == reply[-2:], f"bad reply {reply.hex()}"
        assert reply[0] == adu[0]
        return reply[1:-2]

    def wait_ready(self, tries=20):
        for _ in range(tries):
            if self.request(struct.pack(">BHH", 4, 0, 1)) is not None:
                return
        raise AssertionError("the board never answered")

    def read_regs(self, fc, addr, qty):
        pdu = self.request(struct.pack(">BHH", fc, addr, qty))
        assert pdu is not None and pdu[0] == fc, f"read {fc} {addr} {qty}: {pdu}"
        return list(struct.unpack(f">{qty}H", pdu[2:]))

    def read_bits(self, fc, addr, qty):
        pdu = self.request(struct.pack(">BHH", fc, addr, qty))
        assert pdu is not None and pdu[0] == fc, f"read {fc} {addr} {qty}: {pdu}"
        return [(pdu[2 + i // 8] >> (i % 8)) & 1 for i in range(qty)]

    def write_reg(self, addr, value):
        return self.request(struct.pack(">BHH", 6, addr, value))

    def write_coil(self, addr, on):
        return self.request(struct.pack(">BHH", 5, addr, 0xFF00 if on else 0))
